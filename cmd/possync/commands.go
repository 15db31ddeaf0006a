package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/outcome"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

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
	c := newCommand("validate", "possync validate FILE... [--json] [--no-env]",
		"Check pipeline files, type-checking every expression and SQL step; all findings in one pass.", stderr)
	asJSON := c.fs.Bool("json", false, "print findings as JSON")
	noEnv := c.fs.Bool("no-env", false, "check without the environment: unset ${VAR}s become placeholders of their field's type (for CI)")
	files, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
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
	fullPlan        bool
	noTCache        bool
	verbose         bool
	obs             obsFlags
	html            string // --html FILE: the plan as a page (html.go)
}

// register adds the flags plan, apply and run share; metrics adds --metrics-file (apply, run).
func (r *runFlags) register(fs *flag.FlagSet, metrics bool) {
	fs.StringVar(&r.at, "at", "", "evaluate as of this time (RFC 3339, e.g. 2026-11-27T00:00:00-08:00)")
	fs.BoolVar(&r.allowMassChange, "allow-mass-change", false, "let a plan through that a guard blocks")
	fs.BoolVar(&r.fullRefresh, "full-refresh", false, "make incremental sources read everything")
	fs.BoolVar(&r.fullPlan, "full-plan", false, "plan in full even when the inputs, pipeline and state are those of the last successful run")
	fs.BoolVar(&r.noTCache, "no-transform-cache", false, "run every row through the map and filter steps that run in Go, without the transform cache")
	fs.BoolVar(&r.verbose, "v", false, "log progress to stderr (text logs at info level)")
	fs.BoolVar(&r.refresh, "refresh", false, "diff against the sink's live records and show drift (sinks that can list)")
	r.obs.register(fs, metrics)
	fs.StringVar(&r.html, "html", "", "write the plan as a self-contained HTML page to FILE (apply, run: with what was applied and what failed)")
}

// signals are one plan, apply or run's logger, progress display and event observer.
type signals struct {
	cmd, file, runID string
	base             *slog.Logger // run_id and file; nil when logs are off
	log              *slog.Logger // base with the pipeline's name
	obs              *observer
	prog             *progress
	stderr           io.Writer
}

// start sets up the signals of command cmd on file.
func (r *runFlags) start(cmd, file string, stdout, stderr io.Writer) (*signals, error) {
	sg := &signals{cmd: cmd, file: file, runID: state.NewRunID(time.Now()), stderr: stderr}
	l, err := r.obs.logger(stderr, r.verbose)
	if err != nil {
		return nil, err
	}
	if l != nil {
		sg.base = l.With("run_id", sg.runID)
		sg.log = sg.base.With("pipeline", "", "file", file)
	}
	if progressWanted(stdout, stderr, r.obs.quiet, l != nil) {
		sg.prog = newProgress(stderr)
	}
	sg.obs = newObserver(sg.log, sg.prog)
	return sg, nil
}

// close ends the progress display (before the final output).
func (sg *signals) close() { sg.prog.close() }

// load reads and validates a pipeline file; its diagnostics go to the log, or else to stderr.
func (sg *signals) load() (*pipelines.Pipeline, spec.Diagnostics, bool) {
	p, diags := pipelines.Load(sg.file, pipelines.Options{})
	if sg.base != nil {
		name := ""
		if p != nil {
			name = p.Name
			setRedactor(sg.base, p.Secrets)
		}
		sg.log = sg.base.With("pipeline", name)
		sg.obs.log = sg.log
	}
	sg.diags(diags, nil)
	if diags.HasErrors() || p == nil {
		return nil, diags, false
	}
	sg.info("loaded", "file", sg.file) // no-op without logs
	return p, diags, true
}

// diags reports diagnostics, sorted.
func (sg *signals) diags(diags spec.Diagnostics, red *spec.Redactor) {
	if sg.log == nil {
		printDiags(sg.stderr, diags, red)
		return
	}
	diags.Sort()
	for _, d := range diags {
		lvl := slog.LevelWarn
		if d.Severity == spec.Error {
			lvl = slog.LevelError
		}
		sg.log.Log(context.Background(), lvl, "pipeline diagnostic", "diagnostic", red.Redact(d.Error()), "code", string(d.Code))
	}
}

// failed reports a command-level error (not a run's): to the log, or else "possync CMD: ..." on stderr.
func (sg *signals) failed(err error) {
	if sg.log != nil {
		logError(sg.log, "possync "+sg.cmd+" failed", err)
		return
	}
	fmt.Fprintf(sg.stderr, "possync %s: %v\n", sg.cmd, err)
}

func (r *runFlags) options(sg *signals) (runner.Options, error) {
	o := runner.Options{AllowMassChange: r.allowMassChange, FullRefresh: r.fullRefresh, Refresh: r.refresh, FullPlan: r.fullPlan,
		NoTransformCache: r.noTCache, RunID: sg.runID, Observe: sg.obs.event}
	if r.at != "" {
		t, err := time.Parse(time.RFC3339, r.at)
		if err != nil {
			return o, fmt.Errorf("--at: want RFC 3339 time like 2026-11-27T00:00:00-08:00: %w", err)
		}
		o.Now = t
	}
	if sg.log != nil {
		o.Log = &logWriter{l: sg.log}
	}
	return o, nil
}

// fail reports err (redacted) and returns the exit code for it.
func (sg *signals) fail(p *pipelines.Pipeline, err error) int {
	var diags spec.Diagnostics
	switch {
	case errors.As(err, &diags):
		sg.diags(diags, p.Secrets)
	case sg.log != nil:
		logError(sg.log, "possync "+sg.cmd+" failed", err) // the handler redacts
	default:
		fmt.Fprintf(sg.stderr, "possync %s: %s\n", sg.cmd, p.Secrets.Redact(err.Error()))
	}
	_, code := outcome.Classify(err)
	return code
}

// isTerminal says whether w is a terminal that takes colours: not with NO_COLOR or TERM=dumb.
func isTerminal(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isTTY(w)
}

func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("plan", "possync plan FILE [flags]",
		"Show what applying the pipeline would change (a dry run; the state is not changed).\n"+
			"Exit codes: 0 no changes, 2 changes planned, 3 a guard blocks the plan (apply would refuse it; held\n"+
			"removals count), 1 failure (also an invalid pipeline file).", stderr)
	var rf runFlags
	rf.register(c.fs, false)
	out := c.fs.String("out", "", "save the plan document to this file (for apply --plan)")
	asJSON := c.fs.Bool("json", false, "print the plan document as JSON instead of text")
	limit := c.fs.Int("limit", 100, "list at most N changes in the text (0 = all)")
	files, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err != nil || len(files) != 1 {
		if err == nil {
			c.usage(stderr)
		}
		return 1
	}
	sg, err := rf.start("plan", files[0], stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "possync plan:", err)
		return 1
	}
	defer sg.close()
	p, _, ok := sg.load()
	if !ok {
		return 1
	}
	opts, err := rf.options(sg)
	if err != nil {
		sg.failed(err)
		return 1
	}
	pl, err := runner.Plan(ctx, p, opts)
	sg.close()
	if err != nil {
		if code := sg.fail(p, err); code != runner.ExitInvalid {
			return code
		}
		return 1
	}
	if *out != "" {
		if err := plan.Write(*out, pl); err != nil {
			sg.failed(err)
			return 1
		}
	}
	if !sg.writePlanHTML(rf.html, pl) {
		return 1
	}
	sg.info("planned", "create", pl.Summary.Create, "update", pl.Summary.Update, "deactivate", pl.Summary.Deactivate,
		"delete", pl.Summary.Delete, "unchanged", pl.Summary.Unchanged)
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
	return planExit(pl)
}

// planExit is plan's exit code for pl: that of an apply of it when a guard blocks it (apply and run refuse
// it, also when the guard counts only held removals and nothing is planned), else 2 when it changes
// anything and 0 when not.
func planExit(pl *plan.Plan) int {
	switch {
	case pl.Blocked():
		return runner.ExitBlocked
	case pl.Summary.Total() > 0:
		return 2
	}
	return 0
}

func cmdApply(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("apply", "possync apply FILE [--plan plan.json] [flags]",
		"Apply a saved plan exactly (refused if stale), or plan and apply; prints a one-line summary.", stderr)
	var rf runFlags
	rf.register(c.fs, true)
	planFile := c.fs.String("plan", "", "apply exactly this saved plan (refused if stale)")
	report := c.fs.String("report", "", "write the JSON run report to this file")
	files, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err != nil || len(files) != 1 {
		if err == nil {
			c.usage(stderr)
		}
		return 2
	}
	return apply(ctx, "apply", files[0], rf, *planFile, *report, false, stdout, stderr)
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("run", "possync run FILE [--report FILE] [flags]",
		"Plan and apply in one step, for schedulers; prints the JSON run report on stdout (or to --report FILE).", stderr)
	var rf runFlags
	rf.register(c.fs, true)
	report := c.fs.String("report", "", "write the JSON run report to this file instead of stdout")
	files, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err != nil || len(files) != 1 {
		if err == nil {
			c.usage(stderr)
		}
		return 2
	}
	return apply(ctx, "run", files[0], rf, "", *report, true, stdout, stderr)
}

// apply runs command cmd ("apply" or "run") on file. Every outcome, a pipeline file that does not load
// included, yields a run report (when one is asked for) that says why, and a metrics file (--metrics-file).
func apply(ctx context.Context, cmd, file string, rf runFlags, planFile, reportFile string, reportToStdout bool, stdout, stderr io.Writer) int {
	sg, err := rf.start(cmd, file, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "possync %s: %v\n", cmd, err)
		if reportFile != "" || reportToStdout {
			now := time.Now().UTC()
			writeReport(&runner.Report{StartedAt: now, FinishedAt: now, ExitReason: "invalid_config", ExitCode: runner.ExitInvalid,
				Error: err.Error(), Rejected: []runner.RejectedChange{}, InputRejects: []connectors.Reject{}}, nil, reportFile, stdout, stderr)
		}
		return runner.ExitInvalid
	}
	defer sg.close()
	var p *pipelines.Pipeline
	var saved, planned *plan.Plan // the saved plan (--plan), the plan the run made (for --html)
	// finish writes the report and the metrics, and logs the outcome.
	finish := func(rep *runner.Report) bool {
		sg.close()
		ok := true
		if reportFile != "" || reportToStdout {
			ok = writeReport(rep, secretsOf(p), reportFile, stdout, stderr)
		}
		if rf.obs.metricsFile != "" || rf.obs.pushgateway != "" {
			// Also after an interrupt: its outcome is what the monitoring must see (a push is bounded by its
			// own timeout).
			ok = sg.writeMetrics(context.WithoutCancel(ctx), &rf.obs, p, rep) && ok
		}
		ok = sg.writeRunHTML(rf.html, p, cmp.Or(planned, saved), rep) && ok
		sg.info("finished", "outcome", rep.ExitReason, "exit_code", rep.ExitCode,
			"seconds", round3(rep.FinishedAt.Sub(rep.StartedAt).Seconds()),
			"planned", rep.Planned.Total(), "applied", rep.Applied.Total(), "rejected", len(rep.Rejected),
			"input_rejects", len(rep.InputRejects))
		return ok
	}
	// notStarted ends a run that could not start, with reason and code; its report says why.
	notStarted := func(reason string, code int, why string) int {
		now := time.Now().UTC()
		rep := &runner.Report{RunID: sg.runID, StartedAt: now, FinishedAt: now, ExitReason: reason, ExitCode: code,
			Error: why, Rejected: []runner.RejectedChange{}, InputRejects: []connectors.Reject{}}
		if p != nil {
			rep.Pipeline, rep.Merchant = p.Name, p.Merchant
			rep.Error = p.Secrets.Redact(why)
		}
		finish(rep)
		return code
	}
	invalid := func(why string) int { return notStarted("invalid_config", runner.ExitInvalid, why) }
	p, diags, ok := sg.load()
	if !ok {
		return invalid(diagText(file, diags))
	}
	opts, err := rf.options(sg)
	if err != nil {
		sg.failed(err)
		return invalid(err.Error())
	}
	if rf.html != "" {
		opts.Planned = func(pl *plan.Plan) { planned = pl }
	}
	if planFile != "" {
		if saved, err = plan.Read(planFile); err != nil {
			sg.failed(err)
			return notStarted("error", runner.ExitFailure, err.Error()) // the report and metrics say why nothing ran
		}
	}
	rep, err := runner.Apply(ctx, p, opts, saved)
	sg.close()
	code := rep.ExitCode
	if err != nil {
		code = sg.fail(p, err)
		rep.ExitCode = code
	}
	written := finish(rep)
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
	if !reportToStdout {
		sg.printNotes(p, rep.Notes, err == nil, stdout)
	}
	if !written {
		// The run's own outcome is in the summary above and in the report (when that was written); the exit
		// code says that its report, metrics or page is missing, which a scheduler's monitoring relies on.
		fmt.Fprintf(stderr, "possync %s: the run ended %q (exit %d), but an output above could not be written: exit 1\n", cmd, rep.ExitReason, code)
		return runner.ExitFailure
	}
	return code
}

// printNotes shows an apply's notes (the plan's, as `plan` shows them, and the run's own), secrets masked:
// after the summary on stdout when it succeeded, else after the error (on stderr, or in the log), whose
// message may point at them (a guard counting held removals).
func (sg *signals) printNotes(p *pipelines.Pipeline, notes []string, ok bool, stdout io.Writer) {
	for _, n := range notes {
		n = secretsOf(p).Redact(n)
		switch {
		case ok:
			fmt.Fprintf(stdout, "Note: %s\n", n)
		case sg.log != nil:
			sg.log.Info("note", "note", n)
		default:
			fmt.Fprintf(sg.stderr, "Note: %s\n", n)
		}
	}
}

// diagText is the reason a pipeline file did not load, for the run report: its error diagnostics (the loader
// masks secrets in them), one a line.
func diagText(file string, diags spec.Diagnostics) string {
	diags.Sort()
	lines := []string{file + ": the pipeline file is invalid:"}
	for _, d := range diags {
		if d.Severity == spec.Error {
			lines = append(lines, d.Error())
		}
	}
	return strings.Join(lines, "\n")
}

// writeMetrics writes the metrics file (--metrics-file) and pushes them (--pushgateway); false (and an error
// on stderr or in the log) when either fails.
func (sg *signals) writeMetrics(ctx context.Context, o *obsFlags, p *pipelines.Pipeline, rep *runner.Report) bool {
	m := &runMetrics{Pipeline: rep.Pipeline, Report: rep}
	if m.Pipeline == "" {
		m.Pipeline = strings.TrimSuffix(filepath.Base(sg.file), filepath.Ext(sg.file))
	}
	m.Stages, m.Rows = sg.obs.stageRows()
	switch {
	case rep.ExitCode == runner.ExitOK:
		m.LastSuccess = rep.FinishedAt
	case p != nil:
		t, err := runner.LastSuccess(ctx, p)
		if err != nil {
			sg.failed(fmt.Errorf("metrics: last success: %w", err))
		}
		m.LastSuccess = t
	}
	ok := true
	if o.metricsFile != "" {
		if err := writeMetricsFile(o.metricsFile, m); err != nil {
			sg.failed(err)
			ok = false
		}
	}
	if o.pushgateway != "" {
		if err := pushMetrics(ctx, o.pushgateway, m); err != nil {
			sg.failed(err)
			ok = false
		}
	}
	return ok
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
	c := newCommand("check", "possync check FILE", "Test every connector's connectivity and credentials, and the state backend (for PostgreSQL: the\n"+
		"connection, the schema's version, the lock's holder; without taking the lock).", stderr)
	files, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err != nil || len(files) != 1 {
		if err == nil {
			c.usage(stderr)
		}
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
	sc := runner.CheckState(ctx, p)
	fmt.Fprintf(stdout, "%-6s %-12s %-10s %s\n", "state", sc.Backend, "", p.Secrets.Redact(stateStatus(sc)))
	if sc.Err != nil {
		code = 1
	}
	return code
}

// stateStatus is the status column of `possync check`'s state line.
func stateStatus(sc runner.StateCheck) string {
	if sc.Err == nil {
		return "ok: " + sc.Detail
	}
	if sc.Diagnosis != nil { // reached, but not usable as found: the detail says why
		return "FAILED: " + sc.Detail
	}
	return "FAILED: " + sc.Err.Error()
}

func cmdConnectors(_ context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("connectors", "possync connectors [NAME]",
		"Print the docs of every source, sink and transform, or of the one named NAME.", stderr)
	markdown := c.fs.String("markdown", "", "write the reference as Markdown pages into this folder (docs/components) instead")
	c.complete = completeSpec{args: argWords, words: componentNames()}
	args, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if *markdown != "" && err == nil && len(args) == 0 {
		return writeMarkdownDocs(*markdown, stderr) // connectors_docs.go
	}
	if err != nil || len(args) > 1 {
		if err == nil {
			c.usage(stderr)
		}
		return 2
	}
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

func cmdSchema(_ context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("schema", "possync schema",
		"Print the JSON Schema of pipeline files (for editors: see the README's modeline).", stderr)
	c.complete.args = argNone
	pos, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err != nil || len(pos) > 0 {
		if err == nil {
			c.usage(stderr)
		}
		return 2
	}
	b, err := pipelines.JSONSchema(pipelines.DefaultCatalog())
	if err != nil {
		fmt.Fprintln(stderr, "possync schema:", err)
		return 1
	}
	_, _ = stdout.Write(b)
	return 0
}

// info logs at info level when logs are on.
func (sg *signals) info(msg string, args ...any) {
	if sg.log != nil {
		sg.log.Info(msg, args...)
	}
}

// secretsOf is p's redactor; nil (which masks nothing: the loader already masked its diagnostics) without p.
func secretsOf(p *pipelines.Pipeline) *spec.Redactor {
	if p == nil {
		return nil
	}
	return p.Secrets
}
