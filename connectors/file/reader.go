package file

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
)

// batchRows is the number of rows per batch Read yields (the last batch of a file may be shorter).
const batchRows = 8192

// batchReader reads one file into batches of the source's schema.
type batchReader interface {
	// next returns the next batch, or io.EOF at the end of the file.
	next() (arrow.RecordBatch, error)
	close() error
}

// reader reads the files of one Read, one after the other.
type reader struct {
	src   *Source
	paths []string
	alloc memory.Allocator
	cur   batchReader
	// opened counts the paths opened so far.
	opened int
	// err is the error that ended the read; Next keeps returning it.
	err error
	// req is the read's request; rows counts the records read; holds and checkpoint are the review of the
	// whole read against the last applied one (Source.review), once every file was read.
	req        connectors.ReadRequest
	rows       int64
	reviewed   bool
	holds      []string
	checkpoint []byte
}

var _ connectors.Reader = (*reader)(nil)

// Next returns the next batch of the current file, opening the next file when one ends.
func (r *reader) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if r.err != nil {
		return nil, r.err
	}
	b, err := r.next(ctx)
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
	}
	return b, err
}

func (r *reader) next(ctx context.Context) (arrow.RecordBatch, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r.cur == nil {
			if r.opened == len(r.paths) {
				if !r.reviewed {
					// The files read whole: checked as ReviewScan checks DuckDB's read of them. JSON lines'
					// keys were checked line by line as they were decoded (the raw bytes are not UTF-8).
					r.reviewed = true
					var err error
					if r.holds, r.checkpoint, err = r.src.review(ctx, r.req, r.src.scanOf(r.paths), r.rows, false); err != nil {
						return nil, err
					}
				}
				return nil, io.EOF
			}
			br, err := r.src.open(ctx, r.paths[r.opened], r.alloc)
			if err != nil {
				return nil, err
			}
			r.cur = br
			r.opened++
		}
		b, err := r.cur.next()
		if errors.Is(err, io.EOF) {
			err = r.cur.close()
			r.cur = nil
			if err != nil {
				return nil, err
			}
			continue
		}
		if b != nil {
			r.rows += b.NumRows()
		}
		return b, err
	}
}

// Result reports a snapshot read, with the review's holds and checkpoint once every file was read.
func (r *reader) Result() connectors.ReadResult {
	return connectors.ReadResult{Mode: connectors.Snapshot, Holds: r.holds, Checkpoint: r.checkpoint}
}

// Close closes the current file; later calls to Next return io.EOF.
func (r *reader) Close() error {
	r.opened = len(r.paths)
	if r.cur == nil {
		return nil
	}
	err := r.cur.close()
	r.cur = nil
	return err
}

// open starts reading one file in the source's format.
func (s *Source) open(ctx context.Context, path string, alloc memory.Allocator) (batchReader, error) {
	switch s.format {
	case "csv", "tsv":
		return openDelimited(s, path, alloc)
	case "jsonl":
		return openJSONL(s, path, alloc)
	case "parquet":
		// Parquet is read by DuckDB through Scan; a Go reader would add arrow's Parquet stack (and its grpc
		// dependency) to the binary for no gain.
		return nil, fmt.Errorf("%s: Parquet files are read through the runner's scan, not Read", path)
	}
	return nil, fmt.Errorf("read %s: unknown format %q", path, s.format)
}
