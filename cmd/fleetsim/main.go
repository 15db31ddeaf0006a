// Command fleetsim simulates a fleet of possync workers: it generates many small pipelines (a CSV file source,
// the file sink with its change log), then for each worker count runs them from a shared queue for a while,
// with overlapping triggers (a pipeline queued again while it runs) and a share of runs killed with SIGKILL,
// and checks afterwards that no two runs of a pipeline were ever inside its lock at once and that every
// pipeline's sink holds exactly its last input, each change applied once. It prints runs per second per
// worker count (`make fleet-sim`; docs/deploy.md).
//
// With POSSYNC_STATE_URL set (the shared PostgreSQL state), every worker has a state folder of its own, as a
// machine of its own would; without it all workers share one local state folder (one machine, flock).
//
// It owns the simulation only: it drives the possync binary as a scheduler would and reads what the binary
// writes (run reports, logs, the sink's files); it imports no possync package and is not part of the binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	var cfg config
	var workers string
	flag.StringVar(&cfg.possync, "possync", "bin/possync", "the possync binary")
	flag.StringVar(&workers, "workers", "1,2,4,8", "worker counts to simulate, comma-separated")
	flag.DurationVar(&cfg.duration, "duration", 30*time.Second, "how long the workers pull runs, per worker count")
	flag.IntVar(&cfg.pipelines, "pipelines", 200, "pipelines per worker count")
	flag.IntVar(&cfg.rows, "rows", 20, "rows of each pipeline's first input")
	flag.Float64Var(&cfg.killRate, "kill", 0.01, "share of runs killed with SIGKILL")
	flag.Float64Var(&cfg.overlap, "overlap", 0.3, "share of triggers that queue the pipeline twice at once")
	flag.StringVar(&cfg.dir, "dir", "", "work folder (default: a temporary folder, removed unless -keep)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work folder")
	flag.Uint64Var(&cfg.seed, "seed", 0, "random seed (0: from the clock)")
	flag.BoolVar(&cfg.unshared, "unshared", false, "self-test of the checks: every worker its own local state folder "+
		"and no shared state, as machines without POSSYNC_STATE_URL; the checks must then find violations")
	flag.Parse()

	counts, err := parseCounts(workers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetsim:", err)
		return 2
	}
	if cfg.possync, err = filepath.Abs(cfg.possync); err != nil {
		fmt.Fprintln(os.Stderr, "fleetsim:", err)
		return 2
	}
	if _, err := os.Stat(cfg.possync); err != nil {
		fmt.Fprintf(os.Stderr, "fleetsim: the possync binary: %v (make build)\n", err)
		return 2
	}
	if cfg.seed == 0 {
		cfg.seed = uint64(time.Now().UnixNano())
	}
	cfg.stateURL = os.Getenv("POSSYNC_STATE_URL")
	if cfg.dir == "" {
		if cfg.dir, err = os.MkdirTemp("", "fleetsim-"); err != nil {
			fmt.Fprintln(os.Stderr, "fleetsim:", err)
			return 1
		}
		if !cfg.keep {
			defer os.RemoveAll(cfg.dir)
		}
	}
	// Pipeline names are unique per invocation, so a shared PostgreSQL state starts empty for each.
	cfg.prefix = "fs" + strconv.FormatInt(time.Now().Unix()%1e8, 36)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	backend := "local state folder shared by the workers (one machine)"
	switch {
	case cfg.unshared:
		cfg.stateURL = ""
		backend = "a local state folder per worker and nothing shared (-unshared: the checks must fail)"
		os.Unsetenv("POSSYNC_STATE_URL")
	case cfg.stateURL != "":
		backend = "PostgreSQL (POSSYNC_STATE_URL), a state folder per worker"
	}
	fmt.Printf("fleetsim: %d pipelines, %s per worker count, %.0f%% of runs killed, %.0f%% of triggers doubled; state: %s; seed %d\n",
		cfg.pipelines, cfg.duration, cfg.killRate*100, cfg.overlap*100, backend, cfg.seed)

	var results []*phaseResult
	ok := true
	for _, w := range counts {
		if ctx.Err() != nil {
			break
		}
		res, err := runPhase(ctx, cfg, w)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fleetsim: %d worker(s): %v\n", w, err)
			return 1
		}
		results = append(results, res)
		res.printProblems(os.Stdout)
		ok = ok && res.ok()
	}
	printTable(os.Stdout, results)
	if cfg.keep {
		fmt.Printf("work folder kept: %s\n", cfg.dir)
	}
	if !ok {
		fmt.Println("fleetsim: FAILED (see the problems above)")
		return 1
	}
	fmt.Println("fleetsim: ok: 0 lock violations, 0 duplicate or lost changes, no unexpected exit")
	return 0
}

// config is the simulation's settings.
type config struct {
	possync, dir, stateURL, prefix string
	duration                       time.Duration
	pipelines, rows                int
	killRate, overlap              float64
	keep, unshared                 bool
	seed                           uint64
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-workers: %q is not a positive count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// runPhase runs the fleet with w workers on fresh pipelines, converges every pipeline, and checks them.
func runPhase(ctx context.Context, cfg config, w int) (*phaseResult, error) {
	dir := filepath.Join(cfg.dir, fmt.Sprintf("w%d", w))
	rng := rand.New(rand.NewPCG(cfg.seed, uint64(w)))
	ps := make([]*pipeline, cfg.pipelines)
	for i := range ps {
		p, err := newPipeline(filepath.Join(dir, "pipelines"), fmt.Sprintf("%s-w%d-p%03d", cfg.prefix, w, i), cfg.rows, rng)
		if err != nil {
			return nil, err
		}
		ps[i] = p
	}
	stateDirs := make([]string, w)
	for i := range stateDirs {
		stateDirs[i] = filepath.Join(dir, "state") // one machine: one state folder, flock between workers
		if cfg.stateURL != "" || cfg.unshared {
			stateDirs[i] = filepath.Join(dir, fmt.Sprintf("machine-%d", i))
		}
	}
	f := &fleet{cfg: cfg, pipelines: ps, stateDirs: stateDirs}
	res := &phaseResult{workers: w, pipelines: len(ps)}

	start := time.Now()
	runs := f.simulate(ctx, rng, start.Add(cfg.duration))
	res.elapsed = time.Since(start)
	res.runs = runs

	// Converge: every pipeline once more, by the same workers, until it succeeds.
	final, err := f.converge(ctx)
	if err != nil {
		return nil, err
	}
	res.final = final
	res.check(ps, append(slices.Clone(runs), final...))
	return res, nil
}

// fleet is one phase's pipelines and workers.
type fleet struct {
	cfg       config
	pipelines []*pipeline
	stateDirs []string // per worker
}

// simulate runs the workers until deadline: a producer queues triggers (each changes the pipeline's input
// first; some queue the pipeline twice), and every worker pulls the next one and runs it. Runs in progress at
// the deadline finish; triggers still queued are dropped.
func (f *fleet) simulate(ctx context.Context, rng *rand.Rand, deadline time.Time) []runRecord {
	w := len(f.stateDirs)
	queue := make(chan int, 2*w)
	done := make(chan struct{})
	go func() { // the producer: the scheduler's triggers
		defer close(queue)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			i := rng.IntN(len(f.pipelines))
			if err := f.pipelines[i].change(rng); err != nil {
				fmt.Fprintln(os.Stderr, "fleetsim:", err)
				return
			}
			n := 1
			if rng.Float64() < f.cfg.overlap {
				n = 2
			}
			for range n {
				select {
				case queue <- i:
				case <-done:
					return
				}
			}
		}
	}()
	results := make(chan []runRecord, w)
	est := newDurationEstimate()
	for k := range w {
		seed := rng.Uint64()
		go func() {
			wr := rand.New(rand.NewPCG(seed, uint64(k)))
			var recs []runRecord
			for i := range queue {
				if time.Now().After(deadline) || ctx.Err() != nil {
					continue // drain: the phase is over
				}
				var kill killPlan
				if wr.Float64() < f.cfg.killRate {
					kill = planKill(wr, est.get())
				}
				r := f.runOnce(ctx, k, i, kill)
				if !r.Killed && r.ExitCode == 0 {
					est.add(r.End.Sub(r.Start))
				}
				recs = append(recs, r)
			}
			results <- recs
		}()
	}
	var all []runRecord
	for range w {
		all = append(all, <-results...)
	}
	close(done)
	return all
}

// converge runs every pipeline once more until it exits 0 (a 75 or a failure is retried a few times), with
// the phase's workers in parallel over different pipelines.
func (f *fleet) converge(ctx context.Context) ([]runRecord, error) {
	w := len(f.stateDirs)
	next := make(chan int)
	type out struct {
		recs []runRecord
		err  error
	}
	outs := make(chan out, w)
	for k := range w {
		go func() {
			var o out
			for i := range next {
				for attempt := 1; ; attempt++ {
					r := f.runOnce(ctx, k, i, killPlan{})
					r.Final = true
					o.recs = append(o.recs, r)
					if r.ExitCode == 0 {
						break
					}
					if attempt == 5 || ctx.Err() != nil {
						if o.err == nil {
							o.err = fmt.Errorf("pipeline %s did not converge: exit %d after %d runs:\n%s",
								f.pipelines[i].name, r.ExitCode, attempt, tail(r.Stderr, 20))
						}
						break
					}
				}
			}
			outs <- o
		}()
	}
	for i := range f.pipelines {
		next <- i
	}
	close(next)
	var all []runRecord
	var errs []error
	for range w {
		o := <-outs
		all = append(all, o.recs...)
		errs = append(errs, o.err)
	}
	return all, errors.Join(errs...)
}

// killPlan says how a run is killed: after a delay, or by a failpoint inside the apply.
type killPlan struct {
	after     time.Duration // > 0: SIGKILL after this long
	failpoint string        // POSSYNC_FAILPOINT
}

// planKill picks a kill: half at a random moment of a typical run, half at a random point of the apply.
func planKill(rng *rand.Rand, typical time.Duration) killPlan {
	if rng.IntN(2) == 0 {
		return killPlan{after: time.Duration(rng.Int64N(int64(typical)*3/2) + 1)}
	}
	points := []string{"after-intents:1", "after-sink:1", "after-commit:1", "during-export"}
	return killPlan{failpoint: points[rng.IntN(len(points))]}
}

// runOnce runs `possync run` of pipeline i as worker k, with JSON logs at debug level (the steps' timestamps
// are the lock check's evidence).
func (f *fleet) runOnce(ctx context.Context, k, i int, kill killPlan) runRecord {
	p := f.pipelines[i]
	cmd := exec.Command(f.cfg.possync, "run", "pipeline.yaml", "--quiet", "--log-format", "json", "--log-level", "debug")
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "POSSYNC_STATE_DIR="+f.stateDirs[k], "NO_COLOR=1", "POSSYNC_FAILPOINT="+kill.failpoint,
		"POSSYNC_FAILPOINT_RELEASE=")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r := runRecord{Pipeline: i, Worker: k, Start: time.Now()}
	if err := cmd.Start(); err != nil {
		r.ExitCode, r.Stderr = -1, err.Error()
		r.End = time.Now()
		return r
	}
	var timer *time.Timer
	if kill.after > 0 {
		timer = time.AfterFunc(kill.after, func() { _ = cmd.Process.Kill() })
	}
	stopCtx := context.AfterFunc(ctx, func() { _ = cmd.Process.Signal(syscall.SIGTERM) })
	err := cmd.Wait()
	stopCtx()
	if timer != nil {
		timer.Stop()
	}
	r.End = time.Now()
	r.ExitCode = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		r.Killed = true
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		r.ExitCode, r.Stderr = -1, err.Error()
	}
	r.Stderr = stderr.String()
	r.parseLogs()
	r.parseReport(stdout.String())
	return r
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
