package main

// The plan as a page a merchant can approve: `possync show plan.json --html FILE` renders a saved plan, and
// `--html FILE` on plan, apply and run writes the same page (apply and run: with what was applied and what
// failed, from the run report). The page itself is package planhtml's.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/plan/planhtml"
)

func cmdShow(_ context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("show", "possync show PLAN.json [--html FILE | --json]",
		"Render a plan saved with `possync plan --out`: as text (the default), as its JSON document, or as a\n"+
			"self-contained HTML page to read, share and approve (no network, no external assets).", stderr)
	htmlFile := c.fs.String("html", "", "write the plan as a self-contained HTML page to FILE")
	asJSON := c.fs.Bool("json", false, "print the plan document as JSON")
	limit := c.fs.Int("limit", 100, "list at most N changes in the text (0 = all)")
	files, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err == nil && (len(files) != 1 || *asJSON && *htmlFile != "") {
		if len(files) == 1 {
			fmt.Fprintln(stderr, "possync show: --html and --json exclude each other")
		}
		c.usage(stderr)
		return 2
	}
	if err != nil {
		return 2
	}
	pl, err := plan.Read(files[0]) // checks the version and the hash: the page shows exactly the saved plan
	if err != nil {
		fmt.Fprintln(stderr, "possync show:", err)
		return 1
	}
	switch {
	case *htmlFile != "":
		if err := planhtml.Write(*htmlFile, planhtml.Page{Plan: pl}); err != nil {
			fmt.Fprintln(stderr, "possync show:", err)
			return 1
		}
		fmt.Fprintf(stdout, "Wrote the plan of %s (%d changes) to %s\n", pl.Pipeline.Name, pl.Summary.Total(), *htmlFile)
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(pl)
	default:
		_ = plan.WriteText(stdout, pl, plan.TextOptions{Color: isTerminal(stdout), Limit: *limit})
	}
	return 0
}

// writePlanHTML writes the page of a plan to path (plan --html); false, with the error reported, when it
// cannot. An empty path writes nothing.
func (sg *signals) writePlanHTML(path string, pl *plan.Plan) bool {
	if path == "" {
		return true
	}
	if err := planhtml.Write(path, planhtml.Page{Plan: pl}); err != nil {
		sg.failed(err)
		return false
	}
	return true
}

// writeRunHTML writes the page of an apply or run to path: the plan it applied (pl; nil when it stopped
// before planning) and what the report says was applied and failed. The report's texts are masked with the
// pipeline's secrets first, as in the JSON report.
func (sg *signals) writeRunHTML(path string, p *pipelines.Pipeline, pl *plan.Plan, rep *runner.Report) bool {
	if path == "" {
		return true
	}
	masked := *rep
	if b, err := json.Marshal(rep); err == nil {
		masked = runner.Report{}
		if err := json.Unmarshal([]byte(secretsOf(p).Redact(string(b))), &masked); err != nil {
			sg.failed(fmt.Errorf("html: %w", err))
			return false
		}
	}
	o := &planhtml.Outcome{Command: sg.cmd, RunID: masked.RunID, StartedAt: masked.StartedAt, FinishedAt: masked.FinishedAt,
		Planned: masked.Planned, Applied: masked.Applied, Recovered: masked.Recovered, ExitReason: masked.ExitReason,
		ExitCode: masked.ExitCode, Error: masked.Error, Notes: masked.Notes, Durations: masked.Durations, InputRejects: masked.InputRejects}
	for _, r := range masked.Rejected {
		o.Failed = append(o.Failed, planhtml.Failed{ID: r.ID, Action: r.Action, Key: r.Key, Reason: r.Reason})
	}
	if pl != nil {
		// The plan's notes and input rejects are in the report too: show them once.
		o.Notes, o.InputRejects = notIn(o.Notes, pl.Notes), nil
	}
	pg := planhtml.Page{Plan: pl, Outcome: o}
	if p != nil {
		pg.Key = p.Key
	}
	if err := planhtml.Write(path, pg); err != nil {
		sg.failed(err)
		return false
	}
	return true
}

// notIn returns the report's notes a that the plan's notes b lack, in a's order. The report holds the
// plan's notes as lines (plan.Note.String), besides its own.
func notIn(a []string, b []plan.Note) []string {
	have := map[string]int{}
	for _, n := range b {
		have[n.String()]++
	}
	var out []string
	for _, s := range a {
		if have[s] > 0 {
			have[s]--
			continue
		}
		out = append(out, s)
	}
	return out
}
