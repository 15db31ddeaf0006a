package runner

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
)

// TestPlanBurstsUntilTheDiff: a plan against the state runs its transform and diff under the engine's
// burst memory limit (the pipeline sets no memory_limit) and is back under the cap once the diff has
// dropped the desired table, with the same changes as the generator's; a first sync whose last step sorts
// the desired table (firstSyncSorts) runs that step under the burst and is back under the cap once the diff
// has taken the table, every record planned as a create. A pipeline that sets a limit keeps it throughout.
func TestPlanBurstsUntilTheDiff(t *testing.T) {
	set, err := benchData(t.TempDir(), 4000)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, run := range burstRuns(set) {
		for _, tc := range []struct{ name, set, during, after string }{
			{"default", "", limitSetting(t, engine.DefaultBurstLimit()), limitSetting(t, engine.DefaultMemoryLimit())},
			{"set", "200MiB", limitSetting(t, "200MiB"), limitSetting(t, "200MiB")},
		} {
			t.Run(run.name+", "+tc.name, func(t *testing.T) {
				t.Setenv("BENCH_MEMORY_LIMIT", tc.set)
				s, check := run.open(t, t.TempDir())
				defer s.close()
				if err := s.prepare(ctx, true); err != nil {
					t.Fatal(err)
				}
				if got := memoryLimit(t, s); got != tc.during {
					t.Errorf("memory_limit %s after the transform, want %s", got, tc.during)
				}
				pl, _, _, err := s.plan(ctx, planHeld)
				if err != nil {
					t.Fatal(err)
				}
				if got := memoryLimit(t, s); got != tc.after {
					t.Errorf("memory_limit %s after the diff, want %s", got, tc.after)
				}
				check(t, s, pl)
			})
		}
	}
}

// TestBurstEndsOnError: an error at any step from the burst's start (prepare, before the transform) to the
// diff (afterDiff) puts the cap back, so that a caller keeping the database after a failed plan does not
// run at the burst limit. Each case fails one step while the burst is on: a transform step, the trace after
// it (a hook's error, the context live: a plan against the state), the first sync's key check, the diff;
// all but the trace by cancelling the plan's context as the step starts, so that putting the cap back must
// work without it.
func TestBurstEndsOnError(t *testing.T) {
	set, err := benchData(t.TempDir(), 2000)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BENCH_MEMORY_LIMIT", "")
	capped := limitSetting(t, engine.DefaultMemoryLimit())
	traceErr := errors.New("trace failed")
	for _, run := range burstRuns(set) {
		for _, step := range []struct {
			name string
			// stage: the plan's context is cancelled as the stage of that name (prefix) starts; "": s.trace
			// fails instead.
			stage string
			// only names the one run that has the step while the burst is on ("": all): a plan against
			// the state checks keys in its diff, and a first sync traced does not sort (firstSyncSorts).
			only string
		}{
			{"transform", "transform ", ""},
			{"trace", "", "against the state"},
			{"check keys", "check keys", "first sync"},
			{"diff", "diff", ""},
		} {
			if step.only != "" && run.name != step.only {
				continue
			}
			t.Run(run.name+", "+step.name, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				s, _ := run.open(t, t.TempDir())
				defer s.close()
				burstOn := false // the burst was on when the step failed
				if step.stage == "" {
					s.trace = func(context.Context) error {
						burstOn = s.endBurst != nil
						return traceErr
					}
				} else {
					s.timings.observe = func(e Event) {
						if e.Kind == StageStart && strings.HasPrefix(e.Stage, step.stage) && !burstOn {
							burstOn = s.endBurst != nil
							cancel()
						}
					}
				}
				err := s.prepare(ctx, true)
				if err == nil {
					_, _, _, err = s.plan(ctx, planHeld)
				}
				want := context.Canceled
				if step.stage == "" {
					want = traceErr
				}
				if !errors.Is(err, want) {
					t.Fatalf("plan failed with %v, want %v", err, want)
				}
				if !burstOn {
					t.Fatalf("the burst was not on when %s failed", step.name)
				}
				if got := memoryLimit(t, s); got != capped {
					t.Errorf("memory_limit %s after %s failed, want the cap %s", got, step.name, capped)
				}
			})
		}
	}
}

// burstRun is a plan that takes the burst limit: open opens its session in work, and returns what checks
// its plan.
type burstRun struct {
	name string
	open func(t *testing.T, work string) (*session, func(t *testing.T, s *session, pl *plan.Plan))
}

// burstRuns are the plans that take the burst limit, of set's data: one against the state, and a first sync
// whose last step sorts the desired table.
func burstRuns(set benchSet) []burstRun {
	ctx := context.Background()
	return []burstRun{
		{"against the state", func(t *testing.T, work string) (*session, func(*testing.T, *session, *plan.Plan)) {
			res, err := newBenchCase(ctx, set, work)
			if err != nil {
				t.Fatal(err)
			}
			return newSession(res.p, Options{}), func(t *testing.T, s *session, pl *plan.Plan) {
				if n, err := s.d.Count(ctx, "SELECT count(*) FROM duckdb_tables() WHERE table_name = "+engine.Lit(s.desired)); err != nil || n != 0 {
					t.Errorf("desired table %s: %d left (%v), want it dropped", s.desired, n, err)
				}
				res.summary = pl.Summary
				res.floorCount = benchCounts{create: pl.Summary.Create, update: pl.Summary.Update, delete: pl.Summary.Delete}
				if err := res.check(); err != nil {
					t.Error(err)
				}
			}
		}},
		{"first sync", func(t *testing.T, work string) (*session, func(*testing.T, *session, *plan.Plan)) {
			p, err := benchPipeline(work, set.New(), filepath.Join(work, "state"))
			if err != nil {
				t.Fatal(err)
			}
			return newSession(p, Options{}), func(t *testing.T, s *session, pl *plan.Plan) {
				if !s.sortDesired || !s.ordered {
					t.Errorf("first sync: sortDesired %v, ordered %v, want the last step to sort", s.sortDesired, s.ordered)
				}
				if want := set.Truth.NewRows; pl.Summary.Create != want || pl.Summary.Total() != want {
					t.Errorf("first sync plans %+v, want %d creates", pl.Summary, want)
				}
			}
		}},
	}
}

// memoryLimit is DuckDB's memory_limit in s's database, as DuckDB reports it.
func memoryLimit(t *testing.T, s *session) string {
	t.Helper()
	var v string
	if err := s.d.QueryRow(context.Background(), "SELECT current_setting('memory_limit')").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// limitSetting is what DuckDB reports as its memory_limit for the limit l given in DuckDB's syntax.
func limitSetting(t *testing.T, l string) string {
	t.Helper()
	ctx := context.Background()
	d, err := engine.Open(ctx, engine.Options{TempDir: t.TempDir(), MemoryLimit: l})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var v string
	if err := d.QueryRow(ctx, "SELECT current_setting('memory_limit')").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBurstEndsWhenRecoveryFails: an apply's path out between prepare, which started the burst, and its
// plan's diff, which ends it, puts the cap back too: the recovery of an interrupted run, failed here by
// cancelling the apply's context as it starts.
func TestBurstEndsWhenRecoveryFails(t *testing.T) {
	set, err := benchData(t.TempDir(), 2000)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BENCH_MEMORY_LIMIT", "")
	capped := limitSetting(t, engine.DefaultMemoryLimit())
	run := burstRuns(set)[0] // against the state: the apply's prepare starts the burst
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s, _ := run.open(t, t.TempDir())
	defer s.close()
	burstOn := false
	s.timings.observe = func(e Event) {
		if e.Kind == StageStart && e.Stage == "recover" {
			burstOn = s.endBurst != nil
			cancel()
		}
	}
	err = s.apply(ctx, nil, &Report{RunID: "burst-recover"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("apply failed with %v, want %v", err, context.Canceled)
	}
	if !burstOn {
		t.Fatal("the burst was not on when the recovery started")
	}
	if got := memoryLimit(t, s); got != capped {
		t.Errorf("memory_limit %s after the recovery failed, want the cap %s", got, capped)
	}
}
