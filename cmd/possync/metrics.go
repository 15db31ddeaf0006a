package main

// The --metrics-file writer: a run's metrics in the Prometheus text exposition format (version 0.0.4),
// replaced atomically (a temporary file in the same folder, then a rename) so that node_exporter's textfile
// collector never reads half a file. A small writer rather than prometheus/client_golang: a run writes one
// file of gauges once, and the library would add its dependency tree (protobuf, procfs, ...) for that; the
// format is checked by `promtool check metrics` in the tests.
//
// API requests, retries and rate-limit answers are per connector (runner.Report.API, counted by the
// connectors' HTTP clients through connectors/apistats). Lock waits: a run never waits for the lock (it exits
// 75); possync_lock_busy says so. --pushgateway POSTs the same text to a Prometheus Pushgateway.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/possync/possync/runner"
	"github.com/possync/possync/spec"
)

// runMetrics is what a run reports to the metrics file.
type runMetrics struct {
	Pipeline    string
	Report      *runner.Report
	Stages      []string            // stages with row counts, in order
	Rows        map[string][2]int64 // stage → rows in, out (-1 unknown)
	LastSuccess time.Time           // zero: none known
}

// metricWriter builds the exposition text: one HELP and TYPE per family, families in order.
type metricWriter struct {
	b strings.Builder
}

func (w *metricWriter) family(name, typ, help string) {
	fmt.Fprintf(&w.b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (w *metricWriter) sample(name string, v float64, labels ...string) {
	w.b.WriteString(name)
	if len(labels) > 0 {
		w.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.b.WriteByte(',')
			}
			fmt.Fprintf(&w.b, "%s=\"%s\"", labels[i], escapeLabel(labels[i+1]))
		}
		w.b.WriteByte('}')
	}
	w.b.WriteByte(' ')
	w.b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	w.b.WriteByte('\n')
}

// escapeLabel escapes a label value as the text format requires (backslash, double quote, newline).
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// text renders the metrics.
func (m *runMetrics) text() string {
	var w metricWriter
	r := m.Report
	pl := []string{"pipeline", m.Pipeline}
	lbl := func(kv ...string) []string { return append(append([]string(nil), pl...), kv...) }

	w.family("possync_run_duration_seconds", "gauge", "Duration of the last run.")
	w.sample("possync_run_duration_seconds", r.FinishedAt.Sub(r.StartedAt).Seconds(), pl...)
	w.family("possync_run_timestamp_seconds", "gauge", "When the last run finished (Unix time).")
	w.sample("possync_run_timestamp_seconds", float64(r.FinishedAt.Unix()), pl...)
	w.family("possync_run_success", "gauge", "1 if the last run succeeded (exit code 0), else 0.")
	w.sample("possync_run_success", b2f(r.ExitCode == runner.ExitOK), pl...)
	w.family("possync_run_exit_code", "gauge", "Exit code of the last run.")
	w.sample("possync_run_exit_code", float64(r.ExitCode), pl...)
	w.family("possync_run_outcome", "gauge", "The last run's outcome, as the exit_reason label (value 1).")
	w.sample("possync_run_outcome", 1, lbl("reason", r.ExitReason)...)
	if !m.LastSuccess.IsZero() {
		w.family("possync_last_success_timestamp_seconds", "gauge", "When the last successful apply finished (Unix time), from the state's run journal.")
		w.sample("possync_last_success_timestamp_seconds", float64(m.LastSuccess.Unix()), pl...)
	}

	if len(m.Stages) > 0 {
		w.family("possync_stage_rows", "gauge", "Rows a stage of the last run read (direction in) and produced (direction out).")
		for _, s := range m.Stages {
			rows := m.Rows[s]
			if rows[0] >= 0 {
				w.sample("possync_stage_rows", float64(rows[0]), lbl("stage", s, "direction", "in")...)
			}
			if rows[1] >= 0 {
				w.sample("possync_stage_rows", float64(rows[1]), lbl("stage", s, "direction", "out")...)
			}
		}
	}
	if len(r.Durations) > 0 {
		w.family("possync_stage_duration_seconds", "gauge", "Seconds the last run spent per stage.")
		names := make([]string, 0, len(r.Durations))
		for k := range r.Durations {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			w.sample("possync_stage_duration_seconds", r.Durations[k], lbl("stage", k)...)
		}
	}

	actions := []struct {
		name       string
		plan, done int
	}{
		{"create", r.Planned.Create, r.Applied.Create},
		{"update", r.Planned.Update, r.Applied.Update},
		{"deactivate", r.Planned.Deactivate, r.Applied.Deactivate},
		{"delete", r.Planned.Delete, r.Applied.Delete},
	}
	w.family("possync_changes_planned", "gauge", "Changes the last run planned, per action.")
	for _, a := range actions {
		w.sample("possync_changes_planned", float64(a.plan), lbl("action", a.name)...)
	}
	w.family("possync_changes_applied", "gauge", "Changes the sink acknowledged in the last run, per action.")
	for _, a := range actions {
		w.sample("possync_changes_applied", float64(a.done), lbl("action", a.name)...)
	}
	w.family("possync_changes_rejected", "gauge", "Changes the sink rejected in the last run.")
	w.sample("possync_changes_rejected", float64(len(r.Rejected)), pl...)
	w.family("possync_input_rejects", "gauge", "Input rows the sources could not use in the last run.")
	w.sample("possync_input_rejects", float64(len(r.InputRejects)), pl...)
	w.family("possync_changes_recovered", "gauge", "Changes of an interrupted earlier run settled by the last run.")
	w.sample("possync_changes_recovered", float64(r.Recovered), pl...)
	if len(r.API) > 0 {
		for _, f := range []struct {
			name, help string
			value      func(runner.APICalls) int64
		}{
			{"possync_api_requests", "HTTP requests a connector sent in the last run (every attempt).", func(a runner.APICalls) int64 { return a.Requests }},
			{"possync_api_retries", "Requests a connector retried in the last run (429, 408, 5xx, timeouts).", func(a runner.APICalls) int64 { return a.Retries }},
			{"possync_api_rate_limited", "Answers that asked a connector to slow down (HTTP 429, or a throttled query) in the last run.", func(a runner.APICalls) int64 { return a.RateLimited }},
		} {
			w.family(f.name, "gauge", f.help)
			for _, a := range r.API {
				w.sample(f.name, float64(f.value(a)), lbl("connector", a.Connector, "type", a.Type)...)
			}
		}
	}
	w.family("possync_guard_blocked", "gauge", "1 if a guard blocked the last run's apply.")
	w.sample("possync_guard_blocked", b2f(r.ExitCode == runner.ExitBlocked), pl...)
	w.family("possync_lock_busy", "gauge", "1 if the last run found the pipeline locked by another run (it does not wait; exit 75).")
	w.sample("possync_lock_busy", b2f(r.ExitCode == runner.ExitLocked), pl...)
	return w.b.String()
}

// writeMetricsFile replaces path with the metrics, atomically: the temporary file is in path's folder, so
// the rename is within one file system. It ends in .tmp-*, which the textfile collector ignores (it reads
// *.prom only).
func writeMetricsFile(path string, m *runMetrics) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("metrics file %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.WriteString(m.text())
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("metrics file %s: %w", path, err)
	}
	return nil
}

// pushMetrics POSTs the metrics to a Prometheus Pushgateway at base, grouped as job "possync" and the
// pipeline (URL base/metrics/job/possync/pipeline/NAME). Errors show the URL without its password or query
// (spec.ShownURL), and mask both should the gateway or a proxy echo them (a token in the query, the password
// of a Basic authorization).
func pushMetrics(ctx context.Context, base string, m *runMetrics) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--pushgateway: want an http(s) URL like http://pushgateway:9091")
	}
	u = u.JoinPath("metrics", "job", "possync", "pipeline", m.Pipeline)
	var red spec.Redactor
	red.Add(spec.URLSecrets(u)...)
	where := spec.ShownURL(u)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewBufferString(m.text()))
	if err != nil {
		return fmt.Errorf("push metrics to %s: %s", where, red.Redact(err.Error()))
	}
	req.Header.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, password included
		}
		return fmt.Errorf("push metrics to %s: %s", where, red.Redact(err.Error()))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		text := red.Redact(strings.TrimSpace(string(body))) // before the cut, which could leave a prefix of a secret
		if len(text) > 512 {
			text = strings.ToValidUTF8(text[:512], "") + "…"
		}
		return fmt.Errorf("push metrics to %s: HTTP %d: %s", where, resp.StatusCode, text)
	}
	return nil
}
