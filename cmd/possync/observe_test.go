package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/possync/possync/pipelines/spec"
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
	for _, o := range []obsFlags{{logFormat: "yaml"}, {logLevel: "loud"}} {
		if _, err := o.logger(&bytes.Buffer{}, false); err == nil {
			t.Errorf("%+v: want an error", o)
		}
	}
	if l, err := (&obsFlags{}).logger(&bytes.Buffer{}, false); l != nil || err != nil {
		t.Errorf("no log flags: want no logger, got %v, %v", l, err)
	}
}
