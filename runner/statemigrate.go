package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/state"
)

// Migration describes a pipeline's state moved between backends (`possync state migrate`).
type Migration struct {
	Pipeline string `json:"pipeline"`
	// From and To name the backends ("local", or the PostgreSQL server by host, port, user and database).
	From string `json:"from"`
	To   string `json:"to"`
	// Lineage and Serial are kept as they were: plans saved before the move stay valid after it.
	Lineage     string `json:"lineage"`
	Serial      int64  `json:"serial"`
	Records     int64  `json:"records"`
	Sources     int    `json:"sources"`
	Checkpoints int    `json:"checkpoints"`
	Runs        int    `json:"runs"`
	Commits     int    `json:"commits"`
	Intents     int    `json:"intents"`
	// BytesMoved is what went to and from PostgreSQL.
	BytesMoved int64 `json:"bytes_moved"`
}

// MigrateState copies the pipeline's state from one backend to another ("local" or a PostgreSQL URL): the
// snapshot, the stored records of incremental sources, checkpoints, the run journal, the commit journal and
// unsettled intents, keeping lineage and serial. It holds both backends' locks throughout (a held one
// returns *state.LockedError, exit 75), refuses a target that already holds state of the pipeline, and
// leaves the source as it was. Point the pipeline at the new backend (state.backend or POSSYNC_STATE_URL)
// afterwards.
func MigrateState(ctx context.Context, p *pipelines.Pipeline, from, to string) (*Migration, error) {
	fromCfg, toCfg := stateConfig(p), stateConfig(p)
	fromCfg.Backend, toCfg.Backend = from, to
	if fromCfg.IsLocal() && toCfg.IsLocal() || from == to {
		return nil, errors.New("migrate: --from and --to name the same backend")
	}
	src, dst := state.New(fromCfg, p.Name), state.New(toCfg, p.Name)
	defer state.Close(src)
	defer state.Close(dst)
	m := &Migration{Pipeline: p.Name, From: backendName(from), To: backendName(to)}
	h := state.Holder{PID: pid(), Host: host(), RunID: "migrate-" + state.NewRunID(time.Now()), StartedAt: time.Now().UTC()}
	for _, st := range []state.Store{src, dst} {
		unlock, err := st.Lock(h)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	d, err := openEngine(ctx, p.State)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	meta, err := src.Open(ctx, d.Conn(), true)
	if err != nil {
		return nil, nameFile(err, p.File) // another merchant's state is not this pipeline's to move
	}
	if meta.Lineage == "" {
		return nil, fmt.Errorf("migrate: pipeline %s has no state in %s", p.Name, m.From)
	}
	t, err := src.(state.Transferable).Dump(ctx, d.Conn(), "migrate_")
	if err != nil {
		return nil, fmt.Errorf("migrate: read %s: %w", m.From, err)
	}
	t.Key = p.Key
	if _, err := dst.Open(ctx, d.Conn(), false); err != nil {
		return nil, nameFile(err, p.File)
	}
	if err := dst.(state.Transferable).Load(ctx, d.Conn(), t); err != nil {
		return nil, fmt.Errorf("migrate: write %s: %w", m.To, err)
	}
	if toCfg.IsLocal() {
		if err := d.Exec(ctx, "CHECKPOINT st"); err != nil {
			return nil, fmt.Errorf("migrate: checkpoint state: %w", err)
		}
	}
	m.Lineage, m.Serial, m.Records = t.Meta.Lineage, t.Meta.Serial, t.Meta.Records
	m.Sources, m.Checkpoints, m.Runs, m.Commits, m.Intents = len(t.Sources), len(t.Checkpoints), len(t.Runs), len(t.Journal), len(t.Intents)
	for _, st := range []state.Store{src, dst} {
		if tr := stateTransfer(st); tr != nil {
			m.BytesMoved += tr.BytesIn + tr.BytesOut
		}
	}
	return m, nil
}

// backendName names a backend for messages: "local", or the server by host, port, user and database.
func backendName(b string) string {
	if b == "" || b == "local" {
		return "local"
	}
	return state.RedactURL(b)
}
