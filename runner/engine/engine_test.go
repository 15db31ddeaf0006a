package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
)

func openDB(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), Options{TempDir: t.TempDir() + "/tmp", Threads: 1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}

// allTypes is a schema of every type possync stores, under hostile column names.
var allTypes = arrow.NewSchema([]arrow.Field{
	{Name: `s "quoted"`, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "an int", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "prix ü€", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "b'ool", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
}, nil)

var (
	ts0 = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	d0  = time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
)

// allTypesBatch has two rows: one of values (text with a quote, a newline and unicode) and one of NULLs.
func allTypesBatch(t *testing.T) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, allTypes)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append("it's \"x\"\nñ")
	b.Field(1).(*array.Int64Builder).Append(-9007199254740993)
	b.Field(2).(*array.Float64Builder).Append(12.5)
	b.Field(3).(*array.BooleanBuilder).Append(true)
	b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(ts0.UnixMicro()))
	b.Field(5).(*array.Date32Builder).Append(arrow.Date32FromTime(d0))
	for i := range allTypes.Fields() {
		b.Field(i).AppendNull()
	}
	return b.NewRecordBatch()
}

// rowsOf renders every row of q through the Arrow query path, one string per row.
func rowsOf(t *testing.T, d *DB, q string) []string {
	t.Helper()
	var out []string
	err := d.Query(context.Background(), q, func(b arrow.RecordBatch) error {
		for i := 0; i < int(b.NumRows()); i++ {
			var cells []string
			for j := 0; j < int(b.NumCols()); j++ {
				c := b.Column(j)
				if c.IsNull(i) {
					cells = append(cells, "NULL")
					continue
				}
				switch c := c.(type) {
				case *array.Timestamp:
					unit := c.DataType().(*arrow.TimestampType).Unit
					cells = append(cells, c.Value(i).ToTime(unit).UTC().Format(time.RFC3339Nano))
				case *array.Date32:
					cells = append(cells, c.Value(i).ToTime().Format("2006-01-02"))
				default:
					cells = append(cells, c.ValueStr(i))
				}
			}
			out = append(out, strings.Join(cells, "|"))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	return out
}

func TestLoadBatchRoundTrip(t *testing.T) {
	ctx := context.Background()
	d := openDB(t)
	table := `my "table" ü 1`
	if err := d.LoadBatch(ctx, table, allTypesBatch(t)); err != nil {
		t.Fatalf("LoadBatch: %v", err)
	}
	// DuckDB's column types are the ones Type maps each Arrow type to.
	rows, err := d.Rows(ctx, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = "+Lit(table)+" ORDER BY ordinal_position")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var n, ty string
		if err := rows.Scan(&n, &ty); err != nil {
			t.Fatal(err)
		}
		got = append(got, n+" "+ty)
	}
	rows.Close()
	want := []string{`s "quoted" VARCHAR`, "an int BIGINT", "prix ü€ DOUBLE", "b'ool BOOLEAN", "ts TIMESTAMP WITH TIME ZONE", "d DATE"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("columns = %q\nwant      %q", got, want)
	}
	for i, f := range allTypes.Fields() {
		if ty := Type(f.Type); !strings.HasPrefix(want[i], f.Name+" ") || (ty != strings.TrimPrefix(want[i], f.Name+" ") && ty != "TIMESTAMPTZ") {
			t.Errorf("Type(%s) = %s, column is %s", f.Type, ty, want[i])
		}
	}

	q := fmt.Sprintf("SELECT %s FROM %s ORDER BY %s NULLS LAST", IdentList(FieldNames(allTypes), "t."), Ident(table)+" t", Ident("an int"))
	gotRows := rowsOf(t, d, q)
	wantRows := []string{
		"it's \"x\"\nñ|-9007199254740993|12.5|true|2026-03-04T05:06:07.123456Z|2026-12-31",
		"NULL|NULL|NULL|NULL|NULL|NULL",
	}
	if strings.Join(gotRows, "\n--\n") != strings.Join(wantRows, "\n--\n") {
		t.Errorf("rows =\n%q\nwant\n%q", gotRows, wantRows)
	}
	if n, err := d.Count(ctx, "SELECT count(*) FROM "+Ident(table)+" WHERE "+Ident(`s "quoted"`)+" = "+Lit("it's \"x\"\nñ")); err != nil || n != 1 {
		t.Errorf("literal match: %d, %v; want 1", n, err)
	}

	// SchemaOf gives back the Arrow types of the stored columns; Canonical maps them to the stored types.
	sch, err := d.SchemaOf(ctx, Ident(table))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(FieldNames(sch), ","); got != strings.Join(FieldNames(allTypes), ",") {
		t.Errorf("SchemaOf names = %s", got)
	}
	can := Canonical(sch)
	for i, f := range can.Fields() {
		if Type(f.Type) != Type(allTypes.Field(i).Type) {
			t.Errorf("Canonical field %s: %s (%s), want %s", f.Name, f.Type, Type(f.Type), Type(allTypes.Field(i).Type))
		}
	}
}

func TestLoadReplacesAndCreateEmpty(t *testing.T) {
	ctx := context.Background()
	d := openDB(t)
	sch := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}}, nil)
	batch := func(vals ...int64) arrow.RecordBatch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
		defer b.Release()
		b.Field(0).(*array.Int64Builder).AppendValues(vals, nil)
		return b.NewRecordBatch()
	}
	// Several batches from a SliceReader, then a replacement from a ChanReader.
	rr := NewSliceReader(sch, batch(1, 2), batch(3))
	if err := d.Load(ctx, "t", rr); err != nil {
		t.Fatal(err)
	}
	rr.Release()
	if got := rowsOf(t, d, "SELECT k FROM t ORDER BY k"); strings.Join(got, ",") != "1,2,3" {
		t.Errorf("after Load = %v", got)
	}
	ch := make(chan arrow.RecordBatch, 2)
	ch <- batch(7)
	ch <- batch(8, 9)
	close(ch)
	cr := NewChanReader(ctx, sch, ch)
	if err := d.Load(ctx, "t", cr); err != nil {
		t.Fatal(err)
	}
	cr.Release()
	if cr.Err() != nil {
		t.Errorf("ChanReader.Err = %v", cr.Err())
	}
	if got := rowsOf(t, d, "SELECT k FROM t ORDER BY k"); strings.Join(got, ",") != "7,8,9" {
		t.Errorf("after replacing Load = %v", got)
	}

	if err := d.CreateEmpty(ctx, `e "x"`, allTypes); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Count(ctx, `SELECT count(*) FROM `+Ident(`e "x"`)); err != nil || n != 0 {
		t.Errorf("CreateEmpty rows = %d, %v", n, err)
	}
	got, err := d.SchemaOf(ctx, Ident(`e "x"`))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range got.Fields() {
		if f.Name != allTypes.Field(i).Name || Type(f.Type) != Type(allTypes.Field(i).Type) {
			t.Errorf("CreateEmpty field %d = %s %s", i, f.Name, f.Type)
		}
	}
}

func TestQuoting(t *testing.T) {
	ctx := context.Background()
	d := openDB(t)
	for _, s := range []string{`a"b`, `""`, "with space", "it's", "ünï © 日本", `x"; DROP TABLE t; --`, "select", "a.b"} {
		// An identifier names exactly that table and column; a literal is exactly that text.
		if err := d.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (%s VARCHAR)", Ident(s), Ident(s))); err != nil {
			t.Fatalf("create %q: %v", s, err)
		}
		if err := d.Exec(ctx, fmt.Sprintf("INSERT INTO %s VALUES (%s)", Ident(s), Lit(s))); err != nil {
			t.Fatalf("insert %q: %v", s, err)
		}
		var got string
		if err := d.QueryRow(ctx, fmt.Sprintf("SELECT %s FROM %s", IdentList([]string{s}, "x."), Ident(s)+" x")).Scan(&got); err != nil || got != s {
			t.Errorf("round trip %q: got %q, %v", s, got, err)
		}
		var name string
		if err := d.QueryRow(ctx, "SELECT table_name FROM information_schema.tables WHERE table_name = ?", s).Scan(&name); err != nil || name != s {
			t.Errorf("table name %q: got %q, %v", s, name, err)
		}
	}
	if got := IdentList([]string{"a", `b"c`}, "s."); got != `s."a", s."b""c"` {
		t.Errorf("IdentList = %s", got)
	}
}

func TestCancelledContext(t *testing.T) {
	d := openDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q := "SELECT count(*) FROM range(1000000000) a, range(1000) b"
	if err := d.Query(ctx, q, func(arrow.RecordBatch) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Query: %v, want context.Canceled", err)
	}
	if err := d.Exec(ctx, "CREATE TABLE c AS "+q); !errors.Is(err, context.Canceled) {
		t.Errorf("Exec: %v, want context.Canceled", err)
	}
	if _, err := d.Count(ctx, q); !errors.Is(err, context.Canceled) {
		t.Errorf("Count: %v, want context.Canceled", err)
	}
	// A ChanReader ends when its context is done and says why.
	cr := NewChanReader(ctx, allTypes, make(chan arrow.RecordBatch))
	if cr.Next() || !errors.Is(cr.Err(), context.Canceled) {
		t.Errorf("ChanReader after cancel: Err = %v", cr.Err())
	}
	// The session is still usable.
	if n, err := d.Count(context.Background(), "SELECT 41 + 1"); err != nil || n != 42 {
		t.Errorf("after cancel: %d, %v", n, err)
	}
}

// TestCancelWhileRunning cancels a query from its own batch callback: the query stops with context.Canceled.
func TestCancelWhileRunning(t *testing.T) {
	d := openDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches := 0
	err := d.Query(ctx, "SELECT i FROM range(100000000) t(i)", func(arrow.RecordBatch) error {
		batches++
		if batches == 1 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Query cancelled mid-way: %v (after %d batches), want context.Canceled", err, batches)
	}
}

type fakeReader struct {
	batches []arrow.RecordBatch
	err     error
}

func (f *fakeReader) Next(context.Context) (arrow.RecordBatch, error) {
	if len(f.batches) > 0 {
		b := f.batches[0]
		f.batches = f.batches[1:]
		return b, nil
	}
	if f.err != nil {
		return nil, f.err
	}
	return nil, io.EOF
}
func (f *fakeReader) Result() connectors.ReadResult { return connectors.ReadResult{} }
func (f *fakeReader) Close() error                  { return nil }

func TestSourceReader(t *testing.T) {
	ctx := context.Background()
	d := openDB(t)
	// All batches, to the end: Done, no error.
	sr := NewSourceReader(ctx, allTypes, &fakeReader{batches: []arrow.RecordBatch{allTypesBatch(t)}}, allTypesBatch(t))
	if err := d.Load(ctx, "src", sr); err != nil {
		t.Fatal(err)
	}
	sr.Release()
	if !sr.Done() || sr.SourceErr() != nil {
		t.Errorf("Done = %v, SourceErr = %v", sr.Done(), sr.SourceErr())
	}
	if n, err := d.Count(ctx, "SELECT count(*) FROM src"); err != nil || n != 4 {
		t.Errorf("rows = %d, %v; want 4", n, err)
	}
	// A source error is kept (DuckDB's own error is generic).
	boom := errors.New("boom")
	sr = NewSourceReader(ctx, allTypes, &fakeReader{err: boom}, nil)
	_ = d.Load(ctx, "src2", sr)
	sr.Release()
	if !errors.Is(sr.SourceErr(), boom) || sr.Done() {
		t.Errorf("SourceErr = %v, Done = %v; want boom, not done", sr.SourceErr(), sr.Done())
	}
	// A batch of another schema stops the read.
	other := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	ob := array.NewRecordBuilder(memory.DefaultAllocator, other)
	ob.Field(0).(*array.Int64Builder).Append(1)
	sr = NewSourceReader(ctx, allTypes, &fakeReader{batches: []arrow.RecordBatch{ob.NewRecordBatch()}}, nil)
	ob.Release()
	_ = d.Load(ctx, "src3", sr)
	sr.Release()
	if sr.SourceErr() == nil || !strings.Contains(sr.SourceErr().Error(), "differs from the declared schema") {
		t.Errorf("schema mismatch: SourceErr = %v", sr.SourceErr())
	}
}

// TestViewsAndWorker: ExecWithView and WithView expose a reader's rows to one statement only; a Worker sees
// the session's tables through a connection of its own.
func TestViewsAndWorker(t *testing.T) {
	ctx := context.Background()
	d := openDB(t)
	sch := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}}, nil)
	batch := func(vals ...int64) arrow.RecordBatch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
		defer b.Release()
		b.Field(0).(*array.Int64Builder).AppendValues(vals, nil)
		return b.NewRecordBatch()
	}
	if err := d.Exec(ctx, "CREATE TABLE t AS SELECT i AS k FROM range(10) r(i)"); err != nil {
		t.Fatal(err)
	}
	rr := NewSliceReader(sch, batch(2, 4), batch(6))
	if err := d.ExecWithView(ctx, "gone keys", rr, `DELETE FROM t WHERE k IN (SELECT k FROM "gone keys")`); err != nil {
		t.Fatal(err)
	}
	rr.Release()
	if got := rowsOf(t, d, "SELECT k FROM t ORDER BY k"); strings.Join(got, ",") != "0,1,3,5,7,8,9" {
		t.Errorf("after ExecWithView = %v", got)
	}
	// The view is gone with its statement (reading it after its stream was freed crashed the process).
	if _, err := d.Count(ctx, `SELECT count(*) FROM "gone keys"`); err == nil {
		t.Error("the view outlived its statement")
	}
	rr = NewSliceReader(sch, batch(100))
	if err := d.WithView("extra", rr, func() error { return d.Exec(ctx, "INSERT INTO t SELECT k FROM extra") }); err != nil {
		t.Fatal(err)
	}
	rr.Release()
	if _, err := d.Count(ctx, `SELECT count(*) FROM extra`); err == nil {
		t.Error("the WithView view outlived fn")
	}
	if err := d.LoadBatch(ctx, "loaded", batch(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Count(ctx, "SELECT count(*) FROM "+Ident("__view_loaded")); err == nil {
		t.Error("Load's view outlived the load")
	}

	w, err := d.Worker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var sum int64
	err = w.Query(ctx, "SELECT k FROM t", func(b arrow.RecordBatch) error {
		for _, v := range b.Column(0).(*array.Int64).Int64Values() {
			sum += v
		}
		return nil
	})
	if err != nil || sum != 0+1+3+5+7+8+9+100 {
		t.Errorf("worker sum = %d, %v", sum, err)
	}
}

// TestWorkerAfterSpill: a worker connection opened after DuckDB spilled to the temporary directory works
// (the directory is the database's; setting it again on the new connection would fail).
func TestWorkerAfterSpill(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := Open(ctx, Options{TempDir: dir, MemoryLimit: "64MB", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Exec(ctx, "CREATE TABLE big AS SELECT i, repeat('x', 200) || i AS s FROM range(1000000) r(i) ORDER BY s DESC"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Skipf("DuckDB did not spill to %s (%v); nothing to test", dir, err)
	}
	w, err := d.Worker(ctx)
	if err != nil {
		t.Fatalf("a worker after a spill: %v", err)
	}
	defer w.Close()
	var n int64
	if err := w.Query(ctx, "SELECT count(*) AS n FROM big", func(b arrow.RecordBatch) error {
		n = b.Column(0).(*array.Int64).Value(0)
		return nil
	}); err != nil || n != 1000000 {
		t.Fatalf("the worker counted %d rows (%v), want 1000000", n, err)
	}
}

// TestReader: a Reader reads the session's committed tables through a connection of its own, without the
// session's open transaction's writes; opening it keeps the thread count the session set since Open
// (threads is the database's: an apply runs on one thread and opens a Reader then); closing it leaves the
// database open.
func TestReader(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, Options{TempDir: t.TempDir(), Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Exec(ctx, "CREATE TABLE t AS SELECT i AS k FROM range(10) r(i)"); err != nil {
		t.Fatal(err)
	}
	if err := d.Exec(ctx, "SET threads = 1"); err != nil {
		t.Fatal(err)
	}
	r, err := d.Reader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, db := range map[string]*DB{"session": d, "reader": r} {
		if n, err := db.Count(ctx, "SELECT current_setting('threads')"); err != nil || n != 1 {
			t.Errorf("%s: threads = %d (%v) after the reader opened, want the session's 1", name, n, err)
		}
	}
	if err := d.Exec(ctx, "BEGIN TRANSACTION; INSERT INTO t VALUES (100)"); err != nil {
		t.Fatal(err)
	}
	var sum int64
	err = r.Query(ctx, "SELECT k FROM t", func(b arrow.RecordBatch) error {
		for _, v := range b.Column(0).(*array.Int64).Int64Values() {
			sum += v
		}
		return nil
	})
	if err != nil || sum != 45 {
		t.Errorf("reader: sum %d (%v), want 45: the committed rows, not the open transaction's", sum, err)
	}
	if err := d.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Count(ctx, "SELECT sum(k) FROM t"); err != nil || n != 145 {
		t.Errorf("reader after the commit: sum %d (%v), want 145", n, err)
	}
	r.Close()
	if n, err := d.Count(ctx, "SELECT count(*) FROM t"); err != nil || n != 11 {
		t.Errorf("session after the reader closed: %d rows (%v), want 11", n, err)
	}
}

// TestWithSetting: the setting holds the value while fn runs and its old value after, whether fn
// succeeds or fails; a setting already at the value is left alone.
func TestWithSetting(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, Options{TempDir: t.TempDir(), Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	setting := func(name string) string {
		t.Helper()
		var v string
		if err := d.QueryRow(ctx, "SELECT current_setting("+Lit(name)+")::VARCHAR").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name, value, during string
		fnErr               error
	}{
		{"threads", "1", "1", nil},
		{"threads", "1", "1", boom},
		{"preserve_insertion_order", "true", "true", nil},
		{"preserve_insertion_order", "false", "false", boom},
		{"threads", "2", "2", nil}, // already 2: no SET
	} {
		before := setting(tc.name)
		err := d.WithSetting(ctx, tc.name, tc.value, func() error {
			if got := setting(tc.name); got != tc.during {
				t.Errorf("%s = %s while fn runs, want %s", tc.name, got, tc.during)
			}
			return tc.fnErr
		})
		if !errors.Is(err, tc.fnErr) || (tc.fnErr == nil && err != nil) {
			t.Errorf("WithSetting(%s, %s) = %v, want fn's error %v", tc.name, tc.value, err, tc.fnErr)
		}
		if after := setting(tc.name); after != before {
			t.Errorf("%s = %s after WithSetting(%s), want it restored to %s", tc.name, after, tc.value, before)
		}
	}
}

// TestShadowsRowid: a column named rowid in any case hides DuckDB's row number from a query (it reads the
// column), which is what ShadowsRowid reports; other names, including ones that contain rowid, do not.
func TestShadowsRowid(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, col := range []string{"rowid", "RowID", "row_id", "rowid2"} {
		if err := d.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE t AS SELECT i + 1000 AS %s FROM range(3) r(i)", Ident(col))); err != nil {
			t.Fatal(err)
		}
		var first int64
		if err := d.QueryRow(ctx, "SELECT min(rowid) FROM t").Scan(&first); err != nil {
			t.Fatal(err)
		}
		if shadowed := first == 1000; ShadowsRowid([]string{"sku", col}) != shadowed {
			t.Errorf("column %s: ShadowsRowid = %v, but min(rowid) = %d", col, !shadowed, first)
		}
	}
}
