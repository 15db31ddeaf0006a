package main

// `possync state`: read a pipeline's state journal (list, show, history). Subcommands are dispatched through
// stateCommands, so another file adds one (e.g. "migrate") with a single entry.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/state"
)

// stateCommands are the subcommands of `possync state`, by name.
var stateCommands = map[string]handler{
	"list":    cmdStateList,
	"show":    cmdStateShow,
	"history": cmdStateHistory,
}

func cmdState(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return dispatch(ctx, "state", "Read the pipelines' state: the last-applied snapshot's serial and size, and the journal of runs.",
		stateCommands, args, stdout, stderr)
}

// dispatch runs the subcommand of parent named by args[0]; without one, or with -h, it prints the usage
// with the subcommands (each one's summary), once: on stdout with exit 0 for -h, else on stderr with exit 2.
func dispatch(ctx context.Context, parent, about string, subs map[string]handler, args []string, stdout, stderr io.Writer) int {
	c := newCommand(parent, "possync "+parent+" COMMAND [flags]", about, stderr)
	c.complete.subs = subs
	c.more = func(w io.Writer) {
		fmt.Fprintln(w, "\nCommands:")
		width := 10
		for name := range subs {
			width = max(width, len(name))
		}
		for _, name := range sortedKeys(subs) {
			about := ""
			if sc := describe(subs[name]); sc != nil {
				about = summary(sc.about)
			}
			fmt.Fprintf(w, "  %-*s %s\n", width, name, about)
		}
		fmt.Fprintf(w, "\nRun 'possync %s COMMAND -h' for a command's flags.\n", parent)
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		// parse prints the usage itself for -h (stdout) and for a flag error (stderr).
		_, help, err := c.parse(args, stdout)
		if help {
			return 0
		}
		if err == nil {
			c.usage(stderr)
		}
		return 2
	}
	h, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "possync %s: unknown command %q (commands: %s)\n", parent, args[0], strings.Join(sortedKeys(subs), ", "))
		return 2
	}
	return h(ctx, args[1:], stdout, stderr)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func cmdStateList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("state list", "possync state list [DIR] [--json]",
		"List the pipelines whose state is in DIR (default: $POSSYNC_STATE_DIR, else .possync): serial, records, last run, outcome.", stderr)
	asJSON := c.fs.Bool("json", false, "print JSON instead of a table")
	c.complete.args = argDirs
	pos, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err != nil || len(pos) > 1 {
		if err == nil {
			c.usage(stderr)
		}
		return 2
	}
	dir := runner.DefaultStateDir()
	if len(pos) == 1 {
		dir = pos[0]
	}
	names, err := runner.StatePipelines(dir)
	if err != nil {
		fmt.Fprintln(stderr, "possync state list:", err)
		return 1
	}
	views := []*runner.StateView{}
	code := 0
	for _, n := range names {
		v, err := runner.ReadState(ctx, pipelines.State{Dir: dir}, n, "", nil, 1)
		if le := (*state.LockedError)(nil); errors.As(err, &le) {
			// A run holds the state open: list it as running rather than fail the listing.
			v = &runner.StateView{Pipeline: n, Busy: le.Error(), Runs: []runner.JournalRun{}}
			err = nil
		}
		if err != nil {
			fmt.Fprintln(stderr, "possync state list:", err)
			code = 1
			continue
		}
		views = append(views, v)
	}
	if *asJSON {
		writeJSON(stdout, views)
		return code
	}
	if len(views) == 0 && code == 0 {
		fmt.Fprintf(stdout, "No pipeline state in %s.\n", dir)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tMERCHANT\tSERIAL\tRECORDS\tLAST RUN\tOUTCOME")
	for _, v := range views {
		last, out := "-", "-"
		if len(v.Runs) > 0 {
			last, out = v.Runs[0].StartedAt, runOutcome(v.Runs[0])
		}
		if v.Busy != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\trunning\n", v.Pipeline)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", v.Pipeline, orDash(v.Meta.Merchant), v.Meta.Serial, v.Meta.Records, last, out)
	}
	_ = tw.Flush()
	return code
}

// runOutcome is the report's exit reason, else the journal's status ("applying": unfinished or killed).
func runOutcome(r runner.JournalRun) string {
	if r.Outcome != "" {
		return r.Outcome
	}
	return r.Status
}

// loadForState loads the pipeline file for its name and state settings; secrets need not be set.
func loadForState(cmd, file string, stderr io.Writer) (*pipelines.Pipeline, bool) {
	p, diags := pipelines.Load(file, pipelines.Options{Placeholders: true})
	if diags.HasErrors() || p == nil {
		printDiags(stderr, diags, nil)
		fmt.Fprintf(stderr, "possync %s: %s is not a valid pipeline file\n", cmd, file)
		return nil, false
	}
	return p, true
}

func cmdStateShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("state show", "possync state show PIPELINE_FILE [--json]",
		"Show a pipeline's state: lineage, serial, records, columns, the export, pending intents and the last run.", stderr)
	asJSON := c.fs.Bool("json", false, "print JSON instead of text")
	c.complete.args = argFiles
	v, code := readPipelineState(ctx, c, args, stdout, stderr, func() int { return 1 })
	if v == nil {
		return code
	}
	if *asJSON {
		writeJSON(stdout, v)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Pipeline:\t%s\n", v.Pipeline)
	fmt.Fprintf(tw, "State:\t%s\n", v.Path)
	if v.Meta.Lineage == "" {
		fmt.Fprintf(tw, "Serial:\t0 (no state yet: the first apply creates it)\n")
		_ = tw.Flush()
		return 0
	}
	merchant := v.Meta.Merchant
	if merchant == "" {
		merchant = "- (none recorded yet: the next commit records the pipeline's)"
	}
	fmt.Fprintf(tw, "Merchant:\t%s\n", merchant)
	fmt.Fprintf(tw, "Lineage:\t%s\n", v.Meta.Lineage)
	fmt.Fprintf(tw, "Serial:\t%d\n", v.Meta.Serial)
	fmt.Fprintf(tw, "Records:\t%d\n", v.Meta.Records)
	if v.Meta.Exported > 0 {
		fmt.Fprintf(tw, "Exported:\tserial %d\n", v.Meta.Exported)
	}
	cols := make([]string, len(v.Meta.Columns))
	for i, col := range v.Meta.Columns {
		cols[i] = col.Name + " " + col.Type
	}
	fmt.Fprintf(tw, "Columns:\t%s\n", orDash(strings.Join(cols, ", ")))
	fmt.Fprintf(tw, "Pending intents:\t%d\n", v.Pending)
	if len(v.Runs) > 0 {
		r := v.Runs[0]
		fmt.Fprintf(tw, "Last run:\t%s at %s: %s, serial %d, %d acked, %d rejected\n", r.RunID, r.StartedAt, runOutcome(r), r.Serial, r.Acked, r.Rejected)
		if r.Error != "" {
			fmt.Fprintf(tw, "Last error:\t%s\n", firstLine(r.Error))
		}
	} else {
		fmt.Fprintf(tw, "Last run:\t-\n")
	}
	_ = tw.Flush()
	return 0
}

// readPipelineState parses the one PIPELINE_FILE argument of c (a `state` subcommand), loads the pipeline and
// reads its state with up to limit runs of the journal. On -h, a usage error, an invalid pipeline or an
// unreadable state it has said so and returns nil with the exit code (0, 2, 2, 1).
func readPipelineState(ctx context.Context, c *command, args []string, stdout, stderr io.Writer, limit func() int) (*runner.StateView, int) {
	pos, help, err := c.parse(args, stdout)
	if help {
		return nil, 0
	}
	if err != nil || len(pos) != 1 {
		if err == nil {
			c.usage(stderr)
		}
		return nil, 2
	}
	name := strings.TrimPrefix(c.fs.Name(), "possync ") // "state show"
	p, ok := loadForState(name, pos[0], stderr)
	if !ok {
		return nil, 2
	}
	// The pipeline's merchant: a state of another is refused, as the pipeline's plans and runs refuse it.
	v, err := runner.ReadState(ctx, p.State, p.Name, p.Merchant, nil, limit())
	if me := (*state.MerchantError)(nil); errors.As(err, &me) {
		me.File = pos[0]
	}
	if err != nil {
		fmt.Fprintln(stderr, "possync "+name+":", p.Secrets.Redact(err.Error()))
		return nil, 1
	}
	return v, 0
}

func cmdStateHistory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("state history", "possync state history PIPELINE_FILE [--limit N] [--json]",
		"List a pipeline's runs, newest first: started, seconds, outcome, serial, changes planned, applied and rejected.", stderr)
	asJSON := c.fs.Bool("json", false, "print JSON instead of a table")
	limit := c.fs.Int("limit", 20, "list at most N runs (0 = all)")
	c.complete.args = argFiles
	v, code := readPipelineState(ctx, c, args, stdout, stderr, func() int { return *limit })
	if v == nil {
		return code
	}
	if *asJSON {
		writeJSON(stdout, v.Runs)
		return 0
	}
	if len(v.Runs) == 0 {
		fmt.Fprintf(stdout, "No runs of %s yet.\n", v.Pipeline)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED\tSECONDS\tOUTCOME\tSERIAL\tPLANNED\tAPPLIED\tREJECTED")
	for _, r := range v.Runs {
		secs := "-"
		if r.FinishedAt != "" {
			secs = fmt.Sprintf("%.1f", r.Seconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\n", r.RunID, r.StartedAt, secs, runOutcome(r), r.Serial,
			counts(r.Planned), counts(r.Applied), r.Rejected)
	}
	_ = tw.Flush()
	return 0
}

// counts writes change counts as "3 (2 create, 1 update)"; "0" for none, "-" without a report.
func counts(m map[string]int) string {
	total := 0
	var parts []string
	for _, a := range []string{"create", "update", "deactivate", "delete"} {
		if m[a] > 0 {
			total += m[a]
			parts = append(parts, fmt.Sprintf("%d %s", m[a], a))
		}
	}
	if total == 0 {
		if m == nil {
			return "-"
		}
		return "0"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
