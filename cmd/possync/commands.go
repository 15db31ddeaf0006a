package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/pipelines/spec"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/outcome"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/transforms"
)

// parse parses flags that may stand before or after the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("possync "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// load reads and validates a pipeline file, printing its diagnostics.
func load(path string, stderr io.Writer) (*pipelines.Pipeline, bool) {
	p, diags := pipelines.Load(path, pipelines.Options{})
	printDiags(stderr, diags, nil)
	if diags.HasErrors() || p == nil {
		return nil, false
	}
	return p, true
}

func printDiags(w io.Writer, diags spec.Diagnostics, red *spec.Redactor) {
	diags.Sort()
	for _, d := range diags {
		fmt.Fprintln(w, red.Redact(d.Error()))
	}
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", stderr)
	asJSON := fs.Bool("json", false, "print findings as JSON")
	noEnv := fs.Bool("no-env", false, "check without the environment: unset ${VAR}s become placeholders of their field's type (for CI)")
	files, err := parse(fs, args)
	if err != nil {
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "possync validate: name at least one pipeline file")
		return 2
	}
	all := spec.Diagnostics{}
	for _, f := range files {
		all = append(all, runner.Validate(ctx, f, pipelines.Options{Placeholders: *noEnv})...) // redacts secrets
	}
	all.Sort()
	if *asJSON {
		out := struct {
			Valid       bool               `json:"valid"`
			Diagnostics []*spec.Diagnostic `json:"diagnostics"`
		}{!all.HasErrors(), all}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		printDiags(stderr, all, nil)
		if !all.HasErrors() {
			fmt.Fprintf(stdout, "%d pipeline file(s) valid\n", len(files))
		}
	}
	if all.HasErrors() {
		return 2
	}
	return 0
}

type runFlags struct {
	refresh         bool
	at              string
	allowMassChange bool
	fullRefresh     bool
	verbose         bool
}

func (r *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.at, "at", "", "evaluate as of this time (RFC 3339, e.g. 2026-11-27T00:00:00-08:00)")
	fs.BoolVar(&r.allowMassChange, "allow-mass-change", false, "let a plan through that a guard blocks")
	fs.BoolVar(&r.fullRefresh, "full-refresh", false, "make incremental sources read everything")
	fs.BoolVar(&r.verbose, "v", false, "print progress to stderr")
	fs.BoolVar(&r.refresh, "refresh", false, "diff against the sink's live records and show drift (sinks that can list)")
}

func (r *runFlags) options(stderr io.Writer) (runner.Options, error) {
	o := runner.Options{AllowMassChange: r.allowMassChange, FullRefresh: r.fullRefresh, Refresh: r.refresh}
	if r.at != "" {
		t, err := time.Parse(time.RFC3339, r.at)
		if err != nil {
			return o, fmt.Errorf("--at: want RFC 3339 time like 2026-11-27T00:00:00-08:00: %w", err)
		}
		o.Now = t
	}
	if r.verbose {
		o.Log = stderr
	}
	return o, nil
}

// fail prints err (redacted) and returns the exit code for it.
func fail(stderr io.Writer, p *pipelines.Pipeline, cmd string, err error) int {
	var diags spec.Diagnostics
	if errors.As(err, &diags) {
		printDiags(stderr, diags, p.Secrets)
	} else {
		fmt.Fprintf(stderr, "possync %s: %s\n", cmd, p.Secrets.Redact(err.Error()))
	}
	_, code := outcome.Classify(err)
	return code
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("plan", stderr)
	var rf runFlags
	rf.register(fs)
	out := fs.String("out", "", "save the plan document to this file (for apply --plan)")
	asJSON := fs.Bool("json", false, "print the plan document as JSON instead of text")
	limit := fs.Int("limit", 100, "list at most N changes in the text (0 = all)")
	files, err := parse(fs, args)
	if err != nil || len(files) != 1 {
		fmt.Fprintln(stderr, "usage: possync plan FILE [--out plan.json] [--json] [--limit N] [--at TIME] [--allow-mass-change]")
		return 1
	}
	p, ok := load(files[0], stderr)
	if !ok {
		return 1
	}
	opts, err := rf.options(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "possync plan:", err)
		return 1
	}
	pl, err := runner.Plan(ctx, p, opts)
	if err != nil {
		if code := fail(stderr, p, "plan", err); code != runner.ExitInvalid {
			return code
		}
		return 1
	}
	if *out != "" {
		if err := plan.Write(*out, pl); err != nil {
			fmt.Fprintln(stderr, "possync plan:", err)
			return 1
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(pl)
	} else {
		_ = plan.WriteText(stdout, pl, plan.TextOptions{Color: isTerminal(stdout), Limit: *limit})
		if *out != "" {
			fmt.Fprintf(stdout, "\nSaved the plan to %s; apply exactly it with: possync apply %s --plan %s\n", *out, files[0], *out)
		}
	}
	if pl.Summary.Total() > 0 {
		return 2
	}
	return 0
}

func cmdApply(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("apply", stderr)
	var rf runFlags
	rf.register(fs)
	planFile := fs.String("plan", "", "apply exactly this saved plan (refused if stale)")
	report := fs.String("report", "", "write the JSON run report to this file")
	files, err := parse(fs, args)
	if err != nil || len(files) != 1 {
		fmt.Fprintln(stderr, "usage: possync apply FILE [--plan plan.json] [--report FILE] [--allow-mass-change]")
		return 2
	}
	return apply(ctx, files[0], rf, *planFile, *report, false, stdout, stderr)
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	var rf runFlags
	rf.register(fs)
	report := fs.String("report", "", "write the JSON run report to this file instead of stdout")
	files, err := parse(fs, args)
	if err != nil || len(files) != 1 {
		fmt.Fprintln(stderr, "usage: possync run FILE [--report FILE] [--allow-mass-change] [--full-refresh]")
		return 2
	}
	return apply(ctx, files[0], rf, "", *report, true, stdout, stderr)
}

func apply(ctx context.Context, file string, rf runFlags, planFile, reportFile string, reportToStdout bool, stdout, stderr io.Writer) int {
	// invalid is the report of a run that could not start: schedulers read a report from every run.
	invalid := func(why string) int {
		if reportFile != "" || reportToStdout {
			now := time.Now().UTC()
			writeReport(&runner.Report{StartedAt: now, FinishedAt: now, ExitReason: "invalid_config", ExitCode: runner.ExitInvalid,
				Error: why, Rejected: []runner.RejectedChange{}, InputRejects: []connectors.Reject{}}, nil, reportFile, stdout, stderr)
		}
		return runner.ExitInvalid
	}
	p, ok := load(file, stderr)
	if !ok {
		return invalid(file + ": the pipeline file is invalid (the diagnostics are on stderr)")
	}
	opts, err := rf.options(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "possync:", err)
		return invalid(err.Error())
	}
	var saved *plan.Plan
	if planFile != "" {
		if saved, err = plan.Read(planFile); err != nil {
			fmt.Fprintln(stderr, "possync apply:", err)
			return runner.ExitFailure
		}
	}
	rep, err := runner.Apply(ctx, p, opts, saved)
	code := rep.ExitCode
	if err != nil {
		code = fail(stderr, p, "apply", err)
		rep.ExitCode = code
	}
	if (reportFile != "" || reportToStdout) && !writeReport(rep, p.Secrets, reportFile, stdout, stderr) {
		return runner.ExitFailure
	}
	if !reportToStdout && err == nil {
		a := rep.Applied
		fmt.Fprintf(stdout, "Applied: %d created, %d updated, %d deactivated, %d deleted", a.Create, a.Update, a.Deactivate, a.Delete)
		if len(rep.Rejected) > 0 {
			fmt.Fprintf(stdout, "; %d rejected by the sink:", len(rep.Rejected))
			for _, r := range rep.Rejected {
				fmt.Fprintf(stdout, "\n  %s %s: %s", r.Action, connectors.FormatKey(p.Key, r.Key), r.Reason)
			}
		}
		fmt.Fprintln(stdout, ".")
	}
	return code
}

// writeReport writes the JSON run report, secrets masked, to reportFile or else stdout; false when the file
// cannot be written.
func writeReport(rep *runner.Report, secrets *spec.Redactor, reportFile string, stdout, stderr io.Writer) bool {
	b, _ := json.MarshalIndent(rep, "", "  ")
	b = []byte(secrets.Redact(string(b)) + "\n")
	if reportFile == "" {
		_, _ = stdout.Write(b)
		return true
	}
	if err := os.WriteFile(reportFile, b, 0o644); err != nil {
		fmt.Fprintln(stderr, "possync: write report:", err)
		return false
	}
	return true
}

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", stderr)
	files, err := parse(fs, args)
	if err != nil || len(files) != 1 {
		fmt.Fprintln(stderr, "usage: possync check FILE")
		return 2
	}
	p, ok := load(files[0], stderr)
	if !ok {
		return runner.ExitInvalid
	}
	results := runner.CheckConnections(ctx, p)
	code := 0
	for _, r := range results {
		status := "ok"
		switch {
		case r.Err != nil:
			status = "FAILED: " + p.Secrets.Redact(r.Err.Error())
			code = 1
		case !r.Supported:
			status = "no connection to test"
		}
		fmt.Fprintf(stdout, "%-6s %-12s %-10s %s\n", r.Kind, r.Name, r.Type, status)
	}
	return code
}

func cmdConnectors(_ context.Context, args []string, stdout, stderr io.Writer) int {
	cat := pipelines.DefaultCatalog()
	if len(args) == 0 {
		if err := pipelines.WriteIndex(stdout, cat); err != nil {
			fmt.Fprintln(stderr, "possync connectors:", err)
			return 1
		}
		return 0
	}
	found := false
	for _, kind := range []spec.Kind{spec.KindSource, spec.KindSink, spec.KindTransform} {
		if c, ok := cat.Component(kind, args[0]); ok {
			found = true
			if err := pipelines.WriteDocs(stdout, c); err != nil {
				fmt.Fprintln(stderr, "possync connectors:", err)
				return 1
			}
			fmt.Fprintln(stdout)
		}
	}
	if !found {
		fmt.Fprintf(stderr, "possync connectors: no source, sink or transform named %q (sources: %v, sinks: %v, transforms: %v)\n",
			args[0], connectors.Sources.Names(), connectors.Sinks.Names(), transforms.Registry.Names())
		return 2
	}
	return 0
}

func cmdSchema(_ context.Context, _ []string, stdout, stderr io.Writer) int {
	b, err := pipelines.JSONSchema(pipelines.DefaultCatalog())
	if err != nil {
		fmt.Fprintln(stderr, "possync schema:", err)
		return 1
	}
	_, _ = stdout.Write(b)
	return 0
}
