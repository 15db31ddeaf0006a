package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/outcome"
	"github.com/possync/possync/spec/pgdsn"
)

func init() { stateCommands["migrate"] = cmdStateMigrate }

// cmdStateMigrate is `possync state migrate FILE --from BACKEND --to BACKEND`.
func cmdStateMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("state migrate", "possync state migrate FILE --to BACKEND [--from BACKEND] [--json]",
		"Copy a pipeline's state between backends: local, or PostgreSQL (postgres://user@host:5432/db).\n"+
			"The password comes from the URL or $PGPASSWORD and is never printed. It copies the snapshot, serial and lineage, stored source\n"+
			"records, checkpoints, run and commit journals, and unsettled intents. Both backends are locked meanwhile\n"+
			"(exit 75 if a run holds one); a target that already holds the pipeline's state is refused; the source is\n"+
			"left as it was. Then point the pipeline at the new backend (state.backend or $POSSYNC_STATE_URL). See\n"+
			"docs/state.md.", stderr)
	from := c.fs.String("from", "", "backend to copy from: local or a postgres:// URL (default: the pipeline's state.backend / $POSSYNC_STATE_URL)")
	to := c.fs.String("to", "", "backend to copy to: local or a postgres:// URL (required)")
	asJSON := c.fs.Bool("json", false, "print the result as JSON")
	files, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err != nil || len(files) != 1 || *to == "" {
		if err == nil {
			fmt.Fprintln(stderr, "possync state migrate: give one pipeline file and --to")
			c.usage(stderr)
		}
		return 2
	}
	p, ok := load(files[0], stderr)
	if !ok {
		return 2
	}
	src := *from
	if src == "" {
		src = p.State.Backend
	}
	for _, b := range []string{src, *to} { // their passwords are secrets of the run, as state.backend's are
		if b != "" && b != "local" {
			p.Secrets.Add(pgdsn.Secrets(b)...)
		}
	}
	m, err := runner.MigrateState(ctx, p, src, *to)
	if err != nil {
		fmt.Fprintln(stderr, "possync state migrate: "+p.Secrets.Redact(err.Error()))
		_, code := outcome.Classify(err)
		return code
	}
	if *asJSON {
		b, _ := json.MarshalIndent(m, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	fmt.Fprintf(stdout, "migrated the state of %s from %s to %s: serial %d (lineage %s), %d records, %d source snapshot(s), %d checkpoint(s), %d run(s), %d commit(s), %d unsettled intent(s); %d bytes moved\n",
		m.Pipeline, m.From, m.To, m.Serial, m.Lineage, m.Records, m.Sources, m.Checkpoints, m.Runs, m.Commits, m.Intents, m.BytesMoved)
	return 0
}
