package shopify

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/apistats"
	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/connectors/shopify/shopifytest"
)

// The example orders become order records: customer, addresses, lines (SKU, barcode, quantity, unit price,
// tax), shipping, totals, pickup vs delivery, cancellation.
func TestReadMapsOrders(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	e.srv.LoadExample()
	r := mustRead(t, e.source(nil), nil)

	if r.res.Mode != connectors.Changes || !reflect.DeepEqual(r.res.Key, []string{order.ColOrderID}) {
		t.Errorf("mode %s key %v, want changes keyed by order_id", r.res.Mode, r.res.Key)
	}
	if got := strings.Join(r.order, " "); got != "#1001 #1002 #1003 #1004" {
		t.Errorf("orders read %q, want the four examples oldest update first", got)
	}
	at := func(h int) time.Time { return shopifytest.ExampleTime.Add(time.Duration(h) * time.Hour) }

	d := r.byID["#1001"]
	want := map[string]any{
		order.ColOrigin: "shopify", order.ColPlacedAt: at(0), order.ColUpdatedAt: at(0), order.ColCurrency: "USD",
		order.ColCustomerID: "7390000001", order.ColEmail: "Jane.Rider@example.com", order.ColPhone: "+15035550101",
		order.ColBillName: "Jane Rider", order.ColBillAddress1: "12 Elm St", order.ColBillAddress2: "Apt 3",
		order.ColBillCity: "Portland", order.ColBillState: "OR", order.ColBillZip: "97201", order.ColBillCountry: "US",
		order.ColShipName: "Jane Rider", order.ColShipCity: "Portland", order.ColShipCountry: "US",
		order.ColShippingMethod: "Standard Shipping", order.ColFulfilment: order.FulfilDelivery,
		order.ColPickupLocation: nil, order.ColPaymentMethod: "shopify_payments", order.ColWebStatus: "UNFULFILLED",
		order.ColCancelled: false, order.ColComments: "Please leave at the back door", order.ColSubtotal: 922.49,
		order.ColDiscount: 2.5, order.ColShipping: 15.0, order.ColTax: 73.8, order.ColTotal: 1011.29,
	}
	for col, w := range want {
		if got := d[col]; !equalValue(got, w) {
			t.Errorf("#1001 %s = %#v, want %#v", col, got, w)
		}
	}
	wantLines := []order.Line{
		{No: 1, WebID: "4001", Code: "TRK-FX2-M-BLK", GTIN1: "0601842790012", Brand: "Trek", Quantity: 1, UnitPrice: 899.99,
			Tax: 72, Description: "Trek FX 2 - M / Black"},
		{No: 2, WebID: "4002", Code: "BTL-750", GTIN1: "0012345678905", Brand: "Acme", Quantity: 2, UnitPrice: 12.5,
			Tax: 1.8, Description: "Trail Bottle 750 ml"},
	}
	if got := lines(t, d); !reflect.DeepEqual(got, wantLines) {
		t.Errorf("#1001 lines\n got %+v\nwant %+v", got, wantLines)
	}

	p := r.byID["#1002"]
	if p[order.ColFulfilment] != order.FulfilPickup || p[order.ColPickupLocation] != "Downtown Store" ||
		p[order.ColShippingMethod] != "Pickup at Downtown Store" || p[order.ColShipName] != nil {
		t.Errorf("#1002 is picked up at Downtown Store: fulfilment %v, pickup %v, method %v, ship name %v",
			p[order.ColFulfilment], p[order.ColPickupLocation], p[order.ColShippingMethod], p[order.ColShipName])
	}
	c := r.byID["#1003"]
	if c[order.ColCancelled] != true || !equalValue(c[order.ColUpdatedAt], at(3)) || len(lines(t, c)) != 1 {
		t.Errorf("#1003 cancelled %v updated %v lines %d, want true, %v, 1", c[order.ColCancelled], c[order.ColUpdatedAt],
			len(lines(t, c)), at(3))
	}
	g := r.byID["#1004"]
	gl := lines(t, g)
	if g[order.ColEmail] != nil || g[order.ColCustomerID] != nil || g[order.ColFulfilment] != order.FulfilDelivery ||
		len(gl) != 1 || gl[0].Code != "" || gl[0].GTIN1 != "2000000000015" {
		t.Errorf("#1004 (guest, no SKU): email %v customer %v fulfilment %v lines %+v", g[order.ColEmail],
			g[order.ColCustomerID], g[order.ColFulfilment], gl)
	}
	var cp checkpoint
	if err := json.Unmarshal(r.res.Checkpoint, &cp); err != nil || !cp.UpdatedAt.Equal(at(4)) {
		t.Errorf("checkpoint %s, want the latest updatedAt %s", r.res.Checkpoint, at(4))
	}
}

func equalValue(got, want any) bool {
	if wt, ok := want.(time.Time); ok {
		gt, ok := got.(time.Time)
		return ok && gt.Equal(wt)
	}
	return got == want
}

// order_id: id keys orders by their numeric id; a line removed by an order edit is left out.
func TestReadOrderIDAndEditedLines(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	e.srv.LoadExample()
	e.srv.UpdateOrder(shopifytest.OrderDelivery, time.Time{}, func(o *shopifytest.Order) { o.LineItems[1].Removed = 2 })
	r := mustRead(t, e.source(map[string]any{"order_id": "id"}), nil)
	d, ok := r.byID["820982911946154500"]
	if !ok {
		t.Fatalf("orders %v, want numeric ids", r.order)
	}
	if ls := lines(t, d); len(ls) != 1 || ls[0].Code != "TRK-FX2-M-BLK" {
		t.Errorf("lines %+v, want only the line not removed", ls)
	}
}

// An order with more line items than the page query asks for is completed by order(id) requests.
func TestReadManyLineItems(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	o := shopifytest.Order{ID: 77, Name: "#77", CreatedAt: shopifytest.ExampleTime, Subtotal: 1, Total: 1}
	for i := range 125 {
		o.LineItems = append(o.LineItems, shopifytest.LineItem{ID: int64(i + 1), SKU: "S" + string(rune('A'+i%26)),
			Title: "Part", Quantity: i + 1, UnitPrice: 1})
	}
	e.srv.AddOrder(o)
	r := mustRead(t, e.source(map[string]any{"line_items": int64(10)}), nil)
	ls := lines(t, r.byID["#77"])
	if len(ls) != 125 || ls[124].Quantity != 125 || ls[124].No != 125 {
		t.Fatalf("%d lines (last %+v), want 125 in order", len(ls), ls[len(ls)-1])
	}
	var more int
	for _, c := range e.srv.Calls() {
		if c.Fields[0] == "order" {
			more++
		}
	}
	if more != 2 { // 10 with the page, then 100, then 15
		t.Errorf("%d order(id) requests, want 2", more)
	}
}

// Many pages: every order exactly once, pages chained by cursor, the page made smaller than page_size
// when Shopify refuses its cost, and pacing that waits for the bucket so that Shopify never throttles.
func TestReadPaginationAndPacing(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	e.srv.Generate(10000, 1200, start, time.Minute)
	r := mustRead(t, e.source(nil), nil)
	if len(r.byID) != 1200 {
		t.Fatalf("read %d orders, want 1200", len(r.byID))
	}
	for i, id := range r.order {
		if want := "#" + itoa(10000+i); id != want {
			t.Fatalf("order %d is %s, want %s (oldest update first)", i, id, want)
		}
	}
	calls := ordersCalls(e.srv.Calls())
	if calls[0].Variables["first"] != float64(250) || calls[0].Variables["query"] != nil {
		t.Errorf("first request asks for %v orders with filter %v, want page_size 250 and no filter on the first run",
			calls[0].Variables["first"], calls[0].Variables["query"])
	}
	served := calls[1:] // the first was refused: 250 orders cost more than 1000 points
	if calls[0].Status != 200 || calls[0].Actual != 0 || served[0].Variables["first"].(float64) >= 250 {
		t.Fatalf("the 250-order page should be refused for its cost and retried smaller: %+v / %+v", calls[0], served[0])
	}
	first := served[0].Variables["first"].(float64)
	pages := (1200 + int(first) - 1) / int(first)
	if len(served) != pages {
		t.Errorf("%d pages of %v, want %d", len(served), first, pages)
	}
	for i, c := range served {
		if c.Throttled {
			t.Fatalf("page %d was throttled: pacing must wait for the bucket instead", i+1)
		}
		if c.Requested > 1000 {
			t.Errorf("page %d requested %d points, over the single-query limit", i+1, c.Requested)
		}
		if i > 0 && c.Variables["after"] == nil {
			t.Errorf("page %d has no cursor", i+1)
		}
		// Exactly as long as needed: when the client waited before a page, the bucket then held the page's
		// cost and less than two points more (one for rounding the wait up to the millisecond, one for the
		// emulator reporting whole points).
		before := c.Available + float64(c.Actual)
		if i > 0 && c.At.After(served[i-1].At) && before-float64(c.Requested) >= 2 {
			t.Errorf("page %d: waited until %.1f points were available for a %d-point request", i+1, before, c.Requested)
		}
	}
	if len(e.clk.sleeps()) == 0 {
		t.Errorf("the read never waited: the test does not exercise pacing")
	}
	t.Logf("%d pages of %v orders (%d points requested), %d waits, %s waited", len(served), first,
		served[0].Requested, len(e.clk.sleeps()), e.clk.Now().Sub(newClock().Now()))
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// A THROTTLED answer (the bucket drained by someone else) is waited out exactly and the read goes on, with
// HTTP 200 and with 429.
func TestReadRecoversFromThrottling(t *testing.T) {
	for _, status := range []int{200, 429} {
		t.Run(itoa(status), func(t *testing.T) {
			e := newEnv(t, shopifytest.Options{ThrottleStatus: status})
			e.srv.Generate(1, 60, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Minute)
			pages := 0
			e.srv.BeforeServe(func(c shopifytest.Call) {
				if c.Fields[0] == "orders" {
					if pages++; pages == 3 {
						e.srv.SetAvailable(10)
					}
				}
			})
			s := e.source(map[string]any{"page_size": int64(5)})
			var stats apistats.Counters
			r, err := read(apistats.With(context.Background(), &stats), s, nil)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if len(r.byID) != 60 {
				t.Fatalf("read %d orders, want 60", len(r.byID))
			}
			var throttled []shopifytest.Call
			calls := e.srv.Calls()
			// Every request counted, the throttled one as a rate limit (once, whatever its HTTP status) and
			// the request after it as a retry.
			if got, want := stats.Read(), (apistats.Snapshot{Requests: int64(len(calls)), Retries: 1, RateLimited: 1}); got != want {
				t.Errorf("counted %+v, want %+v", got, want)
			}
			for i, c := range calls {
				if c.Throttled {
					throttled = append(throttled, c)
					if i+1 >= len(calls) || calls[i+1].Throttled || calls[i+1].Status != 200 {
						t.Errorf("the request after THROTTLED should succeed: %+v", calls[i+1:])
					}
					// The wait is (requested - available) / restoreRate.
					want := time.Duration((float64(c.Requested)-10)/50*1000) * time.Millisecond
					if got := calls[i+1].At.Sub(c.At); got < want || got > want+time.Millisecond {
						t.Errorf("waited %s after THROTTLED, want %s", got, want)
					}
				}
			}
			if len(throttled) != 1 || throttled[0].Status != status {
				t.Errorf("throttled answers %+v, want one with HTTP %d", throttled, status)
			}
			if len(r.res.Notes) != 1 || !strings.Contains(r.res.Notes[0], "throttled 1 request") {
				t.Errorf("notes %q, want one about the throttled request", r.res.Notes)
			}
		})
	}
}

// An order the source cannot map is rejected with its key (so the planner leaves it alone), the others are
// read, and the checkpoint stays before it so the next read sees it again.
func TestReadRejectsUnreadableOrder(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	e.srv.LoadExample()
	e.srv.UpdateOrder(shopifytest.OrderPickup, shopifytest.ExampleTime.Add(time.Hour), func(o *shopifytest.Order) {
		o.Raw = map[string]any{"currentTotalPriceSet": map[string]any{"shopMoney": map[string]any{"amount": "n/a"}}}
	})
	s := e.source(nil)
	r := mustRead(t, s, nil)
	if _, ok := r.byID["#1002"]; ok || len(r.byID) != 3 {
		t.Errorf("read %v, want the three readable orders", r.order)
	}
	rej := r.res.Rejects
	if len(rej) != 1 || rej[0].Key[order.ColOrderID] != "#1002" || !strings.Contains(rej[0].Reason, `total amount "n/a"`) ||
		!strings.Contains(rej[0].Where, "orders page 1, order 2") {
		t.Fatalf("rejects %+v", rej)
	}
	var cp checkpoint
	_ = json.Unmarshal(r.res.Checkpoint, &cp)
	if want := shopifytest.ExampleTime.Add(time.Hour - time.Second); !cp.UpdatedAt.Equal(want) {
		t.Errorf("checkpoint %s, want just before the rejected order (%s)", cp.UpdatedAt, want)
	}
	e.srv.UpdateOrder(shopifytest.OrderPickup, shopifytest.ExampleTime.Add(time.Hour), func(o *shopifytest.Order) { o.Raw = nil })
	if r := mustRead(t, s, r.res.Checkpoint); r.byID["#1002"] == nil || len(r.res.Rejects) != 0 {
		t.Errorf("once fixed, the next read has #1002: %v %v", r.order, r.res.Rejects)
	}
}

// since bounds the first read and a full refresh; a full refresh ignores the checkpoint.
func TestReadSinceAndFullRefresh(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	e.srv.LoadExample()
	s := e.source(map[string]any{"since": shopifytest.ExampleTime.Add(90 * time.Minute).Format(time.RFC3339)})
	r := mustRead(t, s, nil)
	if got := strings.Join(r.order, " "); got != "#1003 #1004" {
		t.Errorf("first read since 16:34 got %q", got)
	}
	rd, err := s.Read(context.Background(), connectors.ReadRequest{Checkpoint: r.res.Checkpoint, FullRefresh: true})
	if err != nil {
		t.Fatal(err)
	}
	rd.Close()
	calls := ordersCalls(e.srv.Calls())
	if q := calls[len(calls)-1].Variables["query"]; q != "updated_at:>='2026-11-02T16:34:05Z'" {
		t.Errorf("full refresh filter %v, want since", q)
	}
}

// A 5,000-order backlog (a first run on a busy shop) is read in full, paced so that Shopify never throttles;
// the waits add up to what the restore rate allows for the points the orders actually cost.
func TestReadBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 orders")
	}
	e := newEnv(t, shopifytest.Options{RestoreRate: 100})
	e.srv.Generate(1, 5000, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 10*time.Second)
	r := mustRead(t, e.source(nil), nil)
	if len(r.byID) != 5000 || len(r.res.Notes) != 0 {
		t.Fatalf("read %d orders (notes %q), want 5000 without throttling", len(r.byID), r.res.Notes)
	}
	var actual int
	for _, c := range e.srv.Calls() {
		if c.Throttled {
			t.Fatalf("throttled: %+v", c)
		}
		actual += c.Actual
	}
	// The bucket starts full (1000 points); every point beyond that restores at 100 per second.
	waited := e.clk.Now().Sub(newClock().Now())
	if min := time.Duration(float64(actual-1000) / 100 * float64(time.Second)); waited < min || waited > min+time.Duration(len(e.srv.Calls()))*20*time.Millisecond {
		t.Errorf("waited %s for %d points at 100/s, want about %s", waited, actual, min)
	}
	t.Logf("%d requests, %d points, %s waited on the fake clock", len(e.srv.Calls()), actual, waited)
}
