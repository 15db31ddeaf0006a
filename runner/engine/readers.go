package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
)

// memoryAlloc is the allocator of batches the engine builds itself.
var memoryAlloc = memory.DefaultAllocator

// The RecordReader family: what DuckDB's Arrow scan pulls from. Each reader owns the batches it hands out
// and releases the current one on the next Next.

// SliceReader is an array.RecordReader over batches it owns.
type SliceReader struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
	cur     arrow.RecordBatch
}

var _ array.RecordReader = (*SliceReader)(nil)

// NewSliceReader reads batches of schema sch; it takes them over.
func NewSliceReader(sch *arrow.Schema, batches ...arrow.RecordBatch) *SliceReader {
	return &SliceReader{schema: sch, batches: batches}
}

func (r *SliceReader) Retain() {}
func (r *SliceReader) Release() {
	r.drop()
	for _, b := range r.batches {
		b.Release()
	}
	r.batches = nil
}
func (r *SliceReader) Schema() *arrow.Schema          { return r.schema }
func (r *SliceReader) Err() error                     { return nil }
func (r *SliceReader) Record() arrow.RecordBatch      { return r.cur }
func (r *SliceReader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *SliceReader) drop() {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
}
func (r *SliceReader) Next() bool {
	r.drop()
	if len(r.batches) == 0 {
		return false
	}
	r.cur, r.batches = r.batches[0], r.batches[1:]
	return true
}

// ChanReader is an array.RecordReader over a channel of batches it owns; it ends when the channel closes or
// ctx is done (Err then says why).
type ChanReader struct {
	ctx    context.Context
	schema *arrow.Schema
	ch     <-chan arrow.RecordBatch
	cur    arrow.RecordBatch
}

var _ array.RecordReader = (*ChanReader)(nil)

// NewChanReader reads the batches of ch, of schema sch, until ch closes or ctx is done.
func NewChanReader(ctx context.Context, sch *arrow.Schema, ch <-chan arrow.RecordBatch) *ChanReader {
	return &ChanReader{ctx: ctx, schema: sch, ch: ch}
}

func (c *ChanReader) Retain()               {}
func (c *ChanReader) Release()              { c.drop() }
func (c *ChanReader) Schema() *arrow.Schema { return c.schema }
func (c *ChanReader) Err() error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	return nil
}
func (c *ChanReader) Record() arrow.RecordBatch      { return c.cur }
func (c *ChanReader) RecordBatch() arrow.RecordBatch { return c.cur }

func (c *ChanReader) drop() {
	if c.cur != nil {
		c.cur.Release()
		c.cur = nil
	}
}

func (c *ChanReader) Next() bool {
	c.drop()
	select {
	case b, ok := <-c.ch:
		if !ok {
			return false
		}
		c.cur = b
		return true
	case <-c.ctx.Done():
		return false
	}
}

// SourceReader presents a connectors.Reader as the array.RecordReader DuckDB's Arrow scan pulls from. It
// checks each batch against the declared schema and keeps the source's error (SourceErr), which DuckDB would
// otherwise flatten into a generic scan failure.
type SourceReader struct {
	ctx    context.Context
	schema *arrow.Schema
	r      connectors.Reader
	cur    arrow.RecordBatch
	// pending is a batch read ahead (to learn the schema), returned first.
	pending arrow.RecordBatch
	err     error
	done    bool
	mu      sync.Mutex
	refs    int64
}

var _ array.RecordReader = (*SourceReader)(nil)

// NewSourceReader reads r's batches, which must have schema sch. A non-nil first is a batch already read
// from r (to learn sch), returned first.
func NewSourceReader(ctx context.Context, sch *arrow.Schema, r connectors.Reader, first arrow.RecordBatch) *SourceReader {
	return &SourceReader{ctx: ctx, schema: sch, r: r, refs: 1, pending: first}
}

// SourceErr is the error the source (or the schema check) stopped with, if any.
func (a *SourceReader) SourceErr() error { return a.err }

// Done says the source reached its end (io.EOF).
func (a *SourceReader) Done() bool { return a.done }

func (a *SourceReader) Retain() { a.mu.Lock(); a.refs++; a.mu.Unlock() }

func (a *SourceReader) Release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refs--
	if a.refs == 0 && a.cur != nil {
		a.cur.Release()
		a.cur = nil
	}
}

func (a *SourceReader) Schema() *arrow.Schema { return a.schema }

func (a *SourceReader) Next() bool {
	if a.cur != nil {
		a.cur.Release()
		a.cur = nil
	}
	if a.pending != nil {
		a.cur, a.pending = a.pending, nil
		return true
	}
	if a.err != nil || a.done {
		return false
	}
	b, err := a.r.Next(a.ctx)
	if errors.Is(err, io.EOF) {
		a.done = true
		return false
	}
	if err != nil {
		a.err = err
		return false
	}
	if !b.Schema().Equal(a.schema) {
		b.Release()
		a.err = fmt.Errorf("batch schema %s differs from the declared schema %s", b.Schema(), a.schema)
		return false
	}
	a.cur = b
	return true
}

func (a *SourceReader) Record() arrow.RecordBatch      { return a.cur }
func (a *SourceReader) RecordBatch() arrow.RecordBatch { return a.cur }
func (a *SourceReader) Err() error                     { return a.err }
