package state_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/possync/possync/runner/state"
)

// TestPgFencingRefusesCommitAfterLockLoss: a run whose lock session is terminated from outside (as after a
// network partition or a paused VM) while another run takes the lock and commits can no longer commit, and
// nothing of its refused commit is recorded.
func TestPgFencingRefusesCommitAfterLockLoss(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	schema := freshSchema(t, url)
	dir := t.TempDir()
	first := state.NewPgStore(url, schema, dir, "p")
	defer first.Close()
	unlock1, err := first.Lock(state.Holder{PID: 1, Host: "w1", RunID: "run-1", StartedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	defer unlock1()
	c1 := conn(t)
	if _, err := first.Open(ctx, c1, false); err != nil {
		t.Fatal(err)
	}
	exec(t, c1, `CREATE TABLE ch AS SELECT * FROM (VALUES ('create','A',1)) t(__op, sku, qty)`)
	if _, err := first.Commit(ctx, c1, &state.Commit{RunID: "run-1", Changes: "ch", Key: []string{"sku"}, Columns: cols, Acked: 1}); err != nil {
		t.Fatal(err)
	}

	// Terminate the first run's lock session from outside.
	admin := pgAdmin(t, url)
	var ok bool
	if err := admin.QueryRow(ctx, "SELECT pg_terminate_backend($1, 10000)", int64(first.LockBackendPID())).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate the lock session: %v %v", ok, err)
	}

	// A second worker takes the lock and commits.
	second := state.NewPgStore(url, schema, t.TempDir(), "p")
	defer second.Close()
	unlock2, err := second.Lock(state.Holder{PID: 2, Host: "w2", RunID: "run-2", StartedAt: time.Now()})
	if err != nil {
		t.Fatalf("lock after the holder's session died: %v", err)
	}
	defer unlock2()
	if second.Fence() <= first.Fence() {
		t.Fatalf("fencing token did not move: first %d, second %d", first.Fence(), second.Fence())
	}
	c2 := conn(t)
	if m, err := second.Open(ctx, c2, false); err != nil || m.Serial != 1 {
		t.Fatalf("second open: %+v %v", m, err)
	}
	exec(t, c2, `CREATE TABLE ch AS SELECT * FROM (VALUES ('update','A',2)) t(__op, sku, qty)`)
	if _, err := second.Commit(ctx, c2, &state.Commit{RunID: "run-2", Changes: "ch", Key: []string{"sku"}, Columns: cols, Acked: 1}); err != nil {
		t.Fatal(err)
	}

	// The first run resumes: every write is refused as a lost lock (exit 75), and nothing of it is recorded.
	exec(t, c1, `CREATE TABLE ch2 AS SELECT * FROM (VALUES ('update','A',99), ('create','Z',1)) t(__op, sku, qty)`)
	exec(t, c1, `CREATE TABLE ints AS SELECT 'late' AS id, 'run-1' AS run_id, '{}' AS change`)
	_, err = first.Commit(ctx, c1, &state.Commit{RunID: "run-1", Changes: "ch2", Key: []string{"sku"}, Columns: cols, Acked: 2,
		Checkpoints: map[string][]byte{"src": []byte("stale")}})
	var lost *state.LockLostError
	if !errors.As(err, &lost) || !errors.Is(err, state.ErrLocked) || lost.Current != second.Fence() {
		t.Fatalf("commit after losing the lock: %v", err)
	}
	if err := first.AddIntents(ctx, c1, "ints"); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("intents after losing the lock: %v", err)
	}

	third := state.NewPgStore(url, schema, t.TempDir(), "p")
	defer third.Close()
	c3 := conn(t)
	m, err := third.Open(ctx, c3, true)
	if err != nil || m.Serial != 2 || m.Records != 1 {
		t.Fatalf("state after the refused commit: %+v %v", m, err)
	}
	var qty int64
	if err := c3.QueryRowContext(ctx, "SELECT qty FROM "+third.Snapshot()+" WHERE sku = 'A'").Scan(&qty); err != nil || qty != 2 {
		t.Fatalf("A has qty %d (%v), want the second run's 2", qty, err)
	}
	if cp, _ := third.Checkpoint(ctx, c3, "src"); cp != nil {
		t.Errorf("the refused commit's checkpoint was recorded: %q", cp)
	}
	if in, _ := third.Intents(ctx, c3); len(in) != 0 {
		t.Errorf("the refused run's intents were recorded: %+v", in)
	}
	entries, _ := third.CommitLog(ctx, c3)
	for _, e := range entries {
		if e.Serial > 1 && e.RunID != "run-2" {
			t.Errorf("journal holds a commit of the fenced run: %+v", e)
		}
	}
}

// TestPgLockLossWithoutTakeoverIsRefused: a dead lock session alone (no other run yet) refuses the commit.
func TestPgLockLossWithoutTakeoverIsRefused(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	s := state.NewPgStore(url, freshSchema(t, url), t.TempDir(), "p")
	defer s.Close()
	unlock, err := s.Lock(state.Holder{PID: 1, Host: "w1", RunID: "run-1", StartedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	c := conn(t)
	if _, err := s.Open(ctx, c, false); err != nil {
		t.Fatal(err)
	}
	admin := pgAdmin(t, url)
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1, 10000)", int64(s.LockBackendPID())); err != nil {
		t.Fatal(err)
	}
	exec(t, c, `CREATE TABLE ch AS SELECT * FROM (VALUES ('create','A',1)) t(__op, sku, qty)`)
	_, err = s.Commit(ctx, c, &state.Commit{RunID: "run-1", Changes: "ch", Key: []string{"sku"}, Columns: cols})
	var lost *state.LockLostError
	if !errors.As(err, &lost) || !strings.Contains(err.Error(), "session is gone") {
		t.Fatalf("commit with a dead lock session: %v", err)
	}
}

// TestPgRefusesNewerSchema: a schema migrated by a newer possync is refused, by Open and by Lock.
func TestPgRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	schema := freshSchema(t, url)
	s := state.NewPgStore(url, schema, t.TempDir(), "p")
	defer s.Close()
	if _, err := s.Open(ctx, conn(t), false); err != nil {
		t.Fatal(err)
	}
	admin := pgAdmin(t, url)
	var v string
	if err := admin.QueryRow(ctx, "SELECT v FROM "+schema+".possync_meta WHERE k = 'schema_version'").Scan(&v); err != nil || v != strconv.Itoa(state.SchemaVersion) {
		t.Fatalf("schema version %q %v", v, err)
	}
	if _, err := admin.Exec(ctx, "UPDATE "+schema+".possync_meta SET v = '99' WHERE k = 'schema_version'"); err != nil {
		t.Fatal(err)
	}
	for _, readOnly := range []bool{true, false} {
		s2 := state.NewPgStore(url, schema, t.TempDir(), "p")
		_, err := s2.Open(ctx, conn(t), readOnly)
		var newer *state.NewerSchemaError
		if !errors.As(err, &newer) || newer.Version != 99 || !strings.Contains(err.Error(), "upgrade possync") {
			t.Errorf("open (read-only %v) of a newer schema: %v", readOnly, err)
		}
		s2.Close()
	}
	if _, err := state.NewPgStore(url, schema, t.TempDir(), "p").Lock(state.Holder{PID: 1}); err == nil || !strings.Contains(err.Error(), "upgrade possync") {
		t.Errorf("lock on a newer schema: %v", err)
	}
}

// TestPgErrorsNeverShowThePassword: the store's errors and names show the server by host, port, user and
// database, never a password: of a URL, of key=value pairs, an sslpassword parameter, or a connection string
// that does not parse.
func TestPgErrorsNeverShowThePassword(t *testing.T) {
	const pw, sslpw = "s3cret-Passw0rd", "Ssl-s3cret-9931"
	for _, c := range []struct{ name, dsn, want string }{
		{"URL", "postgres://u:" + pw + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2&password=" + pw, "postgres://u@127.0.0.1:1/db"},
		{"key=value", "host=127.0.0.1 port=1 user=u password=" + pw + " dbname=db sslmode=disable connect_timeout=2",
			"postgres://u@127.0.0.1:1/db"},
		{"sslpassword", "postgres://u@127.0.0.1:1/db?sslmode=disable&connect_timeout=2&sslpassword=" + sslpw, "postgres://u@127.0.0.1:1/db"},
		{"unparsable", "host=127.0.0.1 port=notaport user=u password=" + pw, "does not parse"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := state.NewPgStore(c.dsn, "", t.TempDir(), "p")
			_, openErr := s.Open(context.Background(), conn(t), true)
			_, lockErr := s.Lock(state.Holder{})
			_, diagErr := s.Diagnose(context.Background())
			if openErr == nil || lockErr == nil || diagErr == nil {
				t.Fatalf("open, lock and diagnose against a closed port: %v; %v; %v", openErr, lockErr, diagErr)
			}
			for _, text := range []string{openErr.Error(), lockErr.Error(), diagErr.Error(), s.String(), state.RedactURL(c.dsn)} {
				if strings.Contains(text, "s3cret") || strings.Contains(text, "Passw0rd") || !strings.Contains(text, c.want) {
					t.Errorf("%q: want %q and no password", text, c.want)
				}
			}
		})
	}
}

// openLocked opens a PgStore of pipeline p with its local folder dir under its lock, as a run does.
func openLocked(t *testing.T, url, schema, dir string) (*state.PgStore, *sql.Conn, state.Meta, func() error) {
	t.Helper()
	s := state.NewPgStore(url, schema, dir, "p")
	t.Cleanup(func() { s.Close() })
	unlock, err := s.Lock(state.Holder{PID: 1, Host: "w", RunID: "r", StartedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	c := conn(t)
	m, err := s.Open(context.Background(), c, false)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, m, unlock
}

// pgAdmin is a direct connection to the test PostgreSQL (to edit or inspect the state behind the store's
// back), closed at the test's end.
func pgAdmin(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	admin, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	return admin
}

// snapshotTables names, qualified by schema, the PostgreSQL table of pipeline p's snapshot and the table of
// its changes since its image.
func snapshotTables(t *testing.T, admin *pgx.Conn, schema string) (tbl, chg string) {
	t.Helper()
	if err := admin.QueryRow(context.Background(), "SELECT tbl FROM "+schema+".relations WHERE pipeline = 'p' AND name = 'snapshot'").Scan(&tbl); err != nil {
		t.Fatal(err)
	}
	return schema + "." + tbl, schema + ".chg_" + strings.TrimPrefix(tbl, "snap_")
}

// commitRows commits, as run r of a store opened by openLocked, the changes that query selects (columns
// __op, sku, qty unless cs says otherwise), keyed on sku.
func commitRows(t *testing.T, s *state.PgStore, c *sql.Conn, query string, cs []state.Column) {
	t.Helper()
	exec(t, c, "CREATE OR REPLACE TABLE possync_test_changes AS "+query)
	if _, err := s.Commit(context.Background(), c, &state.Commit{RunID: "r", Changes: "possync_test_changes", Key: []string{"sku"}, Columns: cs}); err != nil {
		t.Fatal(err)
	}
}

// coldOpen opens pipeline p read-only with an empty local folder (a worker without a mirror), and fails the
// test unless wantImage relations came from their image and wantCopied were copied whole.
func coldOpen(t *testing.T, url, schema string, wantImage, wantCopied int) (*state.PgStore, *sql.Conn, state.Meta) {
	t.Helper()
	r := state.NewPgStore(url, schema, t.TempDir(), "p")
	t.Cleanup(func() { r.Close() })
	rc := conn(t)
	m, err := r.Open(context.Background(), rc, true)
	if err != nil {
		t.Fatalf("cold open: %v", err)
	}
	if img, copied := r.OpenedFrom(); img != wantImage || copied != wantCopied {
		t.Fatalf("cold open: %d relations from their image, %d copied; want %d, %d", img, copied, wantImage, wantCopied)
	}
	return r, rc, m
}

// planOpen opens pipeline p read-only under its lock with an empty local folder, as a plan on a worker
// without a mirror does (a relation from its image is then read in place), and fails the test unless
// wantImage relations came from their image and wantCopied were copied whole. The returned function
// releases the lock.
func planOpen(t *testing.T, url, schema string, wantImage, wantCopied int) (*state.PgStore, *sql.Conn, state.Meta, func() error) {
	t.Helper()
	s, c, m, unlock := openLockedReadOnly(t, url, schema, t.TempDir())
	if img, copied := s.OpenedFrom(); img != wantImage || copied != wantCopied {
		t.Fatalf("plan's open: %d relations from their image, %d copied; want %d, %d", img, copied, wantImage, wantCopied)
	}
	return s, c, m, unlock
}

func qtyOf(t *testing.T, c *sql.Conn, rel, sku string) int64 {
	t.Helper()
	var q int64
	if err := c.QueryRowContext(context.Background(), "SELECT qty FROM "+rel+" WHERE sku = ?", sku).Scan(&q); err != nil {
		t.Fatalf("qty of %s: %v", sku, err)
	}
	return q
}

// TestPgLocalCache: a worker that committed last reads nothing from PostgreSQL on its next open (its local
// mirror holds that commit); once another worker committed, it copies the snapshot in again; and a
// commit refused by the fence leaves no trace in the local mirror either.
func TestPgLocalCache(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	schema := freshSchema(t, url)
	dirA, dirB := t.TempDir(), t.TempDir()

	a, c, _, unlock := openLocked(t, url, schema, dirA)
	exec(t, c, `CREATE TABLE ch AS SELECT * FROM (VALUES ('create','A',1), ('create','B',1)) t(__op, sku, qty)`)
	if _, err := a.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch", Key: []string{"sku"}, Columns: cols}); err != nil {
		t.Fatal(err)
	}
	_ = unlock()

	a2, c2, m, unlock := openLocked(t, url, schema, dirA)
	if in, _ := a2.BytesMoved(); in != 0 || m.Records != 2 || m.Serial != 1 || qtyOf(t, c2, a2.Snapshot(), "B") != 1 {
		t.Fatalf("reopen on the same worker: %d bytes in, %+v", in, m)
	}
	_ = unlock()

	b, cb, _, unlock := openLocked(t, url, schema, dirB)
	if in, _ := b.BytesMoved(); in == 0 {
		t.Fatal("a worker without a local mirror read nothing")
	}
	exec(t, cb, `CREATE TABLE ch AS SELECT * FROM (VALUES ('update','B',7)) t(__op, sku, qty)`)
	if _, err := b.Commit(ctx, cb, &state.Commit{RunID: "r2", Changes: "ch", Key: []string{"sku"}, Columns: cols}); err != nil {
		t.Fatal(err)
	}
	_ = unlock()

	a3, c3, m, unlock := openLocked(t, url, schema, dirA)
	if in, _ := a3.BytesMoved(); in == 0 || m.Serial != 2 || qtyOf(t, c3, a3.Snapshot(), "B") != 7 {
		t.Fatalf("reopen after another worker's commit: %d bytes in, %+v, B=%d", in, m, qtyOf(t, c3, a3.Snapshot(), "B"))
	}

	// Lose the lock, let B commit, then try to commit from A: refused; A's next open shows B's state.
	admin := pgAdmin(t, url)
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1, 10000)", int64(a3.LockBackendPID())); err != nil {
		t.Fatal(err)
	}
	_ = unlock()
	b2, cb2, _, unlockB := openLocked(t, url, schema, dirB)
	exec(t, cb2, `CREATE TABLE ch AS SELECT * FROM (VALUES ('update','A',5)) t(__op, sku, qty)`)
	if _, err := b2.Commit(ctx, cb2, &state.Commit{RunID: "r3", Changes: "ch", Key: []string{"sku"}, Columns: cols}); err != nil {
		t.Fatal(err)
	}
	_ = unlockB()
	exec(t, c3, `CREATE TABLE ch AS SELECT * FROM (VALUES ('update','A',99)) t(__op, sku, qty)`)
	if _, err := a3.Commit(ctx, c3, &state.Commit{RunID: "r", Changes: "ch", Key: []string{"sku"}, Columns: cols}); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("commit after losing the lock: %v", err)
	}
	c3.Close()
	a4, c4, m, unlock := openLocked(t, url, schema, dirA)
	defer unlock()
	if m.Serial != 3 || qtyOf(t, c4, a4.Snapshot(), "A") != 5 {
		t.Fatalf("reopen after a refused commit: %+v, A=%d (want B's 5)", m, qtyOf(t, c4, a4.Snapshot(), "A"))
	}
}

// TestPgOpenFailsOnUnreadableValues: a value in PostgreSQL that does not parse as its column's type (edited
// by hand), in the changes since the snapshot's image or in its table (read when there is no image), fails
// the open with a clear error, and the copy's pipe never leaves the open hanging.
func TestPgOpenFailsOnUnreadableValues(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	schema := freshSchema(t, url)
	s, c, _, unlock := openLocked(t, url, schema, t.TempDir())
	commitRows(t, s, c, `SELECT 'create' AS __op, 'k' || range AS sku, range AS qty FROM range(50000)`, cols)
	commitRows(t, s, c, `SELECT 'update' AS __op, 'k' || range AS sku, range + 1 AS qty FROM range(49000, 49010)`, cols)
	_ = unlock()
	admin := pgAdmin(t, url)
	tbl, chg := snapshotTables(t, admin, schema)
	for _, tc := range []struct{ edit, want string }{
		{"UPDATE " + chg + " SET qty = 'many' WHERE sku = 'k49005'", "load the changes of snapshot since its image into the planner"},
		{"UPDATE " + tbl + " SET qty = 'many' WHERE sku = 'k49000'; DELETE FROM " + schema + ".images", "load snapshot into the planner"},
	} {
		if _, err := admin.Exec(ctx, tc.edit); err != nil {
			t.Fatal(err)
		}
		s2 := state.NewPgStore(url, schema, t.TempDir(), "p")
		_, err := s2.Open(ctx, conn(t), true)
		s2.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("open after %s: %v; want %q", tc.edit, err, tc.want)
		}
	}
}

// TestPgMigratesOlderSchema: an installation at schema version 1 (before the basis column and the images) is
// brought forward by the next run's Open, keeping its pipelines' state.
func TestPgMigratesOlderSchema(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	schema := freshSchema(t, url)
	s := state.NewPgStore(url, schema, t.TempDir(), "p")
	m, err := s.Open(ctx, conn(t), false)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	admin := pgAdmin(t, url)
	for _, q := range []string{"ALTER TABLE " + schema + ".pipelines DROP COLUMN basis, DROP COLUMN merchant",
		"ALTER TABLE " + schema + ".relations DROP COLUMN records", "DROP TABLE " + schema + ".images", "DROP TABLE " + schema + ".image_parts",
		"ALTER TABLE " + schema + ".intents DROP COLUMN ids, DROP COLUMN n, ALTER COLUMN id SET NOT NULL",
		"UPDATE " + schema + ".possync_meta SET v = '1' WHERE k = 'schema_version'"} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s2 := state.NewPgStore(url, schema, t.TempDir(), "p")
	defer s2.Close()
	unlock, err := s2.Lock(state.Holder{PID: 1, RunID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	c := conn(t)
	m2, err := s2.Open(ctx, c, false)
	if err != nil || m2.Lineage != m.Lineage {
		t.Fatalf("open of a version-1 schema: %+v %v (lineage was %s)", m2, err, m.Lineage)
	}
	if err := s2.SetBasis(ctx, c, "b"); err != nil {
		t.Fatalf("basis after the migration: %v", err)
	}
	var v string
	if err := admin.QueryRow(ctx, "SELECT v FROM "+schema+".possync_meta WHERE k = 'schema_version'").Scan(&v); err != nil || v != strconv.Itoa(state.SchemaVersion) {
		t.Fatalf("schema version after the migration %q %v", v, err)
	}
}

// TestPgCopyUpFailures: rows streamed to PostgreSQL through the pipe fail cleanly, and leave the store
// usable, when DuckDB cannot produce them (a relation that is not there: its COPY fails before it opens the
// pipe) and when PostgreSQL refuses them part way (a NUL character, which text cannot hold, after 100,000
// rows: DuckDB must not be left blocked on a full pipe); nothing of a refused batch is recorded.
func TestPgCopyUpFailures(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	s, c, _, unlock := openLocked(t, url, freshSchema(t, url), t.TempDir())
	defer unlock()
	if err := s.AddIntents(ctx, c, "no_such_relation"); err == nil || !strings.Contains(err.Error(), "spill rows for postgres") {
		t.Fatalf("intents from a missing relation: %v", err)
	}
	exec(t, c, `CREATE TABLE bad AS SELECT 'i' || range AS id, 'r' AS run_id, CASE WHEN range = 100000 THEN 'a' || chr(0) ELSE '{}' END AS change FROM range(150000)`)
	if err := s.AddIntents(ctx, c, "bad"); err == nil || !strings.Contains(err.Error(), "copy rows to postgres") {
		t.Fatalf("intents PostgreSQL refuses: %v", err)
	}
	exec(t, c, `CREATE TABLE good AS SELECT * FROM (VALUES ('g1', 'r', '{"ok":1}')) t(id, run_id, change)`)
	if err := s.AddIntents(ctx, c, "good"); err != nil {
		t.Fatalf("intents after the failures: %v", err)
	}
	in, err := s.Intents(ctx, c)
	if err != nil || len(in) != 1 || in[0].ID != "g1" {
		t.Fatalf("intents recorded: %d (%v), want only g1", len(in), err)
	}
}

// openLockedReadOnly opens a PgStore of pipeline p with its local folder dir read-only under its lock, as a
// plan does.
func openLockedReadOnly(t *testing.T, url, schema, dir string) (*state.PgStore, *sql.Conn, state.Meta, func() error) {
	t.Helper()
	s := state.NewPgStore(url, schema, dir, "p")
	t.Cleanup(func() { s.Close() })
	unlock, err := s.Lock(state.Holder{PID: 1, Host: "w", RunID: "plan", StartedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	c := conn(t)
	m, err := s.Open(context.Background(), c, true)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, m, unlock
}

// TestPgPlanLeavesTheMirrorFile: a plan (a read-only open under the lock) on a worker whose mirror is not
// current reads the state from PostgreSQL without writing it into the mirror file: no file on a fresh
// worker, and a stale file stays stale (the next apply there reads the state in again, with the latest
// commit, never the file's older copy). On the worker that committed last a plan still reads nothing.
func TestPgPlanLeavesTheMirrorFile(t *testing.T) {
	url := pgURL(t)
	schema := freshSchema(t, url)
	dirA, dirB := t.TempDir(), t.TempDir()
	cacheA, cacheB := filepath.Join(dirA, "p.pgcache.duckdb"), filepath.Join(dirB, "p.pgcache.duckdb")

	a, c, _, unlock := openLocked(t, url, schema, dirA)
	commitRows(t, a, c, `SELECT 'create' AS __op, 'k' || range AS sku, range AS qty FROM range(3000)`, cols)
	commitRows(t, a, c, `SELECT * FROM (VALUES ('update', 'k1', 100)) t(__op, sku, qty)`, cols)
	exec(t, c, "DETACH st") // as the run's engine closes, before the lock is released
	_ = unlock()

	// A plan on the worker that committed last: warm.
	pa, pc, m, unlock := openLockedReadOnly(t, url, schema, dirA)
	if in, _ := pa.BytesMoved(); in != 0 || m.Serial != 2 || m.Records != 3000 || qtyOf(t, pc, pa.Snapshot(), "k1") != 100 {
		t.Fatalf("plan on the worker that committed last: %d bytes in, %+v", in, m)
	}
	exec(t, pc, "DETACH st")
	_ = unlock()

	// A plan on a fresh worker: from the image and its changes, nothing written locally.
	pb, pc, m, unlock := openLockedReadOnly(t, url, schema, dirB)
	if img, copied := pb.OpenedFrom(); img != 1 || copied != 0 || m.Serial != 2 || m.Records != 3000 || qtyOf(t, pc, pb.Snapshot(), "k1") != 100 {
		t.Fatalf("plan on a fresh worker: %d from the image, %d copied, %+v", img, copied, m)
	}
	exec(t, pc, "DETACH st")
	_ = unlock()
	if _, err := os.Stat(cacheB); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a plan on a fresh worker wrote the mirror file: %v", err)
	}
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dirB); len(left) != 0 {
		t.Fatalf("a plan left files in its worker's state folder: %v", left)
	}

	// An apply there fills the mirror file, and B commits: A's mirror is now stale.
	b, cb, _, unlock := openLocked(t, url, schema, dirB)
	if in, _ := b.BytesMoved(); in == 0 {
		t.Fatal("an apply on a worker without a mirror file read nothing")
	}
	commitRows(t, b, cb, `SELECT * FROM (VALUES ('update', 'k1', 200), ('delete', 'k2', NULL)) t(__op, sku, qty)`, cols)
	exec(t, cb, "DETACH st")
	_ = unlock()
	if _, err := os.Stat(cacheB); err != nil {
		t.Fatalf("the apply left no mirror file: %v", err)
	}

	// A plan on A reads B's commit, and leaves A's file as it was (stale).
	before, err := os.ReadFile(cacheA)
	if err != nil {
		t.Fatal(err)
	}
	pa, pc, m, unlock = openLockedReadOnly(t, url, schema, dirA)
	if in, _ := pa.BytesMoved(); in == 0 || m.Serial != 3 || m.Records != 2999 || qtyOf(t, pc, pa.Snapshot(), "k1") != 200 {
		t.Fatalf("plan on a worker with a stale mirror: %d bytes in, %+v", in, m)
	}
	exec(t, pc, "DETACH st")
	_ = unlock()
	if after, err := os.ReadFile(cacheA); err != nil || !bytes.Equal(before, after) {
		t.Fatalf("a plan rewrote the stale mirror file (%d bytes before, %d after): %v", len(before), len(after), err)
	}

	// The apply on A after it reads the state in again (B's commit), and the one after reads nothing.
	for i, wantIn := range []bool{true, false} {
		a, c, m, unlock := openLocked(t, url, schema, dirA)
		if in, _ := a.BytesMoved(); (in != 0) != wantIn || m.Serial != 3 || m.Records != 2999 || qtyOf(t, c, a.Snapshot(), "k1") != 200 {
			t.Fatalf("apply %d on A after B's commit: %d bytes in, %+v", i+1, in, m)
		}
		exec(t, c, "DETACH st")
		_ = unlock()
	}
}

// TestPgPlanReadsSourcesInPlace: a plan on a fresh worker reads an incremental source's stored records, like
// the snapshot, from their image and the changes since: the latest value of each key.
func TestPgPlanReadsSourcesInPlace(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	schema := freshSchema(t, url)
	s, c, _, unlock := openLocked(t, url, schema, t.TempDir())
	exec(t, c, `CREATE TABLE d1 AS SELECT * FROM (VALUES ('x', 1), ('y', 2)) t(id, v)`)
	exec(t, c, `CREATE TABLE ch AS SELECT 'create' AS __op, 'A' AS sku, 1 AS qty`)
	if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch", Key: []string{"sku"}, Columns: cols,
		Sources: map[string]state.SourceDelta{"inc": {Relation: "d1", Key: []string{"id"}}}}); err != nil {
		t.Fatal(err)
	}
	exec(t, c, `CREATE TABLE d2 AS SELECT * FROM (VALUES ('y', 20), ('z', 3)) t(id, v)`)
	if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Sources: map[string]state.SourceDelta{"inc": {Relation: "d2", Key: []string{"id"}}}}); err != nil {
		t.Fatal(err)
	}
	exec(t, c, "DETACH st")
	_ = unlock()

	p, pc, m, unlock := planOpen(t, url, schema, 2, 0)
	defer unlock()
	if m.Records != 1 || qtyOf(t, pc, p.Snapshot(), "A") != 1 || p.SourceSnapshot("inc") == "" {
		t.Fatalf("a plan's open: %+v, source relation %q", m, p.SourceSnapshot("inc"))
	}
	var src string
	if err := pc.QueryRowContext(ctx, `SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM `+p.SourceSnapshot("inc")).Scan(&src); err != nil {
		t.Fatal(err)
	}
	if src != "x=1,y=20,z=3" {
		t.Errorf("stored source records read in place: %q", src)
	}
}

// TestPgMigratesOldIntents: an installation at schema version 3 (before packed intents) holding row intents
// of a killed run is brought to version 4 by the next run's lock, which then reads the same intents, records
// packed ones next to them and settles all of them in one commit.
func TestPgMigratesOldIntents(t *testing.T) {
	ctx := context.Background()
	url, schema, admin := schema3WithOldIntents(t)
	s2 := state.NewPgStore(url, schema, t.TempDir(), "p")
	defer s2.Close()
	unlock, err := s2.Lock(state.Holder{PID: 1, RunID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	c := conn(t)
	if _, err := s2.Open(ctx, c, false); err != nil {
		t.Fatal(err)
	}
	ids := func() string { t.Helper(); return intentsOf(t, s2, c) }
	const old = `a1@old= a2@old={"id":"a2"}`
	if got := ids(); got != old {
		t.Fatalf("intents %q, want %q", got, old)
	}
	if err := s2.AddIntentIDs(ctx, c, "r", []string{"b1"}); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(), old+" b1@r="; got != want {
		t.Fatalf("intents %q, want %q", got, want)
	}
	if _, err := s2.Commit(ctx, c, &state.Commit{RunID: "old", Key: []string{"sku"}, Columns: cols,
		Resolved: []string{"a1", "a2", "b1"}, ResolvesAll: true}); err != nil {
		t.Fatal(err)
	}
	if got := ids(); got != "" {
		t.Fatalf("intents %q after the commit that settled them all", got)
	}
	var v string
	if err := admin.QueryRow(ctx, "SELECT v FROM "+schema+".possync_meta WHERE k = 'schema_version'").Scan(&v); err != nil || v != strconv.Itoa(state.SchemaVersion) {
		t.Fatalf("schema version %q %v after the migration", v, err)
	}
}

// schema3WithOldIntents makes an installation of pipeline "p" at schema version 3 (before packed intents:
// intents.id NOT NULL, no ids or n) holding the row intents a1 (no change) and a2 of a killed run "old", and
// returns its URL, schema and an admin connection.
func schema3WithOldIntents(t *testing.T) (url, schema string, admin *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	url = pgURL(t)
	schema = freshSchema(t, url)
	s := state.NewPgStore(url, schema, t.TempDir(), "p")
	_, err := s.Open(ctx, conn(t), false)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	admin = pgAdmin(t, url)
	for _, q := range []string{
		"ALTER TABLE " + schema + ".intents DROP COLUMN ids, DROP COLUMN n, ALTER COLUMN id SET NOT NULL",
		"ALTER TABLE " + schema + ".pipelines DROP COLUMN merchant",
		"UPDATE " + schema + ".possync_meta SET v = '3' WHERE k = 'schema_version'",
		"INSERT INTO " + schema + ".intents (pipeline, id, run_id, change) VALUES ('p', 'a1', 'old', ''), ('p', 'a2', 'old', '{\"id\":\"a2\"}')",
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	return url, schema, admin
}

// TestPgReadOnlyOldIntents: a read-only open (`possync state`, a plan) by this possync of an installation
// still at schema version 3 (no run of it has migrated the schema yet) reads the row intents a killed run
// left, as they are, and leaves the schema at version 3.
func TestPgReadOnlyOldIntents(t *testing.T) {
	ctx := context.Background()
	url, schema, admin := schema3WithOldIntents(t)
	ro := state.NewPgStore(url, schema, t.TempDir(), "p")
	defer ro.Close()
	c := conn(t)
	if _, err := ro.Open(ctx, c, true); err != nil {
		t.Fatal(err)
	}
	if got, want := intentsOf(t, ro, c), `a1@old= a2@old={"id":"a2"}`; got != want {
		t.Fatalf("intents of a schema-3 installation, read-only: %q, want %q", got, want)
	}
	var v string
	if err := admin.QueryRow(ctx, "SELECT v FROM "+schema+".possync_meta WHERE k = 'schema_version'").Scan(&v); err != nil || v != "3" {
		t.Fatalf("schema version %q %v after a read-only open, want 3", v, err)
	}
}

// TestPgSchema4StateAdoptsMerchant: an installation at schema version 4 (before pipelines.merchant) is read
// as it is by a read-only open without the lock (`possync state show`) and LastSuccess of any merchant (no
// merchant recorded there: nothing refused, the schema left at 4); a run migrates it to version 5 with no
// merchant recorded, and its commit records the run's, after which a pipeline of another merchant is refused.
func TestPgSchema4StateAdoptsMerchant(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	schema := freshSchema(t, url)
	s, c, _, unlock := openLocked(t, url, schema, t.TempDir())
	commitRows(t, s, c, `SELECT 'create' AS __op, 'A' AS sku, 1 AS qty`, cols)
	_ = unlock()
	admin := pgAdmin(t, url)
	for _, q := range []string{"ALTER TABLE " + schema + ".pipelines DROP COLUMN merchant",
		"UPDATE " + schema + ".possync_meta SET v = '4' WHERE k = 'schema_version'"} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	version := func() string {
		t.Helper()
		var v string
		if err := admin.QueryRow(ctx, "SELECT v FROM "+schema+".possync_meta WHERE k = 'schema_version'").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	cfg := state.Config{Backend: url, Schema: schema, Dir: t.TempDir()}
	// As `possync state show` and the metrics' last success read it: without the lock (which migrates).
	cfgB := cfg
	cfgB.Merchant = "bravo"
	if m, err := newStore(t, cfgB, "p").Open(ctx, conn(t), true); err != nil || m.Merchant != "" || m.Serial != 1 {
		t.Fatalf("read-only open of a schema-4 state: %+v %v", m, err)
	}
	if _, err := newStore(t, cfgB, "p").LastSuccess(ctx, nil); err != nil {
		t.Fatalf("last success of a schema-4 state: %v", err)
	}
	if v := version(); v != "4" {
		t.Fatalf("schema version %s after reads, want 4", v)
	}
	runOf(t, cfg, "p", "acme", false, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
		if err != nil || m.Merchant != "" || m.Serial != 1 {
			t.Fatalf("a run's open of a schema-4 state: %+v %v", m, err)
		}
		if v := version(); v != strconv.Itoa(state.SchemaVersion) {
			t.Fatalf("schema version %s after a run's open, want %d", v, state.SchemaVersion)
		}
		if m = commitCreate(t, s, c, "B"); m.Merchant != "acme" || m.Serial != 2 {
			t.Fatalf("the commit: %+v, want merchant acme recorded", m)
		}
	})
	runOf(t, cfg, "p", "bravo", true, func(s state.Store, c *sql.Conn, m state.Meta, err error) {
		wantMerchantError(t, err, "p", "acme", "bravo")
	})
}
