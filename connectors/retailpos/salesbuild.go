package retailpos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/record"
)

// salesSetup is what every sale needs, read from the POS once per sink.
type salesSetup struct {
	outlets   []outlet
	registers []register
	// taxID is the tax of taxed lines ("" when tax is not set); noTaxID that of untaxed lines ("" when the
	// POS has no such tax).
	taxID, noTaxID string
	// shippingID and discountID are the products of shipping and discount lines ("" when not set).
	shippingID, discountID string
}

type register struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	OutletID  string `json:"outlet_id"`
	DeletedAt string `json:"deleted_at"`
}

type tax struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	DeletedAt string `json:"deleted_at"`
}

// load reads the outlets, registers and taxes and resolves the configured products, once.
func (s *SalesSink) load(ctx context.Context) (*salesSetup, error) {
	if s.setup != nil {
		return s.setup, nil
	}
	st := &salesSetup{}
	var err error
	if st.outlets, err = s.read.outlets(ctx); err != nil {
		return nil, fmt.Errorf("list outlets: %w", err)
	}
	if _, err = each(ctx, s.read, "/registers", nil, 0, func(items []register) error {
		for _, r := range items {
			if r.DeletedAt == "" {
				st.registers = append(st.registers, r)
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list registers: %w", err)
	}
	sort.Slice(st.registers, func(i, j int) bool { return st.registers[i].Name < st.registers[j].Name })
	var taxes []tax
	if _, err = each(ctx, s.read, "/taxes", nil, 0, func(items []tax) error {
		for _, t := range items {
			if t.DeletedAt == "" {
				taxes = append(taxes, t)
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list taxes: %w", err)
	}
	findTax := func(want string) string {
		for _, t := range taxes {
			if t.ID == want || strings.EqualFold(strings.TrimSpace(t.Name), strings.TrimSpace(want)) {
				return t.ID
			}
		}
		return ""
	}
	if s.cfg.Tax != "" {
		if st.taxID = findTax(s.cfg.Tax); st.taxID == "" {
			return nil, fmt.Errorf("tax %q is no tax of the POS (name or id; see /taxes)", s.cfg.Tax)
		}
	}
	st.noTaxID = findTax(s.cfg.NoTax)
	for _, p := range []struct {
		setting, value string
		dst            *string
	}{{"shipping_product", s.cfg.ShippingProduct, &st.shippingID}, {"discount_product", s.cfg.DiscountProduct, &st.discountID}} {
		if p.value == "" {
			continue
		}
		if *p.dst, err = s.findProduct(ctx, p.value); err != nil {
			return nil, fmt.Errorf("%s %q: %w", p.setting, p.value, err)
		}
	}
	s.setup = st
	return st, nil
}

// findProduct returns the id of the product with SKU (or id) key.
func (s *SalesSink) findProduct(ctx context.Context, key string) (string, error) {
	var body struct {
		Data []product `json:"data"`
	}
	if err := s.read.get(ctx, "/products", url.Values{"sku": {key}}, &body); err != nil {
		return "", err
	}
	for _, p := range body.Data {
		if p.SKU == key && p.DeletedAt == "" {
			return p.ID, nil
		}
	}
	p, found, err := s.read.product(ctx, key)
	if err != nil {
		return "", err
	}
	if !found || p.DeletedAt != "" {
		return "", errors.New("no product has this SKU or id")
	}
	return p.ID, nil
}

// The current API's SaleRequest (orders-apis.md A.3), the fields the sink sends.
type saleRequest struct {
	ID            string     `json:"id"`
	Source        saleSource `json:"source"`
	State         string     `json:"state"`
	Attributes    []string   `json:"attributes"`
	CustomerID    string     `json:"customer_id,omitempty"`
	Date          string     `json:"date,omitempty"`
	Note          string     `json:"note"`
	InvoiceNumber string     `json:"invoice_number"`
	LineItems     []saleLine `json:"line_items"`
	Payments      []struct{} `json:"payments"`
	OutletID      string     `json:"-"`
}

type saleSource struct {
	AuthorID   string `json:"author_id"`
	RegisterID string `json:"register_id"`
	ID         string `json:"id"`
	Type       string `json:"type"`
}

type saleLine struct {
	Product    idRef       `json:"product"`
	Quantity   float64     `json:"quantity"`
	Pricing    linePricing `json:"pricing"`
	Tax        lineTax     `json:"tax"`
	Attributes []attribute `json:"attributes,omitempty"`
}

type idRef struct {
	ID string `json:"id"`
}

type linePricing struct {
	Price float64 `json:"price"`
}

type lineTax struct {
	ID     string  `json:"id"`
	Amount float64 `json:"amount"`
}

type attribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// saleBody builds the sale of an order record. An order the POS cannot take as it is (a line without a
// product, an unknown outlet, tax or shipping without their settings) is an error naming the fix.
func (s *SalesSink) saleBody(st *salesSetup, r record.Record) (*saleRequest, error) {
	orderID := field(r, order.ColOrderID)
	lines, err := order.DecodeLines(field(r, order.ColLines))
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, errors.New("the order has no lines")
	}
	outletID, registerID, err := s.route(st, field(r, "outlet"))
	if err != nil {
		return nil, err
	}
	fulfil := "delivery"
	if field(r, order.ColFulfilment) == order.FulfilPickup {
		fulfil = "pickup"
	}
	b := &saleRequest{ID: SaleID(s.pipeline, orderID), State: "pending", Attributes: []string{s.cfg.SaleType, fulfil},
		Source:        saleSource{AuthorID: s.cfg.UserID, RegisterID: registerID, ID: orderID, Type: "possync"},
		CustomerID:    field(r, "pos_customer_id"),
		InvoiceNumber: s.cfg.InvoicePrefix + orderID, Note: saleNote(r), Payments: []struct{}{}, OutletID: outletID}
	if t, ok := r[order.ColPlacedAt].(time.Time); ok {
		b.Date = t.UTC().Format(time.RFC3339)
	}
	taxes, err := lineTaxes(lines, number(r, order.ColTax))
	if err != nil {
		return nil, err
	}
	for i, l := range lines {
		if l.ProductID == "" {
			return nil, fmt.Errorf("line %d has no product_id (run the orders through order_match)", l.No)
		}
		if l.Quantity <= 0 {
			return nil, fmt.Errorf("line %d has quantity %v", l.No, l.Quantity)
		}
		line := saleLine{Product: idRef{l.ProductID}, Quantity: l.Quantity, Pricing: linePricing{l.UnitPrice}}
		if line.Tax, err = s.taxOf(st, taxes[i]); err != nil {
			return nil, err
		}
		if l.Description != "" {
			line.Attributes = []attribute{{Name: "line_note", Value: l.Description}}
		}
		b.LineItems = append(b.LineItems, line)
	}
	extra := []struct {
		what, setting, id string
		amount, qty       float64
	}{{"shipping", "shipping_product", st.shippingID, number(r, order.ColShipping), 1},
		{"discount", "discount_product", st.discountID, number(r, order.ColDiscount), -1}}
	for _, x := range extra {
		if x.amount <= 0 {
			continue
		}
		if x.id == "" {
			return nil, fmt.Errorf("the order has a %s of %v: set %s (the SKU of the product that carries it)", x.what, x.amount, x.setting)
		}
		t, err := s.taxOf(st, 0)
		if err != nil {
			return nil, err
		}
		b.LineItems = append(b.LineItems, saleLine{Product: idRef{x.id}, Quantity: x.qty, Pricing: linePricing{x.amount}, Tax: t,
			Attributes: []attribute{{Name: "line_note", Value: field(r, order.ColShippingMethod)}}})
		if x.what == "discount" {
			b.LineItems[len(b.LineItems)-1].Attributes = nil
		}
	}
	return b, nil
}

// route resolves the order's outlet (id or name, case-insensitive; empty: the store's only outlet) and its
// register (registers setting, else the outlet's first register by name).
func (s *SalesSink) route(st *salesSetup, want string) (outletID, registerID string, err error) {
	want = strings.TrimSpace(want)
	var o *outlet
	for i := range st.outlets {
		if x := &st.outlets[i]; x.ID == want || strings.EqualFold(x.Name, want) {
			o = x
		}
	}
	switch {
	case want == "" && len(st.outlets) == 1:
		o = &st.outlets[0]
	case want == "":
		return "", "", fmt.Errorf("the order has no outlet and the POS has %d: set routing.primary in order_match", len(st.outlets))
	case o == nil:
		return "", "", fmt.Errorf("outlet %q is no outlet of the POS: fix routing in order_match", want)
	}
	reg := ""
	for k, v := range s.cfg.Registers {
		if k == o.ID || strings.EqualFold(strings.TrimSpace(k), o.Name) {
			reg = strings.TrimSpace(v)
		}
	}
	for _, r := range st.registers {
		if r.OutletID == o.ID && (reg == "" || r.ID == reg || strings.EqualFold(r.Name, reg)) {
			return o.ID, r.ID, nil
		}
	}
	if reg != "" {
		return "", "", fmt.Errorf("register %q is no register of outlet %s: fix registers", reg, o.Name)
	}
	return "", "", fmt.Errorf("outlet %s has no register", o.Name)
}

// taxOf is the tax of a line with the given unit tax.
func (s *SalesSink) taxOf(st *salesSetup, unit float64) (lineTax, error) {
	if unit == 0 {
		if st.noTaxID == "" {
			return lineTax{}, fmt.Errorf("the POS has no tax %q for untaxed lines: set no_tax", s.cfg.NoTax)
		}
		return lineTax{ID: st.noTaxID}, nil
	}
	if st.taxID == "" {
		return lineTax{}, errors.New("the order has tax: set tax (the name or id of the POS tax to record it with)")
	}
	return lineTax{ID: st.taxID, Amount: unit}, nil
}

// lineTaxes returns each line's unit tax: the line's own tax when the website itemised any, else the
// order's tax spread over the lines by amount (in cents; the last line takes the rounding remainder).
func lineTaxes(lines []order.Line, orderTax float64) ([]float64, error) {
	out := make([]float64, len(lines))
	itemised := false
	for _, l := range lines {
		itemised = itemised || l.Tax != 0
	}
	var total float64
	for _, l := range lines {
		total += l.Quantity * l.UnitPrice
	}
	for i, l := range lines {
		if l.Quantity == 0 {
			continue
		}
		switch {
		case itemised:
			out[i] = round4(l.Tax / l.Quantity)
		case orderTax != 0 && total > 0:
			out[i] = l.Quantity * l.UnitPrice / total * orderTax
		}
	}
	if !itemised && orderTax != 0 {
		if total <= 0 {
			return nil, fmt.Errorf("the order has tax %v but its lines have no amount to spread it over", orderTax)
		}
		left := math.Round(orderTax * 100)
		for i := range out {
			cents := math.Round(out[i] * 100)
			if i == len(out)-1 {
				cents = left
			}
			left -= cents
			if lines[i].Quantity != 0 {
				out[i] = round4(cents / 100 / lines[i].Quantity)
			}
		}
	}
	return out, nil
}

// saleNote names the website order, its shipping method and the customer's comments.
func saleNote(r record.Record) string {
	parts := []string{"Web order " + field(r, order.ColOrderID)}
	if m := strings.TrimSpace(field(r, order.ColShippingMethod)); m != "" {
		parts = append(parts, m)
	}
	if p := strings.TrimSpace(field(r, order.ColPickupLocation)); p != "" && field(r, order.ColFulfilment) == order.FulfilPickup {
		parts = append(parts, "pickup at "+p)
	}
	if c := strings.TrimSpace(field(r, order.ColComments)); c != "" {
		parts = append(parts, "comments: "+c)
	}
	return strings.Join(parts, " · ")
}
