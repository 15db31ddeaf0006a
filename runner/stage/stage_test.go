package stage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
)

func openDB(t *testing.T) *engine.DB {
	t.Helper()
	d, err := engine.Open(context.Background(), engine.Options{TempDir: t.TempDir() + "/tmp", Threads: 1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}

var itemSchema = arrow.NewSchema([]arrow.Field{
	{Name: "sku", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "active", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

var items = []record.Record{
	{"sku": "A-1", "name": "Helmet, red", "qty": int64(3), "price": 49.5, "active": true},
	{"sku": "B-2", "name": `Bell "ding"`, "qty": int64(-1), "price": 7.25, "active": false},
	{"sku": "C-3", "name": nil, "qty": nil, "price": nil, "active": nil},
}

// batchSource is an Arrow source yielding records in batches of two.
type batchSource struct {
	recs   []record.Record
	err    error // returned after the batches
	result connectors.ReadResult
}

func (s *batchSource) Schema() *arrow.Schema { return itemSchema }
func (s *batchSource) Read(context.Context, connectors.ReadRequest) (connectors.Reader, error) {
	return &batchReader{s: s, recs: s.recs}, nil
}

type batchReader struct {
	s    *batchSource
	recs []record.Record
}

func (r *batchReader) Next(context.Context) (arrow.RecordBatch, error) {
	if len(r.recs) == 0 {
		if r.s.err != nil {
			return nil, r.s.err
		}
		return nil, io.EOF
	}
	n := min(2, len(r.recs))
	b, err := record.BuildBatch(nil, itemSchema, r.recs[:n])
	r.recs = r.recs[n:]
	return b, err
}
func (r *batchReader) Result() connectors.ReadResult { return r.s.result }
func (r *batchReader) Close() error                  { return nil }

// fileSource is a CSV source read by DuckDB's own reader.
type fileSource struct {
	batchSource
	scan connectors.Scan
}

func (s *fileSource) Scan(context.Context, connectors.ReadRequest) (*connectors.Scan, error) {
	sc := s.scan
	return &sc, nil
}

// rows renders a table's rows sorted by sku, through SQL text (NULL as "NULL").
func rows(t *testing.T, db *engine.DB, table string) []string {
	t.Helper()
	rs, err := db.Rows(context.Background(), `SELECT concat_ws('|', coalesce(sku, 'NULL'), coalesce(name, 'NULL'), coalesce(qty::VARCHAR, 'NULL'),
		coalesce(price::VARCHAR, 'NULL'), coalesce(active::VARCHAR, 'NULL')) FROM `+engine.Ident(table)+` ORDER BY sku`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

var wantItems = []string{
	"A-1|Helmet, red|3|49.5|true",
	`B-2|Bell "ding"|-1|7.25|false`,
	"C-3|NULL|NULL|NULL|NULL",
}

func TestArrowSourceIsReadWithItsSchema(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	out, err := Run(ctx, db, Input{Name: "pos items", Type: "fake", Source: &batchSource{recs: items}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db, "pos items"); strings.Join(got, "\n") != strings.Join(wantItems, "\n") {
		t.Errorf("rows =\n%s", strings.Join(got, "\n"))
	}
	sch, err := db.SchemaOf(ctx, engine.Ident("pos items"))
	if err != nil {
		t.Fatal(err)
	}
	if !sch.Equal(itemSchema) {
		t.Errorf("table schema %s, want %s", sch, itemSchema)
	}
	fp, n, err := Fingerprint(ctx, db, engine.Ident("pos items"))
	if err != nil {
		t.Fatal(err)
	}
	in := out.Input
	if in.Name != "pos items" || in.Type != "fake" || in.Mode != "snapshot" || in.Records != 3 || n != 3 || in.Fingerprint != fp || out.Unchanged || out.Delta != "" {
		t.Errorf("Output = %+v, fingerprint %s", out, fp)
	}
}

func TestFingerprint(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	fpOf := func(recs []record.Record) string {
		t.Helper()
		if err := db.LoadRecords(ctx, "t", itemSchema, recs); err != nil {
			t.Fatal(err)
		}
		fp, _, err := Fingerprint(ctx, db, "t")
		if err != nil {
			t.Fatal(err)
		}
		return fp
	}
	base := fpOf(items)
	if !strings.HasPrefix(base, "3:") {
		t.Errorf("fingerprint %q does not start with the row count", base)
	}
	if again := fpOf(items); again != base {
		t.Errorf("same content, fingerprint %s then %s", base, again)
	}
	if reordered := fpOf([]record.Record{items[2], items[0], items[1]}); reordered != base {
		t.Errorf("same rows in another order: %s, want %s", reordered, base)
	}
	changed := func(field string, v any) []record.Record {
		out := make([]record.Record, len(items))
		for i, r := range items {
			out[i] = record.Record{}
			for k, x := range r {
				out[i][k] = x
			}
		}
		out[1][field] = v
		return out
	}
	for _, c := range []struct {
		field string
		v     any
	}{{"qty", int64(0)}, {"price", 7.26}, {"name", "Bell"}, {"active", nil}, {"sku", "B-3"}} {
		if fp := fpOf(changed(c.field, c.v)); fp == base {
			t.Errorf("%s changed to %v: fingerprint unchanged", c.field, c.v)
		}
	}
	if fp := fpOf(items[:2]); fp == base || !strings.HasPrefix(fp, "2:") {
		t.Errorf("a row fewer: fingerprint %s", fp)
	}
	if fp := fpOf(nil); fp != "0:0" {
		t.Errorf("empty: fingerprint %s, want 0:0", fp)
	}
}

const itemsCSV = "sku,price,name,qty,active,ignored\n" +
	"B-2,7.25,\"Bell \"\"ding\"\"\",-1,false,x\n" +
	"A-1,49.5,\"Helmet, red\",3,true,y\n" +
	"C-3,,,,,z\n"

// TestCSVScanMatchesArrowRead: DuckDB's CSV reader, matching the declared columns by name, reads the same
// rows and types as the Arrow read of the same records.
func TestCSVScanMatchesArrowRead(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	path := filepath.Join(t.TempDir(), "items.csv")
	if err := os.WriteFile(path, []byte(itemsCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	src := &fileSource{scan: connectors.Scan{Format: "csv", Paths: []string{path}, Header: true}}
	out, err := Run(ctx, db, Input{Name: "file", Type: "file", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, db, Input{Name: "arrow", Type: "fake", Source: &batchSource{recs: items}}); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db, "file"); strings.Join(got, "\n") != strings.Join(wantItems, "\n") {
		t.Errorf("CSV rows =\n%s", strings.Join(got, "\n"))
	}
	fsch, _ := db.SchemaOf(ctx, "file")
	if !fsch.Equal(itemSchema) {
		t.Errorf("CSV table schema %s, want %s", fsch, itemSchema)
	}
	ffp, _, _ := Fingerprint(ctx, db, "file")
	afp, _, _ := Fingerprint(ctx, db, "arrow")
	if ffp != afp {
		t.Errorf("content fingerprints differ: CSV %s, Arrow %s", ffp, afp)
	}
	// A file input's fingerprint is the hash of its files.
	if out.Input.Records != 3 || !strings.HasPrefix(out.Input.Fingerprint, "xxh3:") || out.Input.Mode != "snapshot" {
		t.Errorf("file Input = %+v", out.Input)
	}

	// Expecting that fingerprint: nothing is read.
	exec(t, db, "DROP TABLE file")
	un, err := Run(ctx, db, Input{Name: "file", Type: "file", Source: src, Expect: out.Input.Fingerprint, ExpectRecords: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !un.Unchanged || un.Input.Records != 3 || un.Input.Fingerprint != out.Input.Fingerprint {
		t.Errorf("unchanged file: %+v", un)
	}
	if _, err := db.Count(ctx, "SELECT count(*) FROM file"); err == nil {
		t.Error("an unchanged file was loaded")
	}
	// One byte changed: read again, with a new fingerprint.
	if err := os.WriteFile(path, []byte(strings.Replace(itemsCSV, "49.5", "49.6", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ch, err := Run(ctx, db, Input{Name: "file", Type: "file", Source: src, Expect: out.Input.Fingerprint, ExpectRecords: 3})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Unchanged || ch.Input.Fingerprint == out.Input.Fingerprint || ch.Input.Records != 3 {
		t.Errorf("changed file: %+v", ch)
	}
	if got := rows(t, db, "file"); got[0] != "A-1|Helmet, red|3|49.6|true" {
		t.Errorf("changed file row = %s", got[0])
	}
}

func exec(t *testing.T, db *engine.DB, q string) {
	t.Helper()
	if err := db.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestCSVMalformedRowIsNamed(t *testing.T) {
	db := openDB(t)
	path := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(path, []byte("sku,name,qty,price,active\nA-1,x,1,1.5,true\nB-2,y,not a number,2,false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := &fileSource{scan: connectors.Scan{Format: "csv", Paths: []string{path}, Header: true}}
	_, err := Run(context.Background(), db, Input{Name: "bad", Type: "file", Source: src})
	if err == nil {
		t.Fatal("a malformed row was read")
	}
	for _, want := range []string{`file source "bad"`, "1 malformed row(s); nothing was planned", path + ":3", "qty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestSourceErrorNamesTheSource(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := Run(context.Background(), openDB(t), Input{Name: "pos", Type: "fake", Source: &batchSource{recs: items, err: boom}})
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), `fake source "pos": `) {
		t.Errorf("err = %v", err)
	}
}

// TestChangesOverlayStoredRecords: an incremental read replaces the stored records of its keys and keeps
// the others; the read's own records are in Delta.
func TestChangesOverlayStoredRecords(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	if err := db.LoadRecords(ctx, "stored", itemSchema, []record.Record{
		{"sku": "A-1", "name": "old", "qty": int64(1), "price": 1.0, "active": true},
		{"sku": "Z-9", "name": "kept", "qty": int64(9), "price": 9.0, "active": true},
	}); err != nil {
		t.Fatal(err)
	}
	src := &batchSource{recs: items, result: connectors.ReadResult{Mode: connectors.Changes, Key: []string{"sku"}, Checkpoint: []byte("c2")}}
	out, err := Run(ctx, db, Input{Name: "inc", Type: "fake", Source: src, Stored: "stored"})
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]string{}, wantItems...), "Z-9|kept|9|9.0|true")
	if got := rows(t, db, "inc"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("merged rows =\n%s", strings.Join(got, "\n"))
	}
	if got := rows(t, db, out.Delta); fmt.Sprint(got) != fmt.Sprint(wantItems) {
		t.Errorf("delta %q rows = %v", out.Delta, got)
	}
	if out.Input.Mode != "changes" || out.Input.Records != 4 || string(out.Result.Checkpoint) != "c2" {
		t.Errorf("Output = %+v", out)
	}
	// Changes without a key is refused.
	src.result.Key = nil
	if _, err := Run(ctx, db, Input{Name: "inc2", Type: "fake", Source: src}); err == nil || !strings.Contains(err.Error(), "must name its key") {
		t.Errorf("keyless changes: %v", err)
	}
}

// TestOtherFileLayoutsMatchArrowRead: a headerless CSV (columns in declared order), a TSV and JSON lines
// read the same rows as the Arrow read.
func TestOtherFileLayoutsMatchArrowRead(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	if _, err := Run(ctx, db, Input{Name: "arrow", Type: "fake", Source: &batchSource{recs: items}}); err != nil {
		t.Fatal(err)
	}
	want, _, err := Fingerprint(ctx, db, "arrow")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name, file, body string
		scan             connectors.Scan
	}{
		{"headerless csv", "a.csv", "B-2,\"Bell \"\"ding\"\"\",-1,7.25,false\nA-1,\"Helmet, red\",3,49.5,true\nC-3,NULL,NULL,NULL,NULL\n",
			connectors.Scan{Format: "csv", NullString: "NULL"}},
		{"tsv", "a.tsv", "active\tsku\tname\tqty\tprice\ntrue\tA-1\tHelmet, red\t3\t49.5\nfalse\tB-2\t\"Bell \"\"ding\"\"\"\t-1\t7.25\n\tC-3\t\t\t\n",
			connectors.Scan{Format: "tsv", Header: true}},
		{"jsonl", "a.jsonl", `{"sku":"A-1","name":"Helmet, red","qty":3,"price":49.5,"active":true}` + "\n" +
			`{"sku":"B-2","name":"Bell \"ding\"","qty":-1,"price":7.25,"active":false}` + "\n" + `{"sku":"C-3"}` + "\n",
			connectors.Scan{Format: "jsonl"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.file)
			if err := os.WriteFile(path, []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
			c.scan.Paths = []string{path}
			if _, err := Run(ctx, db, Input{Name: "f", Type: "file", Source: &fileSource{scan: c.scan}}); err != nil {
				t.Fatal(err)
			}
			if got := rows(t, db, "f"); strings.Join(got, "\n") != strings.Join(wantItems, "\n") {
				t.Errorf("rows =\n%s", strings.Join(got, "\n"))
			}
			if fp, _, _ := Fingerprint(ctx, db, "f"); fp != want {
				t.Errorf("content fingerprint %s, Arrow read's %s", fp, want)
			}
		})
	}
}

// TestDeferredScan: with Defer, the source is a view over the file that one query reads; Finish then
// reports the file's malformed rows (as a load does) and the record count, and Load makes the table a load
// would have made, with the same errors.
func TestDeferredScan(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "items.csv"), filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(good, []byte(itemsCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("sku,name,qty,price,active\nA-1,x,1,1.5,true\nB-2,y,not a number,2,false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	scanOf := func(path string) *fileSource {
		return &fileSource{scan: connectors.Scan{Format: "csv", Paths: []string{path}, Header: true}}
	}
	loaded, err := Run(ctx, db, Input{Name: "loaded", Type: "file", Source: scanOf(good)})
	if err != nil {
		t.Fatal(err)
	}
	_, loadErr := Run(ctx, db, Input{Name: "bad", Type: "file", Source: scanOf(bad)})
	exec(t, db, "DROP TABLE bad")
	if loadErr == nil {
		t.Fatal("a malformed row was loaded")
	}

	// Finished after one query: the rows are those a load reads, the input the same.
	out, err := Run(ctx, db, Input{Name: "file", Type: "file", Source: scanOf(good), Defer: true})
	if err != nil {
		t.Fatal(err)
	}
	if out.Deferred == nil || out.Input.Records != -1 {
		t.Fatalf("deferred read: %+v", out)
	}
	if err := out.Deferred.Scanned(ctx); err != nil {
		t.Fatal(err)
	}
	exec(t, db, "CREATE TABLE copied AS SELECT * FROM file")
	if err := out.Deferred.Finish(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db, "copied"); strings.Join(got, "\n") != strings.Join(wantItems, "\n") {
		t.Errorf("rows read through the view =\n%s", strings.Join(got, "\n"))
	}
	if loaded.Input.Name = "file"; out.Input != loaded.Input {
		t.Errorf("deferred input %+v, loaded %+v", out.Input, loaded.Input)
	}
	if _, err := db.Count(ctx, "SELECT count(*) FROM file"); err == nil {
		t.Error("the view outlived Finish")
	}

	// With an expected fingerprint (a rerun whose files changed), the files were hashed before the view was
	// made: the fingerprint is known at once, and Finish keeps it.
	out, err = Run(ctx, db, Input{Name: "file", Type: "file", Source: scanOf(good), Defer: true, Expect: "xxh3:other", ExpectRecords: 3})
	if err != nil {
		t.Fatal(err)
	}
	if out.Deferred == nil || out.Unchanged || out.Input.Fingerprint != loaded.Input.Fingerprint {
		t.Fatalf("deferred read after a changed fingerprint: %+v, want fingerprint %s", out, loaded.Input.Fingerprint)
	}
	if err := out.Deferred.Scanned(ctx); err != nil {
		t.Fatal(err)
	}
	exec(t, db, "CREATE TABLE copied_again AS SELECT * FROM file")
	if err := out.Deferred.Finish(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if out.Input != loaded.Input {
		t.Errorf("deferred input after a changed fingerprint %+v, loaded %+v", out.Input, loaded.Input)
	}

	// A malformed row: Finish fails as the load did.
	out, err = Run(ctx, db, Input{Name: "bad", Type: "file", Source: scanOf(bad), Defer: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Deferred.Scanned(ctx); err != nil {
		t.Fatal(err)
	}
	exec(t, db, "CREATE TABLE copied_bad AS SELECT * FROM bad")
	if err := out.Deferred.Finish(ctx, 1); err == nil || err.Error() != loadErr.Error() {
		t.Errorf("Finish: %v\nwant the load's error: %v", err, loadErr)
	}

	// Load: the table and the errors of a load.
	out, err = Run(ctx, db, Input{Name: "file", Type: "file", Source: scanOf(good), Defer: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Deferred.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db, "file"); strings.Join(got, "\n") != strings.Join(wantItems, "\n") || out.Input != loaded.Input {
		t.Errorf("loaded after deferring: %s, input %+v", strings.Join(got, "\n"), out.Input)
	}
	out, err = Run(ctx, db, Input{Name: "bad", Type: "file", Source: scanOf(bad), Defer: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Deferred.Load(ctx); err == nil || err.Error() != loadErr.Error() {
		t.Errorf("Load: %v\nwant: %v", err, loadErr)
	}
}
