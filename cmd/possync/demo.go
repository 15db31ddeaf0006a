package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/possync/possync/examples"
	"github.com/possync/possync/runner"
)

// cmdDemo runs an embedded example end to end on this machine: it extracts the example's pipeline and data,
// starts what the example needs (API emulators, an FTP server, on loopback), then runs validate,
// plan (saved), apply of exactly that plan, and plan again (nothing left to change). Examples with a
// scenario then change the world (POS edits, edits made directly in the store) and sync again, showing the
// drift that `plan --refresh` finds and puts back.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("demo", "possync demo [EXAMPLE] [--dir DIR]",
		"Run an embedded example against local API emulators (examples: "+strings.Join(examples.Names(), ", ")+").", stderr)
	dir := c.fs.String("dir", "", "work folder for the example's files, state and outputs (default: a new temporary folder)")
	c.complete = completeSpec{args: argWords, words: examples.Names(), flags: map[string]valueSpec{"dir": {kind: argDirs}}}
	pos, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err != nil || len(pos) > 1 {
		fmt.Fprintf(stderr, "usage: possync demo [EXAMPLE] [--dir DIR]   (examples: %s)\n", strings.Join(examples.Names(), ", "))
		return 2
	}
	name := "retail-ecom"
	if len(pos) == 1 {
		name = pos[0]
	}
	files, err := examples.Pipelines(name)
	if err != nil {
		fmt.Fprintln(stderr, "possync demo:", err)
		return 2
	}
	work := *dir
	if work == "" {
		if work, err = os.MkdirTemp("", "possync-demo-"); err != nil {
			fmt.Fprintln(stderr, "possync demo:", err)
			return 1
		}
	}
	// Absolute, so that the state lands in DIR/.possync whatever the steps' working folder: a relative DIR
	// put it in DIR/DIR/.possync, where a `possync plan` run in DIR (as the demo's last line suggests) did
	// not find it and planned every record again.
	if work, err = filepath.Abs(work); err != nil {
		fmt.Fprintln(stderr, "possync demo:", err)
		return 1
	}
	if err := examples.Extract(name, work); err != nil {
		fmt.Fprintln(stderr, "possync demo:", err)
		return 1
	}
	env, err := examples.Start(name)
	if err != nil {
		fmt.Fprintln(stderr, "possync demo:", err)
		return 1
	}
	defer env.Close()
	// The pipelines read their endpoints and tokens from the environment, as in production.
	for k, v := range env.Vars {
		os.Setenv(k, v)
	}
	os.Setenv("POSSYNC_STATE_DIR", filepath.Join(work, ".possync"))
	if err := os.Chdir(work); err != nil {
		fmt.Fprintln(stderr, "possync demo:", err)
		return 1
	}
	fmt.Fprintf(stdout, "possync demo: example %s in %s", name, work)
	if servers := demoServers(env); len(servers) > 0 {
		fmt.Fprintf(stdout, " (%s)", strings.Join(servers, ", "))
	}
	fmt.Fprintln(stdout)

	d := &demo{ctx: ctx, stdout: stdout, stderr: stderr}
	for _, f := range files {
		if intro := env.Intro(f); intro != "" {
			fmt.Fprintln(stdout, "\n"+intro)
		}
		d.step(0, "possync validate "+f)
		d.step(2, "possync plan "+f+" --out out/plan.json --limit 5")
		d.step(0, "possync apply "+f+" --plan out/plan.json")
		d.step(0, "possync plan "+f)
	}
	d.summary(env)
	for _, s := range env.Scenario() {
		if d.failed {
			break
		}
		fmt.Fprintf(stdout, "\n==> %s\n", s.Title)
		if err := s.Do(env); err != nil {
			fmt.Fprintln(stderr, "possync demo:", err)
			return 1
		}
		if len(s.Commands) > 0 {
			d.commands(env, s.Commands)
			continue
		}
		for _, f := range files {
			if s.Plain {
				d.step(2, "possync plan "+f+" --limit 20")
				if s.Note != "" && !d.failed {
					fmt.Fprintln(stdout, "\n"+s.Note)
				}
				d.step(0, "possync apply "+f)
				d.step(0, "possync plan "+f)
				continue
			}
			if s.NoChanges {
				d.step(0, "possync plan "+f+" --refresh --limit 20")
				if s.Note != "" && !d.failed {
					fmt.Fprintln(stdout, "\n"+s.Note)
				}
				continue
			}
			planned := 2
			if s.Blocked {
				planned = runner.ExitBlocked
			}
			d.step(planned, "possync plan "+f+" --refresh --limit 20")
			if s.Note != "" && !d.failed {
				fmt.Fprintln(stdout, "\n"+s.Note)
			}
			d.step(0, "possync apply "+f+" --refresh --allow-mass-change")
			d.step(0, "possync plan "+f+" --refresh")
		}
	}
	d.summary(env)
	if d.failed {
		return 1
	}
	fmt.Fprintf(stdout, "\npossync demo: done. The example's files, state (.possync) and outputs (out/) are in %s\n", work)
	return 0
}

// demo runs CLI commands in-process and checks their exit codes.
type demo struct {
	ctx            context.Context
	stdout, stderr io.Writer
	failed         bool
}

// summary prints what the example's world looks like after a sync, when it has something to tell (the POS
// sales made from website orders, the website's orders and their confirmation).
func (d *demo) summary(env *examples.Env) {
	if s := env.Summary(); s != "" && !d.failed {
		fmt.Fprintln(d.stdout, "\n"+strings.TrimRight(s, "\n"))
	}
}

func (d *demo) step(want int, cmdline string) {
	if d.failed {
		return
	}
	fmt.Fprintf(d.stdout, "\n==> %s\n", cmdline)
	args := strings.Fields(cmdline)[1:]
	if got := run(d.ctx, args, d.stdout, d.stderr); got != want {
		fmt.Fprintf(d.stderr, "possync demo: %q exited %d, want %d\n", cmdline, got, want)
		d.failed = true
	}
}

// commands runs a step's own command sequence, printing each command's note and what the emulators recorded.
func (d *demo) commands(env *examples.Env, cmds []examples.Command) {
	for _, c := range cmds {
		if c.Before != nil && !d.failed {
			c.Before(env)
		}
		d.step(c.Exit, "possync "+c.Args)
		if d.failed {
			return
		}
		if c.Note != "" {
			fmt.Fprintln(d.stdout, "\n"+c.Note)
		}
		if c.Show != nil {
			fmt.Fprintln(d.stdout, strings.TrimRight(c.Show(env), "\n"))
		}
	}
}

// demoServers names each server the example started, with its address: only those it started (the bikeshop
// example has the order export but no Retail POS).
func demoServers(env *examples.Env) []string {
	var out []string
	if env.FTP != nil {
		out = append(out, "Ascend FTP server "+env.FTP.Addr())
	}
	if env.Orders != nil {
		out = append(out, "order export emulator "+env.Orders.URL())
	}
	if u := env.Vars["RETAILPOS_BASE_URL"]; u != "" {
		out = append(out, "Retail POS emulator "+u)
	}
	if u := env.Vars["ECOM_BASE_URL"]; u != "" {
		out = append(out, "eCom emulator "+u)
	}
	return out
}
