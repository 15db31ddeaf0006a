package shopifytest

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Order is one order of the emulated shop, as the Admin API's Order object exposes it. Amounts are in the
// shop's currency (shopMoney; presentmentMoney mirrors it).
type Order struct {
	// ID is the numeric id; the GraphQL id is gid://shopify/Order/<ID>.
	ID int64
	// Name is the order number the merchant sees, e.g. "#1001".
	Name         string
	Email, Phone string
	CreatedAt    time.Time
	// UpdatedAt is when the order last changed; zero means CreatedAt. Tag changes move it to the clock's now.
	UpdatedAt    time.Time
	ProcessedAt  time.Time // zero means CreatedAt
	CancelledAt  *time.Time
	CancelReason string // CUSTOMER, DECLINED, FRAUD, INVENTORY, STAFF, OTHER
	ClosedAt     *time.Time
	Note         string
	Tags         []string
	// Currency is the shop currency code (default USD).
	Currency string
	// FinancialStatus and FulfillmentStatus are displayFinancialStatus (PAID, PENDING, ...) and
	// displayFulfillmentStatus (UNFULFILLED, FULFILLED, ...).
	FinancialStatus, FulfillmentStatus string
	PaymentGateways                    []string
	Customer                           *Customer
	BillingAddress, ShippingAddress    *Address
	LineItems                          []LineItem
	ShippingLines                      []ShippingLine
	FulfillmentOrders                  []FulfillmentOrder
	Subtotal, Discounts, Shipping      float64
	Tax, Total                         float64
	// Metafields are keyed "namespace.key".
	Metafields map[string]Metafield
	// Fulfillments and Cancellation record the fulfillmentCreate and orderCancel mutations applied.
	Fulfillments []Fulfillment
	Cancellation *Cancellation
	// Raw replaces fields of the GraphQL object as served (test data Shopify would not produce, such as an
	// amount that is not a number): field name → value (a map[string]any is served as an object).
	Raw map[string]any
}

// Customer is an order's customer.
type Customer struct {
	ID                         int64
	FirstName, LastName, Email string
	Phone                      string
}

// Address is a mailing address (MailingAddress).
type Address struct {
	Name, Address1, Address2, City, ProvinceCode, Zip, CountryCode, Phone string
}

// LineItem is one order line.
type LineItem struct {
	ID                  int64
	SKU, Title, Vendor  string
	VariantTitle        string
	Quantity            int
	Removed             int // units removed by order edits: currentQuantity is Quantity - Removed
	UnitPrice           float64
	DiscountedUnitPrice float64 // default UnitPrice
	Tax                 float64 // one tax line of this amount when non-zero
	TaxRate             float64
	VariantID           int64
	Barcode             string
}

// ShippingLine is a shipping (or pickup) charge line.
type ShippingLine struct {
	Title, Code string
	Price       float64
}

// FulfillmentOrder is a group of line items fulfilled from one location by one delivery method.
type FulfillmentOrder struct {
	ID     int64
	Status string // OPEN, IN_PROGRESS, CLOSED, CANCELLED, ...
	// MethodType is the DeliveryMethod's methodType: PICK_UP, SHIPPING, LOCAL, ...
	MethodType   string
	LocationID   int64
	LocationName string
	// ReadyForPickup is set by fulfillmentOrderLineItemsPreparedForPickup (the customer got the Ready For
	// Pickup notification).
	ReadyForPickup bool
}

// Fulfillment is one fulfillment fulfillmentCreate made.
type Fulfillment struct {
	FulfillmentOrderIDs []int64
	NotifyCustomer      bool
	At                  time.Time
}

// Cancellation is what orderCancel was asked.
type Cancellation struct {
	Reason                  string
	Refund, Restock, Notify bool
	StaffNote               string
}

// Metafield is a metafield set on an order.
type Metafield struct {
	Namespace, Key, Type, Value string
	UpdatedAt                   time.Time
}

// GID returns the GraphQL id of a resource type and numeric id.
func GID(kind string, id int64) string { return fmt.Sprintf("gid://shopify/%s/%d", kind, id) }

// graphNode is an object in the emulator's object graph: field name → value. Values are scalars (string,
// int, float64, bool, nil, []string), graphNode, []graphNode (a list of objects), *connection, or a resolver
// func(args) (any, error) for fields with arguments. The key "__typename" names the type.
type graphNode map[string]any

// connection is a Relay connection over nodes, paged by first/after.
type connection struct {
	nodes []graphNode
	// n and node, when node is set, give the nodes lazily (nodes is then unused).
	n    int
	node func(i int) graphNode
	// cursor returns the cursor of nodes[i]; startAfter the index of the first node after a cursor. nil
	// means positional cursors.
	cursor     func(i int) string
	startAfter func(cursor string) (int, error)
}

func money(v float64, currency string) graphNode {
	m := graphNode{"__typename": "MoneyV2", "amount": strconv.FormatFloat(v, 'f', -1, 64), "currencyCode": currency}
	return graphNode{"__typename": "MoneyBag", "shopMoney": m, "presentmentMoney": m}
}

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func tsp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// updated is the order's updatedAt.
func (o *Order) updated() time.Time {
	if o.UpdatedAt.IsZero() {
		return o.CreatedAt
	}
	return o.UpdatedAt
}

func (a *Address) graph() any {
	if a == nil {
		return nil
	}
	return graphNode{"__typename": "MailingAddress", "name": a.Name, "address1": a.Address1, "address2": a.Address2,
		"city": a.City, "provinceCode": a.ProvinceCode, "province": a.ProvinceCode, "zip": a.Zip,
		"countryCodeV2": a.CountryCode, "countryCode": a.CountryCode, "country": a.CountryCode, "phone": a.Phone}
}

// graph returns the order as an object of the graph.
func (o *Order) graph() graphNode {
	cur := o.Currency
	if cur == "" {
		cur = "USD"
	}
	processed := o.ProcessedAt
	if processed.IsZero() {
		processed = o.CreatedAt
	}
	var customer any
	if c := o.Customer; c != nil {
		customer = graphNode{"__typename": "Customer", "id": GID("Customer", c.ID),
			"legacyResourceId": strconv.FormatInt(c.ID, 10), "firstName": c.FirstName, "lastName": c.LastName,
			"displayName": c.FirstName + " " + c.LastName, "email": c.Email, "phone": c.Phone,
			"defaultEmailAddress": graphNode{"__typename": "CustomerEmailAddress", "emailAddress": c.Email}}
	}
	lines := &connection{}
	for _, li := range o.LineItems {
		cq, dp := li.Quantity-li.Removed, li.DiscountedUnitPrice
		if dp == 0 {
			dp = li.UnitPrice
		}
		var taxes []graphNode
		if li.Tax != 0 {
			taxes = append(taxes, graphNode{"__typename": "TaxLine", "title": "Tax", "rate": li.TaxRate,
				"priceSet": money(li.Tax, cur)})
		}
		var variant any
		if li.VariantID != 0 {
			variant = graphNode{"__typename": "ProductVariant", "id": GID("ProductVariant", li.VariantID),
				"legacyResourceId": strconv.FormatInt(li.VariantID, 10), "sku": li.SKU, "barcode": li.Barcode,
				"title": li.VariantTitle}
		}
		name := li.Title
		if li.VariantTitle != "" {
			name += " - " + li.VariantTitle
		}
		lines.nodes = append(lines.nodes, graphNode{"__typename": "LineItem", "id": GID("LineItem", li.ID),
			"sku": nilIfEmpty(li.SKU), "name": name, "title": li.Title, "variantTitle": li.VariantTitle, "vendor": li.Vendor,
			"quantity": li.Quantity, "currentQuantity": cq,
			"originalUnitPriceSet": money(li.UnitPrice, cur), "discountedUnitPriceSet": money(dp, cur),
			"taxLines": taxes, "variant": variant})
	}
	shipping := &connection{}
	for _, s := range o.ShippingLines {
		shipping.nodes = append(shipping.nodes, graphNode{"__typename": "ShippingLine", "title": s.Title,
			"code": s.Code, "originalPriceSet": money(s.Price, cur), "discountedPriceSet": money(s.Price, cur)})
	}
	fos := &connection{}
	for _, f := range o.FulfillmentOrders {
		var loc any
		if f.LocationID != 0 || f.LocationName != "" {
			loc = graphNode{"__typename": "FulfillmentOrderAssignedLocation", "name": f.LocationName,
				"location": graphNode{"__typename": "Location", "id": GID("Location", f.LocationID), "name": f.LocationName}}
		}
		fos.nodes = append(fos.nodes, graphNode{"__typename": "FulfillmentOrder", "id": GID("FulfillmentOrder", f.ID),
			"status": f.Status, "deliveryMethod": graphNode{"__typename": "DeliveryMethod", "methodType": f.MethodType},
			"assignedLocation": loc})
	}
	metafields := o.Metafields
	g := graphNode{
		"__typename": "Order", "id": GID("Order", o.ID), "legacyResourceId": strconv.FormatInt(o.ID, 10),
		"name": o.Name, "email": o.Email, "phone": o.Phone, "createdAt": ts(o.CreatedAt), "updatedAt": ts(o.updated()),
		"processedAt": ts(processed), "cancelledAt": tsp(o.CancelledAt), "cancelReason": nilIfEmpty(o.CancelReason),
		"closedAt": tsp(o.ClosedAt), "closed": o.ClosedAt != nil, "note": nilIfEmpty(o.Note),
		"tags": slices.Clone(nonNil(o.Tags)), "currencyCode": cur,
		"displayFinancialStatus": nilIfEmpty(o.FinancialStatus), "displayFulfillmentStatus": o.FulfillmentStatus,
		"paymentGatewayNames": slices.Clone(nonNil(o.PaymentGateways)), "customer": customer,
		"billingAddress": o.BillingAddress.graph(), "shippingAddress": o.ShippingAddress.graph(),
		"lineItems": lines, "shippingLines": shipping, "fulfillmentOrders": fos,
		"subtotalPriceSet": money(o.Subtotal, cur), "currentSubtotalPriceSet": money(o.Subtotal, cur),
		"totalDiscountsSet": money(o.Discounts, cur), "currentTotalDiscountsSet": money(o.Discounts, cur),
		"totalShippingPriceSet": money(o.Shipping, cur), "currentShippingPriceSet": money(o.Shipping, cur),
		"totalTaxSet": money(o.Tax, cur), "currentTotalTaxSet": money(o.Tax, cur),
		"totalPriceSet": money(o.Total, cur), "currentTotalPriceSet": money(o.Total, cur),
		"metafield": func(args map[string]any) (any, error) {
			ns, _ := args["namespace"].(string)
			key, _ := args["key"].(string)
			if key == "" {
				return nil, fmt.Errorf("metafield needs a key")
			}
			m, ok := metafields[ns+"."+key]
			if !ok {
				return nil, nil
			}
			return graphNode{"__typename": "Metafield", "namespace": m.Namespace, "key": m.Key, "type": m.Type,
				"value": m.Value, "updatedAt": ts(m.UpdatedAt)}, nil
		},
	}
	for k, v := range o.Raw {
		g[k] = rawValue(v)
	}
	return g
}

// rawValue turns maps into graph objects, so a raw value can be selected into.
func rawValue(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	n := graphNode{"__typename": "Raw"}
	for k, e := range m {
		n[k] = rawValue(e)
	}
	return n
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
