package runner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
)

const ecomStreamPipeline = `version: 1
name: variants
merchant: m
key: sku
source:
  type: file
  path: catalog.csv
  columns:
    - {name: sku, type: string}
    - {name: parent_sku, type: string}
    - {name: options, type: string}
    - {name: price, type: float}
transforms:
  - type: map
    fields:
      sku: sku
      name: '"Item " + sku'
      parent_sku: parent_sku
      options: options
      price: price
sink:
  type: ecom
  base_url: %s
  store_id: %q
  token: ${STREAM_ECOM_TOKEN}
  requests_per_minute: 6000000
  poll_interval: 1ms
guards:
  max_delete_percent: -1
`

// An apply to the eCom sink streams its changes in batches (the diff numbers them in the sink's rank,
// connectors.Ranker) and still sends every product create before any variant create and every variant
// delete before any product delete across batches of 500, although the variants' keys sort on both sides
// of their products' (a variant whose product is neither in the store nor in its batch is refused).
func TestEcomApplyStreamsInRankOrder(t *testing.T) {
	defer runner.SetStreamAbove(10)()
	shop := ecomtest.New(ecomtest.Options{})
	t.Cleanup(shop.Close)
	t.Setenv("STREAM_ECOM_TOKEN", shop.Token())
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(ecomStreamPipeline, shop.URL(), shop.StoreID()))
	const products = 400
	var csv strings.Builder
	csv.WriteString("sku,parent_sku,options,price\nKEEP,,,1\n")
	for i := 0; i < products; i++ {
		// A variant sorting before its product, and one after it.
		fmt.Fprintf(&csv, "M%04d,,,%d\nA%04d-V,M%04d,\"{\"\"Size\"\":\"\"S\"\"}\",%d\nZ%04d-V,M%04d,\"{\"\"Size\"\":\"\"L\"\"}\",%d\n",
			i, i, i, i, i, i, i, i)
	}
	writeFile(t, filepath.Join(dir, "catalog.csv"), csv.String())

	apply := func(wantAction string, want int) {
		t.Helper()
		streamed := false
		// A catalog shrinking to one record is suspect input: its deletions are held unless asked for.
		opts := runner.Options{AllowMassChange: true, Planned: func(pl *plan.Plan) { streamed = len(pl.Changes) == 0 && pl.Summary.Total() > 0 }}
		rep, err := runner.Apply(context.Background(), loadAt(t, dir), opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Rejected) > 0 {
			t.Fatalf("%d changes refused, the first: %+v", len(rep.Rejected), rep.Rejected[0])
		}
		if got := rep.Applied.Create + rep.Applied.Delete; got != want {
			t.Fatalf("applied %+v, want %d %ss", rep.Applied, want, wantAction)
		}
		if !streamed {
			t.Errorf("the apply of %d changes held them in memory, want streamed", want)
		}
	}

	apply("create", 1+3*products)
	// Products (POST /products) all before variants (POST /products/{id}/combinations), across tickets.
	checkOrder(t, shop.Writes(), "POST", "product creates", "variant creates")
	if got := len(shop.Products()); got != 1+products {
		t.Fatalf("%d products in the store, want %d", got, 1+products)
	}

	shop.Reset()
	writeFile(t, filepath.Join(dir, "catalog.csv"), "sku,parent_sku,options,price\nKEEP,,,1\n")
	apply("delete", 3*products)
	checkOrder(t, shop.Writes(), "DELETE", "variant deletes", "product deletes")
	if got := len(shop.Products()); got != 1 {
		t.Fatalf("%d products left in the store, want 1", got)
	}
}

// checkOrder fails unless every write of method whose path names the product alone (/products/{id}) is on
// the side the names say of every write of method on a combination (/products/{id}/combinations...), and
// the writes came in several batch tickets.
func checkOrder(t *testing.T, writes []ecomtest.Write, method, first, then string) {
	t.Helper()
	isVariant := func(w ecomtest.Write) bool { return strings.Contains(w.Path, "/combinations") }
	variantsFirst := strings.HasPrefix(first, "variant")
	tickets := map[string]bool{}
	seen := map[bool]int{}
	for i, w := range writes {
		if w.Method != method || w.Status >= 300 {
			continue
		}
		tickets[w.Ticket] = true
		v := isVariant(w)
		seen[v]++
		if v == variantsFirst && seen[!v] > 0 {
			t.Fatalf("write %d (%s %s) of the %s comes after %d of the %s", i, w.Method, w.Path, first, seen[!v], then)
		}
	}
	if seen[true] == 0 || seen[false] == 0 || len(tickets) < 3 {
		t.Fatalf("%d product and %d variant %s writes in %d tickets, want both kinds across several", seen[false], seen[true], method, len(tickets))
	}
}
