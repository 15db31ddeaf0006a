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

// SetPipeBatches sets how a streamed apply reads its batches: on, one batch ahead of the apply, on a
// connection of its own (ahead: each batch's apply waits until the next is read, so that the reader is
// ahead whenever a batch fails); off, in turn with the apply, on the session connection. The returned
// function restores the default (on, not waiting).
func SetPipeBatches(on, ahead bool) (restore func()) {
	off, ah := pipeOff, pipeAhead
	pipeOff, pipeAhead = !on, ahead
	return func() { pipeOff, pipeAhead = off, ah }
}

// RecycledReads is how many batches streamed applies have read into a sent batch's memory so far
// (batchReader.reuse).
func RecycledReads() int64 { return recycledReads.Load() }

// SetParallelEncodeRows makes a streamed apply encode batches of n changes or more in several goroutines
// (encodeWorkers; tests with small batches set 1 to cover that path); the returned function restores the
// default.
func SetParallelEncodeRows(n int64) (restore func()) {
	was := parallelEncodeRows
	parallelEncodeRows = n
	return func() { parallelEncodeRows = was }
}

// SetRecycleBatches makes a streamed apply reuse the memory of the batches it sent for the batches it reads
// next (on, the default) or read each into fresh memory; the returned function restores the default.
func SetRecycleBatches(on bool) (restore func()) {
	was := recycleOff
	recycleOff = !on
	return func() { recycleOff = was }
}
