package diff

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// TestFirstSyncDiffEqualsDiffAgainstAnEmptySnapshot: a first sync's diff (createsQuery, which numbers the
// desired rows before adding a create's constant columns) holds exactly the rows, columns, types and
// numbering of the general diff against an empty snapshot, for every diff setting that shapes it: composite
// keys, annotations, ignored fields, NULL values, protected keys, on_missing deactivate with an active
// field, on_change keep; from a desired table as it comes (sorted into a copy) and from one stored in the
// diff's order (Input.Sorted: taken as it is, unless protected keys must be filtered out).
func TestFirstSyncDiffEqualsDiffAgainstAnEmptySnapshot(t *testing.T) {
	db, exec := openTestDB(t, engine.Options{Threads: 2})
	exec(`CREATE TABLE desired AS SELECT * FROM (VALUES
		('B', 2, 'bottle', 2.5, 3::BIGINT, true, 'promo', TIMESTAMPTZ '2026-01-02 03:04:05+00'),
		('A', 1, NULL, 1.0, NULL, false, NULL, NULL),
		('A', 2, 'anchor', NULL, 0::BIGINT, NULL, 'x', TIMESTAMPTZ '2026-01-01 00:00:00+00'),
		('C', 1, 'cup', 4.0, 7::BIGINT, true, NULL, NULL),
		('D', 9, 'dish', 5.0, 1::BIGINT, true, NULL, NULL))
		AS t(sku, site, name, price, qty, active, why, seen)`)
	exec(`CREATE TABLE protected AS SELECT * FROM (VALUES ('C', 1)) AS t(sku, site)`)
	cases := []Input{
		{Key: []string{"sku", "site"}},
		{Key: []string{"sku", "site"}, Annotations: []string{"why"}, Diff: pipelines.Diff{Ignore: []string{"seen"}}, Protected: "protected"},
		{Key: []string{"sku", "site"}, Diff: pipelines.Diff{OnMissing: pipelines.MissingDeactivate, ActiveField: "active"}},
		{Key: []string{"sku", "site"}, Annotations: []string{"why"}, Diff: pipelines.Diff{OnChange: pipelines.ChangeKeep, OnMissing: pipelines.MissingKeep}},
	}
	for i, in := range cases {
		for _, sorted := range []bool{false, true} {
			t.Run(fmt.Sprint(i, sorted), func(t *testing.T) {
				firstSyncEqualsGeneral(t, db, exec, in, sorted)
			})
		}
	}
}

// firstSyncEqualsGeneral is a case of TestFirstSyncDiffEqualsDiffAgainstAnEmptySnapshot, of a desired table
// as it comes or (sorted) stored in the diff's order (Input.Sorted), which the diff takes as its own unless it
// must filter it (Protected).
func firstSyncEqualsGeneral(t *testing.T, db *engine.DB, exec func(string), in Input, sorted bool) {
	ctx := context.Background()
	in.Desired = "desired"
	if sorted {
		exec("SET preserve_insertion_order = true")
		exec("CREATE OR REPLACE TABLE sorted AS SELECT * FROM desired ORDER BY " + FirstSyncOrder(in.Key))
		exec("SET preserve_insertion_order = false")
		in.Desired, in.Sorted = "sorted", true
	}
	l, err := Run(ctx, db, in)
	if err != nil {
		t.Fatal(err)
	}
	if took := sorted && in.Protected == ""; l.TookDesired() != took {
		t.Fatalf("TookDesired = %v, want %v", l.TookDesired(), took)
	}
	general := fmt.Sprintf("SELECT row_number() OVER (ORDER BY %s, %s) - 1 AS __seq, * FROM (%s)", ActionOrder,
		engine.IdentList(l.Key, ""), l.query(in, "(SELECT * FROM desired WHERE false)", "desired"))
	exec("CREATE OR REPLACE TABLE general AS " + general)
	got, err := db.SchemaOf(ctx, Table)
	if err != nil {
		t.Fatal(err)
	}
	want, err := db.SchemaOf(ctx, "general")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Fatalf("first sync diff columns\n%s\nwant\n%s", got, want)
	}
	for _, q := range []string{"SELECT * FROM __diff EXCEPT ALL SELECT * FROM general", "SELECT * FROM general EXCEPT ALL SELECT * FROM __diff"} {
		if n, err := db.Count(ctx, "SELECT count(*) FROM ("+q+")"); err != nil || n != 0 {
			t.Errorf("%s: %d rows (%v)", q, n, err)
		}
	}
	n, err := db.Count(ctx, "SELECT count(*) FROM general")
	if err != nil || n < 3 {
		t.Fatalf("the general diff has %d rows (%v): the case tests nothing", n, err)
	}
}

// TestFirstSyncDiffStoresOnlyItsDesiredColumns: a first sync's diff stores __seq and the desired columns
// (createsTable) and Table is a view over them, which HoldRemovals leaves alone (it has nothing to hold); a
// diff against a snapshot in the same database after it is a table again (Run drops the view and what it
// reads), and another first sync after that a view again; Drop drops the diff in either form, and again
// when there is none. Each diff holds its own changes.
func TestFirstSyncDiffStoresOnlyItsDesiredColumns(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 2})
	exec(`CREATE TABLE desired AS SELECT * FROM (VALUES ('A', 1.0, 'x', 'why A'), ('B', 2.0, NULL, NULL), ('C', 3.0, 'z', NULL))
		AS t(sku, price, name, why)`)
	exec(`CREATE TABLE snap AS SELECT * FROM (VALUES ('A', 1.0, 'x'), ('B', 9.0, NULL), ('D', 4.0, 'd')) AS t(sku, price, name)`)
	count := func(q string) int64 {
		t.Helper()
		n, err := db.Count(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	objects := func() string { // the diff's catalog entries: Table's kind, and whether createsTable exists
		t.Helper()
		kind := "none"
		if count("SELECT count(*) FROM duckdb_views() WHERE view_name = '"+Table+"'") > 0 {
			kind = "view"
		} else if count("SELECT count(*) FROM duckdb_tables() WHERE table_name = '"+Table+"'") > 0 {
			kind = "table"
		}
		if count("SELECT count(*) FROM duckdb_tables() WHERE table_name = '"+createsTable+"'") > 0 {
			kind += "+" + createsTable
		}
		return kind
	}
	firstSync := func() {
		t.Helper()
		if _, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}, Annotations: []string{"why"}}); err != nil {
			t.Fatal(err)
		}
		if got, want := objects(), "view+"+createsTable; got != want {
			t.Fatalf("after a first sync's diff: %s, want %s", got, want)
		}
		// __seq, the key, the annotation and the two compared columns: no flags, ops or before-values.
		if n := count("SELECT count(*) FROM duckdb_columns() WHERE table_name = '" + createsTable + "'"); n != 5 {
			t.Errorf("%s has %d columns, want 5 (__seq and the desired columns)", createsTable, n)
		}
		if c, err := Count(ctx, db); err != nil || len(c) != 1 || c[connectors.Create] != 3 {
			t.Errorf("first sync's changes %v (%v), want 3 creates", c, err)
		}
		// Every create is of a desired record: holding removals leaves the view as it is.
		if n, err := HoldRemovals(ctx, db); err != nil || n != 0 || objects() != "view+"+createsTable {
			t.Errorf("HoldRemovals on a first sync's diff: %d (%v), then %s", n, err, objects())
		}
	}
	firstSync()
	in := Input{Desired: "desired", Key: []string{"sku"}, Annotations: []string{"why"}, Snapshot: "snap",
		Columns: []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "price", Type: "DECIMAL(2,1)"}, {Name: "name", Type: "VARCHAR"}}}
	if _, err := Run(ctx, db, in); err != nil {
		t.Fatal(err)
	}
	if got := objects(); got != "table" {
		t.Fatalf("after a diff against a snapshot: %s, want table", got)
	}
	if c, err := Count(ctx, db); err != nil || c[connectors.Create] != 1 || c[connectors.Update] != 1 || c[connectors.Delete] != 1 || len(c) != 3 {
		t.Errorf("changes against the snapshot %v (%v), want a create, an update and a delete", c, err)
	}
	firstSync()
	for range 2 {
		if err := Drop(ctx, db); err != nil {
			t.Fatal(err)
		}
		if got := objects(); got != "none" {
			t.Fatalf("after Drop: %s, want none", got)
		}
	}
}

// TestFirstSyncDiffRangeReachesTheScan: a reader's range of __seq on a first sync's diff (Entries' batches,
// apply's commit of a batch) is a filter of the scan of the stored table, whose zone maps (or, for a desired
// table the diff took as it is, its rowid) then skip the row groups outside it, not a filter above a scan of
// every row.
func TestFirstSyncDiffRangeReachesTheScan(t *testing.T) {
	for _, sorted := range []bool{false, true} {
		t.Run(fmt.Sprint(sorted), func(t *testing.T) { firstSyncRangeReachesTheScan(t, sorted) })
	}
}

func firstSyncRangeReachesTheScan(t *testing.T, sorted bool) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 2})
	exec(`CREATE TABLE desired AS SELECT printf('S%06d', i) AS sku, 'item ' || i AS title, i / 4.0 AS price FROM range(300000) t(i)`)
	l, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}, Sorted: sorted})
	if err != nil {
		t.Fatal(err)
	}
	seq := "__seq"
	if l.TookDesired() != sorted {
		t.Fatalf("TookDesired = %v, want %v", l.TookDesired(), sorted)
	} else if sorted {
		seq = "rowid"
	}
	type node struct {
		Name      string         `json:"name"`
		Children  []node         `json:"children"`
		ExtraInfo map[string]any `json:"extra_info"`
	}
	for _, q := range []string{
		"SELECT __seq, __op, sku, title, price FROM " + Table + " WHERE __seq >= 200000 AND __seq < 202048",          // Entries
		"SELECT __op, CAST(d.price AS DOUBLE) AS price FROM " + Table + " d WHERE d.__seq BETWEEN 200000 AND 202047", // commitSeqs
	} {
		var plan string
		if err := db.QueryRow(ctx, "EXPLAIN (FORMAT json) "+q).Scan(new(string), &plan); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var roots []node
		if err := json.Unmarshal([]byte(plan), &roots); err != nil {
			t.Fatalf("%s: plan %s: %v", q, plan, err)
		}
		var scans []string
		var walk func(n node)
		walk = func(n node) {
			if tbl, _ := n.ExtraInfo["Table"].(string); strings.HasSuffix(tbl, createsTable) {
				f, _ := n.ExtraInfo["Filters"].(string)
				scans = append(scans, f)
			}
			for _, c := range n.Children {
				walk(c)
			}
		}
		for _, r := range roots {
			walk(r)
		}
		if len(scans) != 1 || !strings.Contains(scans[0], seq+">=200000") || !strings.Contains(scans[0], "202047") && !strings.Contains(scans[0], "202048") {
			t.Errorf("%s: scans of %s filtered by %q, want one, by the range of __seq\n%s", q, createsTable, scans, plan)
		}
	}
	if n, err := db.Count(ctx, "SELECT count(*) FROM "+Table+" WHERE __seq BETWEEN 200000 AND 202047"); err != nil || n != 2048 {
		t.Errorf("the range holds %d changes (%v), want 2048", n, err)
	}
}

// TestFirstSyncTakesASortedDesiredTable: a first sync's diff of a desired table stored in its order
// (Input.Sorted; here by two threads, spilling under a small memory cap, into several row groups) takes the
// table as it is: the desired table is gone, Table numbers every record once, from 0, in key order, and
// Drop frees it. With a sink's rank, which orders by more than the key, the diff sorts a copy as before and
// leaves the desired table to its caller.
func TestFirstSyncTakesASortedDesiredTable(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 2, MemoryLimit: "64MB"})
	const n = 400009 // a prime: i*7919 % n visits every key once, in no order
	sortedDesired := func() {
		exec("SET preserve_insertion_order = true")
		exec(fmt.Sprintf(`CREATE OR REPLACE TABLE desired AS SELECT * FROM (SELECT printf('S%%07d', (i * 7919) %% %d) AS sku,
			CASE WHEN i %% 3 = 0 THEN 'parent' END AS parent, repeat('x', 40) || i AS title FROM range(%d) t(i)) ORDER BY %s`, n, n, FirstSyncOrder([]string{"sku"})))
		exec("SET preserve_insertion_order = false")
	}
	count := func(q string) int64 {
		t.Helper()
		k, err := db.Count(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return k
	}
	sortedDesired()
	if g := count("SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('desired')"); g < 3 {
		t.Fatalf("the desired table has %d row groups: the test needs several", g)
	}
	l, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}, Sorted: true})
	if err != nil {
		t.Fatal(err)
	}
	if !l.TookDesired() || count("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'desired'") != 0 {
		t.Fatalf("TookDesired = %v: the desired table should be the diff's now", l.TookDesired())
	}
	if k := count("SELECT count(*) FROM " + Table); k != n {
		t.Errorf("the diff has %d changes, want %d", k, n)
	}
	if k := count(`SELECT count(*) FROM (SELECT __seq, row_number() OVER (ORDER BY sku) - 1 AS want FROM ` + Table + `) WHERE __seq <> want`); k != 0 {
		t.Errorf("%d changes numbered out of key order", k)
	}
	if err := Drop(ctx, db); err != nil {
		t.Fatal(err)
	}
	if k := count("SELECT count(*) FROM duckdb_tables() WHERE table_name = '" + createsTable + "'"); k != 0 {
		t.Errorf("Drop left %s", createsTable)
	}
	sortedDesired()
	rank := &connectors.Rank{Field: "parent", Rules: []connectors.RankRule{{Action: connectors.Create, Set: false, Rank: 0}}, Default: 1}
	if l, err = Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}, Sorted: true, Rank: rank}); err != nil {
		t.Fatal(err)
	}
	if l.TookDesired() || count("SELECT count(*) FROM desired") != n {
		t.Fatalf("with a rank: TookDesired = %v, want the desired table left as it was", l.TookDesired())
	}
	if k := count(`SELECT count(*) FROM (SELECT __seq, row_number() OVER (ORDER BY parent IS NOT NULL, sku) - 1 AS want FROM ` + Table + `) WHERE __seq <> want`); k != 0 {
		t.Errorf("with a rank: %d changes numbered out of the rank's order", k)
	}
}

// TestFirstSyncReadsEqualTheGeneralDiffs: what every reader takes from a first sync's diff (the view over
// createsTable) is, byte for byte, what it takes from the general diff of the same desired records against
// an empty snapshot: Entries' entries, light forms and IDs computed from the columns (a streamed apply), the
// plan's changes (EachPlan) and the decoded changes' IDs (Read), for values of every type, NULLs, and with
// and without an annotation.
func TestFirstSyncReadsEqualTheGeneralDiffs(t *testing.T) {
	for _, annot := range [][]string{nil, {"why"}} {
		t.Run(fmt.Sprint(len(annot)), func(t *testing.T) {
			ctx := context.Background()
			db, exec := openTestDB(t, engine.Options{Threads: 2})
			exec(`CREATE TABLE desired AS SELECT * FROM (VALUES
				('u1', 'new "quoted"', 2::TINYINT, 5::BIGINT, 2.5::DOUBLE, 0.25::REAL, false, DATE '2026-01-03', TIMESTAMP '2026-01-02 03:04:05.123456', TIMESTAMPTZ '2026-01-02 03:04:06+02', 20::DECIMAL(18,3), 'promo'),
				('c1', 'naïve ☃', 127::TINYINT, 9223372036854775807::BIGINT, 1e21::DOUBLE, 1e-7::REAL, true, DATE '0001-01-01', TIMESTAMP '9999-12-31 23:59:59.999999', TIMESTAMPTZ '2026-02-28 12:00:00-05', 123456789012345.678::DECIMAL(18,3), NULL),
				('c2', '', 0::TINYINT, -1::BIGINT, -0.0::DOUBLE, 3::REAL, NULL, NULL, NULL, NULL, -0.000::DECIMAL(18,3), ''),
				('c3', E'tab\there\\back', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
				('a0', 'two
lines', (-128)::TINYINT, 0::BIGINT, 123456.789::DOUBLE, 0::REAL, true, DATE '2000-01-01', TIMESTAMP '1970-01-01 00:00:00', TIMESTAMPTZ '1970-01-01 00:00:00+00', 1::DECIMAL(18,3), 'x'))
				AS t(sku, title, i8, i64, f64, f32, flag, day, ts, tstz, dec, why)`)
			exec(`CREATE TABLE empty AS SELECT * EXCLUDE (why) FROM desired WHERE false`)
			sch, err := db.SchemaOf(ctx, "empty")
			if err != nil {
				t.Fatal(err)
			}
			var cols []state.Column
			for _, f := range sch.Fields() {
				cols = append(cols, state.Column{Name: f.Name, Type: engine.Type(f.Type)})
			}
			planned := plan.State{Lineage: "L", Serial: 3}
			// reads is every reader's view of the diff in Table, as text.
			reads := func(l *Layout) []string {
				t.Helper()
				var out []string
				var form plan.IDForm
				cs, es, seqs, err := Entries(ctx, db, l, 0, 5, 1, func(seq int64, r *Row) (string, error) { return r.ID(planned, &form), nil })
				if err != nil {
					t.Fatal(err)
				}
				for i := range cs {
					out = append(out, fmt.Sprintf("entry %d %s %s %s", seqs[i], cs[i].ID, cs[i].Action, es[i]))
				}
				if err := EachPlan(ctx, db, l, 0, -1, planned, func(pc plan.Change) error {
					b, err := json.Marshal(pc)
					out = append(out, "plan "+string(b))
					return err
				}); err != nil {
					t.Fatal(err)
				}
				all, err := Read(ctx, db, l, 0, -1)
				if err != nil {
					t.Fatal(err)
				}
				for i := range all {
					out = append(out, fmt.Sprintf("read %d %s", all[i].Seq, l.ChangeIDOf(&all[i], planned, &form)))
				}
				return out
			}
			first, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}, Annotations: annot})
			if err != nil {
				t.Fatal(err)
			}
			got := reads(first)
			general, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}, Annotations: annot, Snapshot: "empty", Columns: cols})
			if err != nil {
				t.Fatal(err)
			}
			want := reads(general)
			if len(want) != 15 {
				t.Fatalf("%d reads of the general diff, want 15 (5 changes, 3 readers)", len(want))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("a first sync's diff reads\n%s\nwant (the general diff's)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
