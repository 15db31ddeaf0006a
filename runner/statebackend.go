package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/state"
)

// StateTransfer is what a run moved between a shared state backend (PostgreSQL) and the planner: the
// snapshot and stored source records copied in on open, the changed rows sent back on commit.
type StateTransfer struct {
	Backend  string `json:"backend"` // "postgres"
	BytesIn  int64  `json:"bytes_in"`
	BytesOut int64  `json:"bytes_out"`
}

// stateConfig is the pipeline's state configuration as the state package takes it: its store records the
// pipeline's merchant and refuses a state of another (state.MerchantError).
func stateConfig(p *pipelines.Pipeline) state.Config {
	return state.Config{Backend: p.State.Backend, Schema: p.State.Schema, Dir: p.State.Dir, Merchant: p.Merchant}
}

// nameFile puts the pipeline file into a *state.MerchantError in err (its message gives the command to run
// on it), and returns err.
func nameFile(err error, file string) error {
	if me := (*state.MerchantError)(nil); errors.As(err, &me) && me.File == "" {
		me.File = file
	}
	return err
}

// newStore is the pipeline's own store (local DuckDB file or PostgreSQL, per state.backend).
func newStore(p *pipelines.Pipeline) state.Store {
	return state.New(stateConfig(p), p.Name)
}

// stateTransfer reports the bytes a shared store moved (nil for the local store).
func stateTransfer(st state.Store) *StateTransfer {
	m, ok := st.(interface{ BytesMoved() (int64, int64) })
	if !ok {
		return nil
	}
	in, out := m.BytesMoved()
	return &StateTransfer{Backend: "postgres", BytesIn: in, BytesOut: out}
}

// closeStore closes a store the session made itself (not one handed in through Options.Store), logging what
// it moved.
func (s *session) closeStore() {
	if s.opts.Store != nil || s.store == nil {
		return
	}
	if t := stateTransfer(s.store); t != nil {
		s.logf("state: %d bytes from %s, %d bytes to it", t.BytesIn, t.Backend, t.BytesOut)
	}
	_ = state.Close(s.store)
}

// StateCheck is what `possync check` found about the pipeline's state backend.
type StateCheck struct {
	// Backend is "local" or "postgres".
	Backend string
	// Detail says what was found (paths, the server by host, port, user and database, schema version, lock
	// holder).
	Detail string
	// Err is set when a run could not use the state as found.
	Err error
	// Diagnosis is PostgreSQL's, nil for the local backend or when the server could not be reached.
	Diagnosis *state.Diagnosis
}

// CheckState checks the pipeline's state backend without taking its lock or changing anything: for the local
// backend, that the state folder is (or can be made) writable; for PostgreSQL, that the server answers (the
// password from the URL or the environment, never printed), that the schema's version is one this possync
// uses (or migrates), that the role may use it, and who holds the pipeline's lock, if anyone.
func CheckState(ctx context.Context, p *pipelines.Pipeline) StateCheck {
	cfg := stateConfig(p)
	if cfg.IsLocal() {
		r := StateCheck{Backend: "local", Detail: "state folder " + cfg.Dir}
		r.Err = checkWritableDir(cfg.Dir)
		return r
	}
	r := StateCheck{Backend: "postgres"}
	st := state.NewPgStore(cfg.Backend, cfg.Schema, cfg.Dir, p.Name)
	defer st.Close()
	d, err := st.Diagnose(ctx)
	if err != nil {
		r.Detail, r.Err = state.RedactURL(cfg.Backend), err
		return r
	}
	r.Diagnosis, r.Detail = d, d.String()
	if !d.OK() {
		r.Err = errors.New(d.String())
	}
	return r
}

// checkWritableDir reports whether dir, or the nearest folder above it that exists (where the first run
// would create it), is a folder this process may write in.
func checkWritableDir(dir string) error {
	d := filepath.Clean(dir)
	for {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a folder", d)
			}
			const wOK, xOK = 2, 1 // access(2)'s W_OK and X_OK
			if err := syscall.Access(d, wOK|xOK); err != nil {
				return fmt.Errorf("state folder %s: not writable: %w", d, err)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("state folder %s: %w", d, err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return fmt.Errorf("state folder %s: %w", dir, err)
		}
		d = parent
	}
}

// compactAbove is the share of deleted rows, over a state table's live rows, past which a run's checkpoint
// lets DuckDB vacuum (merge the row groups its deletes thinned out), once the table holds at least
// compactMinRows deleted rows (the small tables, st.meta and the journals, gain a few each run: vacuuming
// them would vacuum the snapshot too). See checkpointState.
//
// compactRowGroups is how many row groups beyond the fewest that hold its rows a table may have: each run
// appends its new rows as a row group of their own (DuckDB does not rewrite a checkpointed one to fill it),
// which only a vacuum merges, so a state whose runs only add records compacts every compactRowGroups runs.
const (
	compactAbove     = 0.2
	compactMinRows   = 10_000
	compactRowGroups = 8
	duckRowGroupRows = 122_880 // DuckDB's default row_group_size
)

// defaultVacuumTasks is DuckDB's own max_vacuum_tasks: what a compacting checkpoint runs with.
const defaultVacuumTasks = 100

// checkpointState writes what the run committed into the state file (the attached database st, local or
// PostgreSQL's mirror) and empties its WAL. When it runs beside the export's merge (export.Input.Beside),
// the export's stamp, the plan basis and the run's journal entry are written after it: the WAL keeps them
// until DuckDB's checkpoint at the state's close (a kill before that leaves them to the next open's replay).
//
// A run replaces its changed records: a DELETE scattered over every row group of st.snapshot and the new
// rows appended as a row group of their own. Writing that is cheap (the deletes' markers and the new row
// group, 0.05-0.1 cpu s for 30,000 changes at 1M); what made checkpoints cost up to 1.5 cpu s is DuckDB's
// vacuum, which at every checkpoint merges adjacent row groups whose live rows fit in fewer, decompressing
// and compressing every column of a whole row group (122,880 rows) to reclaim a few thousand deleted rows
// or absorb a small row group. So no checkpoint vacuums (engine.Open sets max_vacuum_tasks = 0, which also
// covers the checkpoints DuckDB runs itself when the state is detached or closed), and this one only when
// a table's deleted rows pass compactAbove of its live rows and compactMinRows, or its row groups
// compactRowGroups beyond the fewest that hold it (stateNeedsCompaction): then it vacuums with
// DuckDB's default, which merges the thinned row groups once for many runs (where DuckDB's merge rules
// find nothing to merge, it tries again at the next run, as every checkpoint did before). Row groups whose
// rows are all deleted (a run's settled intents) are dropped either way. Nothing here changes what the
// state holds: the WAL is durable at every commit, and a checkpoint (or its vacuum) only rewrites
// committed rows.
func checkpointState(ctx context.Context, d *engine.DB) error {
	compact, err := stateNeedsCompaction(ctx, d)
	if err != nil {
		return err
	}
	if !compact {
		// One thread: the checkpoint of a run's changes is small (the deletes' markers, one row group), and
		// on two threads the client thread polls DuckDB's task queue meanwhile (session.oneThread), beside the
		// export's merge that now runs at the same time: the export with its checkpoint cost 0.41-0.42 cpu s
		// with two threads, 0.32-0.37 with one (1M, 29,837 changes, three alternating pairs; BENCHMARKS.md).
		err := d.WithSetting(ctx, "threads", "1", func() error { return d.Exec(ctx, "CHECKPOINT st") })
		if err != nil {
			return fmt.Errorf("checkpoint state: %w", err)
		}
		return nil
	}
	err = d.WithSetting(ctx, "max_vacuum_tasks", strconv.Itoa(defaultVacuumTasks), func() error {
		return d.Exec(ctx, "CHECKPOINT st")
	})
	if err != nil {
		return fmt.Errorf("checkpoint state: compact: %w", err)
	}
	return nil
}

// stateNeedsCompaction reports whether a table of st with live rows holds more than compactAbove of them,
// and at least compactMinRows, as deleted rows (DuckDB's estimated_size counts every stored row, deleted or
// not, until a vacuum drops them), or has, with compactMinRows rows or more, over compactRowGroups row
// groups beyond the fewest that hold its stored rows.
func stateNeedsCompaction(ctx context.Context, d *engine.DB) (bool, error) {
	type table struct {
		name   string
		stored int64
	}
	var tables []table
	rows, err := d.Conn().QueryContext(ctx, `SELECT table_name, estimated_size FROM duckdb_tables()
		WHERE database_name = 'st' AND schema_name = 'main' AND estimated_size > 0`)
	if err != nil {
		return false, fmt.Errorf("checkpoint state: list tables: %w", err)
	}
	for rows.Next() {
		var t table
		if err := rows.Scan(&t.name, &t.stored); err != nil {
			_ = rows.Close()
			return false, fmt.Errorf("checkpoint state: list tables: %w", err)
		}
		tables = append(tables, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return false, fmt.Errorf("checkpoint state: list tables: %w", err)
	}
	for _, t := range tables {
		live, err := d.Count(ctx, "SELECT count(*) FROM st."+engine.Ident(t.name))
		if err != nil {
			return false, fmt.Errorf("checkpoint state: count %s: %w", t.name, err)
		}
		// A table with no live row (the intents once the run settled them all) has only row groups whose rows
		// are all deleted: the checkpoint drops those without a vacuum.
		if dead := t.stored - live; live > 0 && dead >= compactMinRows && float64(dead) > compactAbove*float64(live) {
			return true, nil
		}
		if live == 0 || t.stored < compactMinRows { // the journals' row groups of a few rows cost nothing
			continue
		}
		groups, err := d.Count(ctx, "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info("+engine.Lit("st."+engine.Ident(t.name))+")")
		if err != nil {
			return false, fmt.Errorf("checkpoint state: row groups of %s: %w", t.name, err)
		}
		if groups > (t.stored+duckRowGroupRows-1)/duckRowGroupRows+compactRowGroups {
			return true, nil
		}
	}
	return false, nil
}
