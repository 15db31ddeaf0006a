package orderurl

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors/order"
)

// doc wraps WebOrder elements in a WebOrders document claiming count orders.
func doc(count string, orders ...string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<WebOrders>
  <NumberOfOrders>` + count + `</NumberOfOrders>
` + strings.Join(orders, "\n") + `
</WebOrders>
`
}

// webOrder is one order; extra is inserted in <Order> (and replaces nothing).
func webOrder(id, email, status, extra string) string {
	return `<WebOrder><WebComment>SmartEtailing Order on 01/15/2021 15:19:16 by Jane Rider, Ground</WebComment><Order>
  <OrderId>` + id + `</OrderId><Currency>USD</Currency><Time>Fri Jan 15 15:19:16 2021</Time><CustomerId>4711</CustomerId>
  <AddressShipTo><Name><First>Jane</First><Last>Rider</Last><Full>Jane Rider</Full></Name><Address1>1 Spoke St</Address1>
    <City>Boulder</City><State>CO</State><Country>United States</Country><Zip>80302</Zip><Phone>303-555-0101</Phone><Email>` + email + `</Email></AddressShipTo>
  <AddressBillTo><Name><First>Jane</First><Last>Rider</Last><Full>Jane Rider</Full></Name><Address1>1 Spoke St</Address1>
    <City>Boulder</City><State>CO</State><Country>United States</Country><Zip>80302</Zip><Phone></Phone><Email>` + email + `</Email></AddressBillTo>
  <Shipping><Method>Ground</Method><Classification>Ship To Customer</Classification></Shipping>
  <PaymentInfo><PaymentMethod>PayPal</PaymentMethod></PaymentInfo>
  <Status>` + status + `</Status><Comments></Comments>` + extra + `
  <Items><Item num="1"><Id>501</Id><Code>BRV-29-M</Code><Mpn>BR-29</Mpn><Gtin1>012345678905</Gtin1><Gtin2></Gtin2>
    <Quantity>2</Quantity><Unit-Price>1,299.00</Unit-Price><Weight>13.5</Weight><Description>Bravo 29er</Description>
    <Category>Catalog &amp;gt; Bikes &amp;gt; Mountain</Category><Option name="Color" type="Normal">Black</Option>
    <Option name="Size" type="Normal">M</Option><SupplierFulfilled>No</SupplierFulfilled></Item></Items>
  <OrderTotal><Line name="Subtotal" type="Subtotal">2598.00</Line><Line name="Discount" type="Discount">-100.00</Line>
    <Line name="Shipping" type="Shipping">25.00</Line><Line name="Tax" type="Tax">199.84</Line><Line name="Total" type="Total">2722.84</Line></OrderTotal>
</Order></WebOrder>`
}

func TestParseTable(t *testing.T) {
	cases := []struct {
		name    string
		xml     string
		orders  int
		rejects int
		note    string // part of a note
		err     string // part of the error
		errType any
	}{
		{name: "one order", xml: doc("1", webOrder("011521-031915-526", "jane@example.com", "Received", "")), orders: 1},
		{name: "count mismatch", xml: doc("3", webOrder("A-1", "jane@example.com", "Received", "")), orders: 1,
			note: "says NumberOfOrders 3 but holds 1 orders"},
		{name: "count not a number", xml: doc("lots", webOrder("A-1", "jane@example.com", "Received", "")), orders: 1,
			note: `NumberOfOrders "lots" is not a number`},
		{name: "placeholder email", xml: doc("1", webOrder("A-1", "noemail@noemail.com", "Received", "")), orders: 1,
			note: `"noemail@noemail.com" is a placeholder`},
		{name: "empty email", xml: doc("1", webOrder("A-1", "", "Received", "")), orders: 1, note: "no bill-to email"},
		{name: "truncated body", xml: doc("1", webOrder("A-1", "jane@example.com", "Received", ""))[:900],
			err: "malformed at line", errType: &SyntaxError{}},
		{name: "mismatched tag", xml: strings.Replace(doc("1", webOrder("A-1", "j@example.com", "Received", "")), "</Currency>", "</Curency>", 1),
			err: "at line 5, column 48", errType: &SyntaxError{}},
		{name: "empty body", xml: "  \n", err: "empty", errType: &SyntaxError{}},
		{name: "entity cut by a line end", xml: "&\n", err: "at line 1, column 2 (byte 1)", errType: &SyntaxError{}},
		{name: "two documents", xml: doc("0") + "<WebOrders/>", err: "after the end", errType: &SyntaxError{}},
		{name: "version 1 attribute", xml: strings.Replace(doc("0"), "<WebOrders>", `<WebOrders version="1.00">`, 1),
			err: "API version 1.00", errType: &VersionError{}},
		{name: "other root", xml: "<Orders><Order/></Orders>", err: "root element <Orders>", errType: &VersionError{}},
		{name: "bad quantity rejects the order only", xml: doc("2", webOrder("A-1", "a@example.com", "Received", ""),
			strings.Replace(webOrder("A-2", "b@example.com", "Received", ""), "<Quantity>2</Quantity>", "<Quantity>two</Quantity>", 1)),
			orders: 1, rejects: 1},
		{name: "no order id", xml: doc("1", webOrder("", "a@example.com", "Received", "")), rejects: 1},
		{name: "served twice", xml: doc("2", webOrder("A-1", "a@example.com", "Received", ""), webOrder("A-1", "a@example.com", "Received", "")),
			orders: 1, note: "appears more than once"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(strings.NewReader(tc.xml), time.UTC)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one containing %q", err, tc.err)
				}
				switch tc.errType.(type) {
				case *SyntaxError:
					var se *SyntaxError
					if !errors.As(err, &se) || se.Line < 1 || se.Col < 1 {
						t.Fatalf("err %T %v: want a *SyntaxError with a position", err, err)
					}
				case *VersionError:
					var ve *VersionError
					if !errors.As(err, &ve) || !strings.Contains(err.Error(), "set API Version to Version 2") {
						t.Fatalf("err %v: want a *VersionError saying how to fix it", err)
					}
				}
				if f != nil {
					t.Fatalf("a failed parse returned %d records", len(f.Records))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Records) != tc.orders || len(f.Rejects) != tc.rejects {
				t.Fatalf("%d records, %d rejects (%v); want %d, %d", len(f.Records), len(f.Rejects), f.Rejects, tc.orders, tc.rejects)
			}
			if tc.note != "" && !strings.Contains(strings.Join(f.Notes, "\n"), tc.note) {
				t.Fatalf("notes %q, want one containing %q", f.Notes, tc.note)
			}
			for _, r := range f.Rejects {
				if r.Key != nil && r.Key[order.ColOrderID] != "A-2" {
					t.Errorf("reject %+v keyed by the wrong order", r)
				}
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	cancelled := strings.Replace(webOrder("011521-031915-527", "Sam@Example.com ", "Cancelled", ""),
		"<Classification>Ship To Customer</Classification>",
		"<Classification>In-Store Pickup</Classification><PickupLocation>Downtown &amp;amp; Co</PickupLocation>", 1)
	denver, _ := time.LoadLocation("America/Denver")
	f, err := Parse(strings.NewReader(doc("2", webOrder("011521-031915-526", "jane@example.com", "Received", ""), cancelled)), denver)
	if err != nil {
		t.Fatal(err)
	}
	d, p := f.Records[0], f.Records[1]
	want := map[string]any{
		order.ColOrderID: "011521-031915-526", order.ColOrigin: "order_url", order.ColCurrency: "USD", order.ColCustomerID: "4711",
		order.ColEmail: "jane@example.com", order.ColPhone: "303-555-0101", order.ColBillName: "Jane Rider",
		order.ColBillCountry: "United States", order.ColShipCity: "Boulder", order.ColShippingMethod: "Ground",
		order.ColFulfilment: order.FulfilDelivery, order.ColPickupLocation: nil, order.ColPaymentMethod: "PayPal",
		order.ColWebStatus: "Received", order.ColCancelled: false, order.ColComments: nil,
		order.ColSubtotal: 2598.0, order.ColDiscount: 100.0, order.ColShipping: 25.0, order.ColTax: 199.84, order.ColTotal: 2722.84,
		order.ColPlacedAt: time.Date(2021, 1, 15, 22, 19, 16, 0, time.UTC), // 15:19:16 in Denver (MST)
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("delivery order %s = %#v, want %#v", k, d[k], v)
		}
	}
	if p[order.ColFulfilment] != order.FulfilPickup || p[order.ColPickupLocation] != "Downtown & Co" || p[order.ColCancelled] != true ||
		p[order.ColEmail] != "Sam@Example.com" {
		t.Errorf("pickup order: fulfilment %v at %v, cancelled %v, email %q", p[order.ColFulfilment], p[order.ColPickupLocation],
			p[order.ColCancelled], p[order.ColEmail])
	}
	lines, err := order.DecodeLines(d[order.ColLines].(string))
	if err != nil || len(lines) != 1 {
		t.Fatalf("lines %v: %v", lines, err)
	}
	l := lines[0]
	if l.No != 1 || l.WebID != "501" || l.Code != "BRV-29-M" || l.MPN != "BR-29" || l.GTIN1 != "012345678905" || l.Quantity != 2 ||
		l.UnitPrice != 1299 || l.Weight != 13.5 || l.Category != "Catalog > Bikes > Mountain" || l.Options["Color"] != "Black" ||
		l.Options["Size"] != "M" || l.SupplierFulfilled {
		t.Errorf("line %+v", l)
	}
}
