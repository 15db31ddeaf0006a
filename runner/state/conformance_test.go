package state_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
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

// backend makes the configuration of a fresh state on one backend (a folder, or a schema, of its own): the
// stores made of it are what the next run (or another worker) would construct.
type backend struct {
	name   string
	config func(t *testing.T) state.Config
}

func backends() []backend {
	return []backend{
		{"local", func(t *testing.T) state.Config { return state.Config{Dir: t.TempDir()} }},
		{"postgres", func(t *testing.T) state.Config {
			url := pgURL(t)
			return state.Config{Backend: url, Schema: freshSchema(t, url), Dir: t.TempDir()}
		}},
	}
}

// newStore makes pipeline's store of cfg, closed at the test's end.
func newStore(t *testing.T, cfg state.Config, pipeline string) state.Store {
	s := state.New(cfg, pipeline)
	t.Cleanup(func() { state.Close(s) })
	return s
}

func eachBackend(t *testing.T, f func(t *testing.T, mk func(string) state.Store)) {
	eachBackendConfig(t, func(t *testing.T, cfg state.Config) {
		f(t, func(p string) state.Store { return newStore(t, cfg, p) })
	})
}

// eachBackendConfig runs f on each backend with the configuration of a fresh state there.
func eachBackendConfig(t *testing.T, f func(t *testing.T, cfg state.Config)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { f(t, b.config(t)) })
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

// Journal.Runs lists the runs newest first with their commits summed, at most limit of them. A run's plan
// hash is BeginRun's, or FinishRun's when it gives one (a streamed apply knows it only at the end).
func TestStoreConformanceRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, mk func(string) state.Store) {
		ctx := context.Background()
		s, c, _ := openStore(t, mk, "p", "r1")
		t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
		beginHash, finishHash := map[string]string{"r1": "h"}, map[string]string{"r2": "h2"}
		for i, id := range []string{"r1", "r2"} {
			if err := s.BeginRun(ctx, c, state.Run{ID: id, StartedAt: t0.Add(time.Duration(i) * time.Hour), PlanHash: beginHash[id]}); err != nil {
				t.Fatal(err)
			}
			tbl := "ch_" + id
			exec(t, c, `CREATE TABLE `+tbl+` AS SELECT * FROM (VALUES ('create','A`+id+`',1), ('create','B`+id+`',2)) t(__op, sku, qty)`)
			if _, err := s.Commit(ctx, c, &state.Commit{RunID: id, Changes: tbl, Key: []string{"sku"}, Columns: cols, Acked: 2, Rejected: i}); err != nil {
				t.Fatal(err)
			}
			if err := s.FinishRun(ctx, c, state.Run{ID: id, FinishedAt: t0.Add(time.Duration(i)*time.Hour + time.Minute), Status: "done", PlanHash: finishHash[id]}); err != nil {
				t.Fatal(err)
			}
		}
		runs, err := s.Runs(ctx, c, 0)
		if err != nil || len(runs) != 2 || runs[0].ID != "r2" || runs[0].Serial != 2 || runs[0].Commits != 1 || runs[0].Acked != 2 ||
			runs[0].Rejected != 1 || runs[1].ID != "r1" || runs[1].Serial != 1 || runs[1].Status != "done" || !runs[1].StartedAt.Equal(t0) ||
			runs[0].PlanHash != "h2" || runs[1].PlanHash != "h" {
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

// dumpRel renders a relation's rows (every column as text, NULL as "NULL"), ordered by its first column.
func dumpRel(t *testing.T, c *sql.Conn, rel string, cols []state.Column) string {
	t.Helper()
	vals := make([]string, len(cols))
	for i, col := range cols {
		vals[i] = `coalesce(CAST("` + col.Name + `" AS VARCHAR), 'NULL')`
	}
	var out *string
	q := `SELECT string_agg(concat_ws('|', ` + strings.Join(vals, ", ") + `), chr(10) ORDER BY "` + cols[0].Name + `") FROM ` + rel
	if err := c.QueryRowContext(context.Background(), q).Scan(&out); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if out == nil {
		return ""
	}
	return *out
}

// TestStoreConformanceManyCommits: after every one of many commits (creates, updates, deletes, a deleted key
// created again, a field added, a field retyped, stored source records), the next run on another machine
// opens exactly the records committed. On PostgreSQL that open is cold (no local mirror) and reads the
// snapshot's image and the changes since: the image policy is set low so that commits both extend the
// changes and rewrite the image, and every open must come from the image, never from a full copy.
func TestStoreConformanceManyCommits(t *testing.T) {
	eachBackend(t, func(t *testing.T, mk func(string) state.Store) {
		ctx := context.Background()
		s, c, _ := openStore(t, mk, "p", "r")
		if ps, ok := s.(*state.PgStore); ok {
			ps.SetImagePolicy(0.25, 0)
		}
		type row = map[string]string
		model := map[string]row{} // sku → column → text
		srcModel := map[string]string{}
		cur := []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "qty", Type: "BIGINT"}}
		srcCols := []state.Column{{Name: "id", Type: "VARCHAR"}, {Name: "v", Type: "BIGINT"}}
		render := func() string {
			keys := make([]string, 0, len(model))
			for k := range model {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			lines := make([]string, len(keys))
			for i, k := range keys {
				vals := make([]string, len(cur))
				for j, col := range cur {
					v, ok := model[k][col.Name]
					if !ok {
						v = "NULL"
					}
					vals[j] = v
				}
				lines[i] = strings.Join(vals, "|")
			}
			return strings.Join(lines, "\n")
		}
		renderSrc := func() string {
			keys := make([]string, 0, len(srcModel))
			for k := range srcModel {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			lines := make([]string, len(keys))
			for i, k := range keys {
				lines[i] = k + "|" + srcModel[k]
			}
			return strings.Join(lines, "\n")
		}
		// commit sends changes (op, then the text of each of cur's columns, "NULL" for NULL) and source
		// records (id → v), and updates the models.
		step := 0
		// PostgreSQL: the snapshot image's serial and the changes since it, after each commit. With the
		// policy at 25%: a first sync, a column added and a column retyped write the image; commit 5 takes the
		// changes past 25% of the records and rewrites it; the others extend the changes; the last commit
		// does not touch the snapshot.
		wantImage := [][2]int64{{1, 0}, {1, 10}, {1, 20}, {1, 23}, {5, 0}, {6, 0}, {6, 2}, {8, 0}, {8, 3}, {8, 3}}
		commit := func(changes [][]string, src map[string]int) {
			t.Helper()
			step++
			var sel []string
			for _, ch := range changes {
				parts := []string{"'" + ch[0] + "' AS __op"}
				for j, col := range cur {
					lit := "NULL"
					if ch[j+1] != "NULL" {
						lit = "'" + strings.ReplaceAll(ch[j+1], "'", "''") + "'"
					}
					parts = append(parts, "CAST("+lit+" AS "+col.Type+`) AS "`+col.Name+`"`)
				}
				sel = append(sel, "SELECT "+strings.Join(parts, ", "))
				k := ch[1]
				if ch[0] == "delete" {
					delete(model, k)
					continue
				}
				r := row{}
				for j, col := range cur {
					if v := ch[j+1]; v != "NULL" {
						r[col.Name] = v
					}
				}
				model[k] = r
			}
			cm := &state.Commit{RunID: "r", Key: []string{"sku"}, Columns: cur, Acked: len(changes)}
			if len(sel) > 0 {
				tbl := "ch_" + strconv.Itoa(step)
				exec(t, c, "CREATE TABLE "+tbl+" AS "+strings.Join(sel, " UNION ALL "))
				cm.Changes = tbl
			}
			if len(src) > 0 {
				var rows []string
				for id, v := range src {
					rows = append(rows, "SELECT '"+id+"' AS id, "+strconv.Itoa(v)+"::BIGINT AS v")
					srcModel[id] = strconv.Itoa(v)
				}
				tbl := "src_" + strconv.Itoa(step)
				exec(t, c, "CREATE TABLE "+tbl+" AS "+strings.Join(rows, " UNION ALL "))
				cm.Sources = map[string]state.SourceDelta{"inc": {Relation: tbl, Key: []string{"id"}}}
			}
			m, err := s.Commit(ctx, c, cm)
			if err != nil {
				t.Fatalf("commit %d: %v", step, err)
			}
			// The next run elsewhere: a store of its own, a database of its own.
			r := mk("p")
			rc := conn(t)
			m2, err := r.Open(ctx, rc, true)
			if err != nil {
				t.Fatalf("open after commit %d: %v", step, err)
			}
			if m2.Serial != m.Serial || m2.Records != int64(len(model)) {
				t.Fatalf("open after commit %d: serial %d, %d records; want %d, %d", step, m2.Serial, m2.Records, m.Serial, len(model))
			}
			// The commit's Meta is the one the state gives when opened (a commit reads less of it again).
			if !reflect.DeepEqual(m, m2) {
				t.Fatalf("commit %d returned %+v; the state opened after it: %+v", step, m, m2)
			}
			if got, want := dumpRel(t, rc, r.Snapshot(), cur), render(); got != want {
				t.Fatalf("snapshot after commit %d:\n%s\nwant\n%s", step, got, want)
			}
			if len(srcModel) > 0 {
				if got, want := dumpRel(t, rc, r.SourceSnapshot("inc"), srcCols), renderSrc(); got != want {
					t.Fatalf("source records after commit %d:\n%s\nwant\n%s", step, got, want)
				}
			}
			if ps, ok := s.(*state.PgStore); ok {
				serial, changed, _, err := ps.ImageOf(ctx, "snapshot")
				if want := wantImage[step-1]; err != nil || serial != want[0] || changed != want[1] {
					t.Fatalf("after commit %d the snapshot's image is of serial %d with %d changes since (%v); want %v", step, serial, changed, err, want)
				}
			}
			if ps, ok := r.(*state.PgStore); ok {
				wantImages := 1
				if len(srcModel) > 0 {
					wantImages = 2
				}
				if img, copied := ps.OpenedFrom(); img != wantImages || copied != 0 {
					t.Fatalf("open after commit %d: %d relations from their image, %d copied; want %d, 0", step, img, copied, wantImages)
				}
			}
		}
		q := func(s string) string { return s }
		var first [][]string
		for i := range 100 {
			first = append(first, []string{"create", q("k" + fmt.Sprintf("%03d", i)), strconv.Itoa(i)})
		}
		commit(first, map[string]int{"a": 1, "b": 2})
		var upd [][]string
		for i := range 10 {
			upd = append(upd, []string{"update", q("k" + fmt.Sprintf("%03d", i)), strconv.Itoa(100 + i)})
		}
		commit(upd, map[string]int{"b": 20, "c": 3})
		var del [][]string
		for i := 10; i < 20; i++ {
			del = append(del, []string{"delete", q("k" + fmt.Sprintf("%03d", i)), "NULL"})
		}
		commit(del, nil)
		commit([][]string{{"create", q("k010"), "1010"}, {"update", q("k020"), "NULL"}, {"deactivate", q("k021"), "-21"}}, nil)
		var many [][]string
		for i := 22; i < 60; i++ {
			many = append(many, []string{"update", q("k" + fmt.Sprintf("%03d", i)), strconv.Itoa(1000 + i)})
		}
		commit(many, nil)
		// A field added.
		cur = append(cur, state.Column{Name: "color", Type: "VARCHAR"})
		commit([][]string{{"update", q("k000"), "100", q("red")}, {"create", q("k200"), "200", q("it's, \"quoted\"\nline")}}, nil)
		commit([][]string{{"update", q("k001"), "101", q("blue")}, {"delete", q("k002"), "NULL", "NULL"}}, map[string]int{"a": 10})
		// A field retyped: qty BIGINT to VARCHAR (existing values keep their text).
		cur[1] = state.Column{Name: "qty", Type: "VARCHAR"}
		commit([][]string{{"update", q("k003"), q("three"), "NULL"}}, nil)
		commit([][]string{{"delete", q("k004"), "NULL", "NULL"}, {"update", q("k005"), q("five"), q("green")}, {"create", q("k002"), q("2"), "NULL"}}, nil)
		commit(nil, map[string]int{"d": 4})
	})
}

// TestStoreConformanceRetypeOfDistinctText: a first sync's snapshot stores its text columns of distinct
// values with FSST (DuckStore: sampled from the commit that creates it); such a column retyped later (a
// field changed from text to a number) is converted as any retype is: values that convert keep their value,
// the others become NULL, the columns keep their order, and the reopened state reports the new types.
func TestStoreConformanceRetypeOfDistinctText(t *testing.T) {
	eachBackend(t, func(t *testing.T, mk func(string) state.Store) {
		ctx := context.Background()
		s, c, _ := openStore(t, mk, "p", "r")
		// 6,000 records: sku and code distinct (code numeric text but one), grade of three values.
		exec(t, c, `CREATE TABLE ch AS SELECT 'create' AS __op, 'sku-' || i AS sku, CASE WHEN i = 7 THEN 'n/a' ELSE i::VARCHAR END AS code,
			'g' || (i % 3) AS grade, i AS qty FROM range(6000) t(i)`)
		first := []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "code", Type: "VARCHAR"}, {Name: "grade", Type: "VARCHAR"}, {Name: "qty", Type: "BIGINT"}}
		if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch", Key: []string{"sku"}, Columns: first, NewKeys: true}); err != nil {
			t.Fatal(err)
		}
		// code becomes a number, grade is dropped, color added; one record updated.
		exec(t, c, `CREATE TABLE ch2 AS SELECT 'update' AS __op, 'sku-1' AS sku, 41::BIGINT AS code, 1::BIGINT AS qty, 'blue' AS color`)
		next := []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "code", Type: "BIGINT"}, {Name: "qty", Type: "BIGINT"}, {Name: "color", Type: "VARCHAR"}}
		m, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch2", Key: []string{"sku"}, Columns: next})
		if err != nil {
			t.Fatal(err)
		}
		if m.Records != 6000 || m.Serial != 2 {
			t.Fatalf("after the retype: %d records, serial %d", m.Records, m.Serial)
		}
		c2 := conn(t)
		r := mk("p")
		m2, err := r.Open(ctx, c2, true)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(m2.Columns) != fmt.Sprint(next) {
			t.Fatalf("reopened columns %v, want %v", m2.Columns, next)
		}
		var sum, nulls, blue int64
		if err := c2.QueryRowContext(ctx, `SELECT sum(code), count(*) - count(code), count(color) FROM `+r.Snapshot()).Scan(&sum, &nulls, &blue); err != nil {
			t.Fatal(err)
		}
		// 0..5999 but 7 (not a number: NULL) and 1 (updated to 41).
		if want := int64(5999*6000/2 - 7 - 1 + 41); sum != want || nulls != 1 || blue != 1 {
			t.Fatalf("codes sum to %d with %d NULL and %d colors, want %d, 1 and 1", sum, nulls, blue, want)
		}
	})
}

// TestStoreConformanceInterruptedRuns: a run killed (or fenced out) while applying leaves its journal entry
// applying; the next run to take the lock (and open the state for writing) marks it interrupted, and its own
// entry then goes its own way. On PostgreSQL, the interrupted run can no longer finish its entry.
func TestStoreConformanceInterruptedRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, mk func(string) state.Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
		first := mk("p")
		unlock, err := first.Lock(state.Holder{PID: 1, Host: "w1", RunID: "r1", StartedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
		c1 := conn(t)
		if _, err := first.Open(ctx, c1, false); err != nil {
			t.Fatal(err)
		}
		if err := first.BeginRun(ctx, c1, state.Run{ID: "r1", StartedAt: t0, PlanHash: "h"}); err != nil {
			t.Fatal(err)
		}
		// r1 dies: its database and its lock go away, its entry says applying.
		exec(t, c1, "DETACH st")
		if err := unlock(); err != nil {
			t.Fatal(err)
		}

		s, c, _ := openStore(t, mk, "p", "r2")
		runs, err := s.Runs(ctx, c, 0)
		if err != nil || len(runs) != 1 || runs[0].ID != "r1" || runs[0].Status != state.StatusInterrupted || !runs[0].FinishedAt.IsZero() {
			t.Fatalf("runs once r2 holds the lock: %+v %v; want r1 interrupted", runs, err)
		}
		if err := s.BeginRun(ctx, c, state.Run{ID: "r2", StartedAt: t0.Add(time.Hour), PlanHash: "h"}); err != nil {
			t.Fatal(err)
		}
		if _, ok := first.(*state.PgStore); ok {
			// r1 resumes (it was only paused) and tries to finish: refused, it lost its lock.
			err := first.FinishRun(ctx, c1, state.Run{ID: "r1", FinishedAt: t0.Add(2 * time.Hour), Status: "done"})
			if !errors.Is(err, state.ErrLocked) {
				t.Fatalf("finish of the fenced-out run: %v", err)
			}
		}
		if err := s.FinishRun(ctx, c, state.Run{ID: "r2", FinishedAt: t0.Add(time.Hour + time.Minute), Status: "done"}); err != nil {
			t.Fatal(err)
		}
		runs, err = s.Runs(ctx, c, 0)
		if err != nil || len(runs) != 2 || runs[0].ID != "r2" || runs[0].Status != "done" || runs[1].Status != state.StatusInterrupted {
			t.Fatalf("runs after r2: %+v %v; want r2 done, r1 interrupted", runs, err)
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
			NewKeys: true, Creates: true, Resolved: []string{"i1", "i2"}, ResolvesAll: true}); err != nil {
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

		exec(t, c, `CREATE TABLE c4 AS SELECT * FROM (VALUES ('create','D',4), ('create','B',5)) t(__op, sku, qty)`)
		if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "c4", Key: []string{"sku"}, Columns: cols, Acked: 2,
			NewKeys: true, Creates: true}); err != nil {
			t.Fatal(err)
		}
		if got := snapshot(); got != "A=10|B=5|C=30|D=4" {
			t.Errorf("creates alone of new keys into a snapshot that has records: %s", got)
		}
	})
}

// TestStoreConformancePackedIntents: intents recorded packed (AddIntentIDs: change IDs of plan.ChangeID's
// form, and IDs of any other text) read back one Intent each, in order, with their run and an empty change,
// next to row intents (AddIntents) recorded before them; a commit settles any
// of them by ID (a packed row keeps the IDs that did not settle), a claim to settle every intent that the
// store's number of intents (a packed row's IDs each) belies settles only the listed ones, and one that holds
// clears them all.
func TestStoreConformancePackedIntents(t *testing.T) {
	eachBackend(t, func(t *testing.T, mk func(string) state.Store) {
		ctx := context.Background()
		s, c, _ := openStore(t, mk, "p", "r")
		intents := func(s state.Store) string { t.Helper(); return intentsOf(t, s, c) }
		exec(t, c, `CREATE TABLE ints AS SELECT * FROM (VALUES ('i1','r0','{"id":"i1"}'), ('i2','r0','')) t(id, run_id, change)`)
		if err := s.AddIntents(ctx, c, "ints"); err != nil {
			t.Fatal(err)
		}
		hexIDs := []string{"000000000000000000000001", "0123456789abcdef01234567", "ffffffffffffffffffffffff"}
		if err := s.AddIntentIDs(ctx, c, "r", hexIDs); err != nil {
			t.Fatal(err)
		}
		if err := s.AddIntentIDs(ctx, c, "r", []string{"q-1", "Q\n2"}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddIntentIDs(ctx, c, "r", nil); err != nil {
			t.Fatal(err)
		}
		want := `i1@r0={"id":"i1"} i2@r0= 000000000000000000000001@r= 0123456789abcdef01234567@r= ffffffffffffffffffffffff@r= q-1@r= Q` + "\n" + `2@r=`
		if got := intents(s); got != want {
			t.Fatalf("intents\n%q, want\n%q", got, want)
		}

		commit := func(resolved []string, all bool) {
			t.Helper()
			if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Key: []string{"sku"}, Columns: cols, Resolved: resolved, ResolvesAll: all}); err != nil {
				t.Fatal(err)
			}
		}
		commit([]string{"i1", hexIDs[1], "q-1", "not-an-intent"}, false)
		want = `i2@r0= 000000000000000000000001@r= ffffffffffffffffffffffff@r= Q` + "\n" + `2@r=`
		if got := intents(s); got != want {
			t.Fatalf("intents after settling i1, %s and q-1:\n%q, want\n%q", hexIDs[1], got, want)
		}
		// Claimed to be all, but the store holds four.
		commit([]string{"i2", hexIDs[0], "Q\n2"}, true)
		want = hexIDs[2] + "@r="
		if got := intents(s); got != want {
			t.Fatalf("intents after a claim to settle all that lists three of four:\n%q, want\n%q", got, want)
		}
		if err := s.AddIntentIDs(ctx, c, "r", []string{"q-3"}); err != nil {
			t.Fatal(err)
		}
		commit([]string{hexIDs[2], "q-3"}, true)
		if got := intents(s); got != "" {
			t.Fatalf("intents %q after a commit settling all of them", got)
		}
	})
}

// intentsOf lists s's intents (Store.Intents on c) as "id@run=change", space-separated, in the order read.
func intentsOf(t *testing.T, s state.Store, c *sql.Conn) string {
	t.Helper()
	in, err := s.Intents(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range in {
		out = append(out, i.ID+"@"+i.RunID+"="+string(i.Change))
	}
	return strings.Join(out, " ")
}
