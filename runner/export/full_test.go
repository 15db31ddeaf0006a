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
