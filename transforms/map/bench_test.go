package mapt

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/record"
	"github.com/possync/possync/transforms"
)

// benchRows is the batch size of BenchmarkMap; b.N batches are mapped.
const benchRows = 100_000

// BenchmarkMap maps batches through the eight-field mapping of perf-notes §6 on one goroutine.
func BenchmarkMap(b *testing.B) {
	var fields []arrow.Field
	for _, f := range [][2]string{
		{"sku", "string"}, {"name", "string"}, {"brand", "string"}, {"category", "string"}, {"price", "float"},
		{"sale_price", "float"}, {"has_sale", "bool"}, {"active", "bool"}, {"qty", "int"}, {"online", "bool"},
	} {
		typ, _ := record.ArrowType(f[1])
		fields = append(fields, arrow.Field{Name: f[0], Type: typ, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	records := make([]record.Record, benchRows)
	for i := range records {
		records[i] = record.Record{
			"sku": fmt.Sprintf("SKU-%07d", i), "name": fmt.Sprintf("  Product %d ", i), "brand": "Acme",
			"category": "Apparel > Shirts > Tees", "price": float64(i%500) + 0.99, "sale_price": float64(i%300) + 0.5,
			"has_sale": i%3 == 0, "active": i%17 != 0, "qty": int64(i%40 - 5), "online": i%2 == 0,
		}
	}
	in, err := record.BuildBatch(nil, schema, records)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Release()
	exprs := []field{
		{"id", "sku"},
		{"title", `trim(name) + " | " + brand`},
		{"brand", "upper(brand)"},
		{"department", `split(category, " > ")[0]`},
		{"price", "price"},
		{"effective_price", "has_sale && sale_price < price ? sale_price : price"},
		{"availability", `!active ? "discontinued" : (qty > 0 ? "in_stock" : "out_of_stock")`},
		{"channel", `online ? "web" : "store"`},
	}
	tr, err := New(mapConfig(exprs, nil), transforms.Env{Input: schema, Now: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	m := tr.(*Map)
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for range b.N {
		out, err := m.Apply(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		out.Release()
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	rows := float64(b.N) * benchRows
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/rows, "ns/row")
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/rows, "allocs/row")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/rows, "B/row")
}
