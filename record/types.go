package record

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Field types a pipeline can name (a file source's columns, a map field's declared type) and their Arrow
// types. Timestamps are microseconds in UTC; dates are days.
var fieldTypes = map[string]arrow.DataType{
	"string":    arrow.BinaryTypes.String,
	"int":       arrow.PrimitiveTypes.Int64,
	"float":     arrow.PrimitiveTypes.Float64,
	"bool":      arrow.FixedWidthTypes.Boolean,
	"date":      arrow.FixedWidthTypes.Date32,
	"timestamp": &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
}

// TypeNames lists the field type names, sorted.
func TypeNames() []string {
	out := make([]string, 0, len(fieldTypes))
	for k := range fieldTypes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ArrowType returns the Arrow type of a field type name.
func ArrowType(name string) (arrow.DataType, error) {
	t, ok := fieldTypes[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("unknown field type %q (want one of %s)", name, strings.Join(TypeNames(), ", "))
	}
	return t, nil
}

// TypeName returns the field type name of an Arrow type, or its Arrow name when it has none.
func TypeName(t arrow.DataType) string {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return "string"
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return "int"
	case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.DECIMAL256:
		return "float"
	case arrow.BOOL:
		return "bool"
	case arrow.DATE32, arrow.DATE64:
		return "date"
	case arrow.TIMESTAMP:
		return "timestamp"
	}
	return t.String()
}

// Value returns the value at row i of column a as a Go value (string, int64, float64, bool, time.Time or
// nil): the Go type of the column's TypeName (any other type as its text). Strings are copied, so the value
// outlives the batch.
func Value(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch c := a.(type) {
	case *array.String:
		return strings.Clone(c.Value(i))
	case *array.LargeString:
		return strings.Clone(c.Value(i))
	case *array.StringView:
		return strings.Clone(c.Value(i))
	case *array.Int64:
		return c.Value(i)
	case *array.Int32:
		return int64(c.Value(i))
	case *array.Int16:
		return int64(c.Value(i))
	case *array.Int8:
		return int64(c.Value(i))
	case *array.Uint64:
		return int64(c.Value(i))
	case *array.Uint32:
		return int64(c.Value(i))
	case *array.Uint16:
		return int64(c.Value(i))
	case *array.Uint8:
		return int64(c.Value(i))
	case *array.Float64:
		return c.Value(i)
	case *array.Float32:
		return float64(c.Value(i))
	case *array.Float16:
		return float64(c.Value(i).Float32())
	case *array.Boolean:
		return c.Value(i)
	case *array.Date32:
		return c.Value(i).ToTime().UTC()
	case *array.Date64:
		return c.Value(i).ToTime().UTC()
	case *array.Timestamp:
		u := c.DataType().(*arrow.TimestampType).Unit
		return c.Value(i).ToTime(u).UTC()
	case *array.Decimal128: // through the decimal text: ToFloat64 gives 19.990000000000002 for 19.99
		return decimalFloat(c.Value(i).ToString(c.DataType().(*arrow.Decimal128Type).Scale))
	case *array.Decimal256:
		return decimalFloat(c.Value(i).ToString(c.DataType().(*arrow.Decimal256Type).Scale))
	}
	return a.ValueStr(i)
}

// decimalFloat is the float64 nearest to a decimal's text.
func decimalFloat(text string) float64 {
	f, _ := strconv.ParseFloat(text, 64) // the text of a decimal always parses
	return f
}

// RowRecord returns row i of batch b as a Record.
func RowRecord(b arrow.RecordBatch, i int) Record {
	r := make(Record, b.NumCols())
	for c := 0; c < int(b.NumCols()); c++ {
		r[b.ColumnName(c)] = Value(b.Column(c), i)
	}
	return r
}

// Append appends a Go value to a builder of a field type. It accepts the types Value returns, plus int and
// the obvious widenings; a value of another type is an error naming both types.
func Append(b array.Builder, v any) error {
	if v == nil {
		b.AppendNull()
		return nil
	}
	switch bb := b.(type) {
	case *array.StringBuilder:
		if s, ok := v.(string); ok {
			bb.Append(s)
			return nil
		}
	case *array.Int64Builder:
		switch n := v.(type) {
		case int64:
			bb.Append(n)
			return nil
		case int:
			bb.Append(int64(n))
			return nil
		case int32:
			bb.Append(int64(n))
			return nil
		}
	case *array.Float64Builder:
		switch n := v.(type) {
		case float64:
			bb.Append(n)
			return nil
		case int64:
			bb.Append(float64(n))
			return nil
		case int:
			bb.Append(float64(n))
			return nil
		}
	case *array.BooleanBuilder:
		if x, ok := v.(bool); ok {
			bb.Append(x)
			return nil
		}
	case *array.Date32Builder:
		if t, ok := v.(time.Time); ok {
			bb.Append(arrow.Date32FromTime(t))
			return nil
		}
	case *array.TimestampBuilder:
		if t, ok := v.(time.Time); ok {
			ts, err := arrow.TimestampFromTime(t, bb.Type().(*arrow.TimestampType).Unit)
			if err != nil {
				return err
			}
			bb.Append(ts)
			return nil
		}
	}
	return fmt.Errorf("cannot store a %T in a %s field", v, b.Type())
}

// BuildBatch builds one batch of schema from records (fields absent from a record are null).
func BuildBatch(alloc memory.Allocator, schema *arrow.Schema, records []Record) (arrow.RecordBatch, error) {
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	rb := array.NewRecordBuilder(alloc, schema)
	defer rb.Release()
	fields := schema.Fields() // a copy: taken once, not per record
	for i, r := range records {
		for c, f := range fields {
			if err := Append(rb.Field(c), r[f.Name]); err != nil {
				return nil, fmt.Errorf("record %d, field %s: %w", i, f.Name, err)
			}
		}
	}
	return rb.NewRecordBatch(), nil
}
