package runner

// SetHashChunk makes the streamed hash pass read n changes per query (tests cover several chunks with small
// plans); the returned function restores the default.
func SetHashChunk(n int64) (restore func()) {
	was := hashChunk
	hashChunk = n
	return func() { hashChunk = was }
}
