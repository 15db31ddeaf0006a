package orderurl

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/record"
)

// APIVersion is the order export version this package reads (Workstand "API Version: Version 2").
const APIVersion = "2.00"

// VersionError is a response of another order export API version. Its message says how to fix the setting.
type VersionError struct {
	Got string // the version the response declares, or the root element it has instead of WebOrders
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("the order export answered in API version %s, but possync reads version %s only: in the "+
		"website's admin, Settings > Commerce > Export Settings, set API Version to Version 2 (then no orders are "+
		"lost: unconfirmed orders stay in the export)", e.Got, APIVersion)
}

// SyntaxError is a response that is not well-formed XML (a truncated body, a broken tag). Nothing of that
// response is imported.
type SyntaxError struct {
	Line, Col int   // 1-based position where the decoder stopped
	Offset    int64 // byte offset of that position
	Err       error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("order XML is malformed at line %d, column %d (byte %d): %v; nothing of this response was imported",
		e.Line, e.Col, e.Offset, e.Err)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// Feed is one parsed download: the orders as records of order.Schema(), the orders that could not be read,
// and remarks for the run report.
type Feed struct {
	Records []record.Record
	Rejects []connectors.Reject
	Notes   []string
}

// xml layout of export v2 (domain README §2.4).
type xmlFeed struct {
	XMLName        xml.Name
	VersionAttr    string        `xml:"version,attr"`
	VerAttr        string        `xml:"ver,attr"`
	Version        string        `xml:"Version"`
	NumberOfOrders string        `xml:"NumberOfOrders"`
	Orders         []xmlWebOrder `xml:"WebOrder"`
}

type xmlWebOrder struct {
	Comment string   `xml:"WebComment"`
	Order   xmlOrder `xml:"Order"`
}

type xmlOrder struct {
	OrderID    string     `xml:"OrderId"`
	Currency   string     `xml:"Currency"`
	Time       string     `xml:"Time"`
	CustomerID string     `xml:"CustomerId"`
	ShipTo     xmlAddress `xml:"AddressShipTo"`
	BillTo     xmlAddress `xml:"AddressBillTo"`
	Shipping   struct {
		Method         string `xml:"Method"`
		Classification string `xml:"Classification"`
		PickupLocation string `xml:"PickupLocation"`
	} `xml:"Shipping"`
	Payment struct {
		Method string `xml:"PaymentMethod"`
	} `xml:"PaymentInfo"`
	Status   string     `xml:"Status"`
	Comments string     `xml:"Comments"`
	Items    []xmlItem  `xml:"Items>Item"`
	Totals   []xmlTotal `xml:"OrderTotal>Line"`
}

type xmlAddress struct {
	First    string `xml:"Name>First"`
	Last     string `xml:"Name>Last"`
	Full     string `xml:"Name>Full"`
	Address1 string `xml:"Address1"`
	Address2 string `xml:"Address2"`
	City     string `xml:"City"`
	State    string `xml:"State"`
	Country  string `xml:"Country"`
	Zip      string `xml:"Zip"`
	Phone    string `xml:"Phone"`
	Email    string `xml:"Email"`
}

type xmlItem struct {
	Num               string      `xml:"num,attr"`
	ID                string      `xml:"Id"`
	Code              string      `xml:"Code"`
	MPN               string      `xml:"Mpn"`
	GTIN1             string      `xml:"Gtin1"`
	GTIN2             string      `xml:"Gtin2"`
	Brand             string      `xml:"Brand"`
	Quantity          string      `xml:"Quantity"`
	UnitPrice         string      `xml:"Unit-Price"`
	Weight            string      `xml:"Weight"`
	Description       string      `xml:"Description"`
	Category          string      `xml:"Category"`
	Options           []xmlOption `xml:"Option"`
	SupplierFulfilled string      `xml:"SupplierFulfilled"`
}

type xmlOption struct {
	Name  string `xml:"name,attr"`
	Value string `xml:",chardata"`
}

type xmlTotal struct {
	Type  string `xml:"type,attr"`
	Name  string `xml:"name,attr"`
	Value string `xml:",chardata"`
}

// placeholderEmails are the addresses websites and clerks type when a customer gave none.
var placeholderEmails = []string{"noemail@", "no-email@", "none@", "nobody@", "noreply@", "no-reply@", "na@", "n/a", "test@test."}

// Parse reads one WebOrders document (export v2). A document that is not well-formed XML is a *SyntaxError
// naming the position; one of another API version is a *VersionError; in both cases nothing is returned. An
// order whose values cannot be read (a quantity that is not a number, an unreadable time) is a reject keyed
// by its order id, so it is neither imported nor confirmed and the export keeps serving it. The order times
// are read in loc (the website's time zone) and stored in UTC.
//
// Messy exports are read as they are: a NumberOfOrders that disagrees with the orders present is a note;
// text is entity-unescaped (also when the website escaped it twice, as in "Catalog &amp;gt; Bikes"); an
// empty or placeholder email is kept as given (order.ColEmail) and noted, since it cannot identify a
// customer; a cancelled order is read with cancelled = true; an order served twice in one response is read
// once.
func Parse(r io.Reader, loc *time.Location) (*Feed, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read order XML: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &SyntaxError{Line: 1, Col: 1, Err: errors.New("the response is empty (no WebOrders document)")}
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Entity = xml.HTMLEntity // &nbsp;, &eacute; and friends appear in product titles
	var doc xmlFeed
	if err := dec.Decode(&doc); err != nil {
		return nil, syntaxError(data, dec.InputOffset(), err)
	}
	// Anything but white space after the root is a broken document too (two documents glued, a stray tag).
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, syntaxError(data, dec.InputOffset(), err)
		}
		if cd, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(cd)) == 0 {
			continue
		}
		switch tok.(type) {
		case xml.Comment, xml.ProcInst:
			continue
		}
		return nil, syntaxError(data, dec.InputOffset(), errors.New("content after the end of the WebOrders document"))
	}
	if doc.XMLName.Local != "WebOrders" {
		return nil, &VersionError{Got: fmt.Sprintf("unknown (root element <%s>, not <WebOrders>)", doc.XMLName.Local)}
	}
	for _, v := range []string{doc.VersionAttr, doc.VerAttr, doc.Version} {
		if v = strings.TrimSpace(v); v != "" && !isV2(v) {
			return nil, &VersionError{Got: v}
		}
	}
	if loc == nil {
		loc = time.UTC
	}
	f := &Feed{}
	seen := map[string]bool{}
	for i, wo := range doc.Orders {
		id := text(wo.Order.OrderID)
		where := fmt.Sprintf("WebOrder %d", i+1)
		if id == "" {
			f.Rejects = append(f.Rejects, connectors.Reject{Where: where, Reason: "the order has no OrderId; it cannot be imported"})
			continue
		}
		where += " (OrderId " + id + ")"
		if seen[id] {
			f.Notes = append(f.Notes, fmt.Sprintf("order %s appears more than once in the download; read once", id))
			continue
		}
		seen[id] = true
		rec, notes, err := orderRecord(&wo.Order, id, loc)
		if err != nil {
			f.Rejects = append(f.Rejects, connectors.Reject{Where: where, Key: map[string]any{order.ColOrderID: id}, Reason: err.Error()})
			continue
		}
		f.Records = append(f.Records, rec)
		f.Notes = append(f.Notes, notes...)
	}
	if n := strings.TrimSpace(doc.NumberOfOrders); n != "" {
		want, err := strconv.Atoi(n)
		switch {
		case err != nil:
			f.Notes = append(f.Notes, fmt.Sprintf("the download's NumberOfOrders %q is not a number; the %d orders present were read", n, len(doc.Orders)))
		case want != len(doc.Orders):
			f.Notes = append(f.Notes, fmt.Sprintf("the download says NumberOfOrders %d but holds %d orders; the %d present were read "+
				"(any missing order stays in the export and comes with a later download)", want, len(doc.Orders), len(doc.Orders)))
		}
	}
	return f, nil
}

// syntaxError is err where the decoder stopped, at byte offset off of data: the 1-based line and column of
// the byte there, counted from data. (The decoder's own InputPos says line 1, column 0 when it stopped after
// stepping back over a newline, as in "&\n": it uncounts the line but not the line's start.)
func syntaxError(data []byte, off int64, err error) *SyntaxError {
	before := data[:min(max(off, 0), int64(len(data)))]
	line := 1 + bytes.Count(before, []byte{'\n'})
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return &SyntaxError{Line: line, Col: col, Offset: off, Err: err}
}

// isV2 accepts 2, 2.0, 2.00 and the like.
func isV2(v string) bool {
	v = strings.TrimPrefix(strings.ToLower(v), "v")
	major, _, _ := strings.Cut(v, ".")
	return major == "2"
}

// text trims and unescapes a value: the decoder resolved one level of entities; websites that escape text
// before putting it in XML leave a second one ("&amp;gt;" arrives as "&gt;").
func text(s string) string {
	s = strings.TrimSpace(s)
	if strings.IndexByte(s, '&') >= 0 {
		s = strings.TrimSpace(html.UnescapeString(s))
	}
	return s
}

// orderTimeLayouts are the C-style times the export uses ("Fri Jan 15 15:19:16 2021"), and ISO forms seen
// from other versions of the site.
var orderTimeLayouts = []string{"Mon Jan _2 15:04:05 2006", "Mon Jan 2 15:04:05 2006", "2006-01-02 15:04:05", "2006-01-02T15:04:05"}

func parseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	for _, l := range orderTimeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("Time %q is not a time like \"Fri Jan 15 15:19:16 2021\"", s)
}

// moneyNoise is what a decimal may carry besides digits: a currency sign, thousands separators, spaces.
var moneyNoise = strings.NewReplacer("$", "", ",", "", " ", "")

// amount reads a decimal that may carry a currency sign or thousands separators ("$1,299.00").
func amount(field, s string) (float64, bool, error) {
	s = moneyNoise.Replace(text(s))
	if s == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, fmt.Errorf("%s %q is not a number", field, s)
	}
	return v, true, nil
}

func nullable(s string) any {
	if s = text(s); s == "" {
		return nil
	}
	return s
}

// orderRecord turns one Order into an order record.
func orderRecord(o *xmlOrder, id string, loc *time.Location) (record.Record, []string, error) {
	var notes []string
	r := record.Record{order.ColOrderID: id, order.ColOrigin: "order_url"}
	if t := text(o.Time); t != "" {
		placed, err := parseTime(t, loc)
		if err != nil {
			return nil, nil, err
		}
		r[order.ColPlacedAt] = placed
	}
	r[order.ColCurrency] = nullable(strings.ToUpper(o.Currency))
	r[order.ColCustomerID] = nullable(o.CustomerID)
	email := text(o.BillTo.Email)
	r[order.ColEmail] = nullable(email)
	switch {
	case email == "":
		notes = append(notes, fmt.Sprintf("order %s: no bill-to email; the customer can only be matched by website customer id or by hand", id))
	case isPlaceholder(email):
		notes = append(notes, fmt.Sprintf("order %s: bill-to email %q is a placeholder, not the customer's address; it cannot identify the customer", id, email))
	}
	phone := text(o.BillTo.Phone)
	if phone == "" {
		phone = text(o.ShipTo.Phone)
	}
	r[order.ColPhone] = nullable(phone)
	for _, a := range []struct {
		prefix string
		addr   *xmlAddress
	}{{"bill_", &o.BillTo}, {"ship_", &o.ShipTo}} {
		name := text(a.addr.Full)
		if name == "" {
			name = strings.TrimSpace(text(a.addr.First) + " " + text(a.addr.Last))
		}
		r[a.prefix+"name"] = nullable(name)
		r[a.prefix+"address1"] = nullable(a.addr.Address1)
		r[a.prefix+"address2"] = nullable(a.addr.Address2)
		r[a.prefix+"city"] = nullable(a.addr.City)
		r[a.prefix+"state"] = nullable(a.addr.State)
		r[a.prefix+"zip"] = nullable(a.addr.Zip)
		r[a.prefix+"country"] = nullable(a.addr.Country)
	}
	r[order.ColShippingMethod] = nullable(o.Shipping.Method)
	class := text(o.Shipping.Classification)
	if isPickup(class) {
		r[order.ColFulfilment] = order.FulfilPickup
		r[order.ColPickupLocation] = nullable(o.Shipping.PickupLocation)
	} else {
		r[order.ColFulfilment] = order.FulfilDelivery
	}
	r[order.ColPaymentMethod] = nullable(o.Payment.Method)
	status := text(o.Status)
	r[order.ColWebStatus] = nullable(status)
	r[order.ColCancelled] = isCancelled(status)
	r[order.ColComments] = nullable(o.Comments)
	for _, t := range o.Totals {
		kind := strings.ToLower(text(t.Type))
		if kind == "" {
			kind = strings.ToLower(text(t.Name))
		}
		col := map[string]string{"subtotal": order.ColSubtotal, "discount": order.ColDiscount, "shipping": order.ColShipping,
			"tax": order.ColTax, "total": order.ColTotal}[kind]
		if col == "" {
			continue
		}
		v, ok, err := amount("OrderTotal "+kind, t.Value)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			if col == order.ColDiscount {
				v = math.Abs(v)
			}
			r[col] = v
		}
	}
	lines := make([]order.Line, 0, len(o.Items))
	for i, it := range o.Items {
		l, err := line(&it, i+1)
		if err != nil {
			return nil, nil, fmt.Errorf("item %d: %w", i+1, err)
		}
		lines = append(lines, l)
	}
	enc, err := order.EncodeLines(lines)
	if err != nil {
		return nil, nil, err
	}
	r[order.ColLines] = enc
	return r, notes, nil
}

func line(it *xmlItem, pos int) (order.Line, error) {
	l := order.Line{No: pos, WebID: text(it.ID), Code: text(it.Code), MPN: text(it.MPN), GTIN1: text(it.GTIN1),
		GTIN2: text(it.GTIN2), Brand: text(it.Brand), Description: text(it.Description), Category: text(it.Category),
		SupplierFulfilled: yes(it.SupplierFulfilled)}
	if n, err := strconv.Atoi(text(it.Num)); err == nil && n > 0 {
		l.No = n
	}
	q, ok, err := amount("Quantity", it.Quantity)
	if err != nil {
		return l, err
	}
	if !ok || q <= 0 {
		return l, fmt.Errorf("Quantity %q must be a positive number", text(it.Quantity))
	}
	l.Quantity = q
	if l.UnitPrice, _, err = amount("Unit-Price", it.UnitPrice); err != nil {
		return l, err
	}
	if l.Weight, _, err = amount("Weight", it.Weight); err != nil {
		return l, err
	}
	for _, o := range it.Options {
		name, v := text(o.Name), text(o.Value)
		if name == "" || v == "" {
			continue
		}
		if l.Options == nil {
			l.Options = map[string]string{}
		}
		l.Options[name] = v
	}
	return l, nil
}

func yes(s string) bool {
	switch strings.ToLower(text(s)) {
	case "yes", "y", "true", "1":
		return true
	}
	return false
}

func isPickup(class string) bool {
	c := strings.ToLower(class)
	return strings.Contains(c, "pickup") || strings.Contains(c, "pick up") || strings.Contains(c, "pick-up")
}

func isCancelled(status string) bool {
	s := strings.ToLower(status)
	return s == "cancelled" || s == "canceled" || strings.HasPrefix(s, "cancel")
}

func isPlaceholder(email string) bool {
	e := strings.ToLower(email)
	if !strings.Contains(e, "@") {
		return true
	}
	for _, p := range placeholderEmails {
		if strings.HasPrefix(e, p) || strings.Contains(e, p) && p == "test@test." {
			return true
		}
	}
	return false
}
