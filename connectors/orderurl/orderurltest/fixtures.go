package orderurltest

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// LoadXML adds the orders of a WebOrders document (export v2), e.g. an example's sample export. Items with
// SupplierFulfilled Yes start with no supplier fulfillment requested; every item starts unfulfilled.
func (s *Server) LoadXML(r io.Reader) error {
	var doc wireFeed
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return fmt.Errorf("orderurltest: load orders: %w", err)
	}
	var orders []Order
	for _, wo := range doc.Orders {
		w := wo.Order
		o := Order{ID: w.OrderID, Currency: w.Currency, CustomerID: w.CustomerID, BillTo: addrOf(w.BillTo), ShipTo: addrOf(w.ShipTo),
			ShippingMethod: w.Shipping.Method, Classification: w.Shipping.Classification, PickupLocation: w.Shipping.PickupLocation,
			PaymentMethod: w.Payment.Method, Status: w.Status, Comments: w.Comments}
		if t, err := time.Parse("Mon Jan _2 15:04:05 2006", strings.TrimSpace(w.Time)); err == nil {
			o.Time = t
		}
		for _, wi := range w.Items {
			it := Item{ID: wi.ID, Code: wi.Code, MPN: wi.MPN, GTIN1: wi.GTIN1, GTIN2: wi.GTIN2, Brand: wi.Brand, Quantity: wi.Quantity,
				Description: wi.Description, Category: wi.Category, SupplierFulfilled: strings.EqualFold(wi.SupplierFulfilled, "yes")}
			it.UnitPrice, _ = strconv.ParseFloat(wi.UnitPrice, 64)
			it.Weight, _ = strconv.ParseFloat(wi.Weight, 64)
			for _, op := range wi.Options {
				if it.Options == nil {
					it.Options = map[string]string{}
				}
				it.Options[op.Name] = op.Value
			}
			o.Items = append(o.Items, it)
		}
		for _, t := range w.Totals {
			v, _ := strconv.ParseFloat(strings.TrimSpace(t.Value), 64)
			switch strings.ToLower(t.Type) {
			case "subtotal":
				o.Subtotal = v
			case "discount":
				o.Discount = v
			case "shipping":
				o.Shipping = v
			case "tax":
				o.Tax = v
			case "total":
				o.Total = v
			}
		}
		orders = append(orders, o)
	}
	s.Add(orders...)
	return nil
}

func addrOf(a wireAddress) Address {
	return Address{First: a.First, Last: a.Last, Full: a.Full, Address1: a.Address1, Address2: a.Address2, City: a.City,
		State: a.State, Country: a.Country, Zip: a.Zip, Phone: a.Phone, Email: a.Email}
}

// Generate returns n distinct delivery orders numbered from first, placed a minute apart from start: a
// backlog. Every third is an in-store pickup at pickup (when not empty).
func Generate(n, first int, start time.Time, pickup string) []Order {
	out := make([]Order, n)
	for i := range out {
		k := first + i
		t := start.Add(time.Duration(i) * time.Minute)
		o := Order{
			ID:         fmt.Sprintf("%s-%05d", t.Format("010206-150405"), k),
			Time:       t,
			Currency:   "USD",
			CustomerID: strconv.Itoa(10000 + k%997),
			BillTo: Address{First: "Rider", Last: strconv.Itoa(k), Address1: fmt.Sprintf("%d Spoke St", k), City: "Boulder",
				State: "CO", Country: "United States", Zip: "80302", Phone: "303-555-0100", Email: fmt.Sprintf("rider%d@example.com", k%997)},
			ShippingMethod: "Ground", Classification: "Ship To Customer", PaymentMethod: "Credit Card",
			Items: []Item{{ID: strconv.Itoa(500 + k%40), Code: fmt.Sprintf("SKU-%03d", k%40), MPN: fmt.Sprintf("MPN-%03d", k%40),
				GTIN1: fmt.Sprintf("0123456%05d", k%40), Quantity: 1 + k%3, UnitPrice: 10 + float64(k%40), Weight: 1.5,
				Description: fmt.Sprintf("Part %d", k%40), Category: "Catalog > Parts"}},
		}
		o.ShipTo = o.BillTo
		if pickup != "" && k%3 == 0 {
			o.ShippingMethod, o.Classification, o.PickupLocation = "In-Store Pickup - FREE", "In-Store Pickup", pickup
		}
		o.Subtotal = float64(o.Items[0].Quantity) * o.Items[0].UnitPrice
		o.Tax = float64(int(o.Subtotal*8)) / 100
		o.Total = o.Subtotal + o.Tax
		out[i] = o
	}
	return out
}
