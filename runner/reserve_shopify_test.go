package runner_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors/shopify/shopifytest"
	"github.com/possync/possync/runner"
)

// Reservations from Shopify (issue 11): the shopify_orders source in Changes mode keeps every order it read,
// so the reserve step decides from the columns which still hold stock: not cancelled, not fulfilled, not
// marked imported (the imported column of a confirm: false source). The pipeline never marks an order.

const reserveShopifyPipeline = `version: 1
name: stock
merchant: acme-bikes
key: sku
sources:
  stock:
    type: file
    path: stock.csv
    columns:
      - {name: sku, type: string}
      - {name: quantity, type: int}
  orders:
    type: shopify_orders
    base_url: %s
    token: ${RESERVE_SHOPIFY_TOKEN}
    confirm: false
transforms:
  - type: reserve
    input: stock
    orders: orders
sink:
  type: file
  path: out/records.csv
guards:
  max_delete_percent: -1
`

func TestReserveShopifyOrders(t *testing.T) {
	shop := shopifytest.New(shopifytest.Options{})
	t.Cleanup(shop.Close)
	shop.LoadExample()
	t.Setenv("RESERVE_SHOPIFY_TOKEN", shop.Token())
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(reserveShopifyPipeline, shop.URL()))
	writeFile(t, filepath.Join(dir, "stock.csv"), "sku,quantity\nTRK-FX2-M-BLK,3\nBTL-750,10\nHLM-CLS-L,2\nLCK-U,4\n")
	p := loadAt(t, dir)
	quantities := func() map[string]string {
		t.Helper()
		qty, _ := plannedQuantities(t, mustPlan(t, p))
		return qty
	}

	// #1001 (a Trek FX 2, two bottles) and #1002 (a helmet) are open; #1003 is cancelled; #1004's gift wrap is
	// no stock item (a note).
	want := map[string]string{"TRK-FX2-M-BLK": "2", "BTL-750": "8", "HLM-CLS-L": "1", "LCK-U": "4"}
	if got := quantities(); !reflect.DeepEqual(got, want) {
		t.Fatalf("with #1001 and #1002 open: %v, want %v", got, want)
	}
	pl := mustPlan(t, p)
	if n := noteWith(pl.NoteTexts(), "order_id=#1004: line 1 (GTIN 02000000000015): no stock item matches by code"); n == "" {
		t.Errorf("notes lack the gift wrap line of #1004:\n%s", strings.Join(pl.NoteTexts(), "\n"))
	}
	if rep := mustApply(t, p, runner.Options{}); rep.ExitCode != runner.ExitOK {
		t.Fatalf("apply: exit %d (%s)", rep.ExitCode, rep.ExitReason)
	}

	// The order pipeline imports #1001 into the POS and tags it; the store fulfils #1002. The POS's stock now
	// counts both sales: nothing is subtracted twice, so nothing changes.
	later := shopifytest.ExampleTime.Add(10 * time.Hour)
	shop.UpdateOrder(shopifytest.OrderDelivery, later, func(o *shopifytest.Order) { o.Tags = append(o.Tags, "possync-imported") })
	shop.UpdateOrder(shopifytest.OrderPickup, later, func(o *shopifytest.Order) { o.FulfillmentStatus = "FULFILLED" })
	writeFile(t, filepath.Join(dir, "stock.csv"), "sku,quantity\nTRK-FX2-M-BLK,2\nBTL-750,8\nHLM-CLS-L,1\nLCK-U,4\n")
	rep := mustApply(t, p, runner.Options{})
	if rep.ExitCode != runner.ExitOK || rep.Planned.Total() != 0 {
		t.Errorf("after the import and the fulfilment: planned %+v (exit %d), want no change", rep.Planned, rep.ExitCode)
	}
	if n := noteWith(rep.Notes, "reserved by"); n != "" {
		t.Errorf("note %q: no order is open any more", n)
	}
	for _, c := range shop.Calls() {
		if len(c.Fields) > 0 && (c.Fields[0] == "tagsAdd" || c.Fields[0] == "metafieldsSet") {
			t.Errorf("the inventory pipeline marked an order: %+v", c)
		}
	}
}
