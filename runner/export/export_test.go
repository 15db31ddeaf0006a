package export

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/state"
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

func exec(t *testing.T, db *engine.DB, q string) {
	t.Helper()
	if err := db.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// logs collects an export's progress lines.
type logs []string

func (l *logs) logf(format string, args ...any) { *l = append(*l, fmt.Sprintf(format, args...)) }
func (l logs) String() string                   { return strings.Join(l, "\n") }

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exportCase is a snapshot layout the merge must reproduce byte for byte.
type exportCase struct {
	name, format string
	// create makes the snapshot table "snap" of 20 records; key is its key, schema its fields.
	create string
	key    []string
	schema *arrow.Schema
	// change updates, deletes and creates records of snap and fills "chg" with the changed keys.
	change []string
	// gone is a line the change deletes; added a line it creates (both as the file shows them).
	gone, added string
}

var (
	textSchema = arrow.NewSchema([]arrow.Field{
		{Name: "sku", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	compositeSchema = arrow.NewSchema([]arrow.Field{
		{Name: "store", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
)

// Text keys with upper case, unicode and a comma; names with the delimiter, quotes and a newline.
const textSnap = `CREATE TABLE snap AS SELECT
	CASE WHEN i % 3 = 0 THEN 'Z' WHEN i % 3 = 1 THEN 'a' ELSE 'é' END || ',' || lpad(i::VARCHAR, 2, '0') AS sku,
	CASE WHEN i % 4 = 0 THEN 'plain ' || i WHEN i % 4 = 1 THEN 'comma, "quoted" ' || i WHEN i % 4 = 2 THEN e'two\nlines ' || i ELSE e'tab\there ' || i END AS name,
	(i * 7 - 30)::BIGINT AS qty, CASE WHEN i % 5 = 0 THEN NULL ELSE i / 4 END AS price
	FROM range(20) t(i)`

var cases = []exportCase{
	{
		name: "csv text key", format: "csv", create: textSnap, key: []string{"sku"}, schema: textSchema,
		change: []string{
			`UPDATE snap SET name = 'renamed, "again"', qty = 1000 WHERE sku = 'a,04'`,
			`DELETE FROM snap WHERE sku = 'é,05'`,
			`INSERT INTO snap VALUES ('a,04b', e'new\nline', 1, 2.25), ('zz', 'last', 2, NULL), ('A', 'first', 3, 0.5)`,
			`CREATE TABLE chg AS SELECT * FROM (VALUES ('a,04'), ('é,05'), ('a,04b'), ('zz'), ('A')) v(sku)`,
		},
		gone:  "\"é,05\",\"comma, \"\"quoted\"\" 5\",5,\n",
		added: "\"a,04b\",\"new\nline\",1,2.25\n",
	},
	{
		name: "tsv text key", format: "tsv", create: textSnap, key: []string{"sku"}, schema: textSchema,
		change: []string{
			`UPDATE snap SET name = e'now\ttabbed' WHERE sku = 'Z,03'`,
			`DELETE FROM snap WHERE sku IN ('a,01', 'é,17')`,
			`INSERT INTO snap VALUES ('Z,00a', 'between', 9, 9.5)`,
			`CREATE TABLE chg AS SELECT * FROM (VALUES ('Z,03'), ('a,01'), ('é,17'), ('Z,00a')) v(sku)`,
		},
		gone:  "a,01\t\"comma, \"\"quoted\"\" 1\"\t-23\t0.25\n",
		added: "Z,00a\tbetween\t9\t9.5\n",
	},
	{
		// Integers order by value (9 before 10), not as text.
		name: "csv composite key with an integer", format: "csv", key: []string{"store", "id"}, schema: compositeSchema,
		create: `CREATE TABLE snap AS SELECT CASE WHEN i < 10 THEN 'east' ELSE 'west' END AS store, (i % 10) * 11 - 20 AS id, 'note ' || i AS note FROM range(20) t(i)`,
		change: []string{
			`UPDATE snap SET note = 'changed' WHERE store = 'east' AND id = 2`,
			`DELETE FROM snap WHERE store = 'west' AND id = 79`,
			`INSERT INTO snap VALUES ('east', 3, 'three'), ('west', 1000, 'big'), ('west', -100, 'negative')`,
			`CREATE TABLE chg AS SELECT * FROM (VALUES ('east', 2), ('west', 79), ('east', 3), ('west', 1000), ('west', -100)) v(store, id)`,
			`ALTER TABLE chg ALTER id TYPE BIGINT`,
		},
		gone:  "west,79,note 19\n",
		added: "west,-100,negative\n",
	},
}

// TestMergeEqualsFullExport exports a snapshot in full, changes some records, and checks that the merge of
// the changed lines (which must be the path taken) writes exactly the bytes of a full export.
func TestMergeEqualsFullExport(t *testing.T) {
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := openDB(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "out", "records."+c.format)
			exec(t, db, c.create)
			exp := connectors.Export{Path: path, Format: c.format}

			// First export: no file yet, so a full COPY sorted by key.
			var l logs
			out, err := Run(ctx, db, Input{Export: exp, SinkType: "test", Snapshot: "snap", Meta: state.Meta{Serial: 1, Records: 20},
				Key: c.key, Schema: c.schema, Base: true, Merge: true, Log: l.logf})
			if err != nil {
				t.Fatal(err)
			}
			if !out.Written || !strings.Contains(l.String(), "written in full (no earlier export)") {
				t.Fatalf("first export: %+v, log %q", out, l)
			}
			assertStamp(t, out, exp, c.schema)
			first := read(t, path)
			if !bytes.Equal(first, fullCopy(t, db, c)) {
				t.Fatalf("first export differs from a full COPY")
			}
			if _, err := os.Stat(path + ".possync-tmp"); !os.IsNotExist(err) {
				t.Errorf("temporary file left behind: %v", err)
			}
			if !bytes.Contains(first, []byte(c.gone)) {
				t.Fatalf("first export lacks %q:\n%s", c.gone, first)
			}

			// Nothing committed since: nothing written.
			again, err := Run(ctx, db, Input{Export: exp, Snapshot: "snap", Meta: state.Meta{Serial: 1, Exported: 1, ExportStamp: out.Stamp, Records: 20},
				Key: c.key, Schema: c.schema, Base: true, Merge: true})
			if err != nil || again.Written {
				t.Fatalf("up-to-date export: %+v, %v", again, err)
			}

			for _, q := range c.change {
				exec(t, db, q)
			}
			touched := NewTouched(db, c.key)
			if touched.Any() {
				t.Fatal("Any before Add")
			}
			if err := touched.Add(ctx, "chg"); err != nil {
				t.Fatal(err)
			}
			n, err := db.Count(ctx, "SELECT count(*) FROM snap")
			if err != nil {
				t.Fatal(err)
			}
			l = nil
			out2, err := Run(ctx, db, Input{Export: exp, SinkType: "test", Snapshot: "snap", Meta: state.Meta{Serial: 2, Exported: 1, ExportStamp: out.Stamp, Records: n},
				Key: c.key, Schema: c.schema, Base: true, Touched: touched, Merge: true, Log: l.logf})
			if err != nil {
				t.Fatal(err)
			}
			if !out2.Written || !strings.Contains(l.String(), "merged") {
				t.Fatalf("second export did not merge: %+v, log %q", out2, l)
			}
			assertStamp(t, out2, exp, c.schema)
			merged := read(t, path)
			full := fullCopy(t, db, c)
			if !bytes.Equal(merged, full) {
				t.Fatalf("merged export differs from a full export:\nmerged:\n%s\nfull:\n%s", merged, full)
			}
			if bytes.Contains(merged, []byte(c.gone)) || !bytes.Contains(merged, []byte(c.added)) {
				t.Errorf("merged export: deleted line present or created line absent:\n%s", merged)
			}
			if bytes.Equal(merged, first) {
				t.Error("the export did not change")
			}
		})
	}
}

// fullCopy writes the snapshot in full (merging off) to a file of its own and returns its bytes.
func fullCopy(t *testing.T, db *engine.DB, c exportCase) []byte {
	t.Helper()
	ref := filepath.Join(t.TempDir(), "ref."+c.format)
	out, err := Run(context.Background(), db, Input{Export: connectors.Export{Path: ref, Format: c.format}, Snapshot: "snap", Meta: state.Meta{Serial: 1},
		Key: c.key, Schema: c.schema, Merge: false})
	if err != nil || !out.Written {
		t.Fatalf("full export: %+v, %v", out, err)
	}
	return read(t, ref)
}

func assertStamp(t *testing.T, out Output, e connectors.Export, sch *arrow.Schema) {
	t.Helper()
	fi, err := os.Stat(e.Path)
	if err != nil {
		t.Fatal(err)
	}
	if want := Stamp(fi, Signature(e, sch)); out.Stamp != want {
		t.Errorf("Stamp = %q, want %q", out.Stamp, want)
	}
}

// TestHandEditedFileIsRewritten: a file changed since the last export (its size or modification time differ
// from the stamp) is not merged but written in full, undoing the edit.
func TestHandEditedFileIsRewritten(t *testing.T) {
	ctx := context.Background()
	c := cases[0]
	edits := map[string]func(path string, b []byte) error{
		"line appended": func(path string, b []byte) error {
			return os.WriteFile(path, append(b, []byte("hand,made,1,1\n")...), 0o644)
		},
		"same size, new time": func(path string, b []byte) error {
			b = bytes.Replace(b, []byte("plain 4"), []byte("plain X"), 1)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				return err
			}
			old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			return os.Chtimes(path, old, old)
		},
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			db := openDB(t)
			path := filepath.Join(t.TempDir(), "records.csv")
			exp := connectors.Export{Path: path, Format: "csv"}
			exec(t, db, c.create)
			out, err := Run(ctx, db, Input{Export: exp, Snapshot: "snap", Meta: state.Meta{Serial: 1, Records: 20}, Key: c.key, Schema: c.schema, Base: true, Merge: true})
			if err != nil {
				t.Fatal(err)
			}
			before := read(t, path)
			if err := edit(path, before); err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(read(t, path), before) {
				t.Fatal("the edit changed nothing")
			}
			for _, q := range c.change {
				exec(t, db, q)
			}
			touched := NewTouched(db, c.key)
			if err := touched.Add(ctx, "chg"); err != nil {
				t.Fatal(err)
			}
			var l logs
			out2, err := Run(ctx, db, Input{Export: exp, Snapshot: "snap", Meta: state.Meta{Serial: 2, Exported: 1, ExportStamp: out.Stamp, Records: 21},
				Key: c.key, Schema: c.schema, Base: true, Touched: touched, Merge: true, Log: l.logf})
			if err != nil {
				t.Fatal(err)
			}
			if !out2.Written || !strings.Contains(l.String(), "written in full (the file or the columns changed since the last export)") {
				t.Fatalf("hand-edited file: %+v, log %q", out2, l)
			}
			if got, want := read(t, path), fullCopy(t, db, c); !bytes.Equal(got, want) {
				t.Errorf("rewritten file differs from a full export:\n%s", got)
			}
		})
	}
}

// TestFullExportWhenMergeDoesNotApply: each reason not to merge falls back on the full export.
func TestFullExportWhenMergeDoesNotApply(t *testing.T) {
	ctx := context.Background()
	c := cases[0]
	narrower := arrow.NewSchema(c.schema.Fields()[:3], nil)
	for _, tc := range []struct {
		name string
		in   func(in *Input)
		why  string
	}{
		{"merging off", func(in *Input) { in.Merge = false }, "merging is off"},
		{"interrupted run", func(in *Input) { in.Base = false }, "the state moved since the last export"},
		{"columns changed", func(in *Input) { in.Schema = narrower }, "the file or the columns changed"},
		{"no changed keys", func(in *Input) { in.Touched = nil }, "no changed records known"},
		{"too many changes", func(in *Input) { in.Meta.Records = 8 }, "5 of 8 records changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			path := filepath.Join(t.TempDir(), "records.csv")
			exp := connectors.Export{Path: path, Format: "csv"}
			exec(t, db, c.create)
			out, err := Run(ctx, db, Input{Export: exp, Snapshot: "snap", Meta: state.Meta{Serial: 1, Records: 20}, Key: c.key, Schema: c.schema, Merge: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range c.change {
				exec(t, db, q)
			}
			touched := NewTouched(db, c.key)
			if err := touched.Add(ctx, "chg"); err != nil {
				t.Fatal(err)
			}
			var l logs
			in := Input{Export: exp, Snapshot: "snap", Meta: state.Meta{Serial: 2, Exported: 1, ExportStamp: out.Stamp, Records: 21},
				Key: c.key, Schema: c.schema, Base: true, Touched: touched, Merge: true, Log: l.logf}
			tc.in(&in)
			if _, err := Run(ctx, db, in); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(l.String(), "written in full") || !strings.Contains(l.String(), tc.why) {
				t.Errorf("log %q, want a full export because %q", l, tc.why)
			}
			ref := filepath.Join(t.TempDir(), "ref.csv")
			if _, err := Run(ctx, db, Input{Export: connectors.Export{Path: ref, Format: "csv"}, Snapshot: "snap", Key: c.key, Schema: in.Schema}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(read(t, path), read(t, ref)) {
				t.Errorf("fallback export differs from a full export")
			}
		})
	}
}

func TestUnsupportedFormat(t *testing.T) {
	db := openDB(t)
	exec(t, db, cases[0].create)
	_, err := Run(context.Background(), db, Input{Export: connectors.Export{Path: filepath.Join(t.TempDir(), "x.xml"), Format: "xml"}, SinkType: "shop",
		Snapshot: "snap", Key: []string{"sku"}, Schema: textSchema})
	if err == nil || err.Error() != `sink shop: unsupported export format "xml"` {
		t.Errorf("err = %v", err)
	}
}
