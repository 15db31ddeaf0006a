package shopify_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/possync/possync/connectors/retailpos"
	"github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/connectors/shopify/shopifytest"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
)

// shopOrdersPipeline imports the shop's orders once (on_change and on_missing keep), as an orders pipeline does.
const shopOrdersPipeline = `version: 1
name: shop-orders
merchant: acme-bikes
key: order_id
sources:
  orders: {type: shopify_orders, base_url: %s, token: "${SHOPIFY_TOKEN}"}
sink: {type: file, path: out/orders.jsonl}
diff: {on_missing: keep, on_change: keep}
`

// shopStatusesPipeline takes the POS statuses of the shop-orders sales back to the shop.
const shopStatusesPipeline = `version: 1
name: shop-statuses
merchant: acme-bikes
key: order_id
sources:
  sales: {type: retailpos_sales, base_url: %s, token: %s, requests_per_minute: 0, orders_pipeline: shop-orders}
transforms:
  - type: order_status
sink: {type: shopify_status, base_url: %s, token: "${SHOPIFY_TOKEN}"}
diff: {on_missing: keep, active_field: active}
guards: {max_delete_percent: -1}
`

// End to end: the orders pipeline imports the shop's orders; their POS sales are packed (the pickup #1002)
// and completed (#1001); the statuses pipeline prepares #1002 for pickup and fulfils #1001 once, and a rerun
// sends nothing. The writes move the orders' updatedAt, so the orders pipeline reads them again, and imports
// nothing: possync's own writes never come back as orders.
func TestStatusesBackToShopify(t *testing.T) {
	shop := shopifytest.New(shopifytest.Options{})
	t.Cleanup(shop.Close)
	shop.LoadExample()
	pos := retailpostest.New(retailpostest.Options{})
	t.Cleanup(pos.Close)
	outlet := pos.AddOutlet(retailpostest.Outlet{Name: "Main Street"})
	chain := pos.Upsert(retailpostest.Product{SKU: "CHAIN-1", Name: "Chain", Active: true})
	sale := func(id, fulfil string) string {
		x := pos.AddSale(retailpostest.Sale{ID: retailpos.SaleID("shop-orders", id), OutletID: outlet.ID, State: "pending",
			Attributes: []string{"layby", fulfil}, InvoiceNumber: "WEB-" + id, SourceType: "possync", SourceID: id,
			Lines: []retailpostest.SaleLine{{ProductID: chain.ID, Quantity: 1, Price: 20}}})
		return x.ID
	}
	delivery, pickup := sale("#1001", "delivery"), sale("#1002", "pickup")

	dir := t.TempDir()
	write := func(name, text string) string {
		sub := filepath.Join(dir, name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "pipeline.yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return sub
	}
	ordersDir := write("orders", fmt.Sprintf(shopOrdersPipeline, shop.URL()))
	statusesDir := write("statuses", fmt.Sprintf(shopStatusesPipeline, pos.URL(), pos.Token(), shop.URL()))
	apply := func(at string) *runner.Report {
		t.Helper()
		p, diags := pipelines.Load(filepath.Join(at, "pipeline.yaml"), pipelines.Options{LookupEnv: func(k string) (string, bool) {
			if k == "SHOPIFY_TOKEN" {
				return shop.Token(), true
			}
			return "", false
		}})
		if diags.HasErrors() {
			t.Fatalf("load %s: %v", at, diags)
		}
		p.State.Dir = filepath.Join(at, ".state")
		rep, err := runner.Apply(context.Background(), p, runner.Options{}, nil)
		if err != nil {
			t.Fatalf("apply %s: %v", at, err)
		}
		return rep
	}
	mutations := func() map[string]int {
		out := map[string]int{}
		for _, c := range shop.Calls() {
			if c.Kind == "mutation" {
				out[c.Fields[0]]++
			}
		}
		return out
	}

	if rep := apply(ordersDir); rep.Applied.Create != 4 {
		t.Fatalf("orders: applied %+v, want the 4 example orders", rep.Applied)
	}
	if rep := apply(statusesDir); rep.Applied.Create != 2 || mutations()["fulfillmentCreate"] != 0 {
		t.Fatalf("statuses: applied %+v, mutations %v; want the 2 open sales recorded, nothing sent", rep.Applied, mutations())
	}
	pos.PackForPickup(pickup)
	pos.SetSaleState(delivery, "closed")
	wrote := time.Now().UTC().Add(-time.Second)
	if rep := apply(statusesDir); rep.Applied.Update != 2 {
		t.Errorf("statuses: applied %+v, want 2 updates", rep.Applied)
	}
	m := mutations()
	if m["fulfillmentOrderLineItemsPreparedForPickup"] != 1 || m["fulfillmentCreate"] != 1 {
		t.Errorf("mutations %v, want #1002 prepared for pickup and #1001 fulfilled, once each", m)
	}
	if o, _ := shop.Order(shopifytest.OrderDelivery); o.FulfillmentStatus != "FULFILLED" || len(o.Fulfillments) != 1 || !o.Fulfillments[0].NotifyCustomer {
		t.Errorf("#1001 %s, fulfillments %+v: want fulfilled with the customer notified", o.FulfillmentStatus, o.Fulfillments)
	}
	if o, _ := shop.Order(shopifytest.OrderPickup); !o.FulfillmentOrders[0].ReadyForPickup {
		t.Errorf("#1002 fulfillment orders %+v: want prepared for pickup", o.FulfillmentOrders)
	}

	// Reruns: nothing sent, and the orders the writes touched (their updatedAt moved past the orders
	// pipeline's checkpoint, so it reads them again) are not imported again.
	for _, id := range []int64{shopifytest.OrderDelivery, shopifytest.OrderPickup} {
		if o, _ := shop.Order(id); o.UpdatedAt.Before(wrote) {
			t.Errorf("order %s updatedAt %s: the status write did not move it", o.Name, o.UpdatedAt)
		}
	}
	if rep := apply(statusesDir); rep.Planned.Total() != 0 {
		t.Errorf("statuses rerun planned %+v", rep.Planned)
	}
	if rep := apply(ordersDir); rep.Planned.Total() != 0 {
		t.Errorf("orders rerun after the status writes planned %+v, want nothing (our own writes)", rep.Planned)
	}
	if after := mutations(); after["fulfillmentCreate"] != 1 || after["fulfillmentOrderLineItemsPreparedForPickup"] != 1 {
		t.Errorf("mutations after the reruns %v", after)
	}
}
