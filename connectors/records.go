package connectors

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/possync/possync/record"
)

// RecordsReader returns a Reader over records already read into memory (a finished API listing or download),
// yielding them as batches of schema of at most size rows (size < 1 means 10,000), and then result. It owns
// records; Close drops those not yet yielded.
func RecordsReader(schema *arrow.Schema, records []record.Record, size int, alloc memory.Allocator, result ReadResult) Reader {
	if size < 1 {
		size = 10_000
	}
	return &recordsReader{schema: schema, records: records, size: size, alloc: alloc, result: result}
}

// recordsReader is RecordsReader's Reader.
type recordsReader struct {
	schema  *arrow.Schema
	records []record.Record
	size    int
	alloc   memory.Allocator
	result  ReadResult
	// offset is the index of records[0] in the whole read, for messages.
	offset int
}

// Next builds the next batch.
func (r *recordsReader) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(r.records) == 0 {
		return nil, io.EOF
	}
	n := min(r.size, len(r.records))
	b, err := record.BuildBatch(r.alloc, r.schema, r.records[:n])
	if err != nil {
		return nil, fmt.Errorf("batch from record %d: %w", r.offset, err)
	}
	r.records = r.records[n:]
	r.offset += n
	return b, nil
}

// Result returns the read's result.
func (r *recordsReader) Result() ReadResult { return r.result }

// Close drops the remaining records.
func (r *recordsReader) Close() error {
	r.records = nil
	return nil
}
