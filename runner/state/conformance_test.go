package state_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/possync/possync/runner/state"
)

// pgURL is the test PostgreSQL (runner/state/testdata/start-postgres.sh prints it); tests needing it skip
// without it, and fail under CI=true.
func pgURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("POSSYNC_TEST_PG_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("POSSYNC_TEST_PG_URL is not set under CI: .ci/run must start PostgreSQL (runner/state/testdata/start-postgres.sh)")
		}
		t.Skip("POSSYNC_TEST_PG_URL not set: start PostgreSQL with runner/state/testdata/start-postgres.sh")
	}
	return u
}

// freshSchema is a schema name of its own for a test, dropped at its end.
func freshSchema(t *testing.T, url string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), url)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	return schema
}

// backend makes stores of one pipeline on one backend: each call is what the next run (or another worker)
// would construct.
type backend struct {
	name string
	open func(t *testing.T) func(pipeline string) state.Store
}

func backends() []backend {
	return []backend{
		{"local", func(t *testing.T) func(string) state.Store {
			dir := t.TempDir()
			return func(p string) state.Store { return state.New(state.Config{Dir: dir}, p) }
		}},
		{"postgres", func(t *testing.T) func(string) state.Store {
			url := pgURL(t)
			schema := freshSchema(t, url)
			dir := t.TempDir()
			return func(p string) state.Store {
				s := state.New(state.Config{Backend: url, Schema: schema, Dir: dir}, p)
				t.Cleanup(func() { state.Close(s) })
				return s
			}
		}},
	}
}

func eachBackend(t *testing.T, f func(t *testing.T, mk func(string) state.Store)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { f(t, b.open(t)) })
	}
}

func lock(t *testing.T, s state.Store, runID string) {
	t.Helper()
	unlock, err := s.Lock(state.Holder{PID: os.Getpid(), Host: "test", RunID: runID, StartedAt: time.Now()})
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	t.Cleanup(func() { _ = unlock() })
}

// openStore makes pipeline's store with mk, takes its lock for runID (released at the test's end) and opens
// it for writing on a fresh connection; it fails the test if the store does not open.
func openStore(t *testing.T, mk func(string) state.Store, pipeline, runID string) (state.Store, *sql.Conn, state.Meta) {
	t.Helper()
	s := mk(pipeline)
	lock(t, s, runID)
	c := conn(t)
	m, err := s.Open(context.Background(), c, false)
	if err != nil {
		t.Fatalf("open %s: %v", pipeline, err)
	}
	return s, c, m
}

func TestStoreConformanceCommit(t *testing.T) {
	eachBackend(t, func(t *testing.T, mk func(string) state.Store) {
		ctx := context.Background()
		s, c, m := openStore(t, mk, "p", "r")
		if m.Serial != 0 || m.Lineage == "" || s.Snapshot() != "" {
			t.Fatalf("fresh store: %+v", m)
		}
		exec(t, c, `CREATE TABLE ch AS SELECT * FROM (VALUES ('create','A',1), ('create','B',2), ('create','',3), ('create','q"x,
y',4)) t(__op, sku, qty)`)
		exec(t, c, `CREATE TABLE ints AS SELECT * FROM (VALUES ('i1','r','{}'), ('i2','r','{"a":1}')) t(id, run_id, change)`)
		if err := s.AddIntents(ctx, c, "ints"); err != nil {
			t.Fatal(err)
		}
		if err := s.BeginRun(ctx, c, state.Run{ID: "r", StartedAt: time.Now(), PlanHash: "h"}); err != nil {
			t.Fatal(err)
		}
		m, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch", Key: []string{"sku"}, Columns: cols, Resolved: []string{"i1"}, Acked: 4,
			Checkpoints: map[string][]byte{"src": []byte("v42\x00\xff")}})
		if err != nil || m.Serial != 1 || m.Records != 4 {
			t.Fatalf("commit: %+v %v", m, err)
		}
		// A second commit: an update, a delete, a NULL value.
		exec(t, c, `CREATE TABLE ch2 AS SELECT * FROM (VALUES ('update','A',NULL), ('delete','B',NULL)) t(__op, sku, qty)`)
		if m, err = s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch2", Key: []string{"sku"}, Columns: cols, Acked: 2}); err != nil || m.Serial != 2 || m.Records != 3 {
			t.Fatalf("second commit: %+v %v", m, err)
		}
		if err := s.MarkExported(ctx, c, 2, "stamp-2"); err != nil {
			t.Fatal(err)
		}

		// A commit that fails midway changes nothing: not the snapshot, not the serial, not the intents.
		exec(t, c, `CREATE TABLE bad AS SELECT * FROM (VALUES ('update','A','not a number')) t(__op, sku, qty)`)
		if _, err = s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "bad", Key: []string{"sku"}, Columns: cols, Resolved: []string{"i2"}}); err == nil {
			t.Fatal("commit of unconvertible values succeeded")
		}
		if err := s.FinishRun(ctx, c, state.Run{ID: "r", FinishedAt: time.Now(), Status: "done", Report: []byte(`{"ok":true}`)}); err != nil {
			t.Fatal(err)
		}

		// The next run (another database, maybe another machine) sees exactly what was committed.
		next := mk("p")
		c2 := conn(t)
		m2, err := next.Open(ctx, c2, true)
		if err != nil || m2.Serial != 2 || m2.Records != 3 || m2.Lineage != m.Lineage || m2.Exported != 2 || m2.ExportStamp != "stamp-2" {
			t.Fatalf("reopened: %+v %v (first %+v)", m2, err, m)
		}
		var got string
		if err := c2.QueryRowContext(ctx, `SELECT string_agg(sku || '=' || coalesce(qty::VARCHAR, 'NULL') || ':' || (sku IS NULL)::VARCHAR, '|' ORDER BY sku) FROM `+next.Snapshot()).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := "=3:false|A=NULL:false|q\"x,\ny=4:false"; got != want {
			t.Errorf("snapshot %q, want %q", got, want)
		}
		left, _ := next.Intents(ctx, c2)
		if len(left) != 1 || left[0].ID != "i2" || string(left[0].Change) != `{"a":1}` {
			t.Fatalf("intents after commit: %+v", left)
		}
		if cp, _ := next.Checkpoint(ctx, c2, "src"); string(cp) != "v42\x00\xff" {
			t.Fatalf("checkpoint %q", cp)
		}
		j, ok := next.(state.Journaled)
		if !ok {
			t.Fatal("store does not list its journal")
		}
		runs, err := j.RunLog(ctx, c2)
		if err != nil || len(runs) != 1 || runs[0].Status != "done" || runs[0].PlanHash != "h" || string(runs[0].Report) != `{"ok":true}` {
			t.Fatalf("runs %+v %v", runs, err)
		}
		entries, err := j.CommitLog(ctx, c2)
		if err != nil || len(entries) != 2 || entries[1].Serial != 2 || entries[0].Acked != 4 {
			t.Fatalf("journal %+v %v", entries, err)
		}
	})
}

func TestStoreConformanceMigrationAndTypes(t *testing.T) {
	eachBackend(t, func(t *testing.T, mk func(string) state.Store) {
		ctx := context.Background()
		s, c, _ := openStore(t, mk, "p", "r")
		tcols := []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "at", Type: "TIMESTAMPTZ"}, {Name: "on", Type: "BOOLEAN"},
			{Name: "d", Type: "DATE"}, {Name: "p", Type: "DOUBLE"}, {Name: "n", Type: "BIGINT"}, {Name: "m", Type: "DECIMAL(12,2)"},
			{Name: "tags", Type: "VARCHAR[]"}, {Name: "w", Type: "DECIMAL(38,4)"}, {Name: "w2", Type: "DECIMAL(21,1)"}}
		exec(t, c, `CREATE TABLE ch AS SELECT 'create' AS __op, 'A' AS sku, TIMESTAMPTZ '2026-01-02 03:04:05.123456+00' AS at, true AS "on",
			DATE '2026-01-02' AS d, 0.1::DOUBLE + 0.2::DOUBLE AS p, 9007199254740993::BIGINT AS n, 12.34::DECIMAL(12,2) AS m, ['a, b', 'c"d', ''] AS tags,
			-12345678901234567890123.4567::DECIMAL(38,4) AS w, 0.1::DECIMAL(21,1) AS w2`)
		m, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch", Key: []string{"sku"}, Columns: tcols})
		if err != nil {
			t.Fatal(err)
		}
		for i, col := range m.Columns {
			if col != tcols[i] {
				t.Errorf("column %d reported as %+v, declared %+v", i, col, tcols[i])
			}
		}
		// Migrate: qty retyped, color added, tags dropped.
		exec(t, c, `CREATE TABLE ch2 AS SELECT 'create' AS __op, 'B' AS sku, NULL::TIMESTAMPTZ AS at, false AS "on", NULL::DATE AS d,
			1.0::DOUBLE AS p, '7' AS n, 1::DECIMAL(12,2) AS m, 1234567890123456.7::DECIMAL(38,4) AS w, 99999999999999999999.9::DECIMAL(21,1) AS w2, 'blue' AS color`)
		next := []state.Column{tcols[0], tcols[1], tcols[2], tcols[3], tcols[4], {Name: "n", Type: "VARCHAR"}, tcols[6], tcols[8], tcols[9], {Name: "color", Type: "VARCHAR"}}
		if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch2", Key: []string{"sku"}, Columns: next}); err != nil {
			t.Fatal(err)
		}
		c2 := conn(t)
		r := mk("p")
		m2, err := r.Open(ctx, c2, true)
		if err != nil || m2.Records != 2 || m2.Serial != 2 {
			t.Fatalf("reopen: %+v %v", m2, err)
		}
		for i, col := range m2.Columns {
			if col != next[i] {
				t.Errorf("reopened column %d is %+v, want %+v", i, col, next[i])
			}
		}
		var got string
		if err := c2.QueryRowContext(ctx, `SELECT concat_ws('|', "at", "on", d, p = 0.1::DOUBLE + 0.2::DOUBLE, n, m, w, w2, coalesce(color, 'NULL')) FROM `+r.Snapshot()+` ORDER BY sku`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := "2026-01-02 03:04:05.123456+00|true|2026-01-02|true|9007199254740993|12.34|-12345678901234567890123.4567|0.1|NULL"; got != want {
			t.Errorf("values after reopen %q, want %q", got, want)
		}
		if err := c2.QueryRowContext(ctx, `SELECT concat_ws('|', w, w2, color) FROM `+r.Snapshot()+` WHERE sku = 'B'`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := "1234567890123456.7000|99999999999999999999.9|blue"; got != want {
			t.Errorf("values of B after reopen %q, want %q", got, want)
		}
	})
}

func TestStoreConformanceListTypeAndSources(t *testing.T) {
	eachBackend(t, func(t *testing.T, mk func(string) state.Store) {
		ctx := context.Background()
		s, c, _ := openStore(t, mk, "p", "r")
		lcols := []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "tags", Type: "VARCHAR[]"}}
		exec(t, c, `CREATE TABLE ch AS SELECT 'create' AS __op, 'A' AS sku, ['a, b', 'c"d', ''] AS tags`)
		exec(t, c, `CREATE TABLE d1 AS SELECT * FROM (VALUES ('x', 1), ('y', 2)) t(id, v)`)
		if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch", Key: []string{"sku"}, Columns: lcols,
			Sources: map[string]state.SourceDelta{"inc": {Relation: "d1", Key: []string{"id"}}}}); err != nil {
			t.Fatal(err)
		}
		exec(t, c, `CREATE TABLE d2 AS SELECT * FROM (VALUES ('y', 20), ('z', 3)) t(id, v)`)
		if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Sources: map[string]state.SourceDelta{"inc": {Relation: "d2", Key: []string{"id"}}}}); err != nil {
			t.Fatal(err)
		}
		c2 := conn(t)
		r := mk("p")
		if _, err := r.Open(ctx, c2, true); err != nil {
			t.Fatal(err)
		}
		var tags, src string
		if err := c2.QueryRowContext(ctx, `SELECT tags::VARCHAR FROM `+r.Snapshot()).Scan(&tags); err != nil {
			t.Fatal(err)
		}
		if want := `[a, b, c"d, ]`; tags != want && len(tags) < 5 {
			t.Errorf("list after reopen %q", tags)
		}
		var n int64
		if err := c2.QueryRowContext(ctx, `SELECT len(tags) FROM `+r.Snapshot()).Scan(&n); err != nil || n != 3 {
			t.Errorf("list of %d elements after reopen (%v), want 3", n, err)
		}
		if r.SourceSnapshot("inc") == "" {
			t.Fatal("no stored source records after reopen")
		}
		if err := c2.QueryRowContext(ctx, `SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM `+r.SourceSnapshot("inc")).Scan(&src); err != nil {
			t.Fatal(err)
		}
		if src != "x=1,y=20,z=3" {
			t.Errorf("source snapshot %q", src)
		}
	})
}

func TestStoreConformanceLockNamesHolder(t *testing.T) {
	eachBackend(t, func(t *testing.T, mk func(string) state.Store) {
		a, b := mk("p"), mk("p")
		unlock, err := a.Lock(state.Holder{PID: 7, Host: "h1", RunID: "run-1", StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.Lock(state.Holder{PID: 8, Host: "h2", RunID: "run-2"})
		var le *state.LockedError
		if !errors.As(err, &le) || le.Holder.PID != 7 || le.Holder.Host != "h1" || le.Holder.RunID != "run-1" || !errors.Is(err, state.ErrLocked) ||
			!strings.Contains(err.Error(), "2026-01-02T03:04:05Z") {
			t.Fatalf("second lock: %v", err)
		}
		// Another pipeline is not locked by it.
		if u, err := mk("q").Lock(state.Holder{PID: 9}); err != nil {
			t.Fatalf("lock of another pipeline: %v", err)
		} else {
			_ = u()
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
		u2, err := b.Lock(state.Holder{PID: 8, Host: "h2", RunID: "run-2"})
		if err != nil {
			t.Fatalf("lock after unlock: %v", err)
		}
		_ = u2()
	})
}

// SetBasis keeps the runner's basis as given, replaces it, leaves the serial alone, and reads back on the
// next Open (also read-only, as a plan opens the state) by the next run or another worker.
func TestStoreConformanceBasis(t *testing.T) {
	eachBackend(t, func(t *testing.T, mk func(string) state.Store) {
		ctx := context.Background()
		s, c, m := openStore(t, mk, "p", "r")
		if m.Basis != "" {
			t.Fatalf("fresh store: %+v", m)
		}
		for _, b := range []string{`{"serial":0,"first":true}`, `{"serial":0,"second":"it's"}`} {
			if err := s.SetBasis(ctx, c, b); err != nil {
				t.Fatal(err)
			}
		}
		exec(t, c, "DETACH st")
		m2, err := mk("p").Open(ctx, conn(t), true)
		if err != nil || m2.Basis != `{"serial":0,"second":"it's"}` || m2.Serial != m.Serial || m2.Lineage != m.Lineage {
			t.Fatalf("reopened: %+v %v; want the second basis at serial %d", m2, err, m.Serial)
		}
	})
}

// Journal.Runs lists the runs newest first with their commits summed, at most limit of them.
func TestStoreConformanceRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, mk func(string) state.Store) {
		ctx := context.Background()
		s, c, _ := openStore(t, mk, "p", "r1")
		t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
		for i, id := range []string{"r1", "r2"} {
			if err := s.BeginRun(ctx, c, state.Run{ID: id, StartedAt: t0.Add(time.Duration(i) * time.Hour), PlanHash: "h"}); err != nil {
				t.Fatal(err)
			}
			tbl := "ch_" + id
			exec(t, c, `CREATE TABLE `+tbl+` AS SELECT * FROM (VALUES ('create','A`+id+`',1), ('create','B`+id+`',2)) t(__op, sku, qty)`)
			if _, err := s.Commit(ctx, c, &state.Commit{RunID: id, Changes: tbl, Key: []string{"sku"}, Columns: cols, Acked: 2, Rejected: i}); err != nil {
				t.Fatal(err)
			}
			if err := s.FinishRun(ctx, c, state.Run{ID: id, FinishedAt: t0.Add(time.Duration(i)*time.Hour + time.Minute), Status: "done"}); err != nil {
				t.Fatal(err)
			}
		}
		runs, err := s.Runs(ctx, c, 0)
		if err != nil || len(runs) != 2 || runs[0].ID != "r2" || runs[0].Serial != 2 || runs[0].Commits != 1 || runs[0].Acked != 2 ||
			runs[0].Rejected != 1 || runs[1].ID != "r1" || runs[1].Serial != 1 || runs[1].Status != "done" || !runs[1].StartedAt.Equal(t0) {
			t.Fatalf("runs: %+v %v", runs, err)
		}
		if runs, err := s.Runs(ctx, c, 1); err != nil || len(runs) != 1 || runs[0].ID != "r2" {
			t.Fatalf("runs, limit 1: %+v %v", runs, err)
		}
		// LastSuccess: the latest run journaled as done, not a later failed one.
		if err := s.BeginRun(ctx, c, state.Run{ID: "r3", StartedAt: t0.Add(2 * time.Hour), PlanHash: "h"}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, c, state.Run{ID: "r3", FinishedAt: t0.Add(2*time.Hour + time.Minute), Status: "failed"}); err != nil {
			t.Fatal(err)
		}
		if last, err := s.LastSuccess(ctx, c); err != nil || !last.Equal(t0.Add(time.Hour+time.Minute)) || last.Location() != time.UTC {
			t.Fatalf("last success %v %v, want r2's finish %v", last, err, t0.Add(time.Hour+time.Minute))
		}
	})
}

// LastSuccess of a store no run finished reads as zero.
func TestStoreConformanceLastSuccessNone(t *testing.T) {
	eachBackend(t, func(t *testing.T, mk func(string) state.Store) {
		ctx := context.Background()
		s, c, _ := openStore(t, mk, "p", "r1")
		if last, err := s.LastSuccess(ctx, c); err != nil || !last.IsZero() {
			t.Fatalf("fresh store: %v %v", last, err)
		}
		if err := s.BeginRun(ctx, c, state.Run{ID: "r1", StartedAt: time.Now(), PlanHash: "h"}); err != nil {
			t.Fatal(err)
		}
		if last, err := s.LastSuccess(ctx, c); err != nil || !last.IsZero() {
			t.Fatalf("a run still applying: %v %v", last, err)
		}
	})
}

// TestStoreConformanceNewKeysAndResolvesAll: a commit of creates of new keys (Commit.NewKeys, a diff against
// the snapshot) inserts them next to updates that replace their records; a create of a key the snapshot
// holds (a diff against a refreshed base) replaces it when NewKeys is not claimed. A commit claiming to settle
// every intent (Commit.ResolvesAll) clears them; a claim the store's number of intents belies settles only
// the listed ones.
func TestStoreConformanceNewKeysAndResolvesAll(t *testing.T) {
	eachBackend(t, func(t *testing.T, mk func(string) state.Store) {
		ctx := context.Background()
		s, c, _ := openStore(t, mk, "p", "r")
		snapshot := func() string {
			t.Helper()
			var got string
			if err := c.QueryRowContext(ctx, `SELECT string_agg(sku || '=' || qty::VARCHAR, '|' ORDER BY sku, qty) FROM `+s.Snapshot()).Scan(&got); err != nil {
				t.Fatal(err)
			}
			return got
		}
		intents := func() string {
			t.Helper()
			in, err := s.Intents(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, i := range in {
				ids = append(ids, i.ID)
			}
			return strings.Join(ids, ",")
		}
		exec(t, c, `CREATE TABLE ints AS SELECT * FROM (VALUES ('i1','r',''), ('i2','r','')) t(id, run_id, change)`)
		if err := s.AddIntents(ctx, c, "ints"); err != nil {
			t.Fatal(err)
		}
		exec(t, c, `CREATE TABLE c1 AS SELECT * FROM (VALUES ('create','A',1), ('create','B',2)) t(__op, sku, qty)`)
		if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "c1", Key: []string{"sku"}, Columns: cols, Acked: 2,
			NewKeys: true, Resolved: []string{"i1", "i2"}, ResolvesAll: true}); err != nil {
			t.Fatal(err)
		}
		if got := snapshot(); got != "A=1|B=2" {
			t.Errorf("after the creates: %s", got)
		}
		if got := intents(); got != "" {
			t.Errorf("intents %q after a commit settling all of them", got)
		}

		exec(t, c, `CREATE TABLE ints2 AS SELECT * FROM (VALUES ('i3','r',''), ('i4','r','')) t(id, run_id, change)`)
		if err := s.AddIntents(ctx, c, "ints2"); err != nil {
			t.Fatal(err)
		}
		exec(t, c, `CREATE TABLE c2 AS SELECT * FROM (VALUES ('update','A',10), ('create','C',3), ('delete','B',NULL)) t(__op, sku, qty)`)
		if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "c2", Key: []string{"sku"}, Columns: cols, Acked: 3,
			NewKeys: true, Resolved: []string{"i3"}, ResolvesAll: true}); err != nil {
			t.Fatal(err)
		}
		if got := snapshot(); got != "A=10|C=3" {
			t.Errorf("after an update, a create and a delete: %s", got)
		}
		if got := intents(); got != "i4" {
			t.Errorf("intents %q, want i4: the commit listed only i3", got)
		}

		exec(t, c, `CREATE TABLE c3 AS SELECT * FROM (VALUES ('create','C',30)) t(__op, sku, qty)`)
		if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "c3", Key: []string{"sku"}, Columns: cols, Acked: 1}); err != nil {
			t.Fatal(err)
		}
		if got := snapshot(); got != "A=10|C=30" {
			t.Errorf("a create of a key the snapshot holds, without NewKeys: %s", got)
		}
	})
}
