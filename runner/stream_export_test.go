package runner

import "github.com/possync/possync/runner/diff"

// SetQueryRows makes the streamed reads of the diff (the hash pass and the apply's batches, diff.QueryRows)
// read n changes per query (tests cover several queries with small plans); the returned function restores
// the default.
func SetQueryRows(n int64) (restore func()) {
	was := diff.QueryRows
	diff.QueryRows = n
	return func() { diff.QueryRows = was }
}
