package diff

import (
	"context"
	"fmt"

	"github.com/possync/possync/runner/engine"
)

// HoldRemovals takes the deletions and deactivations of records missing from the desired set (the rows of
// Table that are not __present) out of the diff, renumbering the rest's __seq from 0 in the same order. It
// returns how many it took out; with none, Table is left as it is.
func HoldRemovals(ctx context.Context, db *engine.DB) (int64, error) {
	n, err := CountRemovals(ctx, db)
	if err != nil || n == 0 {
		return 0, err
	}
	q := fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT row_number() OVER (ORDER BY __seq) - 1 AS __seq, * EXCLUDE (__seq) FROM %s WHERE __present",
		Table, Table)
	if err := db.Exec(ctx, q); err != nil {
		return 0, err
	}
	return n, nil
}

// CountRemovals counts the diff's deletions and deactivations of records missing from the desired set.
func CountRemovals(ctx context.Context, db *engine.DB) (int64, error) {
	return db.Count(ctx, "SELECT count(*) FROM "+Table+" WHERE NOT __present")
}
