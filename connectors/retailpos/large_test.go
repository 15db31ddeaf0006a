package retailpos

import (
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/possync/possync/connectors"
	rpt "github.com/possync/possync/connectors/retailpos/retailpostest"
)

// largeCatalog is an emulator with n generated products in families of 5, stocked at two outlets.
func largeCatalog(t testing.TB, n int) (*rpt.Server, []rpt.Product) {
	srv := rpt.New(rpt.Options{})
	t.Cleanup(srv.Close)
	srv.AddOutlet(rpt.Outlet{Name: "Main Street"})
	srv.AddOutlet(rpt.Outlet{Name: "Warehouse"})
	return srv, srv.Generate(n, 5)
}

func TestLargeCatalogWithVariants(t *testing.T) {
	srv, gen := largeCatalog(t, 5000)
	e := &env{t: t, srv: srv, clk: newClock()}
	res := read(t, e.source(bothOutlets), connectors.ReadRequest{Now: e.clk.Now()})
	if !slices.Equal(res.batches, []int64{1024, 1024, 1024, 1024, 904}) {
		t.Errorf("batches %v, want 4 of 1024 and one of 904", res.batches)
	}
	if len(res.records) != 5000 || len(res.bySKU) != 5000 {
		t.Fatalf("%d records, %d SKUs; want 5000", len(res.records), len(res.bySKU))
	}
	outlets := srv.Outlets()
	for i, p := range gen {
		rec := res.bySKU[p.SKU]
		var want any
		if p.HasInventory {
			var q int64
			for _, o := range outlets {
				l, _ := srv.InventoryLevel(p.ID, o.ID)
				q += int64(max(l, 0))
			}
			want = q
		}
		if rec["quantity"] != want {
			t.Fatalf("%s: quantity %v, want %v", p.SKU, rec["quantity"], want)
		}
		var parent any
		if i%5 != 0 {
			parent = gen[i-i%5].SKU
		}
		if rec["id"] != p.ID || rec["parent_sku"] != parent || rec["online"] != *p.Online || rec["active"] != p.Active {
			t.Fatalf("%s: %v", p.SKU, rec)
		}
	}
	// 5,000 products and 10,000 inventory records in pages of 1000, each listing ending with an empty page.
	if n, m := e.requestsTo("/products"), e.requestsTo("/inventory"); n != 6 || m != 11 {
		t.Errorf("%d product and %d inventory requests, want 6 and 11", n, m)
	}
}

// BenchmarkFullRead50k reads a 50,000-product catalog (10,000 families of 5 variants, 100,000 inventory
// records) from the emulator over real HTTP, and reports records per second.
func BenchmarkFullRead50k(b *testing.B) {
	srv, _ := largeCatalog(b, 50_000)
	e := &env{t: b, srv: srv, clk: newClock()}
	src := e.source(bothOutlets)
	ctx := b.Context()
	var n int64
	for b.Loop() {
		r, err := src.Read(ctx, connectors.ReadRequest{Now: e.clk.Now()})
		if err != nil {
			b.Fatal(err)
		}
		for {
			batch, err := r.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += batch.NumRows()
			batch.Release()
		}
		r.Close()
	}
	if n%50_000 != 0 {
		b.Fatalf("read %d records, not a multiple of 50,000", n)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
