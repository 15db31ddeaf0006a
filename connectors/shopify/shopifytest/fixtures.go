package shopifytest

import (
	"fmt"
	"time"
)

// IDs of the example orders LoadExample adds.
const (
	// OrderDelivery (#1001) ships two lines (one with a variant barcode) to the customer, with a shipping line.
	OrderDelivery int64 = 820982911946154500
	// OrderPickup (#1002) is picked up at the "Downtown Store" location.
	OrderPickup int64 = 820982911946154501
	// OrderCancelled (#1003) was cancelled by the customer.
	OrderCancelled int64 = 820982911946154502
	// OrderGuest (#1004) has no customer record and a line without a SKU.
	OrderGuest int64 = 820982911946154503
)

// ExampleTime is the creation time of the first example order; the others follow one hour apart.
var ExampleTime = time.Date(2026, 11, 2, 15, 4, 5, 0, time.UTC)

// LoadExample adds four orders of a bike shop: a delivery, an in-store pickup, a cancelled order and a guest
// order.
func (s *Server) LoadExample() {
	at := func(h int) time.Time { return ExampleTime.Add(time.Duration(h) * time.Hour) }
	jane := &Customer{ID: 7390000001, FirstName: "Jane", LastName: "Rider", Email: "Jane.Rider@example.com", Phone: "+15035550101"}
	home := &Address{Name: "Jane Rider", Address1: "12 Elm St", Address2: "Apt 3", City: "Portland", ProvinceCode: "OR",
		Zip: "97201", CountryCode: "US", Phone: "+15035550101"}
	s.AddOrder(Order{ID: OrderDelivery, Name: "#1001", Email: "Jane.Rider@example.com", Phone: "+15035550101",
		CreatedAt: at(0), Tags: []string{"web"}, FinancialStatus: "PAID", FulfillmentStatus: "UNFULFILLED",
		PaymentGateways: []string{"shopify_payments"}, Customer: jane, BillingAddress: home, ShippingAddress: home,
		Note: "Please leave at the back door",
		LineItems: []LineItem{
			{ID: 1, SKU: "TRK-FX2-M-BLK", Title: "Trek FX 2", VariantTitle: "M / Black", Vendor: "Trek", Quantity: 1,
				UnitPrice: 899.99, Tax: 72, TaxRate: 0.08, VariantID: 4001, Barcode: "0601842790012"},
			{ID: 2, SKU: "BTL-750", Title: "Trail Bottle 750 ml", Vendor: "Acme", Quantity: 2, UnitPrice: 12.5,
				DiscountedUnitPrice: 11.25, Tax: 1.8, TaxRate: 0.08, VariantID: 4002, Barcode: "0012345678905"},
		},
		ShippingLines:     []ShippingLine{{Title: "Standard Shipping", Code: "STANDARD", Price: 15}},
		FulfillmentOrders: []FulfillmentOrder{{ID: 9001, Status: "OPEN", MethodType: "SHIPPING", LocationID: 61, LocationName: "Warehouse"}},
		Subtotal:          922.49, Discounts: 2.5, Shipping: 15, Tax: 73.8, Total: 1011.29,
	})
	sam := &Customer{ID: 7390000002, FirstName: "Sam", LastName: "Spokes", Email: "sam@example.com"}
	samAddr := &Address{Name: "Sam Spokes", Address1: "5 Oak Ave", City: "Portland", ProvinceCode: "OR", Zip: "97205", CountryCode: "US"}
	s.AddOrder(Order{ID: OrderPickup, Name: "#1002", Email: "sam@example.com", CreatedAt: at(1),
		FinancialStatus: "PAID", FulfillmentStatus: "UNFULFILLED", PaymentGateways: []string{"shopify_payments"},
		Customer: sam, BillingAddress: samAddr,
		LineItems: []LineItem{{ID: 3, SKU: "HLM-CLS-L", Title: "Classic Helmet", VariantTitle: "L", Vendor: "Bontrager",
			Quantity: 1, UnitPrice: 59.99, VariantID: 4003, Barcode: "0768682390018"}},
		ShippingLines:     []ShippingLine{{Title: "Pickup at Downtown Store", Code: "Downtown Store", Price: 0}},
		FulfillmentOrders: []FulfillmentOrder{{ID: 9002, Status: "OPEN", MethodType: "PICK_UP", LocationID: 62, LocationName: "Downtown Store"}},
		Subtotal:          59.99, Total: 59.99,
	})
	cancelled := at(3)
	s.AddOrder(Order{ID: OrderCancelled, Name: "#1003", Email: "sam@example.com", CreatedAt: at(2), UpdatedAt: cancelled,
		CancelledAt: &cancelled, CancelReason: "CUSTOMER", FinancialStatus: "REFUNDED", FulfillmentStatus: "UNFULFILLED",
		Customer: sam, BillingAddress: samAddr, ShippingAddress: samAddr,
		LineItems:         []LineItem{{ID: 4, SKU: "LCK-U", Title: "U-Lock", Quantity: 1, UnitPrice: 45, VariantID: 4004}},
		ShippingLines:     []ShippingLine{{Title: "Standard Shipping", Code: "STANDARD", Price: 8}},
		FulfillmentOrders: []FulfillmentOrder{{ID: 9003, Status: "CANCELLED", MethodType: "SHIPPING", LocationID: 61, LocationName: "Warehouse"}},
		Subtotal:          45, Shipping: 8, Total: 53,
	})
	guest := &Address{Name: "Alex Guest", Address1: "1 Main St", City: "Salem", ProvinceCode: "OR", Zip: "97301", CountryCode: "US"}
	s.AddOrder(Order{ID: OrderGuest, Name: "#1004", Email: "", CreatedAt: at(4), FinancialStatus: "PENDING",
		FulfillmentStatus: "UNFULFILLED", PaymentGateways: []string{"manual"}, BillingAddress: guest, ShippingAddress: guest,
		LineItems:         []LineItem{{ID: 5, Title: "Gift wrap", Quantity: 1, UnitPrice: 5, VariantID: 4005, Barcode: "2000000000015"}},
		ShippingLines:     []ShippingLine{{Title: "Local Delivery", Code: "LOCAL", Price: 5}},
		FulfillmentOrders: []FulfillmentOrder{{ID: 9004, Status: "OPEN", MethodType: "LOCAL", LocationID: 62, LocationName: "Downtown Store"}},
		Subtotal:          5, Shipping: 5, Total: 10,
	})
}

// Generate adds n one-line delivery orders with ids first, first+1, … and names #<first>…, the i-th created
// and updated at start + i·step.
func (s *Server) Generate(first int64, n int, start time.Time, step time.Duration) {
	for i := range n {
		id := first + int64(i)
		at := start.Add(time.Duration(i) * step)
		c := &Customer{ID: 100000 + id, FirstName: "Customer", LastName: fmt.Sprint(id), Email: fmt.Sprintf("c%d@example.com", id)}
		addr := &Address{Name: "Customer " + fmt.Sprint(id), Address1: fmt.Sprintf("%d Market St", i+1), City: "Portland",
			ProvinceCode: "OR", Zip: "97201", CountryCode: "US"}
		s.AddOrder(Order{ID: id, Name: fmt.Sprintf("#%d", id), Email: c.Email, CreatedAt: at, FinancialStatus: "PAID",
			FulfillmentStatus: "UNFULFILLED", Customer: c, BillingAddress: addr, ShippingAddress: addr,
			LineItems: []LineItem{{ID: id*10 + 1, SKU: fmt.Sprintf("SKU-%d", id%50), Title: "Item", Quantity: 1 + i%3,
				UnitPrice: 10 + float64(i%7), VariantID: 5000 + id%50}},
			ShippingLines:     []ShippingLine{{Title: "Standard Shipping", Code: "STANDARD", Price: 5}},
			FulfillmentOrders: []FulfillmentOrder{{ID: id*10 + 2, Status: "OPEN", MethodType: "SHIPPING", LocationID: 61, LocationName: "Warehouse"}},
			Subtotal:          float64(1+i%3) * (10 + float64(i%7)), Shipping: 5,
			Total: float64(1+i%3)*(10+float64(i%7)) + 5,
		})
	}
}
