// Package orderurltest emulates a website's order export (Workstand / SmartEtailing export API version 2.0,
// domain README §2 and §7.2) for tests and demos: one URL answering GET method=Orders (the WebOrders XML of
// the orders marked for export, per merchant and per Multi-Store location), UpdateOrder (confirm receipt: the
// order leaves later downloads and gets the site's status change) and UpdateStatus, with the URL key checked
// on every call. It records the calls it receives, serves the three export modes, and injects faults (503,
// a body cut short, broken XML, another API version, a hang, a refused confirm).
package orderurltest

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Mode is the website's Export Mode: when an order becomes downloadable.
type Mode string

// Export modes (domain README §2.2).
const (
	// ModeManual: an order is exported only once the merchant ticks it for export (MarkForExport).
	ModeManual Mode = "manual"
	// ModeNew: every new order is marked for export at once; an order with a supplier fulfillment requested
	// waits until the supplier marks those items Shipped or Canceled.
	ModeNew Mode = "new"
	// ModeFulfilled: an order is marked for export once all its items, supplier and in-stock, are Fulfilled.
	ModeFulfilled Mode = "fulfilled"
)

// Supplier fulfillment states of an item.
const (
	SupplierRequested = "Requested"
	SupplierShipped   = "Shipped"
	SupplierCanceled  = "Canceled"
)

// Options configure the emulator.
type Options struct {
	// Merchant and URLKey are the credentials every call must carry (defaults "1234", "test-url-key-5f3a9c").
	Merchant, URLKey string
	// Mode is the Export Mode (default ModeNew).
	Mode Mode
	// StatusOnConfirm is the site's Status Change after a POS import: an order in status Received gets it on
	// UpdateOrder (default "Being Processed"; "-" turns it off).
	StatusOnConfirm string
	// PrimaryLocation is the Multi-Store location that downloads the orders that ship to customers (default
	// "Main Street"); in-store pickups go to their pickup location.
	PrimaryLocation string
	// OnCall, when set, is called with each call once it is answered (outside the emulator's lock): tests
	// use it to act at an exact point of a client's sequence, e.g. kill the client after its 100th confirm.
	OnCall func(Call)
}

// Address is a bill-to or ship-to address.
type Address struct {
	First, Last, Full                             string
	Address1, Address2, City, State, Country, Zip string
	Phone, Email                                  string
}

// Item is an order line.
type Item struct {
	ID, Code, MPN, GTIN1, GTIN2, Brand, Description, Category string
	Quantity                                                  int
	UnitPrice, Weight                                         float64
	Options                                                   map[string]string
	// SupplierFulfilled marks a line shipped by a supplier; SupplierStatus is its supplier fulfillment
	// ("" none requested, SupplierRequested, SupplierShipped, SupplierCanceled).
	SupplierFulfilled bool
	SupplierStatus    string
	// Fulfilled is the line's fulfillment status in the website's admin.
	Fulfilled bool
}

// Order is one website order.
type Order struct {
	ID         string
	Merchant   string // default: Options.Merchant
	Time       time.Time
	Currency   string
	CustomerID string
	BillTo     Address
	ShipTo     Address
	// ShippingMethod is the label the customer chose; Classification "In-Store Pickup" makes it a pickup at
	// PickupLocation.
	ShippingMethod, Classification, PickupLocation string
	PaymentMethod                                  string
	// Status is the website status (default "Received").
	Status                                   string
	Comments                                 string
	Items                                    []Item
	Subtotal, Discount, Shipping, Tax, Total float64
	// MarkedForExport is the Export tick of ModeManual.
	MarkedForExport bool
}

// Call is one request the emulator received (the URL key is never recorded).
type Call struct {
	Method      string
	Merchant    string
	Location    string
	OrderNumber string
	OrderStatus string
	// Status is the HTTP status answered; Fault names the fault injected, if any.
	Status int
	Fault  FaultKind
}

// FaultKind is a failure the emulator can inject.
type FaultKind string

// Faults.
const (
	// Unavailable answers 503 Service Unavailable.
	Unavailable FaultKind = "503"
	// ServerError answers 500.
	ServerError FaultKind = "500"
	// Truncated sends a 200 whose XML body stops in the middle.
	Truncated FaultKind = "truncated"
	// Malformed sends a 200 whose XML has a mismatched end tag.
	Malformed FaultKind = "malformed"
	// WrongVersion sends the orders as API version 1.00.
	WrongVersion FaultKind = "wrong_version"
	// Hang holds the request until the client gives up (a timeout).
	Hang FaultKind = "hang"
	// Refuse answers a confirm with <Success>false</Success>.
	Refuse FaultKind = "refuse"
)

// Fault is an injected failure: the next Times calls of Method (for one order, when OrderID is set) fail
// with Kind.
type Fault struct {
	Method  string // Orders (default), UpdateOrder or UpdateStatus
	Kind    FaultKind
	Times   int    // default 1; -1 = until cleared
	OrderID string // for UpdateOrder and UpdateStatus: only this order
}

// Server is a running emulator.
type Server struct {
	opts Options
	srv  *httptest.Server

	mu        sync.Mutex
	orders    []*Order
	byID      map[string]*Order
	confirmed map[string]bool
	calls     []Call
	faults    []*Fault
	// countOverride, when set, is the NumberOfOrders sent instead of the true count.
	countOverride *int
	hang          chan struct{}
}

// New starts an emulator on loopback.
func New(opts Options) *Server {
	if opts.Merchant == "" {
		opts.Merchant = "1234"
	}
	if opts.URLKey == "" {
		opts.URLKey = "test-url-key-5f3a9c"
	}
	if opts.Mode == "" {
		opts.Mode = ModeNew
	}
	if opts.StatusOnConfirm == "" {
		opts.StatusOnConfirm = "Being Processed"
	}
	if opts.PrimaryLocation == "" {
		opts.PrimaryLocation = "Main Street"
	}
	s := &Server{opts: opts, byID: map[string]*Order{}, confirmed: map[string]bool{}, hang: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the export URL (without query string).
func (s *Server) URL() string { return s.srv.URL + "/export/orders.asp" }

// Merchant and URLKey are the credentials the emulator accepts.
func (s *Server) Merchant() string { return s.opts.Merchant }

// URLKey is the secret every call must carry.
func (s *Server) URLKey() string { return s.opts.URLKey }

// Close stops the emulator; requests held by Hang are released.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.hang:
	default:
		close(s.hang)
	}
	s.mu.Unlock()
	s.srv.Close()
}

// SetMode changes the Export Mode.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Mode = m
}

// Add adds orders (or replaces those with the same ID, keeping their confirmation).
func (s *Server) Add(orders ...Order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range orders {
		o := o
		if o.Merchant == "" {
			o.Merchant = s.opts.Merchant
		}
		if o.Status == "" {
			o.Status = "Received"
		}
		if old, ok := s.byID[o.ID]; ok {
			*old = o
			continue
		}
		s.orders = append(s.orders, &o)
		s.byID[o.ID] = &o
	}
}

// Edit changes an order in place (an edit on the website); false when there is no such order.
func (s *Server) Edit(id string, f func(*Order)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.byID[id]
	if ok {
		f(o)
	}
	return ok
}

// Order returns a copy of an order.
func (s *Server) Order(id string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.byID[id]
	if !ok {
		return Order{}, false
	}
	return *o, true
}

// Confirmed reports whether the order's receipt was confirmed (UpdateOrder).
func (s *Server) Confirmed(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.confirmed[id]
}

// Unconfirm makes a confirmed order downloadable again (a site that lost the confirmation).
func (s *Server) Unconfirm(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.confirmed, id)
}

// Pending returns the IDs a download without location would serve now, in order.
func (s *Server) Pending() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, o := range s.served(s.opts.Merchant, "") {
		out = append(out, o.ID)
	}
	return out
}

// Calls returns the calls received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsOf returns the calls of one method.
func (s *Server) CallsOf(method string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Method == "" {
		f.Method = "Orders"
	}
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetNumberOfOrders makes downloads claim n orders whatever they hold (a messy export); negative restores
// the true count.
func (s *Server) SetNumberOfOrders(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n < 0 {
		s.countOverride = nil
		return
	}
	s.countOverride = &n
}

// MarkForExport ticks an order for export (ModeManual).
func (s *Server) MarkForExport(id string) bool {
	return s.Edit(id, func(o *Order) { o.MarkedForExport = true })
}

// SetSupplierStatus sets the supplier fulfillment of an order's line (from 1).
func (s *Server) SetSupplierStatus(id string, line int, status string) bool {
	return s.Edit(id, func(o *Order) {
		if line >= 1 && line <= len(o.Items) {
			o.Items[line-1].SupplierStatus = status
		}
	})
}

// SetFulfilled marks an order's line (from 1) Fulfilled; line 0 marks every line.
func (s *Server) SetFulfilled(id string, line int) bool {
	return s.Edit(id, func(o *Order) {
		for i := range o.Items {
			if line == 0 || i == line-1 {
				o.Items[i].Fulfilled = true
			}
		}
	})
}

// exportable says whether the export mode lets the order be downloaded now.
func (s *Server) exportable(o *Order) bool {
	switch s.opts.Mode {
	case ModeManual:
		return o.MarkedForExport
	case ModeFulfilled:
		for _, it := range o.Items {
			if !it.Fulfilled {
				return false
			}
		}
		return len(o.Items) > 0
	default:
		for _, it := range o.Items {
			if it.SupplierStatus == SupplierRequested {
				return false
			}
		}
		return true
	}
}

// served lists the orders a download of merchant and location gets: marked for export by the mode, not
// confirmed; with a location, its in-store pickups, plus every other order at the primary location.
func (s *Server) served(merchant, location string) []*Order {
	var out []*Order
	for _, o := range s.orders {
		if o.Merchant != merchant || s.confirmed[o.ID] || !s.exportable(o) {
			continue
		}
		if location != "" {
			pickup := strings.Contains(strings.ToLower(o.Classification), "pickup")
			if pickup && !strings.EqualFold(o.PickupLocation, location) || !pickup && !strings.EqualFold(location, s.opts.PrimaryLocation) {
				continue
			}
		}
		out = append(out, o)
	}
	return out
}

// fault takes the first pending fault for a call.
func (s *Server) fault(method, orderID string) FaultKind {
	for i, f := range s.faults {
		if f.Method != method || f.OrderID != "" && f.OrderID != orderID {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		return f.Kind
	}
	return ""
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := Call{Method: q.Get("method"), Merchant: q.Get("merchant"), Location: q.Get("location"),
		OrderNumber: q.Get("OrderNumber"), OrderStatus: q.Get("OrderStatus")}
	s.mu.Lock()
	status, body, hang := s.handle(&c, q.Get("URLkey"), q.Get("ver"))
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	if s.opts.OnCall != nil && !hang {
		defer s.opts.OnCall(c)
	}
	if hang {
		select {
		case <-r.Context().Done():
		case <-s.hang:
		}
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// handle answers a call (under s.mu). It fills c.Status and c.Fault.
func (s *Server) handle(c *Call, key, ver string) (int, []byte, bool) {
	reply := func(status int, body string) (int, []byte, bool) {
		c.Status = status
		return status, []byte(body), false
	}
	if c.Merchant != s.opts.Merchant || key != s.opts.URLKey {
		return reply(http.StatusForbidden, "Invalid merchant or URL key")
	}
	if ver != "2.00" {
		return reply(http.StatusBadRequest, "Unsupported API version "+ver)
	}
	if c.Fault = s.fault(c.Method, c.OrderNumber); c.Fault != "" {
		switch c.Fault {
		case Unavailable:
			return reply(http.StatusServiceUnavailable, "Service Unavailable")
		case ServerError:
			return reply(http.StatusInternalServerError, "Internal Server Error")
		case Hang:
			c.Status = 0
			return 0, nil, true
		case Refuse:
			return reply(http.StatusOK, response(false, "Order "+c.OrderNumber+" could not be updated"))
		}
	}
	switch c.Method {
	case "Orders":
		body := s.render(s.served(c.Merchant, c.Location), c.Fault == WrongVersion)
		switch c.Fault {
		case Truncated:
			body = body[:len(body)*3/5]
		case Malformed:
			body = strings.Replace(body, "</OrderId>", "</OrderID>", 1)
			if !strings.Contains(body, "</OrderID>") {
				body = strings.Replace(body, "</NumberOfOrders>", "</NumberOfOrder>", 1)
			}
		}
		return reply(http.StatusOK, body)
	case "UpdateOrder":
		o, ok := s.byID[c.OrderNumber]
		if !ok || o.Merchant != c.Merchant {
			return reply(http.StatusOK, response(false, "Order "+c.OrderNumber+" not found"))
		}
		if !s.confirmed[o.ID] {
			s.confirmed[o.ID] = true
			if s.opts.StatusOnConfirm != "-" && o.Status == "Received" {
				o.Status = s.opts.StatusOnConfirm
			}
		}
		return reply(http.StatusOK, response(true, ""))
	case "UpdateStatus":
		o, ok := s.byID[c.OrderNumber]
		if !ok || o.Merchant != c.Merchant {
			return reply(http.StatusOK, response(false, "Order "+c.OrderNumber+" not found"))
		}
		if strings.TrimSpace(c.OrderStatus) == "" {
			return reply(http.StatusOK, response(false, "OrderStatus is required"))
		}
		o.Status = c.OrderStatus
		return reply(http.StatusOK, response(true, ""))
	}
	return reply(http.StatusBadRequest, "Unknown method "+c.Method)
}

func response(ok bool, msg string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<Response><Success>%t</Success>", ok)
	if msg != "" {
		b.WriteString("<Message>")
		_ = xml.EscapeText(&b, []byte(msg))
		b.WriteString("</Message>")
	}
	b.WriteString("</Response>")
	return b.String()
}

// render writes the WebOrders document of orders (export v2; v1 with old).
func (s *Server) render(orders []*Order, old bool) string {
	doc := wireFeed{NumberOfOrders: len(orders)}
	if s.countOverride != nil {
		doc.NumberOfOrders = *s.countOverride
	}
	if old {
		doc.Version = "1.00"
	}
	for _, o := range orders {
		doc.Orders = append(doc.Orders, wireOf(o))
	}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // only strings and numbers: cannot fail
	}
	return xml.Header + string(b) + "\n"
}

// wire layout of export v2.
type wireFeed struct {
	XMLName        xml.Name       `xml:"WebOrders"`
	Version        string         `xml:"version,attr,omitempty"`
	NumberOfOrders int            `xml:"NumberOfOrders"`
	Orders         []wireWebOrder `xml:"WebOrder"`
}

type wireWebOrder struct {
	Comment string    `xml:"WebComment"`
	Order   wireOrder `xml:"Order"`
}

type wireOrder struct {
	OrderID    string      `xml:"OrderId"`
	Currency   string      `xml:"Currency"`
	Time       string      `xml:"Time"`
	CustomerID string      `xml:"CustomerId"`
	CustomerIP string      `xml:"CustomerIP"`
	ShipTo     wireAddress `xml:"AddressShipTo"`
	BillTo     wireAddress `xml:"AddressBillTo"`
	Shipping   struct {
		Method         string `xml:"Method"`
		Classification string `xml:"Classification"`
		PickupLocation string `xml:"PickupLocation,omitempty"`
	} `xml:"Shipping"`
	Payment struct {
		Method string `xml:"PaymentMethod"`
	} `xml:"PaymentInfo"`
	Status   string      `xml:"Status"`
	Comments string      `xml:"Comments"`
	Items    []wireItem  `xml:"Items>Item"`
	Totals   []wireTotal `xml:"OrderTotal>Line"`
}

type wireAddress struct {
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

type wireItem struct {
	Num               int          `xml:"num,attr"`
	ID                string       `xml:"Id"`
	Code              string       `xml:"Code"`
	MPN               string       `xml:"Mpn"`
	GTIN1             string       `xml:"Gtin1"`
	GTIN2             string       `xml:"Gtin2"`
	Brand             string       `xml:"Brand,omitempty"`
	Quantity          int          `xml:"Quantity"`
	UnitPrice         string       `xml:"Unit-Price"`
	Weight            string       `xml:"Weight"`
	Description       string       `xml:"Description"`
	Category          string       `xml:"Category"`
	Taxable           string       `xml:"Taxable"`
	Options           []wireOption `xml:"Option"`
	SupplierFulfilled string       `xml:"SupplierFulfilled"`
}

type wireOption struct {
	Name  string `xml:"name,attr"`
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

type wireTotal struct {
	Name  string `xml:"name,attr"`
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

func money(v float64) string { return fmt.Sprintf("%.2f", v) }

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func wireAddr(a Address) wireAddress {
	full := a.Full
	if full == "" {
		full = strings.TrimSpace(a.First + " " + a.Last)
	}
	return wireAddress{First: a.First, Last: a.Last, Full: full, Address1: a.Address1, Address2: a.Address2, City: a.City,
		State: a.State, Country: a.Country, Zip: a.Zip, Phone: a.Phone, Email: a.Email}
}

func wireOf(o *Order) wireWebOrder {
	w := wireOrder{OrderID: o.ID, Currency: o.Currency, CustomerID: o.CustomerID, ShipTo: wireAddr(o.ShipTo),
		BillTo: wireAddr(o.BillTo), Status: o.Status, Comments: o.Comments}
	if w.Currency == "" {
		w.Currency = "USD"
	}
	if !o.Time.IsZero() {
		w.Time = o.Time.Format("Mon Jan _2 15:04:05 2006")
	}
	w.Shipping.Method, w.Shipping.Classification, w.Shipping.PickupLocation = o.ShippingMethod, o.Classification, o.PickupLocation
	w.Payment.Method = o.PaymentMethod
	for i, it := range o.Items {
		wi := wireItem{Num: i + 1, ID: it.ID, Code: it.Code, MPN: it.MPN, GTIN1: it.GTIN1, GTIN2: it.GTIN2, Brand: it.Brand,
			Quantity: it.Quantity, UnitPrice: money(it.UnitPrice), Weight: fmt.Sprintf("%g", it.Weight),
			Description: it.Description, Category: it.Category, Taxable: "Yes", SupplierFulfilled: yesNo(it.SupplierFulfilled)}
		names := make([]string, 0, len(it.Options))
		for k := range it.Options {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			wi.Options = append(wi.Options, wireOption{Name: k, Type: "Normal", Value: it.Options[k]})
		}
		w.Items = append(w.Items, wi)
	}
	for _, t := range []struct {
		name string
		v    float64
	}{{"Subtotal", o.Subtotal}, {"Discount", o.Discount}, {"Shipping", o.Shipping}, {"Tax", o.Tax}, {"Total", o.Total}} {
		w.Totals = append(w.Totals, wireTotal{Name: t.name, Type: t.name, Value: money(t.v)})
	}
	by := strings.TrimSpace(o.BillTo.First + " " + o.BillTo.Last)
	comment := fmt.Sprintf("SmartEtailing Order on %s by %s, %s", o.Time.Format("01/02/2006 15:04:05"), by, o.ShippingMethod)
	return wireWebOrder{Comment: comment, Order: w}
}

// IDs lists every order's ID, in the order added.
func (s *Server) IDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.orders))
	for i, o := range s.orders {
		out[i] = o.ID
	}
	return out
}
