package export

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/state"
)

// setPartRows makes full exports sort key ranges of about n records for the rest of the test.
func setPartRows(t *testing.T, n int64) { t.Cleanup(SetPartRows(n)) }

// TestFullExportInKeyRanges writes snapshots larger than a key range in full, range by range, and requires
// exactly the bytes of one DuckDB COPY of the whole snapshot sorted by key, in every format whose files
// concatenate: text keys that need quoting or sort unusually (upper case before lower case, unicode, the
// delimiter, quotes, newlines) and a NULL key (which sorts last), integer keys ordered by value, and a
// composite key whose first field has three values, so that most ranges are empty (the first one too: its
// file must still carry the header).
func TestFullExportInKeyRanges(t *testing.T) {
	ctx := context.Background()
	snaps := []struct {
		name   string
		create string
		key    []string
		schema *arrow.Schema
	}{
		{
			name: "text key", key: []string{"sku"}, schema: textSchema,
			create: `CREATE TABLE snap AS SELECT
				CASE WHEN i = 5 THEN NULL ELSE (['Z', 'a', 'é', 'a,b', 'q"uote', e'new\nline', e'tab\t', '', ' '])[i % 9 + 1] || (i * 7919 % 1000)::VARCHAR END AS sku,
				CASE WHEN i % 4 = 0 THEN 'plain ' || i WHEN i % 4 = 1 THEN 'comma, "quoted" ' || i WHEN i % 4 = 2 THEN e'two\nlines ' || i ELSE e'tab\there ' || i END AS name,
				(i * 7 - 30)::BIGINT AS qty, CASE WHEN i % 5 = 0 THEN NULL ELSE i / 4 END AS price
				FROM range(300) t(i)`,
		},
		{
			name: "integer key, snapshot a view", key: []string{"id"}, schema: compositeSchema,
			// The snapshot may be a view (a state backend's relation over its own tables).
			create: `CREATE TABLE snap0 AS SELECT 'store ' || (i % 3) AS store, (i * 7919 % 1000 - 500)::BIGINT AS id, 'note ' || i AS note FROM range(300) t(i);
				CREATE VIEW snap AS SELECT * FROM snap0`,
		},
		{
			name: "composite key, few first values", key: []string{"store", "id"}, schema: compositeSchema,
			create: `CREATE TABLE snap AS SELECT CASE WHEN i < 150 THEN 'east' WHEN i < 250 THEN 'north' ELSE 'west' END AS store,
				(i * 7919 % 1000 - 500)::BIGINT AS id, e'note, "' || i || e'"\n' AS note FROM range(300) t(i)`,
		},
	}
	for _, s := range snaps {
		for _, format := range []string{"csv", "tsv", "jsonl"} {
			t.Run(s.name+" "+format, func(t *testing.T) {
				db := openDB(t)
				exec(t, db, s.create)
				dir := t.TempDir()
				ref := filepath.Join(dir, "ref."+format)
				exec(t, db, fmt.Sprintf("COPY (SELECT %s FROM snap ORDER BY %s) TO %s (%s)", engine.IdentList(engine.FieldNames(s.schema), ""),
					engine.IdentList(s.key, ""), engine.Lit(ref), options[format]))
				setPartRows(t, 7)
				path := filepath.Join(dir, "out", "records."+format)
				var l logs
				out, err := Run(ctx, db, Input{Export: connectors.Export{Path: path, Format: format}, SinkType: "test", Snapshot: "snap",
					Meta: state.Meta{Serial: 1}, Key: s.key, Schema: s.schema, Merge: true, Log: l.logf})
				if err != nil {
					t.Fatal(err)
				}
				m := regexp.MustCompile(`sorted in (\d+) key ranges`).FindStringSubmatch(l.String())
				if !out.Written || m == nil {
					t.Fatalf("export: %+v, log %q: want a full export in key ranges", out, l)
				}
				if n, _ := strconv.Atoi(m[1]); n < 3 {
					t.Errorf("%d key ranges, want at least 3", n)
				}
				got, want := read(t, path), read(t, ref)
				if !bytes.Equal(got, want) {
					t.Fatalf("export in key ranges differs from one COPY sorted by key:\ngot:\n%s\nwant:\n%s", got, want)
				}
				if format != "jsonl" && !strings.HasPrefix(string(got), strings.Join(engine.FieldNames(s.schema), map[string]string{"csv": ",", "tsv": "\t"}[format])+"\n") {
					t.Errorf("no header: %.80q", got)
				}
				for _, left := range []string{path + ".possync-tmp", path + ".possync-tmp.part"} {
					if _, err := os.Stat(left); !os.IsNotExist(err) {
						t.Errorf("%s left behind: %v", filepath.Base(left), err)
					}
				}
			})
		}
	}
}

// TestFullExportAtOnce: a Parquet file, a key whose first field is neither text nor an integer, or a
// snapshot of at most one range are sorted at once, in one COPY.
func TestFullExportAtOnce(t *testing.T) {
	ctx := context.Background()
	floatKey := arrow.NewSchema([]arrow.Field{{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "sku", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	for _, tc := range []struct {
		name, format string
		key          []string
		schema       *arrow.Schema
		partRows     int64
	}{
		{"parquet", "parquet", []string{"sku"}, textSchema, 7},
		{"float key", "csv", []string{"price", "sku"}, floatKey, 7},
		{"one range", "csv", []string{"sku"}, textSchema, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			exec(t, db, `CREATE TABLE snap AS SELECT 'k' || i AS sku, 'n' || i AS name, i::BIGINT AS qty, i / 3 AS price FROM range(300) t(i)`)
			setPartRows(t, tc.partRows)
			path := filepath.Join(t.TempDir(), "records."+tc.format)
			var l logs
			out, err := Run(ctx, db, Input{Export: connectors.Export{Path: path, Format: tc.format}, Snapshot: "snap", Meta: state.Meta{Serial: 1},
				Key: tc.key, Schema: tc.schema, Log: l.logf})
			if err != nil {
				t.Fatal(err)
			}
			if !out.Written || !strings.Contains(l.String(), "written in full") || strings.Contains(l.String(), "key ranges") {
				t.Errorf("export: %+v, log %q: want one COPY", out, l)
			}
			if n, err := db.Count(ctx, fmt.Sprintf("SELECT count(*) FROM %s", readerOf(tc.format, path))); err != nil || n != 300 {
				t.Errorf("the file holds %d records (%v), want 300", n, err)
			}
		})
	}
}

func readerOf(format, path string) string {
	switch format {
	case "parquet":
		return "read_parquet(" + engine.Lit(path) + ")"
	}
	return "read_csv(" + engine.Lit(path) + ", header = true)"
}

// inOrderSnaps are snapshots stored in key order, written as a first sync's commits write them: batches of
// records in key order, appended one after the other (fillInOrder).
var inOrderSnaps = []struct {
	name string
	// keys creates the table "keys": the snapshot's keys numbered in key order (n); table is the snapshot's
	// table, which records fills (a SELECT from keys); view, if any, makes the view "snap" over it.
	keys, table, records, view string
	key                        []string
	schema                     *arrow.Schema
}{
	{
		// Text keys that sort unusually (the empty string, a space, upper case before lower case, the
		// delimiter, quotes, a newline, unicode) and names that need quoting.
		name: "text key", key: []string{"sku"}, schema: textSchema, table: "snap",
		keys: `CREATE TABLE keys AS SELECT row_number() OVER () AS n, sku FROM (SELECT DISTINCT (['Z', 'a', 'é', 'a,b', 'q"uote', e'new\nline', e'tab\t', '', ' '])[i % 9 + 1] || (i * 7919 % 1000)::VARCHAR AS sku
			FROM range(300) t(i) ORDER BY sku)`,
		records: `SELECT sku, CASE WHEN n % 4 = 0 THEN 'plain ' || n WHEN n % 4 = 1 THEN 'comma, "quoted" ' || n WHEN n % 4 = 2 THEN e'two\nlines ' || n ELSE e'tab\there ' || n END AS name,
			(n * 7 - 30)::BIGINT AS qty, CASE WHEN n % 5 = 0 THEN NULL ELSE n / 4 END AS price FROM keys`,
	},
	{
		name: "integer key, snapshot a view", key: []string{"id"}, schema: compositeSchema, table: "snap0", view: "CREATE VIEW snap AS SELECT * FROM snap0",
		keys:    `CREATE TABLE keys AS SELECT row_number() OVER () AS n, id FROM (SELECT DISTINCT (i * 7919 % 1000 - 500)::BIGINT AS id FROM range(300) t(i) ORDER BY id)`,
		records: `SELECT 'store ' || (n % 3) AS store, id, 'note ' || n AS note FROM keys`,
	},
	{
		// The first field repeats: the second orders the records within it.
		name: "composite key", key: []string{"store", "id"}, schema: compositeSchema, table: "snap",
		keys: `CREATE TABLE keys AS SELECT row_number() OVER () AS n, store, id FROM (SELECT DISTINCT CASE WHEN i < 150 THEN 'east' WHEN i < 250 THEN 'north' ELSE 'west' END AS store,
			(i * 7919 % 1000 - 500)::BIGINT AS id FROM range(300) t(i) ORDER BY store, id)`,
		records: `SELECT store, id, e'note, "' || n || e'"\n' AS note FROM keys`,
	},
	{
		// The text keys of the first, with records of about 2 KB (a batch's lines span many blocks of the
		// staging file: TestEarlyStageBounded).
		name: "text key, wide records", key: []string{"sku"}, schema: textSchema, table: "snap",
		keys: `CREATE TABLE keys AS SELECT row_number() OVER () AS n, sku FROM (SELECT DISTINCT (['Z', 'a', 'é', 'a,b', 'q"uote', e'new\nline', e'tab\t', '', ' '])[i % 9 + 1] || (i * 7919 % 1000)::VARCHAR AS sku
			FROM range(300) t(i) ORDER BY sku)`,
		records: `SELECT sku, repeat('wide, "record" ', 120) || n AS name, (n * 7 - 30)::BIGINT AS qty, n / 4 AS price FROM keys`,
	},
}

// fillInOrder creates the snapshot of inOrderSnaps[i] and inserts its records in key order, in batches of 40.
func fillInOrder(t *testing.T, db *engine.DB, i int) {
	t.Helper()
	s := inOrderSnaps[i]
	exec(t, db, "SET preserve_insertion_order = true")
	exec(t, db, s.keys)
	exec(t, db, fmt.Sprintf("CREATE TABLE %s AS %s WHERE false", s.table, s.records))
	if s.view != "" {
		exec(t, db, s.view)
	}
	for lo := 1; lo <= 300; lo += 40 {
		exec(t, db, fmt.Sprintf("INSERT INTO %s %s WHERE n BETWEEN %d AND %d ORDER BY n", s.table, s.records, lo, lo+39))
	}
	exec(t, db, "SET preserve_insertion_order = false")
}

// sortedRef writes the reference export: one DuckDB COPY of snap sorted by key.
func sortedRef(t *testing.T, db *engine.DB, path, format string, key []string, schema *arrow.Schema) []byte {
	t.Helper()
	exec(t, db, fmt.Sprintf("COPY (SELECT %s FROM snap ORDER BY %s) TO %s (%s)", engine.IdentList(engine.FieldNames(schema), ""),
		engine.IdentList(key, ""), engine.Lit(path), options[format]))
	return read(t, path)
}

// TestFullExportInKeyOrder: a snapshot stored in key order (a first sync's) is written without a sort,
// in every format, and the file holds exactly the bytes of one COPY of the snapshot sorted by key; the
// engine's preserve_insertion_order (off) is as it was.
func TestFullExportInKeyOrder(t *testing.T) {
	ctx := context.Background()
	for i, s := range inOrderSnaps {
		for _, format := range []string{"csv", "tsv", "jsonl", "parquet"} {
			t.Run(s.name+" "+format, func(t *testing.T) {
				db := openDB(t)
				fillInOrder(t, db, i)
				dir := t.TempDir()
				want := sortedRef(t, db, filepath.Join(dir, "ref."+format), format, s.key, s.schema)
				setPartRows(t, 7) // the sort would be in key ranges
				path := filepath.Join(dir, "out", "records."+format)
				var l logs
				out, err := Run(ctx, db, Input{Export: connectors.Export{Path: path, Format: format}, SinkType: "test", Snapshot: "snap",
					Meta: state.Meta{Serial: 1}, Key: s.key, Schema: s.schema, Merge: true, Log: l.logf})
				if err != nil {
					t.Fatal(err)
				}
				if !out.Written || !strings.Contains(l.String(), "which is key order (no sort)") {
					t.Fatalf("export: %+v, log %q: want a full export without a sort", out, l)
				}
				if got := read(t, path); !bytes.Equal(got, want) {
					t.Fatalf("export in stored order differs from one COPY sorted by key:\ngot:\n%.2000s\nwant:\n%.2000s", got, want)
				}
				insertionOrderOff(t, db)
			})
		}
	}
}

// TestFullExportNotInKeyOrder: a snapshot that is not stored in key order (a later run's updates and
// creates appended at the end, one record moved, a NULL key, a repeated key, a composite key out of order in
// its second field only) falls back on the sort (in key ranges here) and writes the same bytes as one COPY
// sorted by key; deletions alone leave the order as it was, so that snapshot needs no sort.
func TestFullExportNotInKeyOrder(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		snap   int // of inOrderSnaps
		change string
		sorted bool // still in key order after the change
	}{
		{"updates and creates", 0, `CREATE TABLE chg AS SELECT * FROM snap WHERE qty % 3 = 0;
			DELETE FROM snap WHERE sku IN (SELECT sku FROM chg);
			INSERT INTO snap SELECT sku, 'updated, "' || name || '"', qty + 1, price FROM chg;
			INSERT INTO snap VALUES ('a', 'new', 1, 1.5), ('', 'new empty', 2, NULL)`, false},
		{"deletes", 0, `DELETE FROM snap WHERE qty % 3 = 0`, true},
		{"one record moved to the end", 0, `CREATE TABLE chg AS SELECT * FROM snap WHERE qty = (SELECT min(qty) FROM snap);
			DELETE FROM snap WHERE qty = (SELECT min(qty) FROM snap); INSERT INTO snap SELECT * FROM chg`, false},
		{"a NULL key last", 0, `INSERT INTO snap VALUES (NULL, 'no key', 1, 1.5)`, false},
		{"a repeated key", 0, `INSERT INTO snap SELECT * FROM snap ORDER BY sku DESC LIMIT 1`, false}, // the same record: ties sort either way
		{"composite key, second field out of order", 2, `INSERT INTO snap VALUES ('west', -501, 'before every west')`, false},
		{"composite key, new first field", 2, `INSERT INTO snap VALUES ('zulu', -1000, 'last store')`, true},
	} {
		s := inOrderSnaps[tc.snap]
		for _, format := range []string{"csv", "jsonl"} {
			t.Run(tc.name+" "+format, func(t *testing.T) {
				db := openDB(t)
				fillInOrder(t, db, tc.snap)
				exec(t, db, tc.change)
				dir := t.TempDir()
				want := sortedRef(t, db, filepath.Join(dir, "ref."+format), format, s.key, s.schema)
				setPartRows(t, 7)
				path := filepath.Join(dir, "out", "records."+format)
				var l logs
				out, err := Run(ctx, db, Input{Export: connectors.Export{Path: path, Format: format}, SinkType: "test", Snapshot: "snap",
					Meta: state.Meta{Serial: 2}, Key: s.key, Schema: s.schema, Log: l.logf})
				if err != nil {
					t.Fatal(err)
				}
				wantNote := "sorted in"
				if tc.sorted {
					wantNote = "no sort"
				}
				if !out.Written || !strings.Contains(l.String(), wantNote) {
					t.Fatalf("export: %+v, log %q: want %q", out, l, wantNote)
				}
				if got := read(t, path); !bytes.Equal(got, want) {
					t.Fatalf("export differs from one COPY sorted by key:\ngot:\n%.2000s\nwant:\n%.2000s", got, want)
				}
			})
		}
	}
}

// TestFullExportInOrderOff: with the check turned off (SetInOrder(false)), a snapshot in key order is sorted
// like any other.
func TestFullExportInOrderOff(t *testing.T) {
	db := openDB(t)
	s := inOrderSnaps[0]
	fillInOrder(t, db, 0)
	setPartRows(t, 7)
	t.Cleanup(SetInOrder(false))
	var l logs
	path := filepath.Join(t.TempDir(), "records.csv")
	if _, err := Run(context.Background(), db, Input{Export: connectors.Export{Path: path, Format: "csv"}, Snapshot: "snap",
		Meta: state.Meta{Serial: 1}, Key: s.key, Schema: s.schema, Log: l.logf}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(l.String(), "key ranges") {
		t.Errorf("log %q: want the export sorted in key ranges", l)
	}
}

// TestFullExportInKeyOrderStateFile: a snapshot of several row groups in an attached database file (as the
// state's is), in a session of two threads, written in key order without a sort, holds the bytes of the
// sorted COPY, and the session's settings are restored after it.
func TestFullExportInKeyOrderStateFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := engine.Open(ctx, engine.Options{TempDir: filepath.Join(dir, "tmp"), Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	exec(t, db, "ATTACH "+engine.Lit(filepath.Join(dir, "state.db"))+" AS st")
	exec(t, db, `CREATE TABLE st.snap (sku VARCHAR, name VARCHAR, qty BIGINT, price DOUBLE)`)
	const n, batch = 400_000, 20_000 // four row groups of 122,880 and some
	exec(t, db, "SET preserve_insertion_order = true")
	for lo := 0; lo < n; lo += batch {
		exec(t, db, fmt.Sprintf(`INSERT INTO st.snap SELECT 'SK' || lpad(i::VARCHAR, 10, '0'), 'name, "' || i || '"', i %% 97, CASE WHEN i %% 5 = 0 THEN NULL ELSE i / 8 END
			FROM range(%d, %d) t(i) ORDER BY i`, lo, lo+batch))
	}
	exec(t, db, "SET preserve_insertion_order = false")
	exec(t, db, "CHECKPOINT st")
	ref := filepath.Join(dir, "ref.csv")
	exec(t, db, fmt.Sprintf("COPY (SELECT sku, name, qty, price FROM st.snap ORDER BY sku) TO %s (%s)", engine.Lit(ref), options["csv"]))
	path := filepath.Join(dir, "out", "records.csv")
	var l logs
	if _, err := Run(ctx, db, Input{Export: connectors.Export{Path: path, Format: "csv"}, Snapshot: "st.snap", Meta: state.Meta{Serial: 1},
		Key: []string{"sku"}, Schema: textSchema, Log: l.logf}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(l.String(), "no sort") {
		t.Fatalf("log %q: want the export without a sort", l)
	}
	if got, want := read(t, path), read(t, ref); !bytes.Equal(got, want) {
		t.Fatalf("export in stored order (%d bytes) differs from one COPY sorted by key (%d bytes)", len(got), len(want))
	}
	var threads int
	var order bool
	if err := db.QueryRow(ctx, "SELECT current_setting('threads'), current_setting('preserve_insertion_order')").Scan(&threads, &order); err != nil || threads != 2 || order {
		t.Errorf("after the export: threads %d, preserve_insertion_order %v (%v); want 2 and false, as before", threads, order, err)
	}
}

// insertionOrderOff fails t unless db's preserve_insertion_order is off, as the session keeps it: an export
// that turned it on put it back.
func insertionOrderOff(t *testing.T, db *engine.DB) {
	t.Helper()
	var on bool
	if err := db.QueryRow(context.Background(), "SELECT current_setting('preserve_insertion_order')::BOOLEAN").Scan(&on); err != nil || on {
		t.Errorf("preserve_insertion_order after the export: %v (%v), want false as before", on, err)
	}
}
