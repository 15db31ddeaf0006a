package ascend

import (
	"context"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
)

// batchRows is the number of records per batch.
const batchRows = 8192

// inventorySchema is the schema of the ascend source. Text fields an upload leaves empty are null.
var inventorySchema = arrow.NewSchema([]arrow.Field{
	{Name: "sku", Type: arrow.BinaryTypes.String},
	{Name: "short_name", Type: arrow.BinaryTypes.String},
	{Name: "upc", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "gtin14", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "gtin_ambiguous", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "mpn", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "brand", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "description", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "model_year", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "color", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "size", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "msrp", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "qty_on_hand", Type: arrow.PrimitiveTypes.Int64},
	{Name: "qty_on_order", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "non_inventory", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "last_sold_date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "ecommerce", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "active", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "eligible", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "upload", Type: arrow.BinaryTypes.String},
	{Name: "file", Type: arrow.BinaryTypes.String},
}, nil)

// reader yields records already read, in batches.
type reader struct {
	schema  *arrow.Schema
	alloc   memory.Allocator
	n       int
	build   func(b *array.RecordBuilder, i int)
	next    int
	result  connectors.ReadResult
	emitted bool // at least one batch was returned, so an empty read still yields one empty batch
}

var _ connectors.Reader = (*reader)(nil)

func newReader(schema *arrow.Schema, alloc memory.Allocator, n int, build func(*array.RecordBuilder, int), res connectors.ReadResult) *reader {
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	return &reader{schema: schema, alloc: alloc, n: n, build: build, result: res}
}

// Next returns the next batch of at most batchRows records, then io.EOF.
func (r *reader) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.next >= r.n && r.emitted {
		return nil, io.EOF
	}
	b := array.NewRecordBuilder(r.alloc, r.schema)
	defer b.Release()
	end := min(r.next+batchRows, r.n)
	for i := r.next; i < end; i++ {
		r.build(b, i)
	}
	r.next, r.emitted = end, true
	return b.NewRecordBatch(), nil
}

// Result reports the read's mode, key, checkpoint, rejects and notes.
func (r *reader) Result() connectors.ReadResult { return r.result }

// Close releases nothing: the records live in Go memory until the reader is dropped.
func (r *reader) Close() error { return nil }

// appendRecord appends one inventory record to a builder of inventorySchema.
func appendRecord(b *array.RecordBuilder, r *combined) {
	str := func(i int, s string) {
		sb := b.Field(i).(*array.StringBuilder)
		if s == "" {
			sb.AppendNull()
			return
		}
		sb.Append(s)
	}
	b.Field(0).(*array.StringBuilder).Append(r.sku)
	b.Field(1).(*array.StringBuilder).Append(r.shortName)
	str(2, r.upc)
	str(3, r.gtin14)
	b.Field(4).(*array.BooleanBuilder).Append(r.gtinAmbiguous)
	str(5, r.mpn)
	str(6, r.brand)
	str(7, r.description)
	str(8, r.modelYear)
	str(9, r.color)
	str(10, r.size)
	str(11, r.category)
	appendFloat(b.Field(12).(*array.Float64Builder), r.msrp)
	appendFloat(b.Field(13).(*array.Float64Builder), r.price)
	b.Field(14).(*array.Int64Builder).Append(r.qtyOnHand.v)
	appendInt(b.Field(15).(*array.Int64Builder), r.qtyOnOrder)
	b.Field(16).(*array.BooleanBuilder).Append(r.nonInventory)
	if db := b.Field(17).(*array.Date32Builder); r.lastSold.ok {
		db.Append(arrow.Date32(r.lastSold.v))
	} else {
		db.AppendNull()
	}
	b.Field(18).(*array.BooleanBuilder).Append(r.ecommerce)
	b.Field(19).(*array.BooleanBuilder).Append(r.active)
	b.Field(20).(*array.BooleanBuilder).Append(r.eligible)
	b.Field(21).(*array.StringBuilder).Append(r.upload)
	b.Field(22).(*array.StringBuilder).Append(r.from.Name)
}

func appendFloat(b *array.Float64Builder, v optFloat) {
	if v.ok {
		b.Append(v.v)
	} else {
		b.AppendNull()
	}
}

func appendInt(b *array.Int64Builder, v optInt) {
	if v.ok {
		b.Append(v.v)
	} else {
		b.AppendNull()
	}
}
