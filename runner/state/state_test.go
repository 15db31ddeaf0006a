package state_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/possync/possync/runner/state"
)

func conn(t *testing.T) *sql.Conn {
	t.Helper()
	c, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	cn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cn.Close() })
	return cn
}

func exec(t *testing.T, c *sql.Conn, q string) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

var cols = []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "qty", Type: "BIGINT"}}

func TestCommitMovesSnapshotAndJournalTogether(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := state.NewDuckStore(dir, "p")
	c := conn(t)
	m, err := s.Open(ctx, c, false)
	if err != nil || m.Serial != 0 || m.Lineage == "" || s.Snapshot() != "" {
		t.Fatalf("fresh store: %+v %v", m, err)
	}
	exec(t, c, `CREATE TABLE ch AS SELECT * FROM (VALUES ('create','A',1), ('create','B',2)) t(__op, sku, qty)`)
	exec(t, c, `CREATE TABLE ints AS SELECT * FROM (VALUES ('i1','r','{}'), ('i2','r','{}')) t(id, run_id, change)`)
	if err := s.AddIntents(ctx, c, "ints"); err != nil {
		t.Fatal(err)
	}
	m, err = s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch", Key: []string{"sku"}, Columns: cols, Resolved: []string{"i1"}, Acked: 2,
		Checkpoints: map[string][]byte{"src": []byte("v42")}})
	if err != nil || m.Serial != 1 || m.Records != 2 {
		t.Fatalf("commit: %+v %v", m, err)
	}
	left, _ := s.Intents(ctx, c)
	if len(left) != 1 || left[0].ID != "i2" {
		t.Fatalf("intents after commit: %+v", left)
	}
	if cp, _ := s.Checkpoint(ctx, c, "src"); string(cp) != "v42" {
		t.Fatalf("checkpoint %q", cp)
	}

	// A commit that fails midway changes nothing: not the snapshot, not the serial, not the intents.
	exec(t, c, `CREATE TABLE bad AS SELECT * FROM (VALUES ('update','A','not a number')) t(__op, sku, qty)`)
	_, err = s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "bad", Key: []string{"sku"}, Columns: cols, Resolved: []string{"i2"}})
	if err == nil {
		t.Fatal("commit of unconvertible values succeeded")
	}
	m2, err := s.Open(ctx, conn2(t, dir), true)
	if err != nil || m2.Serial != 1 || m2.Records != 2 || m2.Lineage != m.Lineage {
		t.Fatalf("after a failed commit: %+v %v", m2, err)
	}
}

// conn2 opens the store file from another database, as the next run would.
func conn2(t *testing.T, dir string) *sql.Conn {
	t.Helper()
	return conn(t)
}

func TestMigrationAddsDropsAndRetypes(t *testing.T) {
	ctx := context.Background()
	s := state.NewDuckStore(t.TempDir(), "p")
	c := conn(t)
	if _, err := s.Open(ctx, c, false); err != nil {
		t.Fatal(err)
	}
	exec(t, c, `CREATE TABLE ch AS SELECT * FROM (VALUES ('create','A',1)) t(__op, sku, qty)`)
	if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch", Key: []string{"sku"}, Columns: cols}); err != nil {
		t.Fatal(err)
	}
	exec(t, c, `CREATE TABLE ch2 AS SELECT * FROM (VALUES ('update','B','2', 'blue')) t(__op, sku, qty, color)`)
	next := []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "qty", Type: "VARCHAR"}, {Name: "color", Type: "VARCHAR"}}
	m, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch2", Key: []string{"sku"}, Columns: next})
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, col := range m.Columns {
		got += col.Name + ":" + col.Type + " "
	}
	if got != "sku:VARCHAR qty:VARCHAR color:VARCHAR " || m.Records != 2 {
		t.Fatalf("migrated columns %q, %d records", got, m.Records)
	}
}

func TestRefusesNewerFormatAndOtherPipeline(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := conn(t)
	s := state.NewDuckStore(dir, "p")
	if _, err := s.Open(ctx, c, false); err != nil {
		t.Fatal(err)
	}
	exec(t, c, `UPDATE st.meta SET v = '99' WHERE k = 'format_version'`)
	exec(t, c, `DETACH st`)
	if _, err := state.NewDuckStore(dir, "p").Open(ctx, c, true); err == nil || !strings.Contains(err.Error(), "upgrade possync") {
		t.Fatalf("newer format: %v", err)
	}
	// A store file copied under another pipeline's name is refused.
	b, _ := os.ReadFile(filepath.Join(dir, "p.duckdb"))
	other := t.TempDir()
	_ = os.WriteFile(filepath.Join(other, "q.duckdb"), b, 0o644)
	c2 := conn(t)
	if _, err := state.NewDuckStore(other, "q").Open(ctx, c2, true); err == nil {
		t.Fatal("opened another pipeline's state")
	}
}

func TestLockIsExclusiveAndNamesHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.lock")
	l, err := state.LockFile(path, "p", state.Holder{PID: 7, Host: "h1", RunID: "run-1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = state.LockFile(path, "p", state.Holder{PID: 8})
	var le *state.LockedError
	if !errors.As(err, &le) || le.Holder.PID != 7 || le.Holder.Host != "h1" || !errors.Is(err, state.ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := state.LockFile(path, "p", state.Holder{PID: 8})
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}

// TestUnchangedColumnsAreNotMigrated checks that a timestamp column is reported with the type the runner
// declares it with (DuckDB reports TIMESTAMPTZ as TIMESTAMP WITH TIME ZONE): were the names to differ, every
// commit would rewrite the column, and the diff would cast it on every plan.
func TestUnchangedColumnsAreNotMigrated(t *testing.T) {
	ctx := context.Background()
	s := state.NewDuckStore(t.TempDir(), "p")
	c := conn(t)
	if _, err := s.Open(ctx, c, false); err != nil {
		t.Fatal(err)
	}
	tcols := []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "at", Type: "TIMESTAMPTZ"}, {Name: "on", Type: "BOOLEAN"},
		{Name: "d", Type: "DATE"}, {Name: "p", Type: "DOUBLE"}, {Name: "n", Type: "BIGINT"}}
	exec(t, c, `CREATE TABLE ch AS SELECT 'create' AS __op, 'A' AS sku, TIMESTAMPTZ '2026-01-02 03:04:05+00' AS at, true AS "on",
		DATE '2026-01-02' AS d, 1.5 AS p, 2::BIGINT AS n`)
	m, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch", Key: []string{"sku"}, Columns: tcols})
	if err != nil {
		t.Fatal(err)
	}
	for i, col := range m.Columns {
		if col != tcols[i] {
			t.Errorf("column %d reported as %+v, declared %+v", i, col, tcols[i])
		}
	}
}

// TestCommitSettlesLargeBatchOfIntents settles a batch of 20,000 intents (listed by ID: other intents remain) in one
// commit, leaving the intents of other changes.
func TestCommitSettlesLargeBatchOfIntents(t *testing.T) {
	ctx := context.Background()
	s := state.NewDuckStore(t.TempDir(), "p")
	c := conn(t)
	if _, err := s.Open(ctx, c, false); err != nil {
		t.Fatal(err)
	}
	exec(t, c, `CREATE TABLE ints AS SELECT 'i' || range AS id, 'r' AS run_id, '{}' AS change FROM range(20003)`)
	if err := s.AddIntents(ctx, c, "ints"); err != nil {
		t.Fatal(err)
	}
	resolved := make([]string, 20000)
	for i := range resolved {
		resolved[i] = "i" + strconv.Itoa(i)
	}
	if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Resolved: resolved, Acked: 20000}); err != nil {
		t.Fatal(err)
	}
	left, err := s.Intents(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, in := range left {
		ids = append(ids, in.ID)
	}
	if strings.Join(ids, ",") != "i20000,i20001,i20002" {
		t.Errorf("intents left: %v", ids)
	}
}

// TestOpenStateWithOldIntents: a state file written before packed intents (st.intents without the ids and n
// columns) holding row intents of a killed run reads them read-only as it is (a plan, `possync state`); the
// next run's open adds the columns, reads the same intents, records packed ones next to them and settles
// all of them in one commit.
func TestOpenStateWithOldIntents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := conn(t)
	exec(t, c, "ATTACH '"+filepath.Join(dir, "p.duckdb")+"' AS st")
	for _, q := range []string{
		`CREATE TABLE st.meta (k VARCHAR, v VARCHAR)`,
		`CREATE TABLE st.runs (run_id VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, status VARCHAR, plan_hash VARCHAR, report VARCHAR)`,
		`CREATE TABLE st.journal (run_id VARCHAR, committed_at TIMESTAMPTZ, serial BIGINT, acked BIGINT, rejected BIGINT)`,
		`CREATE TABLE st.intents (id VARCHAR, run_id VARCHAR, change VARCHAR)`,
		`CREATE TABLE st.checkpoints (source VARCHAR, value BLOB, serial BIGINT)`,
		`INSERT INTO st.meta VALUES ('format_version', '1'), ('lineage', 'l'), ('serial', '3'), ('exported', '0'), ('pipeline', 'p')`,
		`INSERT INTO st.intents VALUES ('a1', 'old', ''), ('a2', 'old', ''), ('a3', 'old', '{"id":"a3"}')`,
		`DETACH st`,
	} {
		exec(t, c, q)
	}
	ids := func(s *state.DuckStore, c *sql.Conn) string { t.Helper(); return intentsOf(t, s, c) }
	const old = `a1@old= a2@old= a3@old={"id":"a3"}`
	ro := state.NewDuckStore(dir, "p")
	rc := conn(t)
	if m, err := ro.Open(ctx, rc, true); err != nil || m.Serial != 3 {
		t.Fatalf("read-only open of the old state: %+v %v", m, err)
	}
	if got := ids(ro, rc); got != old {
		t.Fatalf("read-only: intents %q, want %q", got, old)
	}
	version := func(c *sql.Conn) string {
		t.Helper()
		var v string
		if err := c.QueryRowContext(ctx, `SELECT v FROM st.meta WHERE k = 'format_version'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := version(rc); v != "1" {
		t.Fatalf("a read-only open left format_version %s, want 1 (no migration)", v)
	}
	exec(t, rc, "DETACH st")

	s := state.NewDuckStore(dir, "p")
	c = conn(t)
	if _, err := s.Open(ctx, c, false); err != nil {
		t.Fatal(err)
	}
	// The writable open migrated the file to version 2 (the packed columns), which a possync that predates
	// them refuses at its open (TestRefusesNewerFormatAndOtherPipeline's rule).
	if v := version(c); v != strconv.Itoa(state.FormatVersion) || state.FormatVersion != 2 {
		t.Fatalf("format_version %s after the writable open, want 2", v)
	}
	if got := ids(s, c); got != old {
		t.Fatalf("intents %q, want %q", got, old)
	}
	if err := s.AddIntentIDs(ctx, c, "new", []string{"b1", "b2"}); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(s, c), old+" b1@new= b2@new="; got != want {
		t.Fatalf("intents %q, want %q", got, want)
	}
	if _, err := s.Commit(ctx, c, &state.Commit{RunID: "old", Key: []string{"sku"}, Columns: cols,
		Resolved: []string{"a1", "a2", "a3", "b1", "b2"}, ResolvesAll: true}); err != nil {
		t.Fatal(err)
	}
	if got := ids(s, c); got != "" {
		t.Fatalf("intents %q after the commit that settled them all", got)
	}
}
