package main

// Signals for schedulers: structured logs (log/slog), a Prometheus textfile of the run, and a live progress
// line per stage on a terminal. All three are fed by the runner's events (runner.Options.Observe).

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/possync/possync/runner"
	"github.com/possync/possync/spec"
)

// obsFlags are the logging, metrics and progress flags of plan, apply and run.
type obsFlags struct {
	logFormat, logLevel, metricsFile string
	quiet                            bool
	// pushgateway is the Prometheus Pushgateway the run's metrics are POSTed to (metrics.go).
	pushgateway string
}

func (o *obsFlags) register(fs *flag.FlagSet, metrics bool) {
	fs.StringVar(&o.logFormat, "log-format", "", "write structured logs to stderr: text or json (default: no logs unless -v or --log-level)")
	fs.StringVar(&o.logLevel, "log-level", "", "log level: debug, info, warn or error (default info when logging)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress display; only the final output")
	if metrics {
		fs.StringVar(&o.metricsFile, "metrics-file", "", "write the run's metrics to FILE in Prometheus text format, atomically (node_exporter textfile collector)")
		fs.StringVar(&o.pushgateway, "pushgateway", "", "POST the run's metrics to this Prometheus Pushgateway URL (as job possync, grouped by pipeline)")
	}
}

// logger returns the structured logger the flags ask for, or nil when logs are off. verbose (-v) turns on
// text logs at info.
func (o *obsFlags) logger(w io.Writer, verbose bool) (*slog.Logger, error) {
	if o.logFormat == "" && o.logLevel == "" && !verbose {
		return nil, nil
	}
	var level slog.Level
	switch strings.ToLower(o.logLevel) {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("--log-level: want debug, info, warn or error, not %q", o.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "", "text":
		return slog.New(&redactHandler{h: slog.NewTextHandler(w, opts), red: &redactorRef{}}), nil
	case "json":
		return slog.New(&redactHandler{h: slog.NewJSONHandler(w, opts), red: &redactorRef{}}), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, not %q", o.logFormat)
}

// redactorRef is the pipeline's redactor, set once the pipeline is loaded (before that, diagnostics are
// already redacted by the loader).
type redactorRef struct {
	mu  sync.Mutex
	red *spec.Redactor
}

func (r *redactorRef) set(red *spec.Redactor) {
	r.mu.Lock()
	r.red = red
	r.mu.Unlock()
}

func (r *redactorRef) redact(s string) string {
	r.mu.Lock()
	red := r.red
	r.mu.Unlock()
	return red.Redact(s)
}

// setRedactor makes l mask the pipeline's secrets from now on.
func setRedactor(l *slog.Logger, red *spec.Redactor) {
	if l == nil {
		return
	}
	if h, ok := l.Handler().(*redactHandler); ok {
		h.red.set(red)
	}
}

// redactHandler masks secrets in the message and every string, error or string-list value of a record
// before the wrapped handler formats it (masking after JSON escaping could miss an escaped secret).
type redactHandler struct {
	h   slog.Handler
	red *redactorRef
}

func (r *redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, r.red.redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(r.attr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, r.red.redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		as := make([]any, len(g))
		for i, x := range g {
			as[i] = r.attr(x)
		}
		return slog.Group(a.Key, as...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, r.red.redact(x.Error()))
		case []string:
			red := make([]string, len(x))
			for i, s := range x {
				red[i] = r.red.redact(s)
			}
			return slog.Any(a.Key, red)
		case fmt.Stringer:
			return slog.String(a.Key, r.red.redact(x.String()))
		}
	}
	return a
}

func (r *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = r.attr(a)
	}
	return &redactHandler{h: r.h.WithAttrs(red), red: r.red}
}

func (r *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{h: r.h.WithGroup(name), red: r.red}
}

// causes lists err's cause chain, outermost first: each wrapped error's own message (the part its wrapper
// did not already say), following every branch of joined errors.
func causes(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		out = append(out, e.Error())
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return out
}

// logError logs err with its cause chain.
func logError(l *slog.Logger, msg string, err error) {
	if l == nil || err == nil {
		return
	}
	l.Error(msg, "error", err, "causes", causes(err))
}

// logWriter turns the runner's progress lines (Options.Log) into info records.
type logWriter struct {
	l   *slog.Logger
	buf bytes.Buffer
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // incomplete: keep it for the next write
			return len(b), nil
		}
		if s := strings.TrimSpace(line); s != "" {
			w.l.Info(s)
		}
	}
}

// observer receives the runner's events and feeds the log, the metrics and the progress display.
type observer struct {
	log      *slog.Logger
	progress *progress
	mu       sync.Mutex
	// rows are the row counts per stage (reads and transform steps), for the metrics.
	rows map[string][2]int64
	// order is the stages in the order they first reported rows.
	order []string
}

func newObserver(log *slog.Logger, pr *progress) *observer {
	return &observer{log: log, progress: pr, rows: map[string][2]int64{}}
}

func (o *observer) event(e runner.Event) {
	if e.Kind == runner.StageRows && e.Stage != "apply" {
		o.mu.Lock()
		if _, ok := o.rows[e.Stage]; !ok {
			o.order = append(o.order, e.Stage)
		}
		o.rows[e.Stage] = [2]int64{e.RowsIn, e.RowsOut}
		o.mu.Unlock()
		if o.log != nil {
			attrs := []any{"stage", e.Stage, "rows_out", e.RowsOut, "seconds", round3(e.Seconds)}
			if e.RowsIn >= 0 {
				attrs = append(attrs, "rows_in", e.RowsIn)
				if e.RowsOut >= 0 {
					attrs = append(attrs, "dropped", max(e.RowsIn-e.RowsOut, 0))
				}
			}
			if strings.HasPrefix(e.Stage, "read ") {
				attrs = append(attrs, "rejected", e.Rejected)
			}
			o.log.Info("step", attrs...)
		}
	}
	if e.Kind == runner.StageEnd && o.log != nil {
		o.log.Debug("stage done", "stage", e.Stage, "seconds", round3(e.Seconds))
	}
	if o.progress != nil {
		o.progress.event(e)
	}
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// stageRows returns the row counts per stage in the order they were reported.
func (o *observer) stageRows() ([]string, map[string][2]int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	rows := make(map[string][2]int64, len(o.rows))
	for k, v := range o.rows {
		rows[k] = v
	}
	return append([]string(nil), o.order...), rows
}

// progressWanted is true when stdout and w are terminals that can redraw a line, and the user did not ask
// for quiet: not with --quiet, TERM=dumb, or structured logs on the same stderr.
func progressWanted(stdout, w io.Writer, quiet, logging bool) bool {
	if quiet || logging || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isTTY(stdout) && isTTY(w)
}

// isTTY says whether w is a terminal (golang.org/x/term).
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress draws one live line per top-level stage on a terminal: the stage, its elapsed time, and for the
// apply the changes done of the total with their rate and an ETA. A finished stage's line stays, with its
// rows and rows/s where known.
type progress struct {
	w     *os.File
	mu    sync.Mutex
	cur   string // the stage on the live line
	start time.Time
	done  int64 // apply: changes acknowledged so far, of total
	total int64
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w.(*os.File), stop: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.draw()
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// topLevel is true for the stages the display shows (not the apply's inner steps, "apply: sink").
func topLevel(stage string) bool { return !strings.Contains(stage, ": ") }

func (p *progress) event(e runner.Event) {
	if !topLevel(e.Stage) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Kind {
	case runner.StageStart:
		p.cur, p.start, p.done, p.total = e.Stage, time.Now(), 0, 0
		p.draw()
	case runner.StageRows:
		if e.Stage == "apply" {
			p.done, p.total = e.RowsOut, e.RowsIn
			p.draw()
			return
		}
		if e.RowsOut >= 0 && e.Seconds > 0 {
			p.line(fmt.Sprintf("%s: %d rows in %.1f s (%.0f rows/s)", e.Stage, e.RowsOut, e.Seconds, float64(e.RowsOut)/e.Seconds), true)
		}
	case runner.StageEnd:
		if e.Stage == p.cur {
			if !strings.HasPrefix(e.Stage, "read ") && !strings.HasPrefix(e.Stage, "transform ") {
				msg := fmt.Sprintf("%s: %.1f s", e.Stage, e.Seconds)
				if e.Stage == "apply" && p.total > 0 {
					msg = fmt.Sprintf("apply: %d/%d changes in %.1f s", p.done, p.total, e.Seconds)
				}
				p.line(msg, true)
			}
			p.cur = ""
		}
	}
}

// draw redraws the live line of the current stage (mu held).
func (p *progress) draw() {
	if p.cur == "" {
		return
	}
	el := time.Since(p.start).Seconds()
	msg := fmt.Sprintf("%s … %.1f s", p.cur, el)
	if p.cur == "apply" && p.total > 0 {
		msg = fmt.Sprintf("apply … %d/%d changes, %.1f s", p.done, p.total, el)
		if p.done > 0 && el > 0 {
			rate := float64(p.done) / el
			msg += fmt.Sprintf(" (%.0f changes/s, ETA %.0f s)", rate, float64(p.total-p.done)/rate)
		}
	}
	p.line(msg, false)
}

// line writes msg over the live line, padded to the terminal's width (no escape codes); final ends it.
func (p *progress) line(msg string, final bool) {
	width := 80
	if w, _, err := term.GetSize(int(p.w.Fd())); err == nil && w > 0 {
		width = w
	}
	r := []rune(msg)
	if len(r) > width-1 {
		r = r[:width-1]
	}
	s := "\r" + string(r) + strings.Repeat(" ", width-1-len(r))
	if final {
		s += "\n"
	}
	_, _ = io.WriteString(p.w, s)
}

// close stops the display and clears a live line that did not finish. Calls after the first do nothing.
func (p *progress) close() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.cur != "" {
			p.line("", false)
			_, _ = io.WriteString(p.w, "\r")
			p.cur = ""
		}
	})
}
