// Package order defines the order record that every order source yields and every order transform and
// sink reads: one row per website order, its lines as a JSON array in the `lines` column. It owns the
// column names and types (Schema), the line type and its JSON form, and the import statuses. It holds no
// client code: sources (order_url, shopify_orders), the order_match transform and the order sinks
// (retailpos_orders, file) each live in their own package and share only this contract.
//
// The key of an order record is order_id (the website's order number), which is also the idempotency key
// of the whole order flow: an order id already in the pipeline's applied state is never sent again.
package order

import (
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// Import statuses an order has after matching (Ascend's eCommerce import statuses, domain README §2.5).
const (
	// StatusNew: the customer and every line matched; the order can become a POS sale.
	StatusNew = "New"
	// StatusCustomerIDNeeded: no POS customer matched the order (and customers are not created).
	StatusCustomerIDNeeded = "Customer ID Needed"
	// StatusProductMatchFailed: a line matched no POS product, or several.
	StatusProductMatchFailed = "Product Match Failed"
)

// Fulfilment kinds of an order (Shipping/Classification on the website).
const (
	FulfilPickup   = "pickup"   // in-store pickup at PickupLocation
	FulfilDelivery = "delivery" // shipped or delivered to the customer
)

// Column names of the order record. Sources fill every column they know and leave the others null.
const (
	ColOrderID        = "order_id"        // string, the key: the website order number
	ColOrigin         = "origin"          // string: "order_url" or "shopify"
	ColPlacedAt       = "placed_at"       // timestamp (UTC): when the customer placed the order
	ColUpdatedAt      = "updated_at"      // timestamp (UTC): last change on the website (null when unknown)
	ColCurrency       = "currency"        // string, ISO 4217
	ColCustomerID     = "customer_id"     // string: the website's customer id
	ColEmail          = "email"           // string: bill-to email as given (may be empty or a placeholder)
	ColPhone          = "phone"           // string
	ColBillName       = "bill_name"       // string: full name
	ColBillAddress1   = "bill_address1"   // string
	ColBillAddress2   = "bill_address2"   // string
	ColBillCity       = "bill_city"       // string
	ColBillState      = "bill_state"      // string
	ColBillZip        = "bill_zip"        // string
	ColBillCountry    = "bill_country"    // string
	ColShipName       = "ship_name"       // string
	ColShipAddress1   = "ship_address1"   // string
	ColShipAddress2   = "ship_address2"   // string
	ColShipCity       = "ship_city"       // string
	ColShipState      = "ship_state"      // string
	ColShipZip        = "ship_zip"        // string
	ColShipCountry    = "ship_country"    // string
	ColShippingMethod = "shipping_method" // string: the label the customer chose
	ColFulfilment     = "fulfilment"      // string: FulfilPickup or FulfilDelivery
	ColPickupLocation = "pickup_location" // string: the pickup store's name (pickup orders)
	ColPaymentMethod  = "payment_method"  // string
	ColWebStatus      = "web_status"      // string: the website's order status text (e.g. "Received", "Cancelled")
	ColCancelled      = "cancelled"       // bool: the website cancelled the order
	ColComments       = "comments"        // string: customer comments
	ColSubtotal       = "subtotal"        // float64
	ColDiscount       = "discount"        // float64 (positive amount taken off)
	ColShipping       = "shipping"        // float64: shipping charge
	ColTax            = "tax"             // float64
	ColTotal          = "total"           // float64
	ColLines          = "lines"           // string: JSON array of Line (EncodeLines/DecodeLines)
	// ColImported is the optional bool column of a source read only for reservations (confirm: false): the
	// order carries the mark an order pipeline sets once it imported the order into the POS.
	ColImported = "imported"
	// ColActive is the bool of a status record (the order_status transform's output) that turns false once
	// the order is canceled: the status sinks' connectors.Canceller field.
	ColActive = "active"
)

// Schema is the schema of the order record as sources yield it. Transforms may add columns (order_match adds
// the matched customer, the import status and the routed outlet); sinks read the columns by name.
func Schema() *arrow.Schema {
	str := arrow.BinaryTypes.String
	f64 := arrow.PrimitiveTypes.Float64
	ts := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	f := func(name string, t arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: t, Nullable: true}
	}
	return arrow.NewSchema([]arrow.Field{
		f(ColOrderID, str), f(ColOrigin, str), f(ColPlacedAt, ts), f(ColUpdatedAt, ts), f(ColCurrency, str),
		f(ColCustomerID, str), f(ColEmail, str), f(ColPhone, str),
		f(ColBillName, str), f(ColBillAddress1, str), f(ColBillAddress2, str), f(ColBillCity, str),
		f(ColBillState, str), f(ColBillZip, str), f(ColBillCountry, str),
		f(ColShipName, str), f(ColShipAddress1, str), f(ColShipAddress2, str), f(ColShipCity, str),
		f(ColShipState, str), f(ColShipZip, str), f(ColShipCountry, str),
		f(ColShippingMethod, str), f(ColFulfilment, str), f(ColPickupLocation, str), f(ColPaymentMethod, str),
		f(ColWebStatus, str), f(ColCancelled, arrow.FixedWidthTypes.Boolean), f(ColComments, str),
		f(ColSubtotal, f64), f(ColDiscount, f64), f(ColShipping, f64), f(ColTax, f64), f(ColTotal, f64),
		f(ColLines, str),
	}, nil)
}

// Line is one order line. Sources fill what the website sends; order_match fills ProductID (and Match when
// it fails); sinks use ProductID, Quantity and UnitPrice.
type Line struct {
	// No is the line's position in the order, from 1.
	No int `json:"no"`
	// WebID is the website's product or variation id.
	WebID string `json:"web_id,omitempty"`
	// Code is the merchant's item code (the website SKU, the POS SKU when mapped).
	Code string `json:"code,omitempty"`
	// MPN, GTIN1, GTIN2 and Brand identify the product for matching.
	MPN   string `json:"mpn,omitempty"`
	GTIN1 string `json:"gtin1,omitempty"`
	GTIN2 string `json:"gtin2,omitempty"`
	Brand string `json:"brand,omitempty"`
	// Quantity ordered (units).
	Quantity float64 `json:"quantity"`
	// UnitPrice is the price per unit the customer paid, before order-level discounts.
	UnitPrice float64 `json:"unit_price"`
	// Tax on the line, when the website itemises it.
	Tax         float64 `json:"tax,omitempty"`
	Weight      float64 `json:"weight,omitempty"`
	Description string  `json:"description,omitempty"`
	Category    string  `json:"category,omitempty"`
	// Options are the variation options, e.g. {"Color": "Black"}.
	Options map[string]string `json:"options,omitempty"`
	// SupplierFulfilled lines are shipped by a supplier, not from the store's stock.
	SupplierFulfilled bool `json:"supplier_fulfilled,omitempty"`
	// ProductID is the POS product this line matched (set by order_match).
	ProductID string `json:"product_id,omitempty"`
	// Match explains a failed match: no candidate, or the candidates found (set by order_match).
	Match string `json:"match,omitempty"`
}

// EncodeLines returns the JSON text stored in the lines column.
func EncodeLines(lines []Line) (string, error) {
	if lines == nil {
		lines = []Line{}
	}
	b, err := json.Marshal(lines)
	if err != nil {
		return "", fmt.Errorf("encode order lines: %w", err)
	}
	return string(b), nil
}

// DecodeLines parses the lines column; an empty text is no lines.
func DecodeLines(text string) ([]Line, error) {
	if text == "" {
		return nil, nil
	}
	var lines []Line
	if err := json.Unmarshal([]byte(text), &lines); err != nil {
		return nil, fmt.Errorf("decode order lines: %w", err)
	}
	return lines, nil
}

// Cancels reports whether a status change with these values cancels the order: ColActive turns false (it is
// false after, and was not false before; before is nil for a new record).
func Cancels(before, after map[string]any) bool {
	return after[ColActive] == false && before[ColActive] != false
}
