package retailpostest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The customer, register, tax and sale endpoints, for the retailpos_customers source and the
// retailpos_orders sink (orders-apis.md part A):
//
//   - GET /customers, /registers, /taxes, /sales: version-cursor pages, like the catalog.
//   - GET /sales/{id}: one sale (404 when unknown).
//   - GET /search?type=customers&email=|customer_code=, GET /search?type=sales&invoice_number=|customer_id=:
//     exact filters (email case-insensitive), paged by offset and page_size, answering {"data": [...],
//     "total_count": n}.
//   - POST SalesPath (/api/2026-07/sales): creates a sale from the current SaleRequest shape; the client may
//     give the sale's id. Required: source.author_id, state, a known register, and per line a known product,
//     a quantity, pricing.price and tax.id. A layby or on-account sale needs a customer. The documentation
//     does not say what a second POST with the same id does; the emulator takes the worst reading and
//     creates a second sale (with a new id), so a test sees any duplicate, or answers 409 with
//     Options.SaleIDConflict.
//   - POST CustomersPath (/api/2026-07/customers): creates a customer; first_name and last_name are required.
//
// Faults: ActThenFail makes the next creations happen and then answers 500 or drops the connection, as a
// gateway timeout after the application acted would.

// Date-versioned paths of the write endpoints (the 2.0 API is read-only for sales).
const (
	WritePath     = "/api/2026-07"
	SalesPath     = WritePath + "/sales"
	CustomersPath = WritePath + "/customers"
)

// Customer is one POS customer.
type Customer struct {
	// ID is assigned on creation when empty.
	ID           string
	CustomerCode string
	FirstName    string
	LastName     string
	CompanyName  string
	Email        string
	Phone        string
	Mobile       string
	Address1     string
	Address2     string
	City         string
	State        string
	Postcode     string
	CountryID    string
	Note         string
	DeletedAt    time.Time
	Version      int64
}

// Register is a POS register of an outlet.
type Register struct {
	ID       string
	Name     string
	OutletID string
	Version  int64
}

// Tax is a sales tax.
type Tax struct {
	ID      string
	Name    string
	Rate    float64
	Version int64
}

// Sale is one sale as created through SalesPath.
type Sale struct {
	ID            string
	RegisterID    string
	OutletID      string
	CustomerID    string
	UserID        string
	State         string
	Attributes    []string
	InvoiceNumber string
	Note          string
	SourceType    string
	SourceID      string
	Date          string
	Lines         []SaleLine
	CreatedAt     time.Time
	Version       int64
}

// SaleLine is one line of a sale.
type SaleLine struct {
	ProductID string
	Quantity  float64
	// Price is the unit price excluding tax; Tax the unit tax.
	Price float64
	Tax   float64
	TaxID string
	Note  string
}

// FailMode says how an act-then-fail creation answers.
type FailMode int

const (
	// Fail500 answers 500 Internal Server Error after the creation.
	Fail500 FailMode = iota
	// FailDrop closes the connection without an answer after the creation.
	FailDrop
	// FailHang holds the answer after the creation until the client goes away (e.g. its process is killed),
	// after signalling Acted.
	FailHang
)

// salesData holds the order-side collections; the server's lock guards it.
type salesData struct {
	customers *table[Customer]
	registers *table[Register]
	taxes     *table[Tax]
	sales     []Sale
	salesByV  *table[Sale]
	// fulfillments in creation order (fulfillments.go).
	fulfillments []Fulfillment
	actFailN     int
	actFail      FailMode
	acted        chan struct{}
}

func newSalesData() *salesData {
	return &salesData{customers: newTable[Customer](), registers: newTable[Register](), taxes: newTable[Tax](),
		salesByV: newTable[Sale](), acted: make(chan struct{}, 64)}
}

// salesRoutes registers the endpoints on mux.
func (s *Server) salesRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+APIPath+"/customers", func(w http.ResponseWriter, r *http.Request) {
		servePage(s, w, r, s.sd.customers, func(c cursor, x Customer) bool { return c.deleted || x.DeletedAt.IsZero() },
			(*Customer).wire, func(x *wireCustomer) int64 { return x.Version })
	})
	mux.HandleFunc("GET "+APIPath+"/registers", func(w http.ResponseWriter, r *http.Request) {
		servePage(s, w, r, s.sd.registers, nil, (*Register).wire, func(x *wireRegister) int64 { return x.Version })
	})
	mux.HandleFunc("GET "+APIPath+"/taxes", func(w http.ResponseWriter, r *http.Request) {
		servePage(s, w, r, s.sd.taxes, nil, (*Tax).wire, func(x *wireTax) int64 { return x.Version })
	})
	mux.HandleFunc("GET "+APIPath+"/sales", func(w http.ResponseWriter, r *http.Request) {
		servePage(s, w, r, s.sd.salesByV, nil, (*Sale).wire, func(x *wireSale) int64 { return x.Version })
	})
	mux.HandleFunc("GET "+APIPath+"/sales/{id}", s.getSale)
	mux.HandleFunc("GET "+APIPath+"/search", s.search)
	mux.HandleFunc("POST "+SalesPath, s.createSale)
	mux.HandleFunc("POST "+CustomersPath, s.createCustomer)
	mux.HandleFunc("GET "+FulfillmentsPath, s.listFulfillments)
}

type wireCustomer struct {
	ID                string  `json:"id"`
	CustomerCode      string  `json:"customer_code"`
	FirstName         string  `json:"first_name"`
	LastName          string  `json:"last_name"`
	CompanyName       string  `json:"company_name"`
	Email             string  `json:"email"`
	Phone             string  `json:"phone"`
	Mobile            string  `json:"mobile"`
	PhysicalAddress1  string  `json:"physical_address_1"`
	PhysicalAddress2  string  `json:"physical_address_2"`
	PhysicalCity      string  `json:"physical_city"`
	PhysicalState     string  `json:"physical_state"`
	PhysicalPostcode  string  `json:"physical_postcode"`
	PhysicalCountryID string  `json:"physical_country_id"`
	Note              string  `json:"note"`
	DeletedAt         *string `json:"deleted_at"`
	Version           int64   `json:"version"`
}

func (c *Customer) wire() wireCustomer {
	w := wireCustomer{ID: c.ID, CustomerCode: c.CustomerCode, FirstName: c.FirstName, LastName: c.LastName,
		CompanyName: c.CompanyName, Email: c.Email, Phone: c.Phone, Mobile: c.Mobile, PhysicalAddress1: c.Address1,
		PhysicalAddress2: c.Address2, PhysicalCity: c.City, PhysicalState: c.State, PhysicalPostcode: c.Postcode,
		PhysicalCountryID: c.CountryID, Note: c.Note, Version: c.Version}
	if !c.DeletedAt.IsZero() {
		d := stamp(c.DeletedAt)
		w.DeletedAt = &d
	}
	return w
}

type wireRegister struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	OutletID  string  `json:"outlet_id"`
	DeletedAt *string `json:"deleted_at"`
	Version   int64   `json:"version"`
}

func (r *Register) wire() wireRegister {
	return wireRegister{ID: r.ID, Name: r.Name, OutletID: r.OutletID, Version: r.Version}
}

type wireTax struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Rate      float64 `json:"rate"`
	DeletedAt *string `json:"deleted_at"`
	Version   int64   `json:"version"`
}

func (t *Tax) wire() wireTax {
	return wireTax{ID: t.ID, Name: t.Name, Rate: t.Rate, Version: t.Version}
}

type wireSaleLine struct {
	ID        string  `json:"id"`
	ProductID string  `json:"product_id"`
	Quantity  float64 `json:"quantity"`
	Price     float64 `json:"price"`
	Tax       float64 `json:"tax"`
	TaxID     string  `json:"tax_id"`
	Note      string  `json:"note,omitempty"`
}

type wireSale struct {
	ID            string         `json:"id"`
	OutletID      string         `json:"outlet_id"`
	RegisterID    string         `json:"register_id"`
	CustomerID    *string        `json:"customer_id"`
	UserID        string         `json:"user_id"`
	State         string         `json:"state"`
	Status        string         `json:"status"`
	Attributes    []string       `json:"attributes"`
	InvoiceNumber string         `json:"invoice_number"`
	Note          string         `json:"note"`
	Source        string         `json:"source"`
	SourceID      string         `json:"source_id"`
	SaleDate      string         `json:"sale_date"`
	TotalPrice    float64        `json:"total_price"`
	TotalTax      float64        `json:"total_tax"`
	LineItems     []wireSaleLine `json:"line_items"`
	CreatedAt     string         `json:"created_at"`
	Version       int64          `json:"version"`
}

// legacyStatus is the 0.9 status of a state and its attributes (orders-apis.md A.2).
func legacyStatus(state string, attrs []string) string {
	switch {
	case state == "pending" && slices.Contains(attrs, "layby"):
		return "LAYBY"
	case state == "pending" && slices.Contains(attrs, "onaccount"):
		return "ONACCOUNT"
	case state == "pending" && slices.Contains(attrs, "pickup"):
		return "AWAITING_PICKUP"
	case state == "pending" && slices.Contains(attrs, "delivery"):
		return "AWAITING_DISPATCH"
	case state == "parked":
		return "SAVED"
	case state == "closed":
		return "CLOSED"
	case state == "voided":
		return "VOIDED"
	}
	return "OPEN"
}

func (x *Sale) wire() wireSale {
	w := wireSale{ID: x.ID, OutletID: x.OutletID, RegisterID: x.RegisterID, UserID: x.UserID, State: x.State,
		Status: legacyStatus(x.State, x.Attributes), Attributes: nonNil(x.Attributes), InvoiceNumber: x.InvoiceNumber,
		Note: x.Note, Source: x.SourceType, SourceID: x.SourceID, SaleDate: x.Date, CreatedAt: stamp(x.CreatedAt),
		Version: x.Version, LineItems: []wireSaleLine{}}
	if x.CustomerID != "" {
		w.CustomerID = &x.CustomerID
	}
	for i, l := range x.Lines {
		w.LineItems = append(w.LineItems, wireSaleLine{ID: hashID("line", x.ID, fmt.Sprint(i)), ProductID: l.ProductID,
			Quantity: l.Quantity, Price: l.Price, Tax: l.Tax, TaxID: l.TaxID, Note: l.Note})
		w.TotalPrice += l.Price * l.Quantity
		w.TotalTax += l.Tax * l.Quantity
	}
	return w
}

// AddCustomer creates or replaces a customer (an empty ID gets a new one) and returns it as stored.
func (s *Server) AddCustomer(c Customer) Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addCustomer(c)
}

func (s *Server) addCustomer(c Customer) Customer {
	if c.ID == "" {
		c.ID = s.newID()
	}
	c.Version = s.nextVersion()
	s.sd.customers.put(c.ID, c, c.Version)
	return c
}

// AddRegister creates or replaces a register (an empty ID gets a new one); its outlet must exist.
func (s *Server) AddRegister(r Register) Register {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.outlets.get(r.OutletID); !ok {
		panic(fmt.Sprintf("retailpostest: AddRegister: no outlet %q", r.OutletID))
	}
	if r.ID == "" {
		r.ID = s.newID()
	}
	r.Version = s.nextVersion()
	s.sd.registers.put(r.ID, r, r.Version)
	return r
}

// AddTax creates or replaces a tax (an empty ID gets a new one).
func (s *Server) AddTax(t Tax) Tax {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.ID == "" {
		t.ID = s.newID()
	}
	t.Version = s.nextVersion()
	s.sd.taxes.put(t.ID, t, t.Version)
	return t
}

// Customers returns every customer, in version order.
func (s *Server) Customers() []Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sd.customers.all()
}

// Sales returns every sale created, in creation order (a duplicate id shows twice).
func (s *Server) Sales() []Sale {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Sale, len(s.sd.sales))
	for i, x := range s.sd.sales {
		x.Attributes, x.Lines = slices.Clone(x.Attributes), slices.Clone(x.Lines)
		out[i] = x
	}
	return out
}

// ActThenFail makes the next n creations (POST of a sale or a customer) take effect and then fail: with
// Fail500 the answer is a 500, with FailDrop the connection closes without an answer, with FailHang no answer
// comes until the client goes away.
func (s *Server) ActThenFail(n int, mode FailMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sd.actFailN, s.sd.actFail = n, mode
}

// Acted receives a value each time a FailHang creation has taken effect and is holding its answer.
func (s *Server) Acted() <-chan struct{} { return s.sd.acted }

// actFailed answers an act-then-fail fault after a creation, and reports whether it did. The lock is not held.
func (s *Server) actFailed(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	fail := s.sd.actFailN > 0
	mode := s.sd.actFail
	if fail {
		s.sd.actFailN--
	}
	s.mu.Unlock()
	if !fail {
		return false
	}
	if mode == FailHang {
		select {
		case s.sd.acted <- struct{}{}:
		default:
		}
		<-r.Context().Done()
		return true
	}
	if mode == FailDrop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
	}
	writeError(w, http.StatusInternalServerError, "Internal Server Error", "injected failure after the creation")
	return true
}

func (s *Server) getSale(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	x, ok := s.sd.salesByV.get(id)
	var out wireSale
	if ok {
		out = x.wire()
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found", "The sale "+id+" does not exist.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

// search answers GET /search for customers (email, customer_code) and sales (invoice_number, customer_id).
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, page, ok := s.parseOffset(w, q)
	if !ok {
		return
	}
	s.mu.Lock()
	var data any
	total := 0
	switch q.Get("type") {
	case "customers":
		var out []wireCustomer
		for _, c := range s.sd.customers.all() {
			if !c.DeletedAt.IsZero() ||
				(q.Has("email") && !strings.EqualFold(strings.TrimSpace(c.Email), strings.TrimSpace(q.Get("email")))) ||
				(q.Has("customer_code") && c.CustomerCode != q.Get("customer_code")) {
				continue
			}
			out = append(out, c.wire())
		}
		total, data = len(out), pageOf(nonNilSlice(out), page, size)
	case "sales":
		var out []wireSale
		for _, x := range s.sd.sales {
			if (q.Has("invoice_number") && x.InvoiceNumber != q.Get("invoice_number")) ||
				(q.Has("customer_id") && x.CustomerID != q.Get("customer_id")) {
				continue
			}
			out = append(out, x.wire())
		}
		total, data = len(out), pageOf(nonNilSlice(out), page, size)
	default:
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "Bad Request", "type must be customers or sales in this emulator")
		return
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "total_count": total})
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// saleRequest is the current API's SaleRequest, the fields the emulator reads.
type saleRequest struct {
	ID     string `json:"id"`
	Source struct {
		AuthorID   string `json:"author_id"`
		RegisterID string `json:"register_id"`
		ID         string `json:"id"`
		Type       string `json:"type"`
	} `json:"source"`
	State         string   `json:"state"`
	Attributes    []string `json:"attributes"`
	CustomerID    string   `json:"customer_id"`
	Date          string   `json:"date"`
	Note          string   `json:"note"`
	InvoiceNumber string   `json:"invoice_number"`
	LineItems     []struct {
		Product struct {
			ID string `json:"id"`
		} `json:"product"`
		Quantity *float64 `json:"quantity"`
		Pricing  struct {
			Price *float64 `json:"price"`
		} `json:"pricing"`
		Tax struct {
			ID     string  `json:"id"`
			Amount float64 `json:"amount"`
		} `json:"tax"`
		Attributes []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"attributes"`
	} `json:"line_items"`
}

func (s *Server) createSale(w http.ResponseWriter, r *http.Request) {
	var req saleRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request", "invalid JSON: "+err.Error())
		return
	}
	s.mu.Lock()
	x, problem := s.checkSale(&req)
	if _, dup := s.sd.salesByV.get(x.ID); dup && problem == "" && s.opts.SaleIDConflict && !s.opts.IgnoreSaleIDs {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, "Conflict", "a sale with id "+x.ID+" exists")
		return
	}
	if problem == "" {
		if _, dup := s.sd.salesByV.get(x.ID); dup || x.ID == "" || s.opts.IgnoreSaleIDs {
			x.ID = s.newID()
		}
		x.CreatedAt, x.Version = s.opts.Now().UTC(), s.nextVersion()
		s.sd.sales = append(s.sd.sales, x)
		s.sd.salesByV.put(x.ID, x, x.Version)
	}
	out := x.wire()
	s.mu.Unlock()
	if problem != "" {
		writeError(w, http.StatusBadRequest, "Bad Request", problem)
		return
	}
	if s.actFailed(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

// checkSale validates a sale request as the API documents it; the lock is held.
func (s *Server) checkSale(req *saleRequest) (Sale, string) {
	x := Sale{ID: req.ID, RegisterID: req.Source.RegisterID, CustomerID: req.CustomerID, UserID: req.Source.AuthorID,
		State: req.State, Attributes: req.Attributes, InvoiceNumber: req.InvoiceNumber, Note: req.Note,
		SourceType: req.Source.Type, SourceID: req.Source.ID, Date: req.Date}
	reg, ok := s.sd.registers.get(req.Source.RegisterID)
	switch {
	case req.Source.AuthorID == "":
		return x, "source.author_id is required"
	case req.State == "":
		return x, "state is required"
	case !ok:
		return x, fmt.Sprintf("source.register_id %q is not a register", req.Source.RegisterID)
	case (slices.Contains(req.Attributes, "layby") || slices.Contains(req.Attributes, "onaccount")) && req.CustomerID == "":
		return x, "a layby or on-account sale needs a customer"
	case slices.Contains(req.Attributes, "layby") && slices.Contains(req.Attributes, "onaccount"),
		slices.Contains(req.Attributes, "pickup") && slices.Contains(req.Attributes, "delivery"):
		return x, "attributes layby/onaccount and pickup/delivery are mutually exclusive"
	case len(req.LineItems) == 0:
		return x, "a sale needs line items"
	}
	x.OutletID = reg.OutletID
	if req.CustomerID != "" {
		if _, ok := s.sd.customers.get(req.CustomerID); !ok {
			return x, fmt.Sprintf("customer_id %q is not a customer", req.CustomerID)
		}
	}
	for i, l := range req.LineItems {
		if _, ok := s.products.get(l.Product.ID); !ok {
			return x, fmt.Sprintf("line_items[%d].product.id %q is not a product", i, l.Product.ID)
		}
		if l.Quantity == nil || l.Pricing.Price == nil {
			return x, fmt.Sprintf("line_items[%d]: quantity and pricing.price are required", i)
		}
		if _, ok := s.sd.taxes.get(l.Tax.ID); !ok {
			return x, fmt.Sprintf("line_items[%d].tax.id %q is not a tax", i, l.Tax.ID)
		}
		line := SaleLine{ProductID: l.Product.ID, Quantity: *l.Quantity, Price: *l.Pricing.Price, Tax: l.Tax.Amount, TaxID: l.Tax.ID}
		for _, a := range l.Attributes {
			if a.Name == "line_note" {
				line.Note = a.Value
			}
		}
		x.Lines = append(x.Lines, line)
	}
	return x, ""
}

// customerRequest is the current API's customer creation body, the fields the emulator reads.
type customerRequest struct {
	CustomerCode      string `json:"customer_code"`
	FirstName         string `json:"first_name"`
	LastName          string `json:"last_name"`
	CompanyName       string `json:"company_name"`
	Email             string `json:"email"`
	Phone             string `json:"phone"`
	PhysicalAddress1  string `json:"physical_address_1"`
	PhysicalAddress2  string `json:"physical_address_2"`
	PhysicalCity      string `json:"physical_city"`
	PhysicalState     string `json:"physical_state"`
	PhysicalPostcode  string `json:"physical_postcode"`
	PhysicalCountryID string `json:"physical_country_id"`
	Note              string `json:"note"`
}

func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) {
	var req customerRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request", "invalid JSON: "+err.Error())
		return
	}
	if strings.TrimSpace(req.FirstName) == "" || strings.TrimSpace(req.LastName) == "" {
		writeError(w, http.StatusBadRequest, "Bad Request", "first_name and last_name are required")
		return
	}
	s.mu.Lock()
	c := s.addCustomer(Customer{CustomerCode: req.CustomerCode, FirstName: req.FirstName, LastName: req.LastName,
		CompanyName: req.CompanyName, Email: req.Email, Phone: req.Phone, Address1: req.PhysicalAddress1,
		Address2: req.PhysicalAddress2, City: req.PhysicalCity, State: req.PhysicalState, Postcode: req.PhysicalPostcode,
		CountryID: req.PhysicalCountryID, Note: req.Note})
	s.mu.Unlock()
	if s.actFailed(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": c.wire()})
}
