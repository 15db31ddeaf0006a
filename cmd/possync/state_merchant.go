package main

import (
	"context"
	"fmt"
	"io"

	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/outcome"
)

func init() { stateCommands["set-merchant"] = cmdStateSetMerchant }

// cmdStateSetMerchant is `possync state set-merchant FILE`.
func cmdStateSetMerchant(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("state set-merchant", "possync state set-merchant FILE [--json]",
		"Record the pipeline file's merchant in its state, after the merchant was renamed on purpose.\n"+
			"It replaces the merchant the state records (the same sink and records under a new merchant name, whose\n"+
			"runs are refused until then). Not for a copy of the pipeline for another merchant: give that one a name of\n"+
			"its own. It takes the pipeline's lock (exit 75 if a run holds it) and changes nothing else. See docs/state.md.", stderr)
	asJSON := c.fs.Bool("json", false, "print the result as JSON")
	c.complete.args = argFiles
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
		return 2
	}
	ch, err := runner.SetStateMerchant(ctx, p)
	if err != nil {
		fmt.Fprintln(stderr, "possync state set-merchant: "+p.Secrets.Redact(err.Error()))
		_, code := outcome.Classify(err)
		return code
	}
	if *asJSON {
		writeJSON(stdout, ch)
		return 0
	}
	switch ch.From {
	case ch.To:
		fmt.Fprintf(stdout, "state %s of pipeline %s already records merchant %q: nothing changed\n", ch.State, ch.Pipeline, ch.To)
	case "":
		fmt.Fprintf(stdout, "state %s of pipeline %s recorded no merchant; it records merchant %q now\n", ch.State, ch.Pipeline, ch.To)
	default:
		fmt.Fprintf(stdout, "state %s of pipeline %s: merchant %q replaced by %q\n", ch.State, ch.Pipeline, ch.From, ch.To)
	}
	return 0
}
