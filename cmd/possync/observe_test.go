package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/possync/possync/runner"
	"github.com/possync/possync/spec"
)

// TestLogRedactsBeforeEscaping: a secret that JSON escapes (<, &, ") is masked in messages, strings,
// errors, lists and attributes added with With, in both formats.
func TestLogRedactsBeforeEscaping(t *testing.T) {
	const secret = `tok<&"en-9f2a`
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		o := obsFlags{logFormat: format}
		l, err := o.logger(&buf, false)
		if err != nil {
			t.Fatal(err)
		}
		red := &spec.Redactor{}
		red.Add(secret)
		setRedactor(l, red)
		l = l.With("url", "https://x/?key="+secret)
		err = fmt.Errorf("sink: %w", errors.New("401 for token "+secret))
		l.Info("calling with "+secret, "token", secret, "list", []string{secret})
		logError(l, "failed", err)
		out := buf.String()
		if strings.Contains(out, "tok<") || strings.Contains(out, `tok\u003c`) || strings.Count(out, "***") < 6 {
			t.Errorf("%s log shows the secret or masks too little:\n%s", format, out)
		}
		if format == "json" {
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Errorf("not JSON: %v: %s", err, line)
				}
			}
		}
	}
}

// TestLogFlagsRejectUnknownValues: a typo in --log-format or --log-level is an error, not silence.
func TestLogFlagsRejectUnknownValues(t *testing.T) {
	for _, c := range []struct {
		o    obsFlags
		want string // the flag, the bad value and the choices, so the user can fix the typo
	}{
		{obsFlags{logFormat: "yaml"}, `--log-format: want text or json, not "yaml"`},
		{obsFlags{logLevel: "loud"}, `--log-level: want debug, info, warn or error, not "loud"`},
	} {
		if _, err := c.o.logger(&bytes.Buffer{}, false); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one saying %s", c.o, err, c.want)
		}
	}
	if l, err := (&obsFlags{}).logger(&bytes.Buffer{}, false); l != nil || err != nil {
		t.Errorf("no log flags: want no logger, got %v, %v", l, err)
	}
}

// TestProgressLines: the display ends each top-level stage with one line (rows and rows/s for a read, the
// changes of the total for the apply), skips the apply's inner steps, and leaves no live line at close.
func TestProgressLines(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "tty")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := newProgress(f)
	for _, e := range []runner.Event{
		{Stage: "read source", Kind: runner.StageStart},
		{Stage: "read source", Kind: runner.StageEnd, Seconds: 0.5},
		{Stage: "read source", Kind: runner.StageRows, Seconds: 0.5, RowsIn: -1, RowsOut: 1000},
		{Stage: "apply", Kind: runner.StageStart},
		{Stage: "apply: sink", Kind: runner.StageStart},
		{Stage: "apply: sink", Kind: runner.StageEnd, Seconds: 0.1},
		{Stage: "apply", Kind: runner.StageRows, RowsIn: 3, RowsOut: 3},
		{Stage: "apply", Kind: runner.StageEnd, Seconds: 0.2},
		{Stage: "diff", Kind: runner.StageStart},
	} {
		p.event(e)
	}
	p.close()
	p.close() // a second close is harmless
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		parts := strings.Split(l, "\r")
		if last := strings.TrimSpace(parts[len(parts)-1]); last != "" {
			lines = append(lines, last)
		}
	}
	want := []string{"read source: 1000 rows in 0.5 s (2000 rows/s)", "apply: 3/3 changes in 0.2 s"}
	if strings.Join(lines, "|") != strings.Join(want, "|") || strings.Contains(string(b), "apply: sink") {
		t.Errorf("progress lines %q, want %q (no inner steps)\n%q", lines, want, b)
	}
}
