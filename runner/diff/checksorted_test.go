package diff

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/possync/possync/runner/engine"
)

// TestCheckSortedDesiredEqualsCheckDesired: over desired tables stored in their key's order as a first
// sync's last step stores them (CREATE TABLE AS ... ORDER BY the key, preserve_insertion_order on), the pass
// over neighbouring keys (keysSoundInOrder) finds the tables sound exactly when CheckDesired does, and
// CheckSortedDesired fails with CheckDesired's message word for word: text, composite and double keys
// (0.0 and -0.0, NaN), NULL key fields, duplicates anywhere (also across DuckDB's vectors and row groups:
// 300,000 rows), none.
func TestCheckSortedDesiredEqualsCheckDesired(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 2})
	const rows = 300000
	keys := []struct {
		name string
		key  []string
		sel  string // the columns, from i (the row's number) and d (a duplicate's or NULL's source row, else i)
	}{
		{"text", []string{"sku"}, "printf('SK%010d', d) AS sku"},
		{"composite", []string{"sku", "site"}, "printf('S%d', d // 3) AS sku, (d % 3)::INTEGER AS site"},
		{"double", []string{"x"}, "CASE d WHEN -1 THEN 0.0::DOUBLE WHEN 0 THEN '-0.0'::DOUBLE WHEN 1 THEN 'NaN'::DOUBLE ELSE d / 4 END AS x"},
	}
	rng := rand.New(rand.NewPCG(5, 15))
	for _, k := range keys {
		cases := map[string]string{ // the rows whose key is another row's (d) or NULL
			"sound":  "",
			"first":  "WHEN i = 1 THEN 0",
			"last":   fmt.Sprintf("WHEN i = %d THEN %d", rows-1, rows-2),
			"spread": fmt.Sprintf("WHEN i = %d THEN %d WHEN i = %d THEN %d", rng.IntN(rows), rng.IntN(rows), rng.IntN(rows), rng.IntN(rows)),
			"many":   fmt.Sprintf("WHEN i %% 1000 = 999 THEN %d", rng.IntN(rows)),
			"null":   fmt.Sprintf("WHEN i = %d THEN NULL", rng.IntN(rows)),
			"both":   fmt.Sprintf("WHEN i = %d THEN NULL WHEN i = %d THEN 5", rng.IntN(rows), rng.IntN(rows)),
		}
		if k.name == "double" {
			cases["zeros"] = "WHEN i = 5 THEN -1" // 0.0 beside row 0's -0.0: equal keys
			cases["nans"] = "WHEN i = 100 THEN 1" // a second NaN: DuckDB takes NaNs as equal
		}
		for name, when := range cases {
			t.Run(k.name+"/"+name, func(t *testing.T) {
				d := "i"
				if when != "" {
					d = "CASE " + when + " ELSE i END"
				}
				exec("SET preserve_insertion_order = true")
				exec(fmt.Sprintf(`CREATE OR REPLACE TABLE desired AS SELECT * FROM (SELECT %s, i AS n, 'r' || i AS name
					FROM (SELECT i, %s AS d FROM range(%d) t(i))) ORDER BY %s`, k.sel, d, rows, FirstSyncOrder(k.key)))
				exec("SET preserve_insertion_order = false")
				want := CheckDesired(ctx, db, "desired", k.key)
				if (want != nil) != (name != "sound") {
					t.Fatalf("CheckDesired: %v; the case expects bad keys: %v", want, name != "sound")
				}
				sound, err := keysSoundInOrder(ctx, db, "desired", k.key)
				if err != nil {
					t.Fatal(err)
				}
				if sound != (want == nil) {
					t.Fatalf("the pass in order finds the keys sound: %v; CheckDesired: %v", sound, want)
				}
				if got := CheckSortedDesired(ctx, db, "desired", k.key); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("CheckSortedDesired: %v\nwant CheckDesired's: %v", got, want)
				}
			})
		}
	}
}
