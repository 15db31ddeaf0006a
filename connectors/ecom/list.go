package ecom

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	amem "github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
)

// List reads the store's catalog for plan --refresh: every product, then each of its combinations, as
// records of the pipeline's schema (one batch per page of 100 products), as a snapshot. See the sink's
// description for how store values read back.
func (s *Sink) List(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	if s.m == nil {
		return nil, fmt.Errorf("ecom sink: listing needs the records' schema")
	}
	if s.m.has["category"] {
		if err := s.loadCategories(ctx); err != nil {
			return nil, err
		}
	}
	return &lister{s: s, schema: s.schema, alloc: req.Alloc}, nil
}

// lister yields one page of products per batch.
type lister struct {
	s      *Sink
	schema *arrow.Schema
	alloc  amem.Allocator
	offset int
	done   bool
}

// Next reads the next page.
func (l *lister) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if l.done {
		return nil, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	page, err := l.s.page(ctx, l.offset)
	if err != nil {
		return nil, err
	}
	l.offset += len(page.Items)
	if len(page.Items) == 0 || l.offset >= page.Total {
		l.done = true
	}
	if len(page.Items) == 0 {
		return nil, io.EOF
	}
	var recs []connectors.Record
	for i := range page.Items {
		p := &page.Items[i]
		recs = append(recs, conform(l.s.productRecord(p), l.schema))
		for k := range p.Combinations {
			if p.Combinations[k].SKU != "" {
				recs = append(recs, conform(l.s.variantRecord(p, &p.Combinations[k]), l.schema))
			}
		}
	}
	b, err := connectors.BuildBatch(l.alloc, l.schema, recs)
	if err != nil {
		return nil, fmt.Errorf("products at offset %d: %w", page.Offset, err)
	}
	return b, nil
}

// Result reports a snapshot keyed by sku.
func (l *lister) Result() connectors.ReadResult {
	return connectors.ReadResult{Mode: connectors.Snapshot, Key: []string{"sku"}}
}

// Close ends the listing.
func (l *lister) Close() error {
	l.done = true
	return nil
}
