package memory

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	amem "github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
)

// recordsReader yields records as batches of at most size rows.
type recordsReader struct {
	schema  *arrow.Schema
	records []connectors.Record
	size    int
	alloc   amem.Allocator
	result  connectors.ReadResult
	// offset is the index of records[0] in the whole read, for messages.
	offset int
}

var _ connectors.Reader = (*recordsReader)(nil)

// Next builds the next batch.
func (r *recordsReader) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(r.records) == 0 {
		return nil, io.EOF
	}
	n := min(r.size, len(r.records))
	b, err := connectors.BuildBatch(r.alloc, r.schema, r.records[:n])
	if err != nil {
		return nil, fmt.Errorf("batch from record %d: %w", r.offset, err)
	}
	r.records = r.records[n:]
	r.offset += n
	return b, nil
}

// Result returns the read's result.
func (r *recordsReader) Result() connectors.ReadResult { return r.result }

// Close drops the remaining records.
func (r *recordsReader) Close() error {
	r.records = nil
	return nil
}
