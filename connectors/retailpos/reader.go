package retailpos

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
)

// batchSize is the most rows a batch holds.
const batchSize = 1024

// reader yields the rows of a finished read as batches.
type reader struct {
	rows   []row
	skus   map[string]string
	alloc  memory.Allocator
	result connectors.ReadResult
	// buf is reused for each batch's records.
	buf []record.Record
}

var _ connectors.Reader = (*reader)(nil)

// Next builds the next batch of at most batchSize rows.
func (r *reader) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.buf = r.buf[:0]
	for len(r.rows) > 0 && len(r.buf) < batchSize {
		row := &r.rows[0]
		r.rows = r.rows[1:]
		if row.dropped {
			continue
		}
		parent := ""
		if row.parentID != "" {
			parent = r.skus[row.parentID]
		}
		r.buf = append(r.buf, row.record(parent))
	}
	if len(r.buf) == 0 {
		return nil, io.EOF
	}
	b, err := record.BuildBatch(r.alloc, schema, r.buf)
	if err != nil {
		return nil, fmt.Errorf("build batch: %w", err)
	}
	return b, nil
}

// Result reports the read's mode, key, checkpoint, rejects and notes.
func (r *reader) Result() connectors.ReadResult { return r.result }

// Close drops the remaining rows.
func (r *reader) Close() error {
	r.rows, r.buf = nil, nil
	return nil
}
