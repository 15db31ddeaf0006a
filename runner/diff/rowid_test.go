package diff

import (
	"context"
	"fmt"
	"testing"

	"github.com/possync/possync/runner/engine"
)

// TestFirstSyncWithAFieldNamedRowid: a desired record with a field named rowid (any case) is a field like
// any other: a first sync's diff of a sorted desired table (Input.Sorted) numbers every record once, from 0,
// in key order, and keeps the field's values, as the sorted copy does. (Were the diff to take the table,
// its view's rowid would be the field, not DuckDB's row number.)
func TestFirstSyncWithAFieldNamedRowid(t *testing.T) {
	for _, name := range []string{"rowid", "RowID"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, exec := openTestDB(t, engine.Options{Threads: 2})
			const n = 5003
			exec("SET preserve_insertion_order = true")
			exec(fmt.Sprintf(`CREATE TABLE desired AS SELECT * FROM (SELECT printf('S%%07d', (i * 7919) %% %d) AS sku,
				7 * i AS %s, 'title ' || i AS title FROM range(%d) t(i)) ORDER BY %s`, n, engine.Ident(name), n, FirstSyncOrder([]string{"sku"})))
			exec("SET preserve_insertion_order = false")
			exec("CREATE TABLE want AS SELECT * FROM desired")
			if _, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}, Sorted: true}); err != nil {
				t.Fatal(err)
			}
			count := func(q string) int64 {
				t.Helper()
				k, err := db.Count(ctx, q)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return k
			}
			if k := count("SELECT count(DISTINCT __seq) FROM " + Table + " WHERE __seq BETWEEN 0 AND " + fmt.Sprint(n-1)); k != n {
				t.Errorf("the diff numbers %d distinct changes from 0 to %d, want %d", k, n-1, n)
			}
			if k := count(`SELECT count(*) FROM (SELECT __seq, row_number() OVER (ORDER BY sku) - 1 AS want FROM ` + Table + `) WHERE __seq <> want`); k != 0 {
				t.Errorf("%d changes numbered out of key order", k)
			}
			col := engine.Ident(name)
			if k := count(fmt.Sprintf("SELECT count(*) FROM (SELECT sku, %s, title FROM %s EXCEPT ALL SELECT sku, %s, title FROM want)", col, Table, col)); k != 0 {
				t.Errorf("%d changes whose %s or title is not the desired record's", k, name)
			}
		})
	}
}
