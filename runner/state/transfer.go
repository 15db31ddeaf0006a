package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/possync/possync/spec"
)

var (
	_ Transferable = (*DuckStore)(nil)
	_ Transferable = (*PgStore)(nil)
)

// dumpTables copies the snapshot and the source snapshots attached as st into tables of the planner's
// database named with prefix.
func dumpTables(ctx context.Context, conn *sql.Conn, prefix string, hasSnapshot bool, sources map[string]bool, t *Transfer) error {
	if hasSnapshot {
		t.Snapshot = spec.QuoteIdent(prefix + "snapshot")
		if _, err := conn.ExecContext(ctx, "CREATE TABLE "+t.Snapshot+" AS SELECT * FROM st.snapshot"); err != nil {
			return fmt.Errorf("copy the snapshot: %w", err)
		}
	}
	t.Sources = map[string]string{}
	for name := range sources {
		rel := spec.QuoteIdent(prefix + "src_" + name)
		if _, err := conn.ExecContext(ctx, "CREATE TABLE "+rel+" AS SELECT * FROM st."+spec.QuoteIdent("src_"+name)); err != nil {
			return fmt.Errorf("copy the stored records of %s: %w", name, err)
		}
		t.Sources[name] = rel
	}
	return nil
}

// dumpSource is what Dump reads besides the relations attached as st: the checkpoints, the journals and the
// intents, from wherever the store keeps them.
type dumpSource interface {
	Journaled
	Intents(ctx context.Context, conn *sql.Conn) ([]Intent, error)
	checkpoints(ctx context.Context, conn *sql.Conn) (map[string]Checkpoint, error)
}

// dump is Dump of a store whose snapshot and source records are attached as st and described by view (the
// DuckStore itself, or a PgStore's mirror) and whose other state src reads. load reads the Meta and tells
// view which relations it holds. It detaches st afterwards.
func dump(ctx context.Context, conn *sql.Conn, prefix string, view *DuckStore, load func() (Meta, error), src dumpSource) (*Transfer, error) {
	t := &Transfer{Sources: map[string]string{}}
	var err error
	if t.Meta, err = load(); err != nil {
		return nil, err
	}
	if err := dumpTables(ctx, conn, prefix, view.hasSnapshot, view.sources, t); err != nil {
		return nil, err
	}
	if t.Checkpoints, err = src.checkpoints(ctx, conn); err != nil {
		return nil, err
	}
	if t.Runs, err = src.RunLog(ctx, conn); err != nil {
		return nil, err
	}
	if t.Journal, err = src.CommitLog(ctx, conn); err != nil {
		return nil, err
	}
	if t.Intents, err = src.Intents(ctx, conn); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "DETACH st"); err != nil {
		return nil, fmt.Errorf("detach state: %w", err)
	}
	return t, nil
}

// Dump implements Transferable.
func (s *DuckStore) Dump(ctx context.Context, conn *sql.Conn, prefix string) (*Transfer, error) {
	if !s.attached {
		return &Transfer{Checkpoints: map[string]Checkpoint{}, Sources: map[string]string{}}, nil
	}
	t, err := dump(ctx, conn, prefix, s, func() (Meta, error) { return s.load(ctx, conn) }, s)
	if err != nil {
		return nil, err
	}
	s.attached = false
	return t, nil
}

// checkpoints reads every source's checkpoint (for Dump).
func (s *DuckStore) checkpoints(ctx context.Context, conn *sql.Conn) (map[string]Checkpoint, error) {
	rows, err := conn.QueryContext(ctx, `SELECT source, value, serial FROM st.checkpoints`)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	defer rows.Close()
	out := map[string]Checkpoint{}
	for rows.Next() {
		var src string
		var cp Checkpoint
		if err := rows.Scan(&src, &cp.Value, &cp.Serial); err != nil {
			return nil, fmt.Errorf("read checkpoints: %w", err)
		}
		out[src] = cp
	}
	return out, rows.Err()
}

// ErrNotEmpty refuses to load a transfer into a store that already holds state.
var ErrNotEmpty = errors.New("the target already holds state for this pipeline")

// refuseNonEmpty is Load's guard: ErrNotEmpty unless the store, attached as st and described by view, with
// the journals j reads, holds no state (serial 0, no run journaled, no snapshot).
func refuseNonEmpty(ctx context.Context, conn *sql.Conn, view *DuckStore, j Journaled) error {
	m, err := view.load(ctx, conn)
	if err != nil {
		return err
	}
	runs, err := j.RunLog(ctx, conn)
	if err != nil {
		return err
	}
	if m.Serial != 0 || len(runs) != 0 || view.hasSnapshot {
		return fmt.Errorf("%w (serial %d, %d runs): refusing to overwrite it", ErrNotEmpty, m.Serial, len(runs))
	}
	return nil
}

// Load implements Transferable.
func (s *DuckStore) Load(ctx context.Context, conn *sql.Conn, t *Transfer) error {
	if err := refuseNonEmpty(ctx, conn, s, s); err != nil {
		return err
	}
	stmts := []stmt{
		{`UPDATE st.meta SET v = ? WHERE k = 'lineage'`, []any{t.Meta.Lineage}},
		{`UPDATE st.meta SET v = ? WHERE k = 'serial'`, []any{strconv.FormatInt(t.Meta.Serial, 10)}},
		{`UPDATE st.meta SET v = ? WHERE k = 'exported'`, []any{strconv.FormatInt(t.Meta.Exported, 10)}},
		{`DELETE FROM st.meta WHERE k = 'export_stamp'`, nil},
	}
	if t.Meta.ExportStamp != "" {
		stmts = append(stmts, stmt{`INSERT INTO st.meta VALUES ('export_stamp', ?)`, []any{t.Meta.ExportStamp}})
	}
	if t.Meta.Merchant != "" {
		stmts = append(stmts, stmt{`DELETE FROM st.meta WHERE k = 'merchant'`, nil},
			stmt{`INSERT INTO st.meta VALUES ('merchant', ?)`, []any{t.Meta.Merchant}})
	}
	if t.Snapshot != "" {
		stmts = append(stmts, stmt{"CREATE TABLE st.snapshot AS SELECT * FROM " + t.Snapshot, nil})
	}
	for name, rel := range t.Sources {
		stmts = append(stmts, stmt{"CREATE TABLE st." + spec.QuoteIdent("src_"+name) + " AS SELECT * FROM " + rel, nil})
	}
	for src, cp := range t.Checkpoints {
		stmts = append(stmts, stmt{`INSERT INTO st.checkpoints VALUES (?, ?, ?)`, []any{src, cp.Value, cp.Serial}})
	}
	for _, r := range t.Runs {
		stmts = append(stmts, stmt{`INSERT INTO st.runs VALUES (?, ?, ?, ?, ?, ?)`,
			[]any{r.ID, nullTime(r.StartedAt), nullTime(r.FinishedAt), r.Status, r.PlanHash, nullString(string(r.Report))}})
	}
	for _, e := range t.Journal {
		stmts = append(stmts, stmt{`INSERT INTO st.journal VALUES (?, ?, ?, ?, ?)`, []any{e.RunID, e.CommittedAt, e.Serial, e.Acked, e.Rejected}})
	}
	for _, in := range t.Intents {
		stmts = append(stmts, stmt{`INSERT INTO st.intents (id, run_id, change) VALUES (?, ?, ?)`, []any{in.ID, in.RunID, string(in.Change)}})
	}
	if err := inTx(ctx, conn, "load state", stmts); err != nil {
		s.hasSnapshot = false
		return err
	}
	if t.Meta.Merchant != "" {
		s.held = t.Meta.Merchant
	}
	s.hasSnapshot = t.Snapshot != ""
	for name := range t.Sources {
		s.sources[name] = true
	}
	return nil
}

func nullTime(t interface{ IsZero() bool }) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Dump implements Transferable.
func (s *PgStore) Dump(ctx context.Context, conn *sql.Conn, prefix string) (*Transfer, error) {
	if s.mirror == nil {
		return &Transfer{Checkpoints: map[string]Checkpoint{}, Sources: map[string]string{}}, nil
	}
	t, err := dump(ctx, conn, prefix, s.mirror, func() (Meta, error) {
		m, err := s.mirrorMeta(ctx, conn)
		m.Merchant = s.held // PostgreSQL's (the mirror records none)
		return m, err
	}, s)
	if err != nil {
		return nil, err
	}
	s.mirror = nil
	return t, nil
}

// checkpoints reads every source's checkpoint from PostgreSQL (for Dump).
func (s *PgStore) checkpoints(ctx context.Context, _ *sql.Conn) (map[string]Checkpoint, error) {
	c, err := s.data(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, s.q(`SELECT source, value, serial FROM {s}.checkpoints WHERE pipeline = $1`), s.pipeline)
	if err != nil {
		return nil, s.errf(err, "postgres state %s: read checkpoints", s)
	}
	defer rows.Close()
	out := map[string]Checkpoint{}
	for rows.Next() {
		var src string
		var cp Checkpoint
		if err := rows.Scan(&src, &cp.Value, &cp.Serial); err != nil {
			return nil, s.errf(err, "postgres state %s: read checkpoints", s)
		}
		out[src] = cp
	}
	if err := rows.Err(); err != nil {
		return nil, s.errf(err, "postgres state %s: read checkpoints", s)
	}
	return out, nil
}

// Load implements Transferable. It needs the store's lock (Lock): the whole load is one fenced transaction.
func (s *PgStore) Load(ctx context.Context, conn *sql.Conn, t *Transfer) error {
	if s.mirror == nil {
		return fmt.Errorf("postgres state %s: load before open", s)
	}
	if err := refuseNonEmpty(ctx, conn, s.mirror, s); err != nil {
		return err
	}
	if err := s.setCached(ctx, conn, ""); err != nil {
		return err
	}
	// The mirror takes the snapshot and source records first: the bulk copies to PostgreSQL read them there.
	if t.Snapshot != "" {
		if _, err := conn.ExecContext(ctx, "CREATE TABLE st.snapshot AS SELECT * FROM "+t.Snapshot); err != nil {
			return fmt.Errorf("load state: %w", err)
		}
		s.mirror.hasSnapshot = true
	}
	for name, rel := range t.Sources {
		if _, err := conn.ExecContext(ctx, "CREATE TABLE st."+spec.QuoteIdent("src_"+name)+" AS SELECT * FROM "+rel); err != nil {
			return fmt.Errorf("load state: %w", err)
		}
		s.mirror.sources[name] = true
	}
	commitID := newID()
	err := s.write(ctx, "load", s.fence, true, func(tx pgx.Tx) error {
		replace := func(name string, key []string) error {
			cols, err := columns(ctx, conn, "st", name)
			if err != nil {
				return err
			}
			return s.replaceRel(ctx, tx, conn, name, cols, key, t.Meta.Serial)
		}
		if t.Snapshot != "" {
			if err := replace("snapshot", t.Key); err != nil {
				return err
			}
		}
		for name := range t.Sources {
			if err := replace("src_"+name, nil); err != nil {
				return err
			}
		}
		// The merchant the source recorded; a source that records none leaves the one Open recorded (the
		// pipeline's, or none).
		if _, err := tx.Exec(ctx, s.q(`UPDATE {s}.pipelines SET lineage = $2, serial = $3, exported = $4, export_stamp = $5, commit_id = $6,
			merchant = CASE WHEN $7 = '' THEN merchant ELSE $7 END WHERE pipeline = $1`),
			s.pipeline, t.Meta.Lineage, t.Meta.Serial, t.Meta.Exported, t.Meta.ExportStamp, commitID, t.Meta.Merchant); err != nil {
			return err
		}
		var rows [][]any
		for src, cp := range t.Checkpoints {
			rows = append(rows, []any{s.pipeline, src, cp.Value, cp.Serial})
		}
		if err := copyRows(ctx, tx, s.schema, "checkpoints", []string{"pipeline", "source", "value", "serial"}, rows); err != nil {
			return err
		}
		rows = nil
		for _, r := range t.Runs {
			rows = append(rows, []any{s.pipeline, r.ID, nullTime(r.StartedAt), nullTime(r.FinishedAt), r.Status, r.PlanHash, nullString(string(r.Report))})
		}
		if err := copyRows(ctx, tx, s.schema, "runs", []string{"pipeline", "run_id", "started_at", "finished_at", "status", "plan_hash", "report"}, rows); err != nil {
			return err
		}
		rows = nil
		for _, e := range t.Journal {
			rows = append(rows, []any{s.pipeline, e.Serial, e.RunID, e.CommittedAt, e.Acked, e.Rejected})
		}
		if err := copyRows(ctx, tx, s.schema, "journal", []string{"pipeline", "serial", "run_id", "committed_at", "acked", "rejected"}, rows); err != nil {
			return err
		}
		rows = nil
		for _, in := range t.Intents {
			rows = append(rows, []any{s.pipeline, in.ID, in.RunID, string(in.Change)})
		}
		return copyRows(ctx, tx, s.schema, "intents", []string{"pipeline", "id", "run_id", "change"}, rows)
	})
	if err != nil {
		s.broken = err
		return err
	}
	if err := s.openMirrorMeta(ctx, conn, t.Meta); err != nil {
		return err
	}
	if t.Meta.Merchant != "" {
		s.held = t.Meta.Merchant
	}
	return s.setCached(ctx, conn, commitID)
}

// openMirrorMeta sets the mirror's lineage, serial and export mark.
func (s *PgStore) openMirrorMeta(ctx context.Context, conn *sql.Conn, meta Meta) error {
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE st.meta SET v = ? WHERE k = 'lineage'`, []any{meta.Lineage}},
		{`UPDATE st.meta SET v = ? WHERE k = 'serial'`, []any{strconv.FormatInt(meta.Serial, 10)}},
		{`UPDATE st.meta SET v = ? WHERE k = 'exported'`, []any{strconv.FormatInt(meta.Exported, 10)}},
		{`DELETE FROM st.meta WHERE k = 'export_stamp'`, nil},
	} {
		if _, err := conn.ExecContext(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("state mirror: %w", err)
		}
	}
	if meta.ExportStamp != "" {
		if _, err := conn.ExecContext(ctx, `INSERT INTO st.meta VALUES ('export_stamp', ?)`, meta.ExportStamp); err != nil {
			return fmt.Errorf("state mirror: %w", err)
		}
	}
	return nil
}

// copyRows bulk-inserts rows (binary COPY).
func copyRows(ctx context.Context, tx pgx.Tx, schema, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{schema, table}, cols, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	return nil
}
