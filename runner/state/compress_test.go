package state_test

import (
	"context"
	"testing"

	"github.com/possync/possync/runner/state"
)

// TestSnapshotDeclaresTextCompressions: the commit that creates the snapshot declares, from a sample of its
// records, FSST for its text columns of distinct values and a dictionary for those of few values, and
// leaves the others (text in between, text mostly NULL) to DuckDB. Later rows of a declared column are
// stored with the declared method even where DuckDB would pick the other (which the later rows alone in a
// table without declarations show), and an undeclared column as DuckDB picks for its rows.
func TestSnapshotDeclaresTextCompressions(t *testing.T) {
	ctx := context.Background()
	s := state.NewDuckStore(t.TempDir(), "p")
	c := conn(t)
	if _, err := s.Open(ctx, c, false); err != nil {
		t.Fatal(err)
	}
	exec(t, c, "SET threads = 1")
	cols := []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "code", Type: "VARCHAR"}, {Name: "brand", Type: "VARCHAR"},
		{Name: "half", Type: "VARCHAR"}, {Name: "sparse", Type: "VARCHAR"}, {Name: "qty", Type: "BIGINT"}}
	// The first commit (the sample): code distinct, brand of 20 values, half of 4,000 (49% of the sample
	// distinct), sparse 100 distinct values and NULLs. The second: code and sparse of 5 values, brand and
	// half distinct.
	exec(t, c, `CREATE TABLE first AS SELECT 'create' AS __op, 'sku-' || i AS sku, md5('code ' || i) AS code,
		'brand ' || (i % 20) AS brand, 'half ' || (i % 4000) AS half, CASE WHEN i < 100 THEN 'sparse ' || i END AS sparse, i AS qty
		FROM range(8192) t(i)`)
	exec(t, c, `CREATE TABLE second AS SELECT 'create' AS __op, 'sku-' || (i + 8192) AS sku, md5('code ' || (i % 5)) AS code,
		md5(i::VARCHAR) AS brand, md5((i + 2)::VARCHAR) AS half, 'sparse ' || (i % 5) AS sparse, i % 7 AS qty
		FROM range(100000) t(i)`)
	for _, ch := range []string{"first", "second"} {
		if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: ch, Key: []string{"sku"}, Columns: cols, NewKeys: true}); err != nil {
			t.Fatal(err)
		}
	}
	// The second commit's rows in a table without declarations: what DuckDB picks for them.
	exec(t, c, `CREATE TABLE st.ref AS SELECT * EXCLUDE (__op) FROM second`)
	exec(t, c, "CHECKPOINT st")
	stored := func(table string) map[string]string {
		t.Helper()
		rows, err := c.QueryContext(ctx, `SELECT column_name, string_agg(DISTINCT compression ORDER BY compression)
			FROM pragma_storage_info('st.`+table+`') WHERE segment_type <> 'VALIDITY' GROUP BY column_name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var col, comp string
			if err := rows.Scan(&col, &comp); err != nil {
				t.Fatal(err)
			}
			out[col] = comp
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got, ref := stored("snapshot"), stored("ref")
	// code and brand as declared; half and sparse as DuckDB picks for both commits' rows (half: 4,000 values,
	// then distinct; sparse: 100, then 5).
	want := map[string]string{"sku": "FSST", "code": "FSST", "brand": "Dictionary", "half": "FSST", "sparse": "Dictionary"}
	for col, w := range want {
		if got[col] != w {
			t.Errorf("snapshot column %s stored with %q, want %q (DuckDB's own choice for the second commit's rows: %q)", col, got[col], w, ref[col])
		}
	}
	// The data must tell a declaration from DuckDB's choice.
	if ref["code"] != "Dictionary" || ref["brand"] != "FSST" {
		t.Fatalf("DuckDB's own choices %v: the test's data no longer tells declared columns from the others", ref)
	}
}
