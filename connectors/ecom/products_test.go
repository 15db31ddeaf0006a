package ecom

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// newTestProducts builds an ecom_products source on srv; extra overrides configuration values.
func newTestProducts(t *testing.T, srv *ecomtest.Server, extra map[string]any) *ProductsSource {
	t.Helper()
	values := map[string]any{"store_id": srv.StoreID(), "token": spec.NewSecret(srv.Token()), "base_url": srv.URL(),
		"requests_per_minute": int64(6_000_000)}
	for k, v := range extra {
		values[k] = v
	}
	ps, err := NewProductsSource(spec.Config{Values: values}, connectors.Env{})
	if err != nil {
		t.Fatalf("NewProductsSource: %v", err)
	}
	return ps
}

// readProducts reads the source to the end and returns its records by SKU, the number of batches and the
// result.
func readProducts(t *testing.T, ps *ProductsSource) (map[string]record.Record, int, connectors.ReadResult) {
	t.Helper()
	ctx := context.Background()
	r, err := ps.Read(ctx, connectors.ReadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[string]record.Record{}
	batches := 0
	for {
		b, err := r.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		batches++
		for i := 0; i < int(b.NumRows()); i++ {
			rec := record.RowRecord(b, i)
			out[rec["sku"].(string)] = rec
		}
		b.Release()
	}
	return out, batches, r.Result()
}

func attrs(kv ...string) []ecomtest.Attribute {
	var out []ecomtest.Attribute
	for i := 0; i+2 < len(kv); i += 3 {
		out = append(out, ecomtest.Attribute{Type: kv[i], Name: kv[i+1], Value: kv[i+2]})
	}
	return out
}

// TestProductsRecords reads products and combinations as catalog identifiers: UPCs normalised to GTIN-14,
// the MPN from its custom attribute, the brand and name of the product on its combinations.
func TestProductsRecords(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	srv.Seed(
		ecomtest.Product{SKU: "W-CHAIN", Name: "KMC X11 chain", Price: 39.99, Enabled: true,
			Attributes: attrs("BRAND", "Brand", "KMC", "UPC", "UPC", "036000291452", "CUSTOM", "mpn", "X11-93")},
		ecomtest.Product{SKU: "W-TIRE", Name: "Trail tire", Price: 60, Enabled: true,
			Attributes: attrs("BRAND", "Brand", "Maxxis", "CUSTOM", "Color", "Black"),
			Combinations: []ecomtest.Combination{
				{SKU: "W-TIRE-29", Options: []ecomtest.OptionValue{{Name: "Size", Value: "29"}},
					Attributes: attrs("UPC", "UPC", "4006381333931", "CUSTOM", "MPN", "TB96800100")},
				{SKU: "W-TIRE-27", Options: []ecomtest.OptionValue{{Name: "Size", Value: "27.5"}}},
				{Options: []ecomtest.OptionValue{{Name: "Size", Value: "26"}}}, // no SKU of its own: left out
			}},
		// An MPN in an attribute of another type is not the MPN; a bad UPC leaves gtin14 empty.
		ecomtest.Product{SKU: "W-BELL", Name: "Bell", Price: 9, Enabled: true,
			Attributes: attrs("UPC", "UPC", "036000291453", "BRAND", "MPN", "not-an-mpn")},
		ecomtest.Product{SKU: "W-GIFT", Name: "Gift card", Price: 25, Enabled: true, Attributes: attrs("UPC", "UPC", "36000291452")},
	)
	got, _, res := readProducts(t, newTestProducts(t, srv, nil))
	want := map[string]record.Record{
		"W-CHAIN": {"sku": "W-CHAIN", "parent_sku": nil, "upc": "036000291452", "gtin14": "00036000291452", "mpn": "X11-93",
			"brand": "KMC", "name": "KMC X11 chain"},
		"W-TIRE": {"sku": "W-TIRE", "parent_sku": nil, "upc": nil, "gtin14": nil, "mpn": nil, "brand": "Maxxis", "name": "Trail tire"},
		"W-TIRE-29": {"sku": "W-TIRE-29", "parent_sku": "W-TIRE", "upc": "4006381333931", "gtin14": "04006381333931",
			"mpn": "TB96800100", "brand": "Maxxis", "name": "Trail tire"},
		"W-TIRE-27": {"sku": "W-TIRE-27", "parent_sku": "W-TIRE", "upc": nil, "gtin14": nil, "mpn": nil, "brand": "Maxxis",
			"name": "Trail tire"},
		"W-BELL": {"sku": "W-BELL", "parent_sku": nil, "upc": "036000291453", "gtin14": nil, "mpn": nil, "brand": "not-an-mpn",
			"name": "Bell"},
		// An 11-digit UPC (a spreadsheet dropped its leading zero) is the same GTIN as W-CHAIN's.
		"W-GIFT": {"sku": "W-GIFT", "parent_sku": nil, "upc": "36000291452", "gtin14": "00036000291452", "mpn": nil,
			"brand": nil, "name": "Gift card"},
	}
	if !reflect.DeepEqual(got, want) {
		for sku := range merged(got, want) {
			if !reflect.DeepEqual(got[sku], want[sku]) {
				t.Errorf("%s:\n got %v\nwant %v", sku, got[sku], want[sku])
			}
		}
	}
	if res.Mode != connectors.Snapshot || !reflect.DeepEqual(res.Key, []string{"sku"}) {
		t.Errorf("result mode %s key %v, want a snapshot keyed by sku", res.Mode, res.Key)
	}
	wantNote := `1 website product(s) have a UPC that is not a valid GTIN (gtin14 left empty: they can match POS items ` +
		`only by MPN): SKU W-BELL: UPC "036000291453" fails the GS1 check digit: it ends in 3, the check digit is 2`
	if !reflect.DeepEqual(res.Notes, []string{wantNote}) {
		t.Errorf("notes %q, want [%q]", res.Notes, wantNote)
	}
}

func merged(a, b map[string]record.Record) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// TestProductsPagesAndAttributeName lists a store larger than a page, with the MPN in a renamed attribute,
// and caps the invalid UPCs the note names.
func TestProductsPagesAndAttributeName(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	var ps []ecomtest.Product
	for i := 0; i < 150; i++ {
		ps = append(ps, ecomtest.Product{SKU: fmt.Sprintf("P%03d", i), Name: "Part", Price: 1, Enabled: true,
			Attributes: attrs("CUSTOM", "Part number", fmt.Sprintf("M%d", i), "UPC", "UPC", fmt.Sprintf("bad-%d", i))})
	}
	srv.Seed(ps...)
	got, batches, res := readProducts(t, newTestProducts(t, srv, map[string]any{"mpn_attribute": "part number"}))
	if len(got) != 150 || batches != 2 {
		t.Fatalf("%d records in %d batches, want 150 in 2", len(got), batches)
	}
	if m := got["P149"]["mpn"]; m != "M149" {
		t.Errorf("P149 mpn %v, want M149 (attribute named \"Part number\")", m)
	}
	if len(res.Notes) != 1 || !strings.HasPrefix(res.Notes[0], "150 website product(s) have a UPC") ||
		!strings.HasSuffix(res.Notes[0], "; and 140 more") || strings.Count(res.Notes[0], "SKU P") != maxNotedUPCs {
		t.Errorf("notes %q, want one naming %d SKUs and 140 more", res.Notes, maxNotedUPCs)
	}
}

// TestProductsRegisteredAndChecked builds the source through the registry, checks its token, and keeps the
// token out of errors.
func TestProductsRegisteredAndChecked(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	_, ctor, ok := connectors.Sources.Lookup("ecom_products")
	if !ok {
		t.Fatal("ecom_products is not registered")
	}
	values := map[string]any{"store_id": srv.StoreID(), "token": spec.NewSecret("secret_wrong-token"), "base_url": srv.URL(),
		"requests_per_minute": int64(6_000_000)}
	src, err := ctor(spec.Config{Values: values}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	err = src.(connectors.ConnectionTester).Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "token refused") || strings.Contains(err.Error(), "wrong-token") {
		t.Fatalf("check with a wrong token: %v, want a refusal that does not show the token", err)
	}
	if err := newTestProducts(t, srv, nil).Check(context.Background()); err != nil {
		t.Fatalf("check with the store's token: %v", err)
	}
	if _, err := NewProductsSource(spec.Config{Values: map[string]any{"store_id": "1", "token": spec.NewSecret("t"),
		"mpn_attribute": " "}}, connectors.Env{}); err == nil || !strings.Contains(err.Error(), "mpn_attribute") {
		t.Errorf("blank mpn_attribute: %v, want an error naming it", err)
	}
}
