package state

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/possync/possync/spec"
)

// DuckStore keeps a pipeline's state in one DuckDB file, <dir>/<pipeline>.duckdb, attached to the planner's
// database as `st`. Its lock file is <dir>/<pipeline>.lock.
type DuckStore struct {
	dir, pipeline string
	// memory makes the store an in-memory mirror (PgStore's view of its PostgreSQL state in the planner);
	// path, when set, is the file of a mirror kept as a local cache (PgStore).
	memory      bool
	path        string
	attached    bool
	hasSnapshot bool
	sources     map[string]bool
	// interrupt is set by Lock: the next Open for writing marks the runs still journaled as applying as
	// interrupted (no run holds the lock but this one).
	interrupt bool
	// merchant is the pipeline's (Config.Merchant, "" for none: a mirror, a reader); held the one the state
	// records, as of the last read ("" for none).
	merchant, held string
}

// NewDuckStore returns the store of pipeline under dir.
func NewDuckStore(dir, pipeline string) *DuckStore {
	return &DuckStore{dir: dir, pipeline: pipeline, sources: map[string]bool{}}
}

var _ Store = (*DuckStore)(nil)

// String names the store in messages: its file (Path).
func (s *DuckStore) String() string { return s.Path() }

// Path is the state database file.
func (s *DuckStore) Path() string {
	if s.path != "" {
		return s.path
	}
	return filepath.Join(s.dir, s.pipeline+".duckdb")
}

// LockPath is the run lock file.
func (s *DuckStore) LockPath() string { return filepath.Join(s.dir, s.pipeline+".lock") }

// Lock implements Store.
func (s *DuckStore) Lock(h Holder) (func() error, error) {
	l, err := LockFile(s.LockPath(), s.pipeline, h)
	if err != nil {
		return nil, err
	}
	s.interrupt = true
	return l.Unlock, nil
}

const schemaDDL = `
CREATE TABLE IF NOT EXISTS st.meta (k VARCHAR, v VARCHAR);
CREATE TABLE IF NOT EXISTS st.runs (run_id VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, status VARCHAR, plan_hash VARCHAR, report VARCHAR);
CREATE TABLE IF NOT EXISTS st.journal (run_id VARCHAR, committed_at TIMESTAMPTZ, serial BIGINT, acked BIGINT, rejected BIGINT);
CREATE TABLE IF NOT EXISTS st.intents (id VARCHAR, run_id VARCHAR, change VARCHAR, ids BLOB, n BIGINT);
CREATE TABLE IF NOT EXISTS st.checkpoints (source VARCHAR, value BLOB, serial BIGINT);
`

// Open implements Store. A state that records another merchant than the store's is refused
// (*MerchantError) before anything of it is written (its format migrated, interrupted runs marked); a state
// it creates records the store's merchant.
func (s *DuckStore) Open(ctx context.Context, conn *sql.Conn, readOnly bool) (Meta, error) {
	return s.open(ctx, conn, readOnly, s.merchant)
}

// open is Open checking the state's merchant against want ("": no check, and a new state records none).
func (s *DuckStore) open(ctx context.Context, conn *sql.Conn, readOnly bool, want string) (Meta, error) {
	path := s.Path()
	if s.memory {
		path, readOnly = ":memory:", false
	} else if readOnly {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return Meta{}, nil
		}
	} else if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return Meta{}, fmt.Errorf("state dir: %w", err)
	}
	mode := ""
	if readOnly {
		mode = " (READ_ONLY)"
	}
	if _, err := conn.ExecContext(ctx, "ATTACH "+spec.QuoteString(path)+" AS st"+mode); err != nil {
		return Meta{}, fmt.Errorf("open state %s: %w", path, err)
	}
	s.attached = true
	if !readOnly {
		if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION;"+schemaDDL+"COMMIT;"); err != nil {
			return Meta{}, fmt.Errorf("init state %s: %w", path, err)
		}
		m, err := s.meta(ctx, conn)
		if err != nil {
			return Meta{}, err
		}
		if err := s.checkMerchant(m["merchant"], want); err != nil {
			return Meta{}, s.refuse(ctx, conn, err)
		}
		if err := migrate(ctx, conn, m["format_version"]); err != nil {
			return Meta{}, fmt.Errorf("migrate state %s: %w", path, err)
		}
		if m["format_version"] == "" {
			lineage := newID()
			if _, err := conn.ExecContext(ctx, `INSERT INTO st.meta VALUES ('format_version', ?), ('lineage', ?), ('serial', '0'), ('exported', '0'), ('pipeline', ?)`,
				strconv.Itoa(FormatVersion), lineage, s.pipeline); err != nil {
				return Meta{}, fmt.Errorf("init state %s: %w", path, err)
			}
			if want != "" {
				if _, err := conn.ExecContext(ctx, `INSERT INTO st.meta VALUES ('merchant', ?)`, want); err != nil {
					return Meta{}, fmt.Errorf("init state %s: %w", path, err)
				}
			}
		}
		if s.interrupt {
			if err := markInterrupted(ctx, conn); err != nil {
				return Meta{}, fmt.Errorf("open state %s: %w", path, err)
			}
			s.interrupt = false
		}
	}
	m, err := s.load(ctx, conn)
	if err != nil {
		return Meta{}, err
	}
	if err := s.checkMerchant(m.Merchant, want); err != nil {
		return Meta{}, s.refuse(ctx, conn, err)
	}
	return m, nil
}

// checkMerchant refuses the state when it records held and the pipeline's merchant, want, is another.
func (s *DuckStore) checkMerchant(held, want string) error {
	return checkMerchant(s.Path(), s.pipeline, held, want, "state.dir")
}

// refuse detaches a state that Open refuses, so that none of its relations stays visible, and returns err.
func (s *DuckStore) refuse(ctx context.Context, conn *sql.Conn, err error) error {
	s.hasSnapshot, s.sources, s.attached = false, map[string]bool{}, false
	if _, derr := conn.ExecContext(context.WithoutCancel(ctx), "DETACH DATABASE IF EXISTS st"); derr != nil {
		return errors.Join(err, fmt.Errorf("detach state %s: %w", s.Path(), derr))
	}
	return err
}

// SetMerchant implements Store: one row of st.meta, replaced in one transaction.
func (s *DuckStore) SetMerchant(ctx context.Context, conn *sql.Conn, merchant string) (string, error) {
	if _, err := os.Stat(s.Path()); errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("state %s: %w", s.Path(), ErrNoState)
	}
	if _, err := s.open(ctx, conn, false, ""); err != nil {
		return "", err
	}
	old := s.held
	if err := inTx(ctx, conn, "record the merchant", []stmt{
		{`DELETE FROM st.meta WHERE k = 'merchant'`, nil},
		{`INSERT INTO st.meta VALUES ('merchant', ?)`, []any{merchant}},
	}); err != nil {
		return "", fmt.Errorf("state %s: %w", s.Path(), err)
	}
	s.held = merchant
	return old, nil
}

func (s *DuckStore) meta(ctx context.Context, conn *sql.Conn) (map[string]string, error) {
	rows, err := conn.QueryContext(ctx, `SELECT k, v FROM st.meta`)
	if err != nil {
		return nil, fmt.Errorf("read state meta: %w", err)
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("read state meta: %w", err)
		}
		m[k] = v
	}
	return m, rows.Err()
}

func (s *DuckStore) load(ctx context.Context, conn *sql.Conn) (Meta, error) {
	tables, err := s.tables(ctx, conn)
	if err != nil {
		return Meta{}, err
	}
	if !tables["meta"] {
		return Meta{}, nil // created but never initialised: empty
	}
	s.hasSnapshot = tables["snapshot"]
	for t := range tables {
		if name, ok := strings.CutPrefix(t, "src_"); ok {
			s.sources[name] = true
		}
	}
	return s.read(ctx, conn, nil)
}

// read reads the Meta of an initialised state whose tables s knows (hasSnapshot, sources: load finds them;
// a commit knows what it created). cols, when not nil, are the snapshot's columns, which the caller knows
// unchanged since it read them; otherwise they are read. It refuses a state of a newer format or of
// another pipeline.
func (s *DuckStore) read(ctx context.Context, conn *sql.Conn, cols []Column) (Meta, error) {
	m, err := s.meta(ctx, conn)
	if err != nil {
		return Meta{}, err
	}
	if v, _ := strconv.Atoi(m["format_version"]); v > FormatVersion {
		return Meta{}, fmt.Errorf("state %s has format version %d; this possync reads up to %d: upgrade possync", s.Path(), v, FormatVersion)
	}
	if p := m["pipeline"]; p != "" && p != s.pipeline {
		return Meta{}, fmt.Errorf("state %s belongs to pipeline %q, not %q", s.Path(), p, s.pipeline)
	}
	s.held = m["merchant"]
	meta := Meta{Lineage: m["lineage"], Merchant: s.held}
	meta.Serial, _ = strconv.ParseInt(m["serial"], 10, 64)
	meta.Exported, _ = strconv.ParseInt(m["exported"], 10, 64)
	meta.ExportStamp = m["export_stamp"]
	meta.Basis = m["basis"]
	if s.hasSnapshot {
		if meta.Columns = cols; cols == nil {
			if meta.Columns, err = columns(ctx, conn, "st", "snapshot"); err != nil {
				return Meta{}, err
			}
		}
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM st.snapshot`).Scan(&meta.Records); err != nil {
			return Meta{}, fmt.Errorf("count state snapshot: %w", err)
		}
	}
	return meta, nil
}

func (s *DuckStore) tables(ctx context.Context, conn *sql.Conn) (map[string]bool, error) {
	rows, err := conn.QueryContext(ctx, `SELECT table_name FROM duckdb_tables() WHERE database_name = 'st'`)
	if err != nil {
		return nil, fmt.Errorf("list state tables: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out[t] = true
	}
	return out, rows.Err()
}

// typeAliases maps the type names DuckDB reports to the names the runner declares columns with, so that a
// column of an unchanged type is never seen as retyped (which would rewrite it on every commit).
var typeAliases = map[string]string{"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}

// columns lists a table's (or view's) columns and types (as the runner names them) in order: none for a
// relation that is not there. It asks pragma_table_info about the one relation: duckdb_columns() lists every
// column of every attached database (the planner's tables too), which cost a 1M-record first sync's commits
// 50 ms of their 1.6 processor seconds (read at each commit's migrate and load; issue #15). A relation not
// there is a catalog error there (which leaves a transaction as it was): duckdb_columns() then answers.
func columns(ctx context.Context, conn *sql.Conn, db, table string) ([]Column, error) {
	rel := spec.QuoteIdent(db) + ".main." + spec.QuoteIdent(table)
	rows, err := conn.QueryContext(ctx, "SELECT name, type FROM pragma_table_info("+spec.QuoteString(rel)+") ORDER BY cid")
	if err != nil {
		rows, err = conn.QueryContext(ctx, `SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? AND table_name = ? ORDER BY column_index`, db, table)
	}
	if err != nil {
		return nil, fmt.Errorf("describe %s.%s: %w", db, table, err)
	}
	defer rows.Close()
	var out []Column
	for rows.Next() {
		var c Column
		if err := rows.Scan(&c.Name, &c.Type); err != nil {
			return nil, err
		}
		if alias, ok := typeAliases[c.Type]; ok {
			c.Type = alias
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Snapshot implements Store.
func (s *DuckStore) Snapshot() string {
	if !s.hasSnapshot {
		return ""
	}
	return "st.snapshot"
}

// SourceSnapshot implements Store.
func (s *DuckStore) SourceSnapshot(source string) string {
	if !s.sources[source] {
		return ""
	}
	return "st." + spec.QuoteIdent("src_"+source)
}

// Checkpoint implements Store.
func (s *DuckStore) Checkpoint(ctx context.Context, conn *sql.Conn, source string) ([]byte, error) {
	if !s.attached {
		return nil, nil
	}
	var v []byte
	err := conn.QueryRowContext(ctx, `SELECT value FROM st.checkpoints WHERE source = ?`, source).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint of %s: %w", source, err)
	}
	return v, nil
}

// migrate brings a state file written by an earlier possync to FormatVersion (version, its format_version:
// "" for a file not initialised yet), in one transaction, so that a kill leaves it at one version or the
// other. Version 2 added packed intents: the intents table's ids and n columns (intents.go). An older
// possync refuses a file of version 2 at its open ("upgrade possync"), as it refuses a newer PostgreSQL
// schema, rather than failing later at recording a batch's intents (docs/state.md, "Schema versions"). A
// file at FormatVersion with the columns is left as it is (no catalog change, so no write); a newer file is
// left for load to refuse.
func migrate(ctx context.Context, conn *sql.Conn, version string) error {
	v, _ := strconv.Atoi(version)
	if v > FormatVersion {
		return nil
	}
	packed, err := hasPackedIntents(ctx, conn)
	if err != nil {
		return err
	}
	bump := version != "" && v < FormatVersion
	if packed && !bump {
		return nil
	}
	q := "BEGIN TRANSACTION;"
	if !packed {
		q += "ALTER TABLE st.intents ADD COLUMN ids BLOB; ALTER TABLE st.intents ADD COLUMN n BIGINT;"
	}
	if bump {
		q += fmt.Sprintf("UPDATE st.meta SET v = '%d' WHERE k = 'format_version';", FormatVersion)
	}
	if _, err := conn.ExecContext(ctx, q+"COMMIT"); err != nil {
		return fmt.Errorf("to format version %d: %w", FormatVersion, err)
	}
	return nil
}

// hasPackedIntents reports whether the state's intents table has the columns of packed intents.
func hasPackedIntents(ctx context.Context, conn *sql.Conn) (bool, error) {
	cols, err := columns(ctx, conn, "st", "intents")
	if err != nil {
		return false, err
	}
	for _, c := range cols {
		if c.Name == "ids" {
			return true, nil
		}
	}
	return false, nil
}

// Intents implements Store: a row each, and a packed row's IDs each (AddIntentIDs), in the order recorded
// (a packed row a commit settled in part counts as recorded by that commit: settleIntents).
// A state written before packed intents (opened read-only, so not migrated) has row intents only.
func (s *DuckStore) Intents(ctx context.Context, conn *sql.Conn) ([]Intent, error) {
	if !s.attached {
		return nil, nil
	}
	q := `SELECT id, run_id, change, ids FROM st.intents ORDER BY rowid`
	if packed, err := hasPackedIntents(ctx, conn); err != nil {
		return nil, fmt.Errorf("read intents: %w", err)
	} else if !packed {
		q = `SELECT id, run_id, change, NULL::BLOB FROM st.intents ORDER BY rowid`
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read intents: %w", err)
	}
	defer rows.Close()
	var out []Intent
	for rows.Next() {
		var id, ch sql.NullString
		var run string
		var ids []byte
		if err := rows.Scan(&id, &run, &ch, &ids); err != nil {
			return nil, fmt.Errorf("read intents: %w", err)
		}
		if out, err = appendIntents(out, id, run, ch.String, ids); err != nil {
			return nil, fmt.Errorf("read intents: %w", err)
		}
	}
	return out, rows.Err()
}

// AddIntentIDs implements Store: one row.
func (s *DuckStore) AddIntentIDs(ctx context.Context, conn *sql.Conn, runID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO st.intents (id, run_id, change, ids, n) VALUES (NULL, ?, '', ?, ?)",
		runID, packIDs(ids), len(ids)); err != nil {
		return fmt.Errorf("record intents: %w", err)
	}
	return nil
}

// AddIntents implements Store.
func (s *DuckStore) AddIntents(ctx context.Context, conn *sql.Conn, relation string) error {
	if _, err := conn.ExecContext(ctx, "INSERT INTO st.intents (id, run_id, change) SELECT id, run_id, change FROM "+relation); err != nil {
		return fmt.Errorf("record intents: %w", err)
	}
	return nil
}

// BeginRun implements Store.
func (s *DuckStore) BeginRun(ctx context.Context, conn *sql.Conn, r Run) error {
	_, err := conn.ExecContext(ctx, `INSERT INTO st.runs VALUES (?, ?, NULL, ?, ?, NULL)`, r.ID, r.StartedAt, "applying", r.PlanHash)
	if err != nil {
		return fmt.Errorf("journal run: %w", err)
	}
	return nil
}

// FinishRun implements Store.
func (s *DuckStore) FinishRun(ctx context.Context, conn *sql.Conn, r Run) error {
	_, err := conn.ExecContext(ctx, `UPDATE st.runs SET finished_at = ?, status = ?, report = ?, plan_hash = coalesce(nullif(?, ''), plan_hash) WHERE run_id = ?`,
		r.FinishedAt, r.Status, string(r.Report), r.PlanHash, r.ID)
	if err != nil {
		return fmt.Errorf("journal run: %w", err)
	}
	return nil
}

// MarkExported implements Store.
func (s *DuckStore) MarkExported(ctx context.Context, conn *sql.Conn, serial int64, stamp string) error {
	return inTx(ctx, conn, "record export", []stmt{
		{`UPDATE st.meta SET v = ? WHERE k = 'exported'`, []any{strconv.FormatInt(serial, 10)}},
		{`DELETE FROM st.meta WHERE k = 'export_stamp'`, nil},
		{`INSERT INTO st.meta VALUES ('export_stamp', ?)`, []any{stamp}},
	})
}

// SetBasis implements Store: one row of st.meta, replaced in one transaction.
func (s *DuckStore) SetBasis(ctx context.Context, conn *sql.Conn, basis string) error {
	return inTx(ctx, conn, "record plan basis", []stmt{
		{`DELETE FROM st.meta WHERE k = 'basis'`, nil},
		{`INSERT INTO st.meta VALUES ('basis', ?)`, []any{basis}},
	})
}

// stmt is one SQL statement and its arguments.
type stmt struct {
	sql  string
	args []any
}

// inTx runs stmts on conn in one DuckDB transaction: all of them take effect, or (on the first error, rolled
// back) none. Its errors are wrapped with what.
func inTx(ctx context.Context, conn *sql.Conn, what string, stmts []stmt) error {
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	run := func(q stmt) error {
		if _, err := conn.ExecContext(ctx, q.sql, q.args...); err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	for _, q := range stmts {
		if err := run(q); err != nil {
			return err
		}
	}
	return run(stmt{sql: "COMMIT"})
}

// Commit implements Store. A state that records no merchant (written before merchants were recorded) takes
// the store's with the first commit of changes the sink acknowledged (Commit.Acked).
func (s *DuckStore) Commit(ctx context.Context, conn *sql.Conn, c *Commit) (Meta, error) {
	var stmts []stmt
	var unchanged []Column // the snapshot's columns, when the commit changes none
	add := func(qs ...string) {
		for _, q := range qs {
			stmts = append(stmts, stmt{sql: q})
		}
	}
	if c.Changes != "" {
		mig, have, err := s.migrate(ctx, conn, c.Columns, c.Changes)
		if err != nil {
			return Meta{}, err
		}
		add(mig...)
		unchanged = have
		cols := make([]string, len(c.Columns))
		for i, col := range c.Columns {
			cols[i] = spec.QuoteIdent(col.Name)
		}
		removed := c.Changes
		if c.NewKeys {
			// Only updates, deactivations and deletions replace a record: the creates' keys are not there
			// (and with only creates, nothing is removed).
			removed = fmt.Sprintf("(SELECT %s FROM %s WHERE __op <> 'create')", strings.Join(duckIdents(c.Key), ", "), c.Changes)
		}
		if !c.NewKeys || !c.Creates {
			add(fmt.Sprintf("DELETE FROM st.snapshot s USING %s c WHERE %s", removed, spec.KeysEqual(c.Key, "s", "c")))
		}
		add(fmt.Sprintf("INSERT INTO st.snapshot (%s) SELECT %s FROM %s WHERE __op <> 'delete'",
			strings.Join(cols, ", "), strings.Join(cols, ", "), c.Changes))
	}
	for name, d := range c.Sources {
		tbl := "st." + spec.QuoteIdent("src_"+name)
		if !s.sources[name] {
			add(fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM %s WHERE false", tbl, d.Relation))
		}
		add(fmt.Sprintf("DELETE FROM %s s USING %s d WHERE %s", tbl, d.Relation, spec.KeysEqual(d.Key, "s", "d")),
			fmt.Sprintf("INSERT INTO %s SELECT * FROM %s", tbl, d.Relation))
	}
	for src, cp := range c.Checkpoints {
		add("DELETE FROM st.checkpoints WHERE source = "+spec.QuoteString(src),
			fmt.Sprintf("INSERT INTO st.checkpoints VALUES (%s, from_hex(%s), (SELECT v::BIGINT + 1 FROM st.meta WHERE k = 'serial'))",
				spec.QuoteString(src), spec.QuoteString(hex.EncodeToString(cp))))
	}
	if s.merchant != "" && s.held == "" && c.Acked > 0 {
		// A state written before merchants were recorded: it belongs to this pipeline's merchant from the
		// first commit of changes its sink acknowledged (a run with nothing to apply, which may still commit
		// a source's checkpoint, claims no state: it may be a copy of the pipeline for another merchant).
		stmts = append(stmts, stmt{`INSERT INTO st.meta VALUES ('merchant', ?)`, []any{s.merchant}})
	}
	add("UPDATE st.meta SET v = (v::BIGINT + 1)::VARCHAR WHERE k = 'serial'",
		fmt.Sprintf("INSERT INTO st.journal VALUES (%s, now(), (SELECT v::BIGINT FROM st.meta WHERE k = 'serial'), %d, %d)",
			spec.QuoteString(c.RunID), c.Acked, c.Rejected))
	if len(c.Resolved) > 0 {
		settle, err := s.settleIntents(ctx, conn, c)
		if err != nil {
			return Meta{}, err
		}
		stmts = append(stmts, settle...)
	}
	if err := inTx(ctx, conn, "commit state", stmts); err != nil {
		// migrate marks a snapshot it creates as there; the rollback may have taken it away again.
		s.hasSnapshot, _ = s.snapshotExists(context.WithoutCancel(ctx), conn)
		return Meta{}, err
	}
	for name := range c.Sources {
		s.sources[name] = true
	}
	// The commit knows the state's tables (the snapshot, if the commit has changes, and its sources): no
	// list of them, and no read of the snapshot's columns when it left them as migrate found them.
	return s.read(ctx, conn, unchanged)
}

// settleIntents returns the statements that remove the intents c settles (c.Resolved), to run in c's
// transaction. When c settles every intent the store holds (Commit.ResolvesAll, and the store holds as many
// as c resolves: a row each, a packed row its n) that is one DELETE of all. Otherwise row intents are
// deleted by their IDs (one list parameter: a literal IN list of a large batch costs more to parse than to
// run), and each packed row holding a settled ID is deleted and, if some of its IDs are left, recorded again
// with those. The store is locked: no other writer moves the intents between this read and the commit.
func (s *DuckStore) settleIntents(ctx context.Context, conn *sql.Conn, c *Commit) ([]stmt, error) {
	var rows, packed int64
	if err := conn.QueryRowContext(ctx, "SELECT count(id), coalesce(sum(n), 0)::BIGINT FROM st.intents").Scan(&rows, &packed); err != nil {
		return nil, fmt.Errorf("commit state: count intents: %w", err)
	}
	if c.ResolvesAll && rows+packed == int64(len(c.Resolved)) {
		// Every intent settles: no lookup of each (a join of a batch's IDs).
		return []stmt{{sql: "DELETE FROM st.intents"}}, nil
	}
	var out []stmt
	if rows > 0 {
		out = append(out, stmt{"DELETE FROM st.intents WHERE id IN (SELECT unnest(?::VARCHAR[]))", []any{c.Resolved}})
	}
	if packed == 0 {
		return out, nil
	}
	q, err := conn.QueryContext(ctx, "SELECT rowid, run_id, ids FROM st.intents WHERE ids IS NOT NULL ORDER BY rowid")
	if err != nil {
		return nil, fmt.Errorf("commit state: read intents: %w", err)
	}
	defer q.Close()
	resolved := make(map[string]bool, len(c.Resolved))
	for _, id := range c.Resolved {
		resolved[id] = true
	}
	for q.Next() {
		var rowid int64
		var run string
		var ids []byte
		if err := q.Scan(&rowid, &run, &ids); err != nil {
			return nil, fmt.Errorf("commit state: read intents: %w", err)
		}
		keep, changed, err := settlePacked(ids, resolved)
		if err != nil {
			return nil, fmt.Errorf("commit state: intents of run %s: %w", run, err)
		}
		if !changed {
			continue
		}
		out = append(out, stmt{"DELETE FROM st.intents WHERE rowid = ?", []any{rowid}})
		if len(keep) > 0 {
			out = append(out, stmt{"INSERT INTO st.intents (id, run_id, change, ids, n) VALUES (NULL, ?, '', ?, ?)", []any{run, packIDs(keep), len(keep)}})
		}
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("commit state: read intents: %w", err)
	}
	return out, nil
}

// duckIdents quotes each name as a DuckDB identifier.
func duckIdents(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = spec.QuoteIdent(n)
	}
	return out
}

func (s *DuckStore) snapshotExists(ctx context.Context, conn *sql.Conn) (bool, error) {
	t, err := s.tables(ctx, conn)
	return t["snapshot"], err
}

// migrate returns the statements that bring st.snapshot to cols: create it (its text columns of nearly
// distinct values stored with FSST, those of few values with a dictionary, judged from changes:
// textCompressions), add new columns, drop columns no longer desired, and retype columns whose type changed
// (values that do not convert become NULL, which the next diff then shows as changes to push). A text
// column retyped to another type may carry a declared compression (FSST, dictionary), which DuckDB refuses
// to keep on a column of another type: the table is then rebuilt with the new types instead
// (rebuildSnapshot: every column rewritten, where ALTER rewrites the retyped ones). When the snapshot needs
// none of that it returns no statements and the snapshot's columns, as it read them (which the commit's Meta
// then gives without reading them again); otherwise nil columns.
func (s *DuckStore) migrate(ctx context.Context, conn *sql.Conn, cols []Column, changes string) ([]string, []Column, error) {
	if !s.hasSnapshot {
		comp, err := textCompressions(ctx, conn, changes, cols)
		if err != nil {
			return nil, nil, err
		}
		defs := make([]string, len(cols))
		for i, c := range cols {
			defs[i] = spec.QuoteIdent(c.Name) + " " + c.Type
			if m := comp[c.Name]; m != "" {
				defs[i] += " USING COMPRESSION " + m
			}
		}
		s.hasSnapshot = true
		return []string{"CREATE TABLE st.snapshot (" + strings.Join(defs, ", ") + ")"}, nil, nil
	}
	have, err := columns(ctx, conn, "st", "snapshot")
	if err != nil {
		return nil, nil, err
	}
	old := map[string]string{}
	for _, c := range have {
		old[c.Name] = c.Type
	}
	want := map[string]bool{}
	var out, retypes []string
	rebuild := false
	for _, c := range cols {
		want[c.Name] = true
		t, ok := old[c.Name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("ALTER TABLE st.snapshot ADD COLUMN %s %s", spec.QuoteIdent(c.Name), c.Type))
		case t != c.Type:
			rebuild = rebuild || t == "VARCHAR"
			retypes = append(retypes, fmt.Sprintf("ALTER TABLE st.snapshot ALTER %s SET DATA TYPE %s USING TRY_CAST(%s AS %s)",
				spec.QuoteIdent(c.Name), c.Type, spec.QuoteIdent(c.Name), c.Type))
		}
	}
	if rebuild {
		return append(out, rebuildSnapshot(have, cols, old)...), nil, nil
	}
	out = append(out, retypes...)
	for _, c := range have {
		if !want[c.Name] {
			out = append(out, "ALTER TABLE st.snapshot DROP COLUMN "+spec.QuoteIdent(c.Name))
		}
	}
	if len(out) > 0 {
		return out, nil, nil
	}
	return nil, have, nil
}

// rebuildSnapshot returns the statements that replace st.snapshot, whose columns are have (and, after
// the ADD COLUMN statements before these, cols' new ones, last), with a table of cols' types: the columns of
// have still desired in their order, each retyped one converted (TRY_CAST, as ALTER would), then the new
// ones. The new table stores every column as DuckDB chooses (no declared compression kept).
func rebuildSnapshot(have, cols []Column, old map[string]string) []string {
	want := map[string]string{}
	for _, c := range cols {
		want[c.Name] = c.Type
	}
	var sel []string
	for _, c := range have {
		t, ok := want[c.Name]
		switch {
		case !ok:
		case t != c.Type:
			sel = append(sel, fmt.Sprintf("TRY_CAST(%s AS %s) AS %s", spec.QuoteIdent(c.Name), t, spec.QuoteIdent(c.Name)))
		default:
			sel = append(sel, spec.QuoteIdent(c.Name))
		}
	}
	for _, c := range cols {
		if _, ok := old[c.Name]; !ok {
			sel = append(sel, spec.QuoteIdent(c.Name))
		}
	}
	return []string{
		"CREATE TABLE st.__snapshot_rebuilt AS SELECT " + strings.Join(sel, ", ") + " FROM st.snapshot",
		"DROP TABLE st.snapshot",
		"ALTER TABLE st.__snapshot_rebuilt RENAME TO snapshot",
	}
}

// Text column sampling: the snapshot's text columns are judged from textSample records (any of them: no
// order is asked) of the commit that creates it. A column with at least textMinValues values (not NULL) in
// the sample is declared FSST when fsstDistinct percent or more of those are distinct (a sample of 4,096
// values is 95% distinct only when the column has some 40,000 distinct values or more: fewer repeat in it),
// where a dictionary rarely pays; and dictionary when dictMaxDistinct percent or fewer are distinct (a
// sample of 8,192 is 33% distinct when the column has some 2,900 values: each repeats 40 times in a row
// group), where DuckDB picks a dictionary: probed with 100 to 80,000 distinct values per row group of 3 to
// 40 bytes each, it chose a dictionary for every column whose sample was 24% distinct or less, and FSST for
// some from 37% up. Columns in between, and every column of a smaller first commit (a sink sending small
// batches), are left to DuckDB's choice.
const (
	textSample      = 8192
	textMinValues   = 4096
	fsstDistinct    = 95
	dictMaxDistinct = 33
)

// textCompressions returns the compression to declare for the text columns (VARCHAR) of cols whose values
// in changes (its records other than deletions: the commit that creates the snapshot) are nearly all
// distinct ("fsst") or few ("dictionary"), judged from a sample (textSample). DuckDB chooses each column's
// compression per row group by trying every method on it (each method's analysis reads the whole row
// group): for a column of distinct values (keys, titles, barcodes) its dictionary trial hashes every value,
// never wins, and cost a 1M-record first sync's commits a fifth of their processor time; for a column of
// few values (brand, department, status) the FSST trial builds a symbol table and compresses a sample of
// it, and never wins either (issue #15). The declared method is what DuckDB picks for such columns anyway
// (FSST still stores a row group uncompressed when it does not pay), so the choice moves no data, only
// saves the trials. Number, boolean and time columns are left to DuckDB: declaring what it picks for them
// saved ~1% of the commits (BENCHMARKS.md, "the snapshot's declared compressions") and a declaration rules
// out RLE and ALPRD, which it picks for some data.
func textCompressions(ctx context.Context, conn *sql.Conn, changes string, cols []Column) (map[string]string, error) {
	var names, aggs []string
	for _, c := range cols {
		if c.Type == "VARCHAR" {
			q := spec.QuoteIdent(c.Name)
			names = append(names, q)
			aggs = append(aggs, "count("+q+")", "count(DISTINCT "+q+")")
		}
	}
	if len(names) == 0 || changes == "" {
		return nil, nil
	}
	counts := make([]int64, len(aggs))
	dest := make([]any, len(aggs))
	for i := range counts {
		dest[i] = &counts[i]
	}
	q := fmt.Sprintf("SELECT %s FROM (SELECT %s FROM %s WHERE __op <> 'delete' LIMIT %d)",
		strings.Join(aggs, ", "), strings.Join(names, ", "), changes, textSample)
	if err := conn.QueryRowContext(ctx, q).Scan(dest...); err != nil {
		return nil, fmt.Errorf("commit state: sample the snapshot's text columns: %w", err)
	}
	out := map[string]string{}
	i := 0
	for _, c := range cols {
		if c.Type != "VARCHAR" {
			continue
		}
		n, d := counts[2*i], counts[2*i+1]
		i++
		switch {
		case n < textMinValues:
		case d*100 >= n*fsstDistinct:
			out[c.Name] = "fsst"
		case d*100 <= n*dictMaxDistinct:
			out[c.Name] = "dictionary"
		}
	}
	return out, nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewRunID returns a run identifier that sorts by time: 20261122T081500Z-<8 hex>.
func NewRunID(now time.Time) string {
	return now.UTC().Format("20060102T150405Z") + "-" + newID()[:8]
}

// LastSuccess implements Journal.
func (s *DuckStore) LastSuccess(ctx context.Context, conn *sql.Conn) (time.Time, error) {
	if !s.attached {
		return time.Time{}, nil
	}
	tables, err := s.tables(ctx, conn)
	if err != nil || !tables["runs"] {
		return time.Time{}, err
	}
	var t *time.Time
	if err := conn.QueryRowContext(ctx, "SELECT max(finished_at) FROM st.runs WHERE status = 'done'").Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("read the run journal of %s: %w", s.Path(), err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// Runs implements Journal: the runs table joined with the sums of each run's commits.
func (s *DuckStore) Runs(ctx context.Context, conn *sql.Conn, limit int) ([]RunEntry, error) {
	if !s.attached {
		return nil, nil
	}
	tables, err := s.tables(ctx, conn)
	if err != nil {
		return nil, err
	}
	if !tables["runs"] || !tables["journal"] {
		return nil, nil // a store opened read-only before its first run
	}
	q := `SELECT r.run_id, r.started_at, r.finished_at, coalesce(r.status, ''), coalesce(r.plan_hash, ''), coalesce(r.report, ''),
		count(j.serial), coalesce(max(j.serial), 0), coalesce(sum(j.acked), 0)::BIGINT, coalesce(sum(j.rejected), 0)::BIGINT
	FROM st.runs r LEFT JOIN st.journal j ON j.run_id = r.run_id
	GROUP BY ALL ORDER BY r.started_at DESC, r.run_id DESC`
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read the run journal of %s: %w", s.Path(), err)
	}
	defer rows.Close()
	var out []RunEntry
	for rows.Next() {
		var e RunEntry
		var started, finished *time.Time
		var report string
		if err := rows.Scan(&e.ID, &started, &finished, &e.Status, &e.PlanHash, &report, &e.Commits, &e.Serial, &e.Acked, &e.Rejected); err != nil {
			return nil, fmt.Errorf("read the run journal of %s: %w", s.Path(), err)
		}
		e.setTimesAndReport(started, finished, report)
		out = append(out, e)
	}
	return out, rows.Err()
}
