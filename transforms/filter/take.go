package filter

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// take returns the rows of in at rows, a strictly increasing list of indices. All rows, or one run of
// consecutive rows, is a zero-copy slice of in.
func take(alloc memory.Allocator, in arrow.RecordBatch, rows []int) (arrow.RecordBatch, error) {
	if len(rows) == 0 {
		return in.NewSlice(0, 0), nil
	}
	first, last := rows[0], rows[len(rows)-1]
	if last-first+1 == len(rows) {
		return in.NewSlice(int64(first), int64(last+1)), nil
	}
	cols := make([]arrow.Array, 0, in.NumCols())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for i, col := range in.Columns() {
		c, err := takeColumn(alloc, col, rows)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", in.ColumnName(i), err)
		}
		cols = append(cols, c)
	}
	return array.NewRecordBatch(in.Schema(), cols, int64(len(rows))), nil
}

// takeColumn copies the values of a at rows into a new array.
func takeColumn(alloc memory.Allocator, a arrow.Array, rows []int) (arrow.Array, error) {
	switch c := a.(type) {
	case *array.String:
		return gather[string](c, array.NewStringBuilder(alloc), rows), nil
	case *array.LargeString:
		return gather[string](c, array.NewLargeStringBuilder(alloc), rows), nil
	case *array.Int64:
		return gather[int64](c, array.NewInt64Builder(alloc), rows), nil
	case *array.Float64:
		return gather[float64](c, array.NewFloat64Builder(alloc), rows), nil
	case *array.Boolean:
		return gather[bool](c, array.NewBooleanBuilder(alloc), rows), nil
	case *array.Date32:
		return gather[arrow.Date32](c, array.NewDate32Builder(alloc), rows), nil
	case *array.Timestamp:
		b := array.NewTimestampBuilder(alloc, c.DataType().(*arrow.TimestampType))
		return gather[arrow.Timestamp](c, b, rows), nil
	}
	return concatRuns(alloc, a, rows)
}

type valuer[T any] interface {
	arrow.Array
	Value(int) T
}

type appender[T any] interface {
	array.Builder
	Append(T)
}

// gather appends the values of a at rows to b and returns the built array.
func gather[T any, A valuer[T], B appender[T]](a A, b B, rows []int) arrow.Array {
	defer b.Release()
	b.Reserve(len(rows))
	for _, r := range rows {
		if a.IsNull(r) {
			b.AppendNull()
		} else {
			b.Append(a.Value(r))
		}
	}
	return b.NewArray()
}

// concatRuns copies the rows of a column of any type by concatenating slices of its runs of consecutive rows.
func concatRuns(alloc memory.Allocator, a arrow.Array, rows []int) (arrow.Array, error) {
	var slices []arrow.Array
	defer func() {
		for _, s := range slices {
			s.Release()
		}
	}()
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end] == rows[end-1]+1 {
			end++
		}
		slices = append(slices, array.NewSlice(a, int64(rows[start]), int64(rows[end-1]+1)))
		start = end
	}
	return array.Concatenate(slices, alloc)
}
