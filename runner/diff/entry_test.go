package diff

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/internal/proctime"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// TestEntriesEqualSinkChangeEntries: the entries read straight from the diff's columns are, byte for
// byte, the entries of the changes' full sink forms (connectors.Change.AppendEntry of SinkChange): the
// intents, the file sink's change log and recovery read them as such. The diff has every action (with
// deactivations of missing records and of records turned inactive), a composite key, text needing escapes,
// integers of two widths, floats, dates, timestamps, decimals, booleans, NULLs, an ignored field and an
// annotation; the light forms carry the ID and action alone (no key), read by one worker and by three.
func TestEntriesEqualSinkChangeEntries(t *testing.T) {
	for _, missing := range []pipelines.OnMissing{pipelines.MissingDelete, pipelines.MissingDeactivate} {
		t.Run(string(missing), func(t *testing.T) {
			ctx := context.Background()
			db, exec := openTestDB(t, engine.Options{})
			cols := `t(store, sku, title, qty, big, price, ratio, since, seen, amount, active, stamp, why)`
			exec(`CREATE TABLE snap AS SELECT * EXCLUDE (why) FROM (VALUES
				(1, 'a', 'Tom & "Jerry" <DVD>', 1::INTEGER, 10::BIGINT, 1.5::DOUBLE, 0.25::REAL, DATE '2026-01-02', TIMESTAMP '2026-01-02 03:04:05.123456', 19.99::DECIMAL(9,2), true, 'x', NULL),
				(1, 'b', 'two
lines', 2::INTEGER, NULL::BIGINT, NULL::DOUBLE, NULL::REAL, NULL::DATE, NULL::TIMESTAMP, NULL::DECIMAL(9,2), true, 'x', NULL),
				(2, 'a', 'naïve ☃', 3::INTEGER, -5::BIGINT, 1e21::DOUBLE, 1e-7::REAL, DATE '1999-12-31', TIMESTAMP '1970-01-01 00:00:00', 0.10::DECIMAL(9,2), true, 'x', NULL),
				(2, 'b', 'gone', 4::INTEGER, 1::BIGINT, 2.0::DOUBLE, 1::REAL, DATE '2000-01-01', TIMESTAMP '2000-01-01 00:00:00', 1::DECIMAL(9,2), true, 'x', NULL)) ` + cols)
			exec(`CREATE TABLE desired AS SELECT * FROM (VALUES
				(1, 'a', 'Tom & "Jerry" <DVD>', 1::INTEGER, 11::BIGINT, 1.5::DOUBLE, 0.25::REAL, DATE '2026-01-02', TIMESTAMP '2026-01-02 03:04:05.123456', 19.99::DECIMAL(9,2), true, 'y', 'bigger'),
				(1, 'b', 'two
lines', 2::INTEGER, NULL::BIGINT, NULL::DOUBLE, NULL::REAL, NULL::DATE, NULL::TIMESTAMP, NULL::DECIMAL(9,2), false, 'y', NULL),
				(2, 'a', 'naïve ☃', 3::INTEGER, -5::BIGINT, 1e21::DOUBLE, 1e-7::REAL, DATE '1999-12-31', TIMESTAMP '1970-01-01 00:00:00', 0.10::DECIMAL(9,2), true, 'z', NULL),
				(3, 'c', E'tab\there\\back', NULL::INTEGER, 7::BIGINT, -0.0::DOUBLE, 3.5::REAL, DATE '2026-02-28', TIMESTAMP '2026-02-28 12:00:00', 5.5::DECIMAL(9,2), NULL, NULL, 'new'),
				(3, 'd', '', 0::INTEGER, 0::BIGINT, 123456.789::DOUBLE, 0::REAL, DATE '0001-01-01', TIMESTAMP '9999-12-31 23:59:59', -1::DECIMAL(9,2), false, 'y', NULL)) ` + cols)
			sch, err := db.SchemaOf(ctx, "snap")
			if err != nil {
				t.Fatal(err)
			}
			var snapCols []state.Column
			for _, f := range sch.Fields() {
				snapCols = append(snapCols, state.Column{Name: f.Name, Type: engine.Type(f.Type)})
			}
			key := []string{"store", "sku"}
			l, err := Run(ctx, db, Input{Desired: "desired", Key: key, Annotations: []string{"why"}, Snapshot: "snap", Columns: snapCols,
				Diff: pipelines.Diff{OnMissing: missing, ActiveField: "active", Ignore: []string{"stamp"}}})
			if err != nil {
				t.Fatal(err)
			}
			all, err := Read(ctx, db, l, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			planned := plan.State{Lineage: "L", Serial: 4}
			ids := map[int64]string{}
			actions := map[connectors.Action]int{}
			for i := range all {
				ids[all[i].Seq] = l.PlanChange(&all[i], planned).ID
				actions[all[i].Action]++
			}
			if actions[connectors.Create] != 2 || actions[connectors.Update] != 1 || actions[connectors.Deactivate] == 0 ||
				(missing == pipelines.MissingDelete) != (actions[connectors.Delete] == 1) {
				t.Fatalf("the diff lacks some action: %v", actions)
			}
			// Every change's ID computed from the columns (as a streamed apply without a hash pass does), and
			// even ones also from the decoded row (as it does for a plan with annotations): both must be the
			// plan's.
			id := func(seq int64, row *Row) (string, error) {
				form := row.Form() // the worker's: Entries calls id from several goroutines
				if got := row.ID(planned, form); got != ids[seq] {
					return "", fmt.Errorf("change %d: ID %s from the columns, %s planned", seq, got, ids[seq])
				}
				if seq%2 == 1 {
					return ids[seq], nil
				}
				c := row.Change()
				if c.Seq != seq {
					return "", fmt.Errorf("row.Change() decoded change %d for %d", c.Seq, seq)
				}
				if got := l.ChangeIDOf(c, planned, form); got != ids[seq] {
					return "", fmt.Errorf("change %d: ID %s from the decoded row, %s planned", seq, got, ids[seq])
				}
				return ids[seq], nil
			}
			defer func(n int64) { QueryRows = n }(QueryRows)
			QueryRows = 2 // ranges read in several queries, one of them partial
			// Read in three ranges, as the apply reads batches: the creates alone (read without the before-values
			// and flags, Layout.entrySelect), then the other actions; by the caller's goroutine alone, then by
			// three workers.
			for _, workers := range []int{1, 3} {
				mid := int64(len(all)/2) + 1
				var got [][]byte
				var light []connectors.Change
				for _, r := range [][2]int64{{0, 2}, {2, mid}, {mid, int64(len(all))}} {
					cs, es, seqs, err := Entries(ctx, db, l, r[0], r[1], workers, id)
					if err != nil {
						t.Fatal(err)
					}
					for i := range cs {
						if seqs[i] != r[0]+int64(i) {
							t.Fatalf("change %d of range %v numbered %d", i, r, seqs[i])
						}
					}
					got, light = append(got, es...), append(light, cs...)
				}
				if len(got) != len(all) {
					t.Fatalf("%d entries for %d changes", len(got), len(all))
				}
				enc := &record.JSON{UTC: true}
				for i := range all {
					full := l.SinkChange(&all[i], ids[all[i].Seq])
					want, err := full.AppendEntry(enc, nil)
					if err != nil {
						t.Fatal(err)
					}
					if string(got[i]) != string(want) {
						t.Errorf("change %d (%s): entry\n %s\nwant\n %s", i, full.Action, got[i], want)
					}
					if c := light[i]; c.ID != full.ID || c.Action != full.Action || c.Key != nil || c.After != nil {
						t.Errorf("%d workers, change %d: light form %+v, want the ID and action of %+v alone", workers, i, c, full)
					}
				}
				if all := strings.Join(toStrings(got), "\n"); !strings.Contains(all, `"title":"Tom & \"Jerry\" <DVD>"`) || !strings.Contains(all, `"fields":["active"]`) {
					t.Errorf("the entries lack the escaped title or a deactivation's field:\n%s", all)
				}
			}
		})
	}
}

// TestEntriesPlacesRowsByNumber: rows that DuckDB returns out of __seq order (here a diff table stored in
// reverse) still come out of Entries in apply order, each change's entry and light form the same as read
// from the diff in order, and the IDFunc sees every change once; a range that misses a number is an error,
// not a shorter batch.
func TestEntriesPlacesRowsByNumber(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 1})
	exec(`CREATE TABLE desired AS SELECT printf('S%03d', i) AS sku, 'item ' || i AS title, i / 4.0 AS price FROM range(40) t(i)`)
	l, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}})
	if err != nil {
		t.Fatal(err)
	}
	planned := plan.State{Lineage: "L", Serial: 0}
	read := func(workers int) ([]connectors.Change, [][]byte, []int64, []int64) {
		t.Helper()
		var mu sync.Mutex
		var order []int64
		cs, es, seqs, err := Entries(ctx, db, l, 5, 35, workers, func(seq int64, r *Row) (string, error) {
			mu.Lock()
			order = append(order, seq)
			mu.Unlock()
			return r.ID(planned, r.Form()), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return cs, es, seqs, order
	}
	wantC, wantE, _, _ := read(1)
	exec("CREATE OR REPLACE TABLE ordered AS SELECT * FROM " + Table)
	if err := Drop(ctx, db); err != nil { // a first sync's Table is a view
		t.Fatal(err)
	}
	exec("CREATE TABLE " + Table + " AS SELECT * FROM ordered ORDER BY __seq DESC")
	gotC, gotE, seqs, order := read(1)
	if !slices.IsSortedFunc(order, func(a, b int64) int { return int(b - a) }) || len(order) != 30 {
		t.Fatalf("the IDFunc saw changes %v: the reversed table was not read in reverse, the test tests nothing", order)
	}
	check := func(workers int, gotC []connectors.Change, gotE [][]byte, seqs []int64) {
		t.Helper()
		if len(gotC) != 30 || len(gotE) != 30 || len(seqs) != 30 {
			t.Fatalf("%d workers: %d changes, %d entries, %d numbers, want 30", workers, len(gotC), len(gotE), len(seqs))
		}
		for i := range gotC {
			if seqs[i] != 5+int64(i) || string(gotE[i]) != string(wantE[i]) || gotC[i].ID != wantC[i].ID || gotC[i].Action != wantC[i].Action {
				t.Errorf("%d workers, change %d: numbered %d, entry %s, want %d, %s", workers, i, seqs[i], gotE[i], 5+i, wantE[i])
			}
		}
	}
	check(1, gotC, gotE, seqs)
	// Three workers, each handed parts of 4 rows: the same results, whatever order they ran in.
	defer func(n int) { EncodeRows = n }(EncodeRows)
	EncodeRows = 4
	gotC, gotE, seqs, order = read(3)
	slices.Sort(order)
	if len(order) != 30 || slices.Compact(order)[0] != 5 || len(slices.Compact(order)) != 30 {
		t.Errorf("3 workers: the IDFunc saw changes %v, want each of 5..34 once", order)
	}
	check(3, gotC, gotE, seqs)
	// An IDFunc error stops the read and is returned, from any worker.
	for _, workers := range []int{1, 3} {
		_, _, _, err := Entries(ctx, db, l, 5, 35, workers, func(seq int64, r *Row) (string, error) {
			if seq == 20 {
				return "", fmt.Errorf("no ID for change %d", seq)
			}
			return "x", nil
		})
		if err == nil || !strings.Contains(err.Error(), "no ID for change 20") {
			t.Errorf("%d workers, an IDFunc failing for change 20: error %v, want its error", workers, err)
		}
	}
	exec("DELETE FROM " + Table + " WHERE __seq = 17")
	for _, workers := range []int{1, 3} {
		if _, _, _, err := Entries(ctx, db, l, 5, 35, workers, func(int64, *Row) (string, error) { return "x", nil }); err == nil || !strings.Contains(err.Error(), "no change numbered 17") {
			t.Errorf("%d workers, a range missing change 17: error %v, want it named", workers, err)
		}
	}
	exec("INSERT INTO " + Table + " SELECT * FROM ordered WHERE __seq IN (17, 18)")
	for _, workers := range []int{1, 3} {
		if _, _, _, err := Entries(ctx, db, l, 5, 35, workers, func(int64, *Row) (string, error) { return "x", nil }); err == nil || !strings.Contains(err.Error(), "numbered 18 read twice") {
			t.Errorf("%d workers, a range with change 18 twice: error %v, want it named", workers, err)
		}
	}
}

// TestEntriesCreateTextsFromID: a create's entry takes its floats' and times' text from its ID's canonical
// form where the two are the same text (jsonText); the entries stay, byte for byte, those of the changes'
// full sink forms for doubles of every layout (integral, -0, tiny, huge, with and without an exponent in
// either form) and times and dates at the ends of their range, and IDs read from a hash pass (no Row.ID
// call) give the same entries.
func TestEntriesCreateTextsFromID(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{})
	floats := []string{"0", "-0.0", "2.0", "0.1", "1e-5", "1e-6", "1e-7", "0.0001", "123456.789", "123456789.5", "1e20", "1e21", "-1e22",
		"1.7976931348623157e308", "5e-324", "0.3333333333333333", "-2.5", "NULL"}
	var rows []string
	for i, f := range floats {
		rows = append(rows, fmt.Sprintf("('S%02d', (%s)::DOUBLE, TIMESTAMP '2026-01-02 03:04:05.123456' + INTERVAL (%d) DAY, DATE '2026-01-02' + %d)", i, f, i, i))
	}
	rows = append(rows, "('T1', 1.5, TIMESTAMP '0001-01-01 00:00:00', DATE '0001-01-01')", "('T2', 1.5, TIMESTAMP '9999-12-31 23:59:59.999999', DATE '9999-12-31')",
		"('T3', 1.5, NULL, NULL)")
	exec(`CREATE TABLE desired AS SELECT * FROM (VALUES ` + strings.Join(rows, ", ") + `) t(sku, price, seen, day)`)
	l, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}})
	if err != nil {
		t.Fatal(err)
	}
	all, err := Read(ctx, db, l, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	planned := plan.State{Lineage: "L", Serial: 0}
	enc := &record.JSON{UTC: true}
	for _, fromRow := range []bool{true, false} {
		_, es, _, err := Entries(ctx, db, l, 0, int64(len(all)), 2, func(seq int64, r *Row) (string, error) {
			if fromRow {
				return r.ID(planned, r.Form()), nil
			}
			return l.PlanChange(&all[seq], planned).ID, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range all {
			full := l.SinkChange(&all[i], l.PlanChange(&all[i], planned).ID)
			want, err := full.AppendEntry(enc, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(es[i]) != string(want) {
				t.Errorf("IDs from the row %v, change %d: entry\n %s\nwant\n %s", fromRow, i, es[i], want)
			}
		}
	}
}

func toStrings(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// TestRowIDEqualsChangeIDOf: the ID computed straight from the diff's columns (Row.ID, the streamed apply's
// path to the file sink) is, for every change, the ID of the decoded change (ChangeIDOf, which
// TestChangeIDOfEqualsPlanChange holds to the plan's): creates, updates, deactivations and deletes, whose
// changed fields go from and to every column type (text, integers of four widths, floats incl. integral
// ones, which take an integer's form, and 1e21, which does not, booleans, dates, timestamps with and
// without a zone, decimals) and NULL.
func TestRowIDEqualsChangeIDOf(t *testing.T) {
	for _, missing := range []pipelines.OnMissing{pipelines.MissingDelete, pipelines.MissingDeactivate} {
		t.Run(string(missing), func(t *testing.T) {
			ctx := context.Background()
			db, exec := openTestDB(t, engine.Options{})
			cols := `t(sku, title, i8, i16, i32, i64, f32, f64, flag, day, ts, tstz, dec, active)`
			row := func(sku, title, i8, i16, i32, i64, f32, f64, on, day, ts, tstz, dec, active string) string {
				return fmt.Sprintf("(%s, %s, (%s)::TINYINT, (%s)::SMALLINT, (%s)::INTEGER, (%s)::BIGINT, (%s)::REAL, (%s)::DOUBLE, (%s)::BOOLEAN, (%s)::DATE, (%s)::TIMESTAMP, (%s)::TIMESTAMPTZ, (%s)::DECIMAL(18,3), (%s)::BOOLEAN)",
					sku, title, i8, i16, i32, i64, f32, f64, on, day, ts, tstz, dec, active)
			}
			null := "NULL"
			snap := []string{
				row("'u1'", "'old'", "1", "2", "3", "4", "1.5", "2.0", "true", "DATE '2026-01-02'", "TIMESTAMP '2026-01-02 03:04:05.123456'", "TIMESTAMPTZ '2026-01-02 03:04:05+02'", "19.99", "true"),
				row("'u2'", null, null, null, null, null, null, null, null, null, null, null, null, "true"),
				row("'u3'", "'x'", "-1", "-2", "-3", "-4", "0.25", "1e21", "false", "DATE '1999-12-31'", "TIMESTAMP '1970-01-01 00:00:00'", "TIMESTAMPTZ '1970-01-01 00:00:00+00'", "-0.5", "true"),
				row("'u4'", "'same'", "1", "1", "1", "1", "1", "1", "true", "DATE '2000-01-01'", "TIMESTAMP '2000-01-01 00:00:00'", "TIMESTAMPTZ '2000-01-01 00:00:00+00'", "1", "true"),
				row("'gone'", "'g'", "5", "5", "5", "5", "5.5", "-0.0", "true", "DATE '2000-01-01'", "TIMESTAMP '2000-01-01 00:00:00'", "TIMESTAMPTZ '2000-01-01 00:00:00+00'", "5", "true"),
			}
			desired := []string{
				row("'u1'", "'new \"quoted\"'", "2", "3", "4", "5", "2", "2.5", "false", "DATE '2026-01-03'", "TIMESTAMP '2026-01-02 03:04:05'", "TIMESTAMPTZ '2026-01-02 03:04:06+02'", "20", "true"),
				row("'u2'", "'now set'", "-128", "-32768", "-2147483648", "-9223372036854775808", "3.0", "123456.789", "true", "DATE '0001-01-01'", "TIMESTAMP '9999-12-31 23:59:59.999999'", "TIMESTAMPTZ '2026-06-01 12:00:00+00'", "0.001", "true"),
				row("'u3'", null, null, null, null, null, null, null, null, null, null, null, null, "true"),
				row("'u4'", "'same'", "1", "1", "1", "1", "1", "1", "true", "DATE '2000-01-01'", "TIMESTAMP '2000-01-01 00:00:00'", "TIMESTAMPTZ '2000-01-01 00:00:00+00'", "1", "false"),
				row("'c1'", "'naïve ☃'", "127", "32767", "2147483647", "9223372036854775807", "1e-7", "1e21", "false", "DATE '2026-02-28'", "TIMESTAMP '2026-02-28 12:00:00'", "TIMESTAMPTZ '2026-02-28 12:00:00-05'", "123456789012345.678", "true"),
				row("'c2'", "''", "0", "0", "0", "0", "-0.0", "-1.0", "false", null, null, null, "-0.000", null),
				row("'c3'", null, null, null, null, null, null, null, null, null, null, null, null, null),
			}
			exec(`CREATE TABLE snap AS SELECT * FROM (VALUES ` + strings.Join(snap, ",\n") + `) ` + cols)
			exec(`CREATE TABLE desired AS SELECT * FROM (VALUES ` + strings.Join(desired, ",\n") + `) ` + cols)
			sch, err := db.SchemaOf(ctx, "snap")
			if err != nil {
				t.Fatal(err)
			}
			var snapCols []state.Column
			for _, f := range sch.Fields() {
				snapCols = append(snapCols, state.Column{Name: f.Name, Type: engine.Type(f.Type)})
			}
			l, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}, Snapshot: "snap", Columns: snapCols,
				Diff: pipelines.Diff{OnMissing: missing, ActiveField: "active"}})
			if err != nil {
				t.Fatal(err)
			}
			all, err := Read(ctx, db, l, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			actions := map[connectors.Action]int{}
			for i := range all {
				actions[all[i].Action]++
			}
			if actions[connectors.Create] != 3 || actions[connectors.Update] != 3 || actions[connectors.Deactivate] == 0 ||
				(missing == pipelines.MissingDelete) != (actions[connectors.Delete] == 1) {
				t.Fatalf("the diff lacks some action: %v", actions)
			}
			var rowForm, decForm plan.IDForm
			for _, planned := range []plan.State{{}, {Lineage: "L", Serial: 7}} {
				n, ids := 0, map[string]bool{}
				_, _, _, err := Entries(ctx, db, l, 0, int64(len(all)), 1, func(seq int64, r *Row) (string, error) {
					got := r.ID(planned, &rowForm)
					want := l.ChangeIDOf(&all[seq], planned, &decForm)
					if got != want {
						return "", fmt.Errorf("serial %d, change %d (%s %v): ID %s from the columns, %s from the decoded change",
							planned.Serial, seq, all[seq].Action, all[seq].Key, got, want)
					}
					if ids[got] {
						return "", fmt.Errorf("change %d: ID %s given twice", seq, got)
					}
					n, ids[got] = n+1, true
					return got, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if n != len(all) {
					t.Fatalf("%d IDs for %d changes", n, len(all))
				}
			}
		})
	}
}

// BenchmarkEntriesID is Entries over a first sync's diff (100,000 creates of the benchmark catalog's
// shape: text, floats, an integer, a boolean, a timestamp) with each change's ID computed from the columns
// (Row.ID, the streamed apply's path). The ID from the decoded row (Row.Change and ChangeIDOf) is not
// measured: a range of creates without annotations is read without the before-values Row.Change decodes.
// "reused" reads each time into the memory of the read before, given back (Reuse), as a streamed apply's
// batches are read.
func BenchmarkEntriesID(b *testing.B) {
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const n = 100_000
	if err := db.Exec(ctx, fmt.Sprintf(`CREATE TABLE desired AS SELECT printf('SK%%08d', i) AS sku, 'Item ' || i || ' | Brand' AS title,
		'<p>Description of item ' || i || '</p>' AS body, 'Brand ' || (i %% 97) AS vendor, (i %% 1000) / 4.0 AS price,
		(i %% 1000) / 3.0 AS compare_at, i %% 50 AS qty, i %% 7 = 0 AS taxable, TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i) AS updated,
		'cat-' || (i %% 13) AS category, (i %% 5000) / 10.0 AS weight FROM range(%d) t(i)`, n)); err != nil {
		b.Fatal(err)
	}
	l, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}})
	if err != nil {
		b.Fatal(err)
	}
	planned := plan.State{Lineage: "3c6e5ad74020a3046b6a7fd90d4e1b2c", Serial: 0}
	for _, bc := range []struct {
		name  string
		id    func(f *plan.IDForm, r *Row) string
		reuse bool
	}{
		{"columns", func(f *plan.IDForm, r *Row) string { return r.ID(planned, f) }, false},
		{"columns-reused", func(f *plan.IDForm, r *Row) string { return r.ID(planned, f) }, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var f plan.IDForm
			var reuse *Reuse
			if bc.reuse {
				reuse = &Reuse{Entries: &Buffers{}}
			}
			b.ReportAllocs()
			c0 := proctime.Seconds()
			defer func() { b.ReportMetric((proctime.Seconds()-c0)/float64(b.N)/n*1e9, "cpu-ns/change") }()
			for b.Loop() {
				if _, _, _, _, err := EntriesCSV(ctx, db, l, 0, n, 1, func(_ int64, r *Row) (string, error) { return bc.id(&f, r), nil }, nil, reuse); err != nil {
					b.Fatal(err)
				}
				reuse.Release()
			}
		})
	}
}

// BenchmarkEntriesUpdates is Entries over a diff of 50,000 updates of the benchmark catalog's shape (the
// full cycle's changes, issue #15: an update's entry holds its before and after records, so it costs about
// twice a create's), with the IDs computed from the columns, by one worker and by two.
func BenchmarkEntriesUpdates(b *testing.B) {
	ctx := context.Background()
	db, exec := openTestDB(b, engine.Options{})
	const n = 50_000
	catalog := func(table, price string) {
		exec(fmt.Sprintf(`CREATE TABLE %s AS SELECT printf('SK%%08d', i) AS sku, 'Item ' || i || ' | Brand' AS title,
		'<p>Description of item ' || i || '</p>' AS body, 'Brand ' || (i %% 97) AS vendor, %s AS price,
		(i %% 1000) / 3.0 AS compare_at, i %% 50 AS qty, i %% 7 = 0 AS taxable, TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i) AS updated,
		'cat-' || (i %% 13) AS category, (i %% 5000) / 10.0 AS weight FROM range(%d) t(i)`, table, price, n))
	}
	catalog("snap", "(i % 1000) / 4.0")
	catalog("desired", "(i % 1000) / 4.0 + 1")
	sch, err := db.SchemaOf(ctx, "snap")
	if err != nil {
		b.Fatal(err)
	}
	var snapCols []state.Column
	for _, f := range sch.Fields() {
		snapCols = append(snapCols, state.Column{Name: f.Name, Type: engine.Type(f.Type)})
	}
	l, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}, Snapshot: "snap", Columns: snapCols})
	if err != nil {
		b.Fatal(err)
	}
	planned := plan.State{Lineage: "3c6e5ad74020a3046b6a7fd90d4e1b2c", Serial: 4}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprint("workers=", workers), func(b *testing.B) {
			b.ReportAllocs()
			c0 := proctime.Seconds()
			defer func() { b.ReportMetric((proctime.Seconds()-c0)/float64(b.N)/n*1e9, "cpu-ns/change") }()
			for b.Loop() {
				cs, _, _, err := Entries(ctx, db, l, 0, n, workers, func(_ int64, r *Row) (string, error) { return r.ID(planned, r.Form()), nil })
				if err != nil {
					b.Fatal(err)
				}
				if len(cs) != n || cs[0].Action != connectors.Update {
					b.Fatalf("%d changes, the first a %s; want %d updates", len(cs), cs[0].Action, n)
				}
			}
		})
	}
}

// BenchmarkEntriesCSV is EntriesCSV over a first sync's diff of 100,000 creates of the benchmark catalog's
// shape after its transform (bench_test.go's benchMapping: six text fields, two prices, an integer, a
// boolean, a timestamp), each with its ID from the columns (Row.ID), its entry and its records-file line,
// by one worker: the Go work of a first sync's encoding (issue #15). "read" is the whole call, DuckDB's
// read of the diff included; "encode" the workers' part alone, over the diff's batches read once.
func BenchmarkEntriesCSV(b *testing.B) {
	ctx := context.Background()
	db, exec := openTestDB(b, engine.Options{})
	const n = 100_000
	exec(fmt.Sprintf(`CREATE TABLE desired AS SELECT printf('SK%%010d', i * 7919 %% 9999999967) AS sku,
		printf('%%012d', 100000000000 + i * 104729) AS upc, 'Trail Trek Pole Slate S ' || (i %% 997) || ' Series ' || (i %% 5) || ' | Granitemark' AS title,
		'GRANITEMARK' || (i %% 31) AS brand, 'Apparel' || (i %% 7) AS department, (i %% 30000) / 100.0 + 1 AS price,
		(i %% 25000) / 100.0 + 1 AS effective_price, i %% 200 AS qty,
		CASE i %% 3 WHEN 0 THEN 'in_stock' WHEN 1 THEN 'out_of_stock' ELSE 'discontinued' END AS availability,
		i %% 5 <> 0 AS online, TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i * 37) AS updated_at FROM range(%d) t(i)`, n))
	l, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}})
	if err != nil {
		b.Fatal(err)
	}
	sch, err := db.SchemaOf(ctx, "desired")
	if err != nil {
		b.Fatal(err)
	}
	f := &CSVFormat{Key: []string{"sku"}, Delim: ','}
	for _, fl := range sch.Fields() {
		f.Names, f.Types = append(f.Names, fl.Name), append(f.Types, engine.Type(fl.Type))
	}
	planned := plan.State{Lineage: "3c6e5ad74020a3046b6a7fd90d4e1b2c", Serial: 0}
	id := func(_ int64, r *Row) (string, error) { return r.ID(planned, r.Form()), nil }
	measure := func(b *testing.B) {
		b.ReportAllocs()
		c0 := proctime.Seconds()
		b.Cleanup(func() { b.ReportMetric((proctime.Seconds()-c0)/float64(b.N)/n*1e9, "cpu-ns/change") })
	}
	b.Run("read", func(b *testing.B) {
		measure(b)
		for b.Loop() {
			_, _, _, lines, err := EntriesCSV(ctx, db, l, 0, n, 1, id, f, nil)
			if err != nil {
				b.Fatal(err)
			}
			if lines == nil {
				b.Fatal("no lines")
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		var batches []arrow.RecordBatch
		if err := db.Query(ctx, fmt.Sprintf("SELECT %s FROM %s ORDER BY __seq", l.entrySelect(true), Table), func(rb arrow.RecordBatch) error {
			rb.Retain()
			batches = append(batches, rb)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		defer func() {
			for _, rb := range batches {
				rb.Release()
			}
		}()
		measure(b)
		for b.Loop() {
			x := &entryRead{l: l, creates: true, id: id, changes: make([]connectors.Change, n), entries: make([][]byte, n),
				csv: f, lines: make([][]byte, n), keys: make([][]byte, n)}
			w := x.newWorker()
			for _, rb := range batches {
				for from := 0; from < int(rb.NumRows()); from += EncodeRows {
					if err := w.encode(entryJob{b: rb, from: from, to: min(from+EncodeRows, int(rb.NumRows()))}); err != nil {
						b.Fatal(err)
					}
				}
			}
			if x.csvLines() == nil {
				b.Fatal("no lines")
			}
		}
	})
}
