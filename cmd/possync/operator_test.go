package main

// Process-level tests of the signals a scheduler and an operator rely on: help and version, structured logs,
// the metrics file, output on a non-terminal, and the run report's reasons.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHelpAndVersion: -h and --help exit 0 on every command with its usage on stdout, listing every flag it
// takes; --version and version name possync's version, commit and the DuckDB version.
func TestHelpAndVersion(t *testing.T) {
	f := newFixture(t, nil)
	flags := map[string][]string{
		"validate":   {"json"},
		"plan":       {"out", "json", "limit", "at", "allow-mass-change", "full-refresh", "full-plan", "refresh", "v", "log-format", "log-level", "quiet"},
		"apply":      {"plan", "report", "at", "allow-mass-change", "full-refresh", "full-plan", "refresh", "v", "log-format", "log-level", "quiet", "metrics-file"},
		"run":        {"report", "at", "allow-mass-change", "full-refresh", "full-plan", "refresh", "v", "log-format", "log-level", "quiet", "metrics-file"},
		"check":      nil,
		"connectors": nil,
		"schema":     nil,
		"demo":       {"dir"},
		"version":    nil,
	}
	for cmd, want := range flags {
		for _, h := range []string{"-h", "--help"} {
			r := f.run(t, nil, cmd, h)
			if r.code != 0 || !strings.Contains(r.stdout, "Usage: possync "+cmd) {
				t.Errorf("possync %s %s: want exit 0 and its usage on stdout, got %s", cmd, h, r)
				continue
			}
			for _, fl := range want {
				if !regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(fl) + `\b`).MatchString(r.stdout) {
					t.Errorf("possync %s %s: usage does not list -%s:\n%s", cmd, h, fl, r.stdout)
				}
			}
		}
	}
	if r := f.run(t, nil, "--help"); r.code != 0 || !strings.Contains(r.stdout, "possync version") {
		t.Errorf("possync --help: want exit 0 and the command list, got %s", r)
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := f.run(t, nil, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "possync ") || !strings.Contains(r.stdout, "\ncommit: ") ||
			!regexp.MustCompile(`(?m)^duckdb: v\d+\.\d+`).MatchString(r.stdout) {
			t.Errorf("possync %s: want exit 0, the version, commit and DuckDB version, got %s", args[0], r)
		}
	}
	if r := f.run(t, nil, "plan", "--no-such-flag", "pipeline.yaml"); r.code != 1 || !strings.Contains(r.stderr, "Usage: possync plan") {
		t.Errorf("plan with an unknown flag: want exit 1 and the usage on stderr, got %s", r)
	}
}

// TestParentCommandUsage: `possync state` prints its usage and its subcommands once (on stdout with exit 0
// for -h and --help; on stderr with exit 2 without a subcommand or with an unknown flag), and each subcommand's
// summary is a whole sentence, also when its description runs over several lines (migrate's).
func TestParentCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout bool // the usage is on stdout (else on stderr)
	}{
		{[]string{"state", "-h"}, 0, true},
		{[]string{"state", "--help"}, 0, true},
		{[]string{"state"}, 2, false},
		{[]string{"state", "--no-such-flag"}, 2, false},
	} {
		r := runPossync(t, tc.args...)
		out, other := r.stderr, r.stdout
		if tc.stdout {
			out, other = r.stdout, r.stderr
		}
		if r.code != tc.code || strings.Count(out, "Usage: possync state COMMAND") != 1 || strings.Count(out, "\nCommands:\n") != 1 ||
			strings.Contains(other, "Usage:") {
			t.Errorf("possync %s: want exit %d and the usage once on std%s, got %s", strings.Join(tc.args, " "), tc.code,
				map[bool]string{true: "out", false: "err"}[tc.stdout], r)
			continue
		}
		_, list, _ := strings.Cut(out, "\nCommands:\n")
		list, _, _ = strings.Cut(list, "\n\n")
		lines := strings.Split(list, "\n")
		if len(lines) != 5 {
			t.Errorf("possync %s lists %d subcommands, want history, list, migrate, set-merchant, show:\n%s", strings.Join(tc.args, " "), len(lines), list)
		}
		for _, l := range lines {
			if !strings.HasSuffix(l, ".") {
				t.Errorf("possync %s: summary cut short: %q", strings.Join(tc.args, " "), l)
			}
		}
		// The names are padded to the longest (set-merchant), so that the summaries line up.
		if want := "  migrate      Copy a pipeline's state between backends: local, or PostgreSQL (postgres://user@host:5432/db).\n"; !strings.Contains(out, want) {
			t.Errorf("possync %s: want the line %q in\n%s", strings.Join(tc.args, " "), want, out)
		}
	}
}

// jsonLog parses stderr as JSON log lines; each must parse and carry the run ID and the pipeline name.
func jsonLog(t *testing.T, stderr, runID, pipeline string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for i, s := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("log line %d is not JSON: %v\n%s", i+1, err, s)
		}
		if m["run_id"] != runID || m["pipeline"] != pipeline {
			t.Errorf("log line %d: run_id %v, pipeline %v; want %q, %q: %s", i+1, m["run_id"], m["pipeline"], runID, pipeline, s)
		}
		lines = append(lines, m)
	}
	return lines
}

// promtool checks a metrics file with `promtool check metrics`; it skips when promtool is absent, except in
// CI (CI=true), where .ci/run installs it.
func promtool(t *testing.T, path string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed; .ci/run installs it (Debian package prometheus)")
		}
		t.Skip("promtool not installed (Debian package prometheus): the metrics file's format is not checked")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(string(b))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics %s: %v\n%s\n%s", path, err, out, b)
	}
}

// metricValues reads the samples of a metrics file by their full name with labels.
func metricValues(t *testing.T, path string) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("metrics file: %v", err)
	}
	out := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

// TestRunLogsAndMetrics runs a pipeline as a scheduler would, with JSON logs and a metrics file: stdout is
// only the report (no progress on a non-terminal), every log line is JSON with the run ID and the pipeline,
// each step logs its rows and seconds, and the metrics file passes promtool and counts what the report says.
// A second run that a guard blocks keeps the first run's success time, read from the state journal.
func TestRunLogsAndMetrics(t *testing.T) {
	f := newFixture(t, genRows(0, 40))
	metrics := f.path("metrics/possync.prom")
	if err := os.MkdirAll(filepath.Dir(metrics), 0o755); err != nil {
		t.Fatal(err)
	}
	r := f.run(t, []string{"TERM=xterm-256color"}, "run", "pipeline.yaml", "--log-format", "json", "--metrics-file", metrics)
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	rep := parseReport(t, r) // stdout holds nothing but the report
	lines := jsonLog(t, r.stderr, rep.RunID, pipelineName)
	steps := map[string]map[string]any{}
	finished := false
	for _, l := range lines {
		switch l["msg"] {
		case "step":
			steps[l["stage"].(string)] = l
		case "finished":
			finished = l["outcome"] == "applied" && l["exit_code"] == 0.0 && l["applied"] == 40.0
		}
	}
	if rd := steps["read source"]; rd == nil || rd["rows_out"] != 40.0 || rd["rejected"] != 0.0 || rd["seconds"] == nil {
		t.Errorf("read step log: %v; want rows_out 40, rejected 0, seconds", rd)
	}
	if tr := steps["transform products"]; tr == nil || tr["rows_in"] != 40.0 || tr["rows_out"] != 40.0 || tr["dropped"] != 0.0 {
		t.Errorf("transform step log: %v; want rows_in 40, rows_out 40, dropped 0", tr)
	}
	if !finished {
		t.Errorf("no finished line with outcome applied, 40 applied:\n%s", r.stderr)
	}
	promtool(t, metrics)
	m := metricValues(t, metrics)
	pl := `pipeline="` + pipelineName + `"`
	for name, want := range map[string]float64{
		`possync_run_success{` + pl + `}`:                                           1,
		`possync_run_outcome{` + pl + `,reason="applied"}`:                          1,
		`possync_changes_applied{` + pl + `,action="create"}`:                       40,
		`possync_changes_planned{` + pl + `,action="create"}`:                       40,
		`possync_stage_rows{` + pl + `,stage="read source",direction="out"}`:        40,
		`possync_stage_rows{` + pl + `,stage="transform products",direction="out"}`: 40,
		`possync_guard_blocked{` + pl + `}`:                                         0,
		`possync_lock_busy{` + pl + `}`:                                             0,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("metric %s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	success := m[`possync_last_success_timestamp_seconds{`+pl+`}`]
	if d := time.Since(time.Unix(int64(success), 0)); d < 0 || d > time.Minute {
		t.Errorf("last success timestamp %v is not the run just made", success)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(metrics), ".*tmp*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary metrics files left behind: %v", leftovers)
	}

	// Half the records gone: the 10% delete guard blocks the apply (exit 3).
	f.writeRows(t, genRows(0, 20))
	r = f.run(t, nil, "run", "pipeline.yaml", "--metrics-file", metrics)
	if r.code != 3 {
		t.Fatalf("run with half the records gone: want exit 3, got %s", r)
	}
	promtool(t, metrics)
	m = metricValues(t, metrics)
	if m[`possync_guard_blocked{`+pl+`}`] != 1 || m[`possync_run_success{`+pl+`}`] != 0 || m[`possync_run_exit_code{`+pl+`}`] != 3 {
		t.Errorf("blocked run's metrics: guard_blocked %v, success %v, exit_code %v; want 1, 0, 3",
			m[`possync_guard_blocked{`+pl+`}`], m[`possync_run_success{`+pl+`}`], m[`possync_run_exit_code{`+pl+`}`])
	}
	if got := m[`possync_last_success_timestamp_seconds{`+pl+`}`]; got != success {
		t.Errorf("blocked run's last success timestamp = %v, want the first run's %v (from the journal)", got, success)
	}
	if r.stderr == "" || strings.Contains(r.stderr, "{") {
		t.Errorf("without log flags, the guard's verdict should be plain text on stderr:\n%s", r.stderr)
	}
}

// TestInvalidRunSignals: a run whose pipeline file does not load, and one whose secret shows up in a
// diagnostic. The report says why (the diagnostics themselves), the JSON log lines carry the run ID and the
// cause, the metrics file passes promtool, and the secret is in none of them.
func TestInvalidRunSignals(t *testing.T) {
	const secret = "s3cr3ttokenvalue"
	f := newFixture(t, genRows(0, 3))
	f.writeSecretPipeline(t)
	if err := os.WriteFile(f.path("broken.yaml"), []byte("version: 1\nname: broken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"TOK=" + secret}
	for _, c := range []struct {
		file, pipeline, code string
	}{
		{"secret.yaml", "secret-test", "key_not_found"},
		{"broken.yaml", "", "missing_field"},
	} {
		metrics := f.path(c.file + ".prom")
		r := f.run(t, env, "run", c.file, "--log-format", "json", "--log-level", "debug", "--metrics-file", metrics)
		if r.code != 2 {
			t.Errorf("run %s: want exit 2, got %s", c.file, r)
			continue
		}
		rep := parseReport(t, r)
		var full struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal([]byte(r.stdout), &full)
		if rep.ExitReason != "invalid_config" || !strings.Contains(full.Error, c.code) || strings.Contains(full.Error, "on stderr") {
			t.Errorf("run %s: report exit_reason %q, error %q; want invalid_config and the %s diagnostic", c.file, rep.ExitReason, full.Error, c.code)
		}
		lines := jsonLog(t, r.stderr, rep.RunID, c.pipeline)
		found := false
		for _, l := range lines {
			if d, _ := l["diagnostic"].(string); l["level"] == "ERROR" && strings.Contains(d, c.code) {
				found = true
			}
		}
		if !found {
			t.Errorf("run %s: no ERROR log line with the %s diagnostic:\n%s", c.file, c.code, r.stderr)
		}
		b, _ := os.ReadFile(metrics)
		if out := r.stdout + r.stderr + string(b); strings.Contains(out, secret) {
			t.Errorf("run %s: the secret shows in the report, logs or metrics:\n%s", c.file, out)
		}
		promtool(t, metrics)
		if m := metricValues(t, metrics); m[`possync_run_outcome{pipeline="`+strings.TrimSuffix(c.file, ".yaml")+`",reason="invalid_config"}`] != 1 &&
			m[`possync_run_outcome{pipeline="`+c.pipeline+`",reason="invalid_config"}`] != 1 {
			t.Errorf("run %s: metrics lack the invalid_config outcome:\n%s", c.file, b)
		}
	}
}

// TestRunErrorsNameRun: errors of `possync run` say so, in plain text and in the log's cause chain.
func TestRunErrorsNameRun(t *testing.T) {
	f := newFixture(t, genRows(0, 3))
	r := f.run(t, nil, "run", "pipeline.yaml", "--at", "yesterday")
	if r.code != 2 || !strings.Contains(r.stderr, "possync run: --at") || strings.Contains(r.stderr, "possync apply") {
		t.Errorf("run --at yesterday: want exit 2 and 'possync run: --at', got %s", r)
	}
	if rep := parseReport(t, r); rep.ExitReason != "invalid_config" {
		t.Errorf("run --at yesterday: report exit_reason %q, want invalid_config", rep.ExitReason)
	}
	r = f.run(t, nil, "run", "pipeline.yaml", "--log-format", "yaml")
	var bad struct {
		ExitReason string `json:"exit_reason"`
		Error      string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &bad); err != nil || r.code != 2 || bad.ExitReason != "invalid_config" ||
		!strings.Contains(bad.Error, "--log-format") || !strings.Contains(r.stderr, "possync run: --log-format") {
		t.Errorf("run --log-format yaml: want exit 2, a report and an error naming --log-format, got %s", r)
	}
	// A sink that cannot write: the error's cause chain is in the log.
	if err := os.WriteFile(f.path("out"), []byte("a file where the sink wants a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = f.run(t, nil, "run", "pipeline.yaml", "--log-format", "json")
	if r.code != 1 {
		t.Fatalf("run into an unwritable sink: want exit 1, got %s", r)
	}
	rep := parseReport(t, r)
	var failed map[string]any
	for _, l := range jsonLog(t, r.stderr, rep.RunID, pipelineName) {
		if l["msg"] == "possync run failed" {
			failed = l
		}
	}
	causes, _ := failed["causes"].([]any)
	if failed == nil || len(causes) == 0 || failed["error"] != causes[0] {
		t.Errorf("no 'possync run failed' line with the error and its causes:\n%s", r.stderr)
	}
}

// TestPlanOnNonTerminal: on a pipe, plan prints the plan without colours or progress, even with a colour
// terminal's TERM, and --quiet changes nothing there.
func TestPlanOnNonTerminal(t *testing.T) {
	f := newFixture(t, genRows(0, 5))
	for _, args := range [][]string{{"plan", "pipeline.yaml"}, {"plan", "pipeline.yaml", "--quiet"}} {
		r := f.run(t, []string{"TERM=xterm-256color", "NO_COLOR="}, args...)
		if r.code != 2 {
			t.Fatalf("%v: want exit 2 (five creates planned), got %s", args, r)
		}
		if strings.ContainsAny(r.stdout+r.stderr, "\x1b\r") || r.stderr != "" || !strings.Contains(r.stdout, "create") {
			t.Errorf("%v on a pipe: want the plain plan and an empty stderr, got\nstdout: %q\nstderr: %q", args, r.stdout, r.stderr)
		}
	}
}

// TestTerminalOutput runs plan on a pseudo-terminal (util-linux's script): with a colour TERM it shows a live
// line per stage and colours; with TERM=dumb neither, only the plan.
func TestTerminalOutput(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) not installed: no pseudo-terminal to test on")
	}
	f := newFixture(t, genRows(0, 5))
	for _, c := range []struct {
		term     string
		progress bool
	}{{"xterm-256color", true}, {"dumb", false}} {
		cmd := exec.Command(script, "-qec", binary+" plan pipeline.yaml", "/dev/null")
		cmd.Dir = f.dir
		cmd.Env = append(os.Environ(), "POSSYNC_STATE_DIR="+f.state, "NO_COLOR=", "TERM="+c.term)
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 2) {
			t.Fatalf("plan on a terminal (TERM=%s): %v\n%s", c.term, err, out)
		}
		s := string(out)
		hasProgress := strings.Contains(s, "read source: 5 rows")
		hasColour := strings.Contains(s, "\x1b[")
		if hasProgress != c.progress || hasColour != c.progress || !strings.Contains(s, "Plan") {
			t.Errorf("plan on a terminal, TERM=%s: progress %v, colours %v; want %v, %v:\n%q", c.term, hasProgress, hasColour, c.progress, c.progress, s)
		}
	}
}
