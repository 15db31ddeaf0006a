package ecom

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	amem "github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
)

// List reads the store's catalog for plan --refresh: every product, then each of its combinations, as
// records of the pipeline's schema but images (see listedSchema), one batch per page of 100 products, as a
// snapshot. See the sink's description for how store values read back.
func (s *Sink) List(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	if s.m == nil {
		return nil, fmt.Errorf("ecom sink: listing needs the records' schema")
	}
	if s.m.has["category"] {
		if err := s.loadCategories(ctx); err != nil {
			return nil, err
		}
	}
	sch := listedSchema(s.schema)
	return &lister{s: s, schema: sch, alloc: req.Alloc, total: -1,
		records: func(p *product) []record.Record { return s.catalogRecords(p, sch) }}, nil
}

// catalogRecords is a store product and each of its combinations with a SKU as records of the record model,
// conformed to sch (the listed schema).
func (s *Sink) catalogRecords(p *product, sch *arrow.Schema) []record.Record {
	pr := s.productRecord(p)
	recs := []record.Record{conform(pr, sch)}
	for k := range p.Combinations {
		if p.Combinations[k].SKU != "" {
			recs = append(recs, conform(s.variantOf(pr, p, &p.Combinations[k]), sch))
		}
	}
	return recs
}

// lister yields one page of products per batch, as a snapshot keyed by sku.
type lister struct {
	s      *Sink
	schema *arrow.Schema
	alloc  amem.Allocator
	// records turns one store product into records of schema.
	records func(p *product) []record.Record
	// notes, when set, gives the result's notes once the listing ended.
	notes  func() []string
	offset int
	// total is the product count the first page gave (-1 before it): a listing that ends short of it, or
	// whose count moves while it runs, is incomplete (see checkPage).
	total int
	done  bool
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
	if err := l.checkPage(page); err != nil {
		return nil, err
	}
	l.offset += len(page.Items)
	if len(page.Items) == 0 || l.offset >= page.Total {
		l.done = true
	}
	if len(page.Items) == 0 {
		return nil, io.EOF
	}
	var recs []record.Record
	for i := range page.Items {
		recs = append(recs, l.records(&page.Items[i])...)
	}
	b, err := record.BuildBatch(l.alloc, l.schema, recs)
	if err != nil {
		return nil, fmt.Errorf("products at offset %d: %w", page.Offset, err)
	}
	return b, nil
}

// checkPage fails a listing that would be incomplete: a page whose product count differs from the first
// page's (a product created or deleted while the catalog was listed shifts the offsets: one is skipped or
// listed twice), or an empty page before that count was reached. A listing short of products would make them
// look deleted from the store (and be planned again, or left unmatched).
func (l *lister) checkPage(page *envelope) error {
	if l.total < 0 {
		l.total = page.Total
	}
	switch {
	case page.Total != l.total:
		return fmt.Errorf("list products: the store's catalog changed while it was listed (%d products, then %d at offset %d): "+
			"the listing may miss some; run again", l.total, page.Total, l.offset)
	case len(page.Items) == 0 && l.offset < l.total:
		return fmt.Errorf("list products: the page at offset %d is empty although the store counts %d products: "+
			"the listing is incomplete; run again", l.offset, l.total)
	}
	return nil
}

// Result reports a snapshot keyed by sku.
func (l *lister) Result() connectors.ReadResult {
	res := connectors.ReadResult{Mode: connectors.Snapshot, Key: []string{"sku"}}
	if l.notes != nil {
		res.Notes = l.notes()
	}
	return res
}

// Close ends the listing.
func (l *lister) Close() error {
	l.done = true
	return nil
}
