package record

import (
	"reflect"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestValueHasTheGoTypeOfTypeName: for every Arrow type TypeName classifies, Value returns that type's Go
// value (expressions are type-checked by TypeName and evaluated on Value).
func TestValueHasTheGoTypeOfTypeName(t *testing.T) {
	mem := memory.NewGoAllocator()
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	goType := map[string]reflect.Type{"string": reflect.TypeOf(""), "int": reflect.TypeOf(int64(0)),
		"float": reflect.TypeOf(0.0), "bool": reflect.TypeOf(true), "date": reflect.TypeOf(day), "timestamp": reflect.TypeOf(day)}
	build := func(dt arrow.DataType, add func(array.Builder)) arrow.Array {
		b := array.NewBuilder(mem, dt)
		defer b.Release()
		add(b)
		return b.NewArray()
	}
	cases := []struct {
		a    arrow.Array
		want any
	}{
		{build(arrow.BinaryTypes.LargeString, func(b array.Builder) { b.(*array.LargeStringBuilder).Append("x") }), "x"},
		{build(arrow.PrimitiveTypes.Uint16, func(b array.Builder) { b.(*array.Uint16Builder).Append(7) }), int64(7)},
		{build(arrow.FixedWidthTypes.Float16, func(b array.Builder) { b.(*array.Float16Builder).Append(float16.New(1.5)) }), 1.5},
		{build(&arrow.Decimal128Type{Precision: 10, Scale: 2}, func(b array.Builder) { b.(*array.Decimal128Builder).Append(decimal128.FromI64(1999)) }), 19.99},
		{build(&arrow.Decimal256Type{Precision: 40, Scale: 2}, func(b array.Builder) { b.(*array.Decimal256Builder).Append(decimal256.FromI64(250)) }), 2.5},
		{build(arrow.FixedWidthTypes.Date32, func(b array.Builder) { b.(*array.Date32Builder).Append(arrow.Date32FromTime(day)) }), day},
		{build(arrow.FixedWidthTypes.Date64, func(b array.Builder) { b.(*array.Date64Builder).Append(arrow.Date64FromTime(day)) }), day},
	}
	for _, c := range cases {
		got := Value(c.a, 0)
		name := TypeName(c.a.DataType())
		if reflect.TypeOf(got) != goType[name] || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s (%s): Value = %#v, want %#v", c.a.DataType(), name, got, c.want)
		}
		c.a.Release()
	}
}
