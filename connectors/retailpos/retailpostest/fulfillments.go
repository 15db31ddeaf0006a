package retailpostest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Sale states and fulfillments, for the retailpos_sales source (orders-apis.md A.2, A.6, A.7):
//
//   - SetSaleState moves a sale to another state (pending, closed, voided; back to pending for a reopened
//     sale) and gives it a new version, as the POS does when a cashier completes, voids or reopens a sale.
//   - GET FulfillmentsPath (/api/2026-07/fulfillments?sale_id=&outlet_id=&fulfillment_type=&fulfillment_state=
//     &page_number=&page_size=): the fulfillments, paged by page number (page_size at most 100), each with its
//     line items' quantity and picked, packed and fulfilled quantities as decimal strings. A fulfillment
//     changing does not change its sale's version (the documentation does not say it does; the emulator takes
//     that reading, so a reader must look at the fulfillments themselves).

// FulfillmentsPath is the date-versioned fulfillments endpoint.
const FulfillmentsPath = WritePath + "/fulfillments"

// Fulfillment types and states (orders-apis.md A.6).
const (
	FulfilPickup   = "PICKUP"
	FulfilDispatch = "DISPATCH"

	FulfilOpen      = "OPEN"
	FulfilStarted   = "STARTED"
	FulfilPicked    = "PICKED"
	FulfilPacked    = "PACKED"
	FulfilFulfilled = "FULFILLED"
)

// Fulfillment is one fulfillment of a sale (one per sale, outlet and type).
type Fulfillment struct {
	// ID is assigned when empty.
	ID       string
	SaleID   string
	OutletID string
	Type     string
	State    string
	Lines    []FulfillmentLine
	Version  int64
}

// FulfillmentLine is one sale line in a fulfillment.
type FulfillmentLine struct {
	// SaleLineItemID is the sale line's id (SaleLineID).
	SaleLineItemID string
	Quantity       float64
	Picked         float64
	Packed         float64
	Fulfilled      float64
}

// SaleLineID is the id of line i (from 0) of a sale, as GET /sales shows it.
func SaleLineID(saleID string, i int) string { return hashID("line", saleID, fmt.Sprint(i)) }

// SetSaleState sets the state of the sale with id (keeping its attributes) and gives it a new version. It
// reports whether the sale exists.
func (s *Server) SetSaleState(id, state string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.sd.salesByV.get(id)
	if !ok {
		return false
	}
	x.State, x.Version = state, s.nextVersion()
	s.sd.salesByV.put(id, x, x.Version)
	for i := range s.sd.sales {
		if s.sd.sales[i].ID == id {
			s.sd.sales[i].State, s.sd.sales[i].Version = state, x.Version
		}
	}
	return true
}

// PackForPickup records that the given lines (indexes from 0; none: every line) of a sale are packed for
// pickup at its outlet: its PICKUP fulfillment (created when missing) gets those lines packed, and state
// PACKED once every line is, PICKED before. It returns the fulfillment.
func (s *Server) PackForPickup(saleID string, lines ...int) Fulfillment {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.sd.salesByV.get(saleID)
	if !ok {
		panic(fmt.Sprintf("retailpostest: PackForPickup: no sale %q", saleID))
	}
	var f Fulfillment
	for _, g := range s.sd.fulfillments {
		if g.SaleID == saleID && g.Type == FulfilPickup {
			f = g
		}
	}
	if f.ID == "" {
		f = Fulfillment{ID: s.newID(), SaleID: saleID, OutletID: x.OutletID, Type: FulfilPickup, State: FulfilOpen}
		for i, l := range x.Lines {
			f.Lines = append(f.Lines, FulfillmentLine{SaleLineItemID: SaleLineID(saleID, i), Quantity: l.Quantity})
		}
	}
	f.Lines = slices.Clone(f.Lines)
	all := true
	for i := range f.Lines {
		if len(lines) == 0 || slices.Contains(lines, i) {
			f.Lines[i].Picked, f.Lines[i].Packed = f.Lines[i].Quantity, f.Lines[i].Quantity
		}
		all = all && f.Lines[i].Packed >= f.Lines[i].Quantity
	}
	f.State = FulfilPicked
	if all {
		f.State = FulfilPacked
	}
	return s.putFulfillment(f)
}

// SetFulfillment creates or replaces a fulfillment (an empty ID gets a new one) with a new version.
func (s *Server) SetFulfillment(f Fulfillment) Fulfillment {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.ID == "" {
		f.ID = s.newID()
	}
	f.Lines = slices.Clone(f.Lines)
	return s.putFulfillment(f)
}

func (s *Server) putFulfillment(f Fulfillment) Fulfillment {
	f.Version = s.nextVersion()
	for i := range s.sd.fulfillments {
		if s.sd.fulfillments[i].ID == f.ID {
			s.sd.fulfillments[i] = f
			return f
		}
	}
	s.sd.fulfillments = append(s.sd.fulfillments, f)
	return f
}

type wireFulfillmentLine struct {
	SaleLineItemID    string `json:"sale_line_item_id"`
	Quantity          string `json:"quantity"`
	PickedQuantity    string `json:"picked_quantity"`
	PackedQuantity    string `json:"packed_quantity"`
	FulfilledQuantity string `json:"fulfilled_quantity"`
}

type wireFulfillment struct {
	ID        string                `json:"id"`
	SaleID    string                `json:"sale_id"`
	OutletID  string                `json:"outlet_id"`
	Type      string                `json:"type"`
	State     string                `json:"state"`
	Version   int64                 `json:"version"`
	LineItems []wireFulfillmentLine `json:"line_items"`
}

func decimal(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (f *Fulfillment) wire() wireFulfillment {
	w := wireFulfillment{ID: f.ID, SaleID: f.SaleID, OutletID: f.OutletID, Type: f.Type, State: f.State, Version: f.Version,
		LineItems: []wireFulfillmentLine{}}
	for _, l := range f.Lines {
		w.LineItems = append(w.LineItems, wireFulfillmentLine{SaleLineItemID: l.SaleLineItemID, Quantity: decimal(l.Quantity),
			PickedQuantity: decimal(l.Picked), PackedQuantity: decimal(l.Packed), FulfilledQuantity: decimal(l.Fulfilled)})
	}
	return w
}

// listFulfillments answers GET FulfillmentsPath.
func (s *Server) listFulfillments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, pageNo := 20, 1
	for name, dst := range map[string]*int{"page_size": &size, "page_number": &pageNo} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				writeError(w, http.StatusBadRequest, "Bad Request", name+" must be a positive integer")
				return
			}
			*dst = n
		}
	}
	if size > 100 {
		writeError(w, http.StatusBadRequest, "Bad Request", "page_size must be at most 100")
		return
	}
	match := func(param, v string) bool { return !q.Has(param) || strings.EqualFold(q.Get(param), v) }
	s.mu.Lock()
	var out []wireFulfillment
	for i := range s.sd.fulfillments {
		f := &s.sd.fulfillments[i]
		if match("sale_id", f.SaleID) && match("outlet_id", f.OutletID) && match("fulfillment_type", f.Type) &&
			match("fulfillment_state", f.State) {
			out = append(out, f.wire())
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": pageOf(nonNilSlice(out), pageNo, size)})
}

// AddSale stores a sale as if created through SalesPath (an empty ID gets a new one; CreatedAt defaults to the
// clock), for demos and tests that start from sales already in the POS. It returns the sale as stored.
func (s *Server) AddSale(x Sale) Sale {
	s.mu.Lock()
	defer s.mu.Unlock()
	if x.ID == "" {
		x.ID = s.newID()
	}
	if x.CreatedAt.IsZero() {
		x.CreatedAt = s.opts.Now().UTC()
	}
	x.Attributes, x.Lines = slices.Clone(x.Attributes), slices.Clone(x.Lines)
	x.Version = s.nextVersion()
	s.sd.sales = append(s.sd.sales, x)
	s.sd.salesByV.put(x.ID, x, x.Version)
	return x
}
