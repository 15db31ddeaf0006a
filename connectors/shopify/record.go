package shopify

import (
	"fmt"
	"strings"
	"time"

	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/record"
)

// Origin is the origin column of the orders this source reads.
const Origin = "shopify"

// orderRecord maps an order to the order record (connectors/order.Schema). lines are the order's line items, all
// pages of them. It fails on a timestamp or amount that cannot be read: such an order is rejected.
func orderRecord(o *orderNode, lines []lineItem, orderID string) (record.Record, time.Time, error) {
	r := record.Record{order.ColOrderID: orderID, order.ColOrigin: Origin}
	updated, err := parseTime(o.UpdatedAt)
	if err != nil || updated.IsZero() {
		return nil, time.Time{}, fmt.Errorf("updatedAt %q is not a timestamp", o.UpdatedAt)
	}
	r[order.ColUpdatedAt] = updated
	placed := o.ProcessedAt
	if placed == "" {
		placed = o.CreatedAt
	}
	if t, err := parseTime(placed); err != nil {
		return nil, time.Time{}, fmt.Errorf("processedAt %q is not a timestamp", placed)
	} else if !t.IsZero() {
		r[order.ColPlacedAt] = t
	}
	setText(r, order.ColCurrency, o.CurrencyCode)
	email := strings.TrimSpace(o.Email)
	phone := o.Phone
	if c := o.Customer; c != nil {
		setText(r, order.ColCustomerID, c.LegacyResourceID)
		if email == "" && c.DefaultEmailAddress != nil {
			email = strings.TrimSpace(c.DefaultEmailAddress.EmailAddress)
		}
		if phone == "" {
			phone = c.Phone
		}
	}
	if phone == "" && o.BillingAddress != nil {
		phone = o.BillingAddress.Phone
	}
	if phone == "" && o.ShippingAddress != nil {
		phone = o.ShippingAddress.Phone
	}
	setText(r, order.ColEmail, email)
	setText(r, order.ColPhone, phone)
	if a := o.BillingAddress; a != nil {
		setText(r, order.ColBillName, a.Name)
		setText(r, order.ColBillAddress1, a.Address1)
		setText(r, order.ColBillAddress2, a.Address2)
		setText(r, order.ColBillCity, a.City)
		setText(r, order.ColBillState, a.ProvinceCode)
		setText(r, order.ColBillZip, a.Zip)
		setText(r, order.ColBillCountry, a.CountryCodeV2)
	}
	if a := o.ShippingAddress; a != nil {
		setText(r, order.ColShipName, a.Name)
		setText(r, order.ColShipAddress1, a.Address1)
		setText(r, order.ColShipAddress2, a.Address2)
		setText(r, order.ColShipCity, a.City)
		setText(r, order.ColShipState, a.ProvinceCode)
		setText(r, order.ColShipZip, a.Zip)
		setText(r, order.ColShipCountry, a.CountryCodeV2)
	}
	var methods []string
	for _, s := range o.ShippingLines.Nodes {
		if t := strings.TrimSpace(s.Title); t != "" {
			methods = append(methods, t)
		}
	}
	setText(r, order.ColShippingMethod, strings.Join(methods, " + "))
	// A pickup order has a fulfillment order delivered by PICK_UP; its assigned location is where the
	// customer collects it. A cancelled fulfillment order (moved elsewhere) does not count.
	r[order.ColFulfilment] = order.FulfilDelivery
	for _, fo := range o.FulfillmentOrders.Nodes {
		if fo.DeliveryMethod == nil || fo.DeliveryMethod.MethodType != "PICK_UP" || (fo.Status == "CANCELLED" && o.CancelledAt == "") {
			continue
		}
		r[order.ColFulfilment] = order.FulfilPickup
		if fo.AssignedLocation != nil && fo.AssignedLocation.Location != nil {
			setText(r, order.ColPickupLocation, fo.AssignedLocation.Location.Name)
		}
		break
	}
	setText(r, order.ColPaymentMethod, strings.Join(o.PaymentGatewayNames, ", "))
	setText(r, order.ColWebStatus, o.DisplayFulfillmentStatus)
	r[order.ColCancelled] = o.CancelledAt != ""
	setText(r, order.ColComments, o.Note)
	for col, m := range map[string]*money{order.ColSubtotal: o.CurrentSubtotalPriceSet, order.ColDiscount: o.CurrentTotalDiscountsSet,
		order.ColShipping: o.TotalShippingPriceSet, order.ColTax: o.CurrentTotalTaxSet, order.ColTotal: o.CurrentTotalPriceSet} {
		if m == nil {
			continue
		}
		v, ok := m.amount()
		if !ok {
			return nil, time.Time{}, fmt.Errorf("%s amount %q is not a number", col, m.ShopMoney.Amount)
		}
		r[col] = v
	}
	out := make([]order.Line, 0, len(lines))
	for i, li := range lines {
		qty := li.Quantity
		if li.CurrentQuantity != nil {
			qty = *li.CurrentQuantity
		}
		if qty == 0 && o.CancelledAt == "" {
			continue // removed by an order edit
		}
		price, ok := li.OriginalUnitPriceSet.amount()
		if !ok {
			return nil, time.Time{}, fmt.Errorf("line %d (%s): unit price is missing or not a number", i+1, li.Name)
		}
		l := order.Line{No: len(out) + 1, Code: strings.TrimSpace(li.SKU), Brand: li.Vendor, Quantity: float64(qty),
			UnitPrice: price, Description: li.Name}
		if li.Variant != nil {
			l.WebID = li.Variant.LegacyResourceID
			l.GTIN1 = strings.TrimSpace(li.Variant.Barcode)
		}
		for _, t := range li.TaxLines {
			if v, ok := t.PriceSet.amount(); ok {
				l.Tax += v
			}
		}
		out = append(out, l)
	}
	text, err := order.EncodeLines(out)
	if err != nil {
		return nil, time.Time{}, err
	}
	r[order.ColLines] = text
	return r, updated, nil
}

// setText sets a text column, leaving it null when the text is empty.
func setText(r record.Record, col, v string) {
	if v = strings.TrimSpace(v); v != "" {
		r[col] = v
	}
}

// parseTime reads an ISO 8601 timestamp ("" is the zero time).
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
