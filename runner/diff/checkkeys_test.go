package diff

import (
	"context"
	"fmt"
	"testing"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/state"
)

// diffSnapshotRows is the snapshot of the diff tests against a state: composite key (sku, site).
const diffSnapshotRows = `('A', 1, 'anchor', 1.0, 5::BIGINT, true, TIMESTAMPTZ '2026-01-01 00:00:00+00'),
	('A', 2, 'anchor', 2.0, 0::BIGINT, true, NULL),
	('B', 1, 'bottle', 2.5, 3::BIGINT, false, NULL),
	('C', 1, 'cup', 4.0, NULL, true, NULL),
	('E', 1, 'ewer', 6.0, 1::BIGINT, true, NULL),
	('F', 1, 'fork', 1.5, 2::BIGINT, false, NULL)`

// snapshotColumns are the columns of diffSnapshotRows.
var snapshotColumns = []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "site", Type: "INTEGER"}, {Name: "name", Type: "VARCHAR"},
	{Name: "price", Type: "DECIMAL(2,1)"}, {Name: "qty", Type: "BIGINT"}, {Name: "active", Type: "BOOLEAN"}, {Name: "seen", Type: "TIMESTAMP WITH TIME ZONE"}}

// TestCheckKeysInDiffFailsAsCheckDesired: with a snapshot, Run checks the desired keys from the changed keys
// it finds (Input.CheckKeys) and must refuse exactly the desired sets CheckDesired refuses, with the same
// message: duplicates of a key in the snapshot whether unchanged, changed in one copy or in both, duplicates
// of a new key (equal or not), an empty field of a composite key, and both; and plan the same diff as
// without the check when the keys are sound; keeping either side's rows in the changed-keys join.
func TestCheckKeysInDiffFailsAsCheckDesired(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 2})
	exec(`CREATE TABLE snap AS SELECT * FROM (VALUES ` + diffSnapshotRows + `) AS t(sku, site, name, price, qty, active, seen)`)
	sound := `('A', 1, 'anchor', 1.0, 5::BIGINT, true, TIMESTAMPTZ '2026-01-01 00:00:00+00'),
		('A', 2, 'anchor', 2.5, 0::BIGINT, true, NULL),
		('B', 1, 'bottle', 2.5, 3::BIGINT, false, NULL),
		('D', 1, 'dish', 5.0, 1::BIGINT, true, NULL),
		('E', 1, 'ewer', 6.0, 1::BIGINT, true, NULL)`
	cases := []struct {
		name, extra string
		bad         bool
	}{
		{"sound keys", "", false},
		{"duplicate of an unchanged record in state", `, ('A', 1, 'anchor', 1.0, 5::BIGINT, true, TIMESTAMPTZ '2026-01-01 00:00:00+00')`, true},
		{"duplicate of a record in state, one copy changed", `, ('E', 1, 'ewer', 9.0, 1::BIGINT, true, NULL)`, true},
		{"duplicate of a changed record in state, both copies changed", `, ('A', 2, 'anchor', 2.5, 0::BIGINT, true, NULL)`, true},
		{"equal duplicates of a new key", `, ('D', 1, 'dish', 5.0, 1::BIGINT, true, NULL)`, true},
		{"different duplicates of a new key", `, ('D', 1, 'dish', 7.0, 1::BIGINT, true, NULL)`, true},
		{"empty key field", `, (NULL, 1, 'nil', 1.0, 1::BIGINT, true, NULL), ('G', NULL, 'gap', 1.0, 1::BIGINT, true, NULL)`, true},
		{"empty key field and duplicates", `, ('A', NULL, 'gap', 1.0, 1::BIGINT, true, NULL), ('B', 1, 'bottle', 2.5, 3::BIGINT, false, NULL)`, true},
		{"a key of the same values in another field", `, ('B', 2, 'bottle', 2.5, 3::BIGINT, false, NULL)`, false},
	}
	key := []string{"sku", "site"}
	for _, c := range cases {
		for _, keep := range []keepSide{keepDesired, keepSnapshot} {
			t.Run(fmt.Sprintf("%s/keep=%d", c.name, keep), func(t *testing.T) {
				exec(`CREATE OR REPLACE TABLE desired AS SELECT sku, site::INTEGER AS site, name, price::DECIMAL(2,1) AS price, qty, active, seen
				FROM (VALUES ` + sound + c.extra + `) AS t(sku, site, name, price, qty, active, seen)`)
				want := CheckDesired(ctx, db, "desired", key)
				if (want != nil) != c.bad {
					t.Fatalf("CheckDesired: %v; the case expects bad keys: %v", want, c.bad)
				}
				in := Input{Desired: "desired", Key: key, Snapshot: "snap", Columns: snapshotColumns,
					Diff: pipelines.Diff{OnMissing: pipelines.MissingDelete}, CheckKeys: true, keep: keep}
				_, err := Run(ctx, db, in)
				if fmt.Sprint(err) != fmt.Sprint(want) {
					t.Fatalf("Run with CheckKeys: %v\nwant CheckDesired's: %v", err, want)
				}
				if c.bad {
					return
				}
				exec("CREATE OR REPLACE TABLE checked AS SELECT * FROM " + Table)
				in.CheckKeys = false
				if _, err := Run(ctx, db, in); err != nil {
					t.Fatal(err)
				}
				assertSameRows(t, db, "checked", Table, 3)
			})
		}
	}
}

// TestCheckKeysInDiffTrustsCheckDesired: a snapshot that holds a key twice tips checkChanged's counts; the
// diff then asks CheckDesired, which finds the desired keys sound, and plans as it would without the check.
func TestCheckKeysInDiffTrustsCheckDesired(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 2})
	exec(`CREATE TABLE snap AS SELECT * FROM (VALUES ` + diffSnapshotRows + `, ('B', 1, 'bottle', 2.5, 3::BIGINT, false, NULL))
		AS t(sku, site, name, price, qty, active, seen)`)
	exec(`CREATE TABLE desired AS SELECT * FROM snap WHERE sku <> 'F' GROUP BY ALL`)
	for _, keep := range []keepSide{keepDesired, keepSnapshot} {
		in := Input{Desired: "desired", Key: []string{"sku", "site"}, Snapshot: "snap", Columns: snapshotColumns,
			Diff: pipelines.Diff{OnMissing: pipelines.MissingDelete}, CheckKeys: true, keep: keep}
		if _, err := Run(ctx, db, in); err != nil {
			t.Fatal(err)
		}
		exec("CREATE OR REPLACE TABLE checked AS SELECT * FROM " + Table)
		in.CheckKeys = false
		if _, err := Run(ctx, db, in); err != nil {
			t.Fatal(err)
		}
		assertSameRows(t, db, "checked", Table, 1)
	}
}

// TestDiffAgainstASnapshotEqualsTheOneJoinDiff: the diff against a snapshot (the changed keys with their
// desired records, then the field-by-field diff of those keys) holds exactly the rows, columns, types and
// numbering of the field-by-field diff of the whole snapshot and desired set, for every diff setting that
// shapes it: composite keys, annotations, ignored fields, a column the snapshot lacks and one whose type
// changed, NULL values, protected keys, on_missing deactivate with an active field, on_change and
// on_missing keep; keeping either side's rows in the changed-keys join.
func TestDiffAgainstASnapshotEqualsTheOneJoinDiff(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 2})
	exec(`CREATE TABLE snap AS SELECT * FROM (VALUES ` + diffSnapshotRows + `) AS t(sku, site, name, price, qty, active, seen)`)
	exec(`CREATE TABLE desired AS SELECT sku, site::INTEGER AS site, name, price::DOUBLE AS price, qty, active, why, seen, color FROM (VALUES
		('A', 1, 'anchor', 1.0, 5::BIGINT, true, 'same', TIMESTAMPTZ '2026-01-01 00:00:00+00', NULL),
		('A', 2, 'anchor', 2.5, 0::BIGINT, true, NULL, NULL, NULL),
		('B', 1, 'bottle', 2.5, 3::BIGINT, false, 'x', TIMESTAMPTZ '2026-02-01 00:00:00+00', NULL),
		('C', 1, NULL, 4.0, NULL, true, NULL, NULL, NULL),
		('D', 1, 'dish', 5.0, 1::BIGINT, true, 'new', NULL, 'red'),
		('E', 1, 'ewer', 6.0, 1::BIGINT, true, NULL, NULL, 'blue'),
		('G', 3, 'gap', NULL, NULL, NULL, NULL, NULL, NULL))
		AS t(sku, site, name, price, qty, active, why, seen, color)`)
	exec(`CREATE TABLE protected AS SELECT * FROM (VALUES ('C', 1), ('F', 1)) AS t(sku, site)`)
	key := []string{"sku", "site"}
	cases := []Input{
		{Key: key, Diff: pipelines.Diff{OnMissing: pipelines.MissingDelete}},
		{Key: key, Annotations: []string{"why"}, Diff: pipelines.Diff{Ignore: []string{"seen"}, OnMissing: pipelines.MissingDelete}, Protected: "protected"},
		{Key: key, Annotations: []string{"why"}, Diff: pipelines.Diff{OnMissing: pipelines.MissingDeactivate, ActiveField: "active"}},
		{Key: key, Annotations: []string{"why"}, Diff: pipelines.Diff{OnChange: pipelines.ChangeKeep, OnMissing: pipelines.MissingKeep}},
	}
	for i, in := range cases {
		for _, keep := range []keepSide{keepDesired, keepSnapshot} {
			t.Run(fmt.Sprintf("%d/keep=%d", i, keep), func(t *testing.T) {
				in.Desired, in.Snapshot, in.Columns, in.CheckKeys, in.keep = "desired", "snap", snapshotColumns, i%2 == 0, keep
				l, err := Run(ctx, db, in)
				if err != nil {
					t.Fatal(err)
				}
				whole := fmt.Sprintf("SELECT row_number() OVER (ORDER BY %s, %s) - 1 AS __seq, * FROM (%s)", ActionOrder,
					engine.IdentList(l.Key, ""), l.query(in, "snap", "desired"))
				exec("CREATE OR REPLACE TABLE whole AS " + whole)
				assertSameRows(t, db, Table, "whole", 2)
			})
		}
	}
}

// TestConsumeDropsTheDesiredTable: with Input.Consume a diff against a snapshot plans the same rows as
// without, reports how many desired records there were, drops the desired table (under the engine's burst
// memory limit) and puts the memory limit back; a first sync's diff leaves the table to its caller.
func TestConsumeDropsTheDesiredTable(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 2})
	exec(`CREATE TABLE snap AS SELECT * FROM (VALUES ` + diffSnapshotRows + `) AS t(sku, site, name, price, qty, active, seen)`)
	exec(`CREATE TABLE source AS SELECT * FROM snap WHERE sku <> 'F' UNION ALL
		SELECT 'D', 1, 'dish', 5.0, 1::BIGINT, true, NULL UNION ALL SELECT 'E', 2, 'ewer', 6.0, 1::BIGINT, true, NULL`)
	exec(`UPDATE source SET name = 'mug' WHERE sku = 'C'`)
	limit := func() string {
		var s string
		if err := db.QueryRow(ctx, "SELECT current_setting('memory_limit')").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	tables := func() int64 {
		n, err := db.Count(ctx, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'desired'")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := limit()
	for _, keep := range []keepSide{keepDesired, keepSnapshot} {
		t.Run(fmt.Sprintf("keep=%d", keep), func(t *testing.T) {
			exec("CREATE OR REPLACE TABLE desired AS SELECT * FROM source")
			in := Input{Desired: "desired", Key: []string{"sku", "site"}, Snapshot: "snap", Columns: snapshotColumns,
				Diff: pipelines.Diff{OnMissing: pipelines.MissingDelete}, CheckKeys: true, keep: keep}
			l, err := Run(ctx, db, in)
			if err != nil {
				t.Fatal(err)
			}
			if l.Consumed || tables() != 1 {
				t.Fatalf("without Consume: Consumed %v, desired tables %d; want false, 1", l.Consumed, tables())
			}
			exec("CREATE OR REPLACE TABLE kept AS SELECT * FROM " + Table)
			in.Consume = true
			if l, err = Run(ctx, db, in); err != nil {
				t.Fatal(err)
			}
			if !l.Consumed || l.DesiredRows != 7 || tables() != 0 {
				t.Errorf("with Consume: Consumed %v, DesiredRows %d, desired tables %d; want true, 7, 0", l.Consumed, l.DesiredRows, tables())
			}
			if got := limit(); got != before {
				t.Errorf("memory_limit %s after the diff, want %s as before it", got, before)
			}
			assertSameRows(t, db, Table, "kept", 4)
		})
	}
	exec("CREATE OR REPLACE TABLE desired AS SELECT * FROM source")
	l, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku", "site"}, Consume: true})
	if err != nil {
		t.Fatal(err)
	}
	if l.Consumed || tables() != 1 {
		t.Errorf("first sync with Consume: Consumed %v, desired tables %d; want false, 1 (the caller drops it)", l.Consumed, tables())
	}
}

// TestChooseKeep: the diff keeps the snapshot's rows while DuckDB's in-memory tables are in memory, and the
// desired rows once they have spilled past the memory limit.
func TestChooseKeep(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{MemoryLimit: "32MB", Threads: 1})
	exec(`CREATE TABLE desired AS SELECT 'SKU-' || i AS sku, repeat('x', 20) || i AS name FROM range(1000) t(i)`)
	if got := chooseKeep(ctx, db); got != keepSnapshot {
		t.Errorf("1,000 rows in memory: keep %d, want the snapshot's (%d)", got, keepSnapshot)
	}
	exec(`CREATE OR REPLACE TABLE desired AS SELECT 'SKU-' || i AS sku, md5(i::VARCHAR) || md5((i + 1)::VARCHAR) AS name FROM range(2000000) t(i)`)
	if got := chooseKeep(ctx, db); got != keepDesired {
		t.Errorf("2,000,000 rows past a 32 MB limit: keep %d, want the desired rows (%d)", got, keepDesired)
	}
}

// assertSameRows fails the test unless tables got and want have the same columns and types and the same
// rows (as multisets), and at least min of them.
func assertSameRows(t *testing.T, db *engine.DB, got, want string, min int64) {
	t.Helper()
	ctx := context.Background()
	gs, err := db.SchemaOf(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := db.SchemaOf(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if !gs.Equal(ws) {
		t.Fatalf("columns of %s\n%s\nwant those of %s\n%s", got, gs, want, ws)
	}
	for _, q := range []string{"SELECT * FROM " + got + " EXCEPT ALL SELECT * FROM " + want, "SELECT * FROM " + want + " EXCEPT ALL SELECT * FROM " + got} {
		if n, err := db.Count(ctx, "SELECT count(*) FROM ("+q+")"); err != nil || n != 0 {
			t.Errorf("%s: %d rows (%v)", q, n, err)
		}
	}
	if n, err := db.Count(ctx, "SELECT count(*) FROM "+want); err != nil || n < min {
		t.Fatalf("%s has %d rows (%v), want at least %d: the case tests nothing", want, n, err, min)
	}
}
