package export

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/internal/proctime"
	"github.com/possync/possync/runner/state"
)

// BenchmarkExportMerge times Run's merge of a records file of 1M records (the benchmark catalog's shape:
// a text key, text, integer and floating-point fields, about 110 bytes a line) with 30,304 changed records
// tracked from a commit (Touched), again and again on the same engine: the touched keys, the COPY of the
// changed records and the pass over the file, without the rest of a run. It reports the processor time per
// merge (cpu-s/op), the steadier measure on a shared machine.
func BenchmarkExportMerge(b *testing.B) {
	ctx := b.Context()
	db, err := engine.Open(ctx, engine.Options{TempDir: b.TempDir() + "/tmp"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE snap AS SELECT printf('SKU-%08d', i) AS sku, 'Product ' || i || ', size ' || (i % 13) AS title,
			'Vendor ' || (i % 97) AS vendor, (i % 500) / 100 + 0.25 AS price, (i % 100)::BIGINT AS qty,
			lpad((i * 7919 % 1000000007)::VARCHAR, 12, '0') AS upc FROM range(1000000) t(i)`,
		`CREATE TABLE chg AS SELECT 'update' AS __op, sku, title || ' (new)' AS title, vendor, price, qty + 1 AS qty, upc
			FROM snap WHERE hash(sku) % 33 = 0`,
		`UPDATE snap SET title = title || ' (new)', qty = qty + 1 WHERE hash(sku) % 33 = 0`,
	} {
		if err := db.Exec(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "sku", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "title", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "vendor", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "upc", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	touched := NewTouched(db, []string{"sku"})
	if err := touched.Add(ctx, "chg"); err != nil {
		b.Fatal(err)
	}
	exp := connectors.Export{Path: b.TempDir() + "/records.csv", Format: "csv"}
	in := Input{Export: exp, SinkType: "bench", Snapshot: "snap", Meta: state.Meta{Serial: 1, Records: 1_000_000}, Key: []string{"sku"},
		Schema: sch, Base: true, Merge: true}
	out, err := Run(ctx, db, in) // the first export: in full
	if err != nil {
		b.Fatal(err)
	}
	in.Touched = touched
	c0 := proctime.Seconds()
	for b.Loop() {
		var l logs
		in.Meta = state.Meta{Serial: in.Meta.Serial + 1, Exported: in.Meta.Serial, ExportStamp: out.Stamp, Records: 1_000_000}
		in.Log = l.logf
		if out, err = Run(ctx, db, in); err != nil {
			b.Fatal(err)
		}
		if !strings.Contains(l.String(), "merged") {
			b.Fatalf("not merged: %s", l)
		}
	}
	b.ReportMetric((proctime.Seconds()-c0)/float64(b.N), "cpu-s/op")
}
