package main

// `possync explain FILE KEY`: one record's path through a plan.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/outcome"
)

func cmdExplain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("explain", "possync explain FILE KEY [--json] [--at TIME]",
		"Show one record's path through a plan: its source rows, each transform step's output for it, the state row\n"+
			"(last applied), and the planned action with the rule that decided it. KEY is sku=A1, or just A1 for a\n"+
			"one-field key (several fields: store=1,sku=A1). Like plan, it reads the sources and changes nothing.", stderr)
	asJSON := c.fs.Bool("json", false, "print the explanation as JSON")
	at := c.fs.String("at", "", "evaluate as of this time (RFC 3339), as plan --at")
	c.complete = completeSpec{flags: map[string]valueSpec{"at": {kind: argNone}}}
	pos, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err != nil || len(pos) != 2 {
		if err == nil {
			c.usage(stderr)
		}
		return 2
	}
	p, ok := load(pos[0], stderr)
	if !ok {
		return 2
	}
	key, err := parseKey(p, pos[1])
	if err != nil {
		fmt.Fprintln(stderr, "possync explain:", err)
		return 2
	}
	opts := runner.Options{}
	if *at != "" {
		if opts.Now, err = time.Parse(time.RFC3339, *at); err != nil {
			fmt.Fprintln(stderr, "possync explain: --at: want RFC 3339 time like 2026-11-27T00:00:00-08:00")
			return 2
		}
	}
	x, err := runner.Explain(ctx, p, key, opts)
	if err != nil {
		fmt.Fprintln(stderr, "possync explain:", p.Secrets.Redact(err.Error()))
		_, code := outcome.Classify(err)
		return code
	}
	if *asJSON {
		writeJSON(stdout, x)
		return 0
	}
	writeExplanation(stdout, x)
	return 0
}

// parseKey reads KEY: field=value pairs separated by commas, or a bare value for a one-field key.
func parseKey(p *pipelines.Pipeline, s string) (map[string]string, error) {
	if !strings.Contains(s, "=") {
		if len(p.Key) != 1 {
			return nil, fmt.Errorf("the key is %s: write %s=VALUE,...", strings.Join(p.Key, ", "), p.Key[0])
		}
		return map[string]string{p.Key[0]: s}, nil
	}
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("key %q: write field=value pairs separated by commas", s)
		}
		k = strings.TrimSpace(k)
		if !slices.Contains(p.Key, k) {
			return nil, fmt.Errorf("%s is not a key field (the key is %s)", k, strings.Join(p.Key, ", "))
		}
		out[k] = v
	}
	for _, k := range p.Key {
		if _, ok := out[k]; !ok {
			return nil, fmt.Errorf("the key is %s: give a value for %s", strings.Join(p.Key, ", "), k)
		}
	}
	return out, nil
}

func writeExplanation(w io.Writer, x *runner.Explanation) {
	var kv []string
	for k, v := range x.Key {
		kv = append(kv, k+"="+v)
	}
	fmt.Fprintf(w, "Record %s of %s\n", strings.Join(kv, ","), x.Pipeline)
	section := func(title string, ts []runner.TraceRows) {
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, t := range ts {
			label := t.Name
			if t.Type != "" && t.Type != t.Name {
				label += " (" + t.Type + ")"
			}
			switch {
			case t.Note != "":
				fmt.Fprintf(w, "  %s: %s\n", label, t.Note)
			case len(t.Rows) == 0:
				fmt.Fprintf(w, "  %s: no row\n", label)
			default:
				fmt.Fprintf(w, "  %s: %d row(s)\n", label, len(t.Rows))
				for _, r := range t.Rows {
					fmt.Fprintf(w, "    %s\n", r)
				}
			}
		}
	}
	section("Sources", x.Sources)
	if len(x.Steps) > 0 {
		section("Transforms", x.Steps)
	}
	fmt.Fprintf(w, "\nState (serial %d):\n", x.Serial)
	if len(x.State.Rows) == 0 {
		fmt.Fprintln(w, "  no row (never applied)")
	}
	for _, r := range x.State.Rows {
		fmt.Fprintf(w, "  %s\n", r)
	}
	fmt.Fprintf(w, "\nPlanned: %s\n", x.Action)
	if x.Change != nil {
		for _, f := range x.Change.Fields {
			fmt.Fprintf(w, "  %s: %s → %s\n", f.Name, jsonText(f.Before), jsonText(f.After))
		}
	}
	fmt.Fprintf(w, "Rule: %s\n", x.Rule)
	fmt.Fprintf(w, "Options: %s\n", strings.Join(x.Options, "; "))
	for _, g := range x.Guards {
		fmt.Fprintf(w, "Guard %s: %s (%s)\n", g.Name, g.Verdict, g.Message)
	}
}

// jsonText shows a value as JSON (null for none).
func jsonText(v any) string {
	if v == nil {
		return "null"
	}
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}
