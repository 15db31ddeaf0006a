package pipetest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes r the way `go test -v` reads: a PASS or FAIL line per case, under a failed case one line
// per difference (section, record key, field: expected vs got), then a summary line for the file.
func WriteText(w io.Writer, r *Result) error {
	var b strings.Builder
	for _, c := range r.Cases {
		status := "PASS"
		if !c.Passed {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "--- %s: %s (%.2fs)\n", status, c.Name, c.Seconds)
		if c.Error != "" {
			for _, line := range strings.Split(strings.TrimRight(c.Error, "\n"), "\n") {
				fmt.Fprintf(&b, "    error: %s\n", line)
			}
		}
		for _, f := range c.Failures {
			b.WriteString("    " + f.Section + ": ")
			if f.Key != "" {
				b.WriteString(f.Key + ": ")
			}
			b.WriteString(f.Message + "\n")
			if f.Field == "" && f.Expected != "" && f.Got != "" {
				fmt.Fprintf(&b, "        expected: %s\n        got:      %s\n", f.Expected, f.Got)
			}
		}
	}
	switch {
	case r.Failed > 0:
		fmt.Fprintf(&b, "FAIL  %s: %d of %d cases failed", r.File, r.Failed, r.Failed+r.Passed)
	case r.Passed == 0:
		fmt.Fprintf(&b, "ok    %s: no case matched", r.File)
	default:
		fmt.Fprintf(&b, "ok    %s: %d cases passed", r.File, r.Passed)
	}
	if r.Skipped > 0 {
		fmt.Fprintf(&b, " (%d skipped by -run)", r.Skipped)
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write test results: %w", err)
	}
	return nil
}

// WriteJSON writes the results of one or more test files as an indented JSON document:
// {"ok": bool, "files": [Result...]}.
func WriteJSON(w io.Writer, results []*Result) error {
	ok := true
	for _, r := range results {
		ok = ok && r.OK()
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		OK    bool      `json:"ok"`
		Files []*Result `json:"files"`
	}{ok, results}); err != nil {
		return fmt.Errorf("write test results: %w", err)
	}
	return nil
}
