package export

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/state"
)

// TestMergeFromCommitRecords: when every commit's changes relation (key, __op, the after-values) was
// tracked, the merge takes the changed records from them, not from a join of the snapshot: the latest
// commit's row of a key changed twice wins, a key deleted after an update is dropped, and each value is cast
// to the snapshot's type (a price committed as DECIMAL(18,3), stored as DOUBLE, is written as the snapshot
// writes it). The file equals a full export of the snapshot. A commit whose changes have other columns stops
// the tracking of records, and the merge joins the snapshot instead, with the same bytes.
func TestMergeFromCommitRecords(t *testing.T) {
	ctx := context.Background()
	c := cases[0]
	commits := []string{
		`CREATE TABLE c1 AS SELECT * FROM (VALUES ('a,04', 'first rename', 5::BIGINT, 1.5::DECIMAL(18,3), 'update'),
			('é,05', 'soon gone', 7::BIGINT, 2.125::DECIMAL(18,3), 'update'), ('zz', 'last', 2::BIGINT, NULL::DECIMAL(18,3), 'create')) v(sku, name, qty, price, __op)`,
		`CREATE TABLE c2 AS SELECT * FROM (VALUES ('a,04', 'renamed, "again"', 1000::BIGINT, 1.0::DECIMAL(18,3), 'update'),
			('é,05', NULL, NULL, NULL, 'delete'), ('a,04b', e'new\nline', 1::BIGINT, 2.25::DECIMAL(18,3), 'create'),
			('A', 'first', 3::BIGINT, 0.5::DECIMAL(18,3), 'create')) v(sku, name, qty, price, __op)`,
	}
	final := []string{ // the snapshot after both commits
		`UPDATE snap SET name = 'renamed, "again"', qty = 1000, price = 1.0 WHERE sku = 'a,04'`,
		`DELETE FROM snap WHERE sku = 'é,05'`,
		`INSERT INTO snap VALUES ('a,04b', e'new\nline', 1, 2.25), ('zz', 'last', 2, NULL), ('A', 'first', 3, 0.5)`,
	}
	for _, other := range []bool{false, true} {
		db := openDB(t)
		path := filepath.Join(t.TempDir(), "records.csv")
		exp := connectors.Export{Path: path, Format: "csv"}
		exec(t, db, c.create)
		out, err := Run(ctx, db, Input{Export: exp, Snapshot: "snap", Meta: state.Meta{Serial: 1, Records: 20}, Key: c.key, Schema: c.schema, Base: true, Merge: true})
		if err != nil {
			t.Fatal(err)
		}
		touched := NewTouched(db, c.key)
		for i, q := range commits {
			exec(t, db, q)
			rel := []string{"c1", "c2"}[i]
			if other && i == 1 { // the second commit's changes with a column more
				exec(t, db, "CREATE TABLE c2x AS SELECT *, 1 AS extra FROM c2")
				rel = "c2x"
			}
			if err := touched.Add(ctx, rel); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range final {
			exec(t, db, q)
		}
		var l logs
		out2, err := Run(ctx, db, Input{Export: exp, SinkType: "test", Snapshot: "snap", Meta: state.Meta{Serial: 3, Exported: 1, ExportStamp: out.Stamp, Records: 22},
			Key: c.key, Schema: c.schema, Base: true, Touched: touched, Merge: true, Log: l.logf})
		if err != nil {
			t.Fatal(err)
		}
		want := "records read from the commits"
		if other {
			want = "records read from the snapshot"
		}
		if !out2.Written || !strings.Contains(l.String(), "merged 5 changed record(s)") || !strings.Contains(l.String(), want) {
			t.Fatalf("other columns %v: %+v, log %q; want 5 merged, %s", other, out2, l, want)
		}
		if got, full := read(t, path), fullCopy(t, db, c); !bytes.Equal(got, full) {
			t.Fatalf("other columns %v: merged export differs from a full export:\nmerged:\n%s\nfull:\n%s", other, got, full)
		}
	}
}
