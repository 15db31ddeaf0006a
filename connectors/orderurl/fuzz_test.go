package orderurl

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/record"
)

// FuzzParse feeds arbitrary bytes to Parse, the reader of the website's order export (outside XML). It must
// not panic, and Parse's contract must hold for any input:
//   - a failed parse returns no feed, and its error is a *SyntaxError with a 1-based position or a
//     *VersionError that says how to fix the setting;
//   - a parse that succeeds yields records that fit order.Schema(), each with a non-empty trimmed order id
//     (unique in the feed), origin order_url, a known fulfilment, a cancelled flag, a UTC placed_at when set,
//     finite amounts (a discount as a positive amount), and lines that decode, have a position and a
//     positive quantity, and re-encode to the same text;
//   - every reject says where and why, and one keyed by an order id names a non-empty one.
func FuzzParse(f *testing.F) {
	sample, err := os.ReadFile("../../examples/orders/data/orders.xml") // the demo's sample export
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	ok := webOrder("A-1", "jane@example.com", "Received", "")
	for _, s := range []string{
		doc("1", ok),
		doc("2", ok, webOrder("A-1", "noemail@noemail.com", "Cancelled", "")),
		doc("lots", webOrder("", "", "Received", "")),
		doc("1", strings.Replace(ok, "<Quantity>2</Quantity>", "<Quantity>1e400</Quantity>", 1)),
		doc("1", strings.Replace(ok, "<Time>Fri Jan 15 15:19:16 2021</Time>", "<Time>2021-01-15T15:19:16+14:00</Time>", 1)),
		doc("1", strings.Replace(ok, "Ship To Customer", "In-Store Pick-Up</Classification><PickupLocation>A &amp;amp; B", 1)),
		doc("1", ok)[:900],
		strings.Replace(doc("0"), "<WebOrders>", `<WebOrders version="1.00">`, 1),
		doc("0") + "<WebOrders/>",
		"<Orders><Order/></Orders>",
		"<WebOrders ver='v2'><Version>2.0</Version><WebOrder><Order><OrderId>&eacute;&nbsp;</OrderId></Order></WebOrder></WebOrders>",
		"", "  \n", "<", "<WebOrders/><!-- c --><?pi?>",
	} {
		f.Add([]byte(s))
	}
	denver, err := time.LoadLocation("America/Denver")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		feed, err := Parse(strings.NewReader(string(body)), denver)
		if err != nil {
			if feed != nil {
				t.Fatalf("Parse failed (%v) but returned a feed", err)
			}
			var se *SyntaxError
			var ve *VersionError
			switch {
			case errors.As(err, &se):
				if se.Line < 1 || se.Col < 1 || se.Offset < 0 || se.Offset > int64(len(body)) || se.Err == nil {
					t.Fatalf("syntax error without a position or a cause: %+v", se)
				}
			case errors.As(err, &ve):
				if !strings.Contains(err.Error(), "set API Version to Version 2") {
					t.Fatalf("version error %q does not say how to fix it", err)
				}
			default:
				t.Fatalf("error %T %v: want a *SyntaxError or a *VersionError", err, err)
			}
			return
		}
		seen := map[string]bool{}
		for i, r := range feed.Records {
			id, _ := r[order.ColOrderID].(string)
			if id == "" || id != strings.TrimSpace(id) {
				t.Fatalf("record %d: order id %q", i, r[order.ColOrderID])
			}
			if seen[id] {
				t.Fatalf("order %q read twice", id)
			}
			seen[id] = true
			if r[order.ColOrigin] != "order_url" {
				t.Fatalf("order %q: origin %v", id, r[order.ColOrigin])
			}
			if fl := r[order.ColFulfilment]; fl != order.FulfilPickup && fl != order.FulfilDelivery {
				t.Fatalf("order %q: fulfilment %v", id, fl)
			}
			if _, ok := r[order.ColCancelled].(bool); !ok {
				t.Fatalf("order %q: cancelled %#v is not a bool", id, r[order.ColCancelled])
			}
			if v, set := r[order.ColPlacedAt]; set {
				if at, ok := v.(time.Time); !ok || at.Location() != time.UTC {
					t.Fatalf("order %q: placed_at %#v is not a UTC time", id, v)
				}
			}
			for _, col := range []string{order.ColSubtotal, order.ColDiscount, order.ColShipping, order.ColTax, order.ColTotal} {
				if v, set := r[col]; set {
					x, ok := v.(float64)
					if !ok || math.IsNaN(x) || math.IsInf(x, 0) || col == order.ColDiscount && x < 0 {
						t.Fatalf("order %q: %s = %#v", id, col, v)
					}
				}
			}
			text, _ := r[order.ColLines].(string)
			lines, err := order.DecodeLines(text)
			if err != nil || text == "" {
				t.Fatalf("order %q: lines %q do not decode: %v", id, text, err)
			}
			for _, l := range lines {
				if l.No < 1 || !(l.Quantity > 0) || math.IsInf(l.Quantity, 0) || math.IsNaN(l.UnitPrice) ||
					math.IsInf(l.UnitPrice, 0) || math.IsNaN(l.Weight) || math.IsInf(l.Weight, 0) {
					t.Fatalf("order %q: line %+v", id, l)
				}
			}
			if again, err := order.EncodeLines(lines); err != nil || again != text {
				t.Fatalf("order %q: lines %s re-encode to %s (%v)", id, text, again, err)
			}
		}
		for _, rj := range feed.Rejects {
			if rj.Where == "" || rj.Reason == "" {
				t.Fatalf("reject %+v does not say where and why", rj)
			}
			if rj.Key != nil {
				if id, _ := rj.Key[order.ColOrderID].(string); id == "" {
					t.Fatalf("reject %+v keyed by no order id", rj)
				}
			}
		}
		alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer alloc.AssertSize(t, 0)
		b, err := record.BuildBatch(alloc, order.Schema(), feed.Records)
		if err != nil {
			t.Fatalf("a parsed order does not fit order.Schema(): %v", err)
		}
		if int(b.NumRows()) != len(feed.Records) {
			t.Fatalf("%d rows from %d orders", b.NumRows(), len(feed.Records))
		}
		b.Release()
	})
}
