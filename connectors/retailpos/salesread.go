package retailpos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/internal/httpapi"
	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

func init() {
	connectors.Sources.MustRegister(salesSourceSpec, connectors.SourceOf(NewSalesSource))
}

// POS statuses of a sale possync created (orders-apis.md A.7; domain README §7.3), the values of the
// retailpos_sales source's pos_status field.
const (
	POSOpen      = "open"
	POSReady     = "Ready for Pickup"
	POSCompleted = "Completed"
	POSRejected  = "Rejected"
)

// salesSourceSchema is the schema of the retailpos_sales source, one record per sale possync created.
var salesSourceSchema = arrow.NewSchema([]arrow.Field{
	{Name: order.ColOrderID, Type: arrow.BinaryTypes.String},
	{Name: "sale_id", Type: arrow.BinaryTypes.String},
	{Name: "invoice_number", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "pos_state", Type: arrow.BinaryTypes.String},
	{Name: "pos_status", Type: arrow.BinaryTypes.String},
	{Name: order.ColFulfilment, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "lines_total", Type: arrow.PrimitiveTypes.Int64},
	{Name: "lines_ready", Type: arrow.PrimitiveTypes.Int64},
	{Name: "partial", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "line_fulfilment", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "version", Type: arrow.PrimitiveTypes.Int64},
}, nil)

type salesSourceConfig struct {
	connection
	OrdersPipeline string `spec:"orders_pipeline"`
	InvoicePrefix  string `spec:"invoice_prefix"`
	APIVersion     string `spec:"api_version"`
}

// SalesSource is the retailpos_sales source: the sales the retailpos_orders sink created, read back by
// version cursor, with their POS status. Read is called once per run.
type SalesSource struct {
	cfg   salesSourceConfig
	read  *api
	write *httpapi.Client // the date-versioned API: fulfillments
}

var (
	_ connectors.Source           = (*SalesSource)(nil)
	_ connectors.ConnectionTester = (*SalesSource)(nil)
)

// NewSalesSource builds a retailpos_sales source; it checks the settings and touches no network.
func NewSalesSource(cfg spec.Config, _ connectors.Env) (*SalesSource, error) {
	c := salesSourceConfig{connection: defaultConnection(), InvoicePrefix: defaultInvoicePrefix, APIVersion: defaultAPIVersion}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	read, err := c.connect()
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(c.OrdersPipeline) == "" {
		return nil, fmt.Errorf("orders_pipeline is required: the name of the pipeline whose retailpos_orders sink created the sales")
	}
	return &SalesSource{cfg: c, read: read, write: read.versioned(c.APIVersion)}, nil
}

// SetSleep replaces how the source waits (retry back-offs, Retry-After), for tests and demos.
func (s *SalesSource) SetSleep(sleep func(ctx context.Context, d time.Duration) error) {
	s.read.c.Sleep = sleep
	s.write.Sleep = sleep
}

// Schema returns the fixed schema of sale statuses.
func (s *SalesSource) Schema() *arrow.Schema { return salesSourceSchema }

// Check asks for one sale, which proves the token and its sales scope.
func (s *SalesSource) Check(ctx context.Context) error {
	var body struct{}
	if err := s.read.forCheck().get(ctx, "/sales", url.Values{"page_size": {"1"}}, &body); err != nil {
		return fmt.Errorf("list sales: %w", err)
	}
	return nil
}

// salesCheckpoint is the source's checkpoint (JSON).
type salesCheckpoint struct {
	// SalesVersion is the highest sale version read: the next read asks for after=<it>.
	SalesVersion int64 `json:"sales_version"`
	// Fulfillments maps the pickup fulfillments in progress seen by the last read to their version and sale,
	// so a read looks up only the sales whose fulfillment moved, or left the states in progress.
	Fulfillments map[string]seenFulfillment `json:"fulfillments,omitempty"`
}

// seenFulfillment is a fulfillment in progress as the last read saw it.
type seenFulfillment struct {
	Version int64  `json:"version"`
	SaleID  string `json:"sale_id"`
}

// sale is the API 2.0 sale, the fields the source reads.
type sale struct {
	ID            string   `json:"id"`
	State         string   `json:"state"`
	Status        string   `json:"status"`
	Attributes    []string `json:"attributes"`
	InvoiceNumber string   `json:"invoice_number"`
	Source        string   `json:"source"`
	SourceID      string   `json:"source_id"`
	LineItems     []struct {
		ID        string  `json:"id"`
		ProductID string  `json:"product_id"`
		Quantity  float64 `json:"quantity"`
	} `json:"line_items"`
	Version int64 `json:"version"`
}

// fulfillment is a fulfillment of the date-versioned API (orders-apis.md A.6); quantities are decimal strings.
type fulfillment struct {
	ID        string `json:"id"`
	SaleID    string `json:"sale_id"`
	Type      string `json:"type"`
	State     string `json:"state"`
	Version   int64  `json:"version"`
	LineItems []struct {
		SaleLineItemID    string `json:"sale_line_item_id"`
		Quantity          string `json:"quantity"`
		PackedQuantity    string `json:"packed_quantity"`
		FulfilledQuantity string `json:"fulfilled_quantity"`
	} `json:"line_items"`
}

// inProgress are the pickup fulfillment states the source lists every run: between open and fulfilled.
var inProgress = []string{"STARTED", "PICKED", "PACKED"}

// Read reads the sales changed since the checkpoint and the sales whose pickup fulfillment moved, keeps
// those possync created, and reports them as changes keyed by order_id.
func (s *SalesSource) Read(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	var cp salesCheckpoint
	if len(req.Checkpoint) > 0 && !req.FullRefresh {
		if err := json.Unmarshal(req.Checkpoint, &cp); err != nil {
			return nil, fmt.Errorf("retailpos_sales: unreadable checkpoint: %w", err)
		}
	}
	after := cp.SalesVersion
	sales := map[string]*sale{}
	var ids []string
	others := 0
	next, err := each(ctx, s.read, "/sales", nil, after, func(items []sale) error {
		for i := range items {
			x := items[i]
			if s.orderID(&x) == "" {
				others++
				continue
			}
			if _, seen := sales[x.ID]; !seen {
				ids = append(ids, x.ID)
			}
			sales[x.ID] = &x
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("retailpos_sales: list sales: %w", err)
	}
	byS, seen, err := s.pickups(ctx)
	if err != nil {
		return nil, err
	}
	// A sale whose pickup fulfillment moved since the last read, or left the states in progress (fulfilled,
	// back to open), is read again, though its version did not move.
	movedSet := map[string]bool{}
	for saleID, fs := range byS {
		for _, f := range fs {
			if old, ok := cp.Fulfillments[f.ID]; (!ok || old.Version != f.Version) && sales[saleID] == nil {
				movedSet[saleID] = true
			}
		}
	}
	for id, old := range cp.Fulfillments {
		if _, still := seen[id]; !still && old.SaleID != "" && sales[old.SaleID] == nil {
			movedSet[old.SaleID] = true
		}
	}
	moved := make([]string, 0, len(movedSet))
	for id := range movedSet {
		moved = append(moved, id)
	}
	sort.Strings(moved)
	for _, id := range moved {
		var one struct {
			Data sale `json:"data"`
		}
		if err := s.read.get(ctx, "/sales/"+url.PathEscape(id), nil, &one); err != nil {
			return nil, fmt.Errorf("retailpos_sales: read sale %s: %w", id, err)
		}
		if s.orderID(&one.Data) == "" {
			continue
		}
		sales[id] = &one.Data
		ids = append(ids, id)
	}
	// A pending sale with no fulfillment in progress may have one fulfilled, or none yet: its own fulfillments
	// tell (one request per such sale that changed).
	for _, id := range ids {
		if x := sales[id]; x.State == "pending" && len(byS[id]) == 0 {
			fs, err := s.saleFulfillments(ctx, id)
			if err != nil {
				return nil, err
			}
			byS[id] = fs
		}
	}
	rows := make([]record.Record, 0, len(ids))
	var notes []string
	for _, id := range ids {
		r := s.record(sales[id], byS[id])
		if r["partial"] == true {
			notes = append(notes, fmt.Sprintf("order %s: %d of %d lines ready for pickup in the POS (the sale is partly fulfilled)",
				r[order.ColOrderID], r["lines_ready"], r["lines_total"]))
		}
		rows = append(rows, r)
	}
	if others > 0 {
		notes = append(notes, fmt.Sprintf("%d sales not created by pipeline %s were skipped", others, s.cfg.OrdersPipeline))
	}
	ncp := salesCheckpoint{SalesVersion: next, Fulfillments: seen}
	b, _ := json.Marshal(ncp) // plain fields always marshal
	alloc := req.Alloc
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	return connectors.RecordsReader(salesSourceSchema, rows, batchSize, alloc, connectors.ReadResult{Mode: connectors.Changes,
		Key: []string{order.ColOrderID}, Checkpoint: b, Notes: notes}), nil
}

// saleFulfillments lists the pickup fulfillments of one sale.
func (s *SalesSource) saleFulfillments(ctx context.Context, saleID string) ([]fulfillment, error) {
	var body struct {
		Data []fulfillment `json:"data"`
	}
	q := url.Values{"sale_id": {saleID}, "fulfillment_type": {"PICKUP"}, "page_size": {"100"}}
	if err := s.write.Do(ctx, "GET", "/fulfillments", q, nil, &body); err != nil {
		return nil, fmt.Errorf("retailpos_sales: list the fulfillments of sale %s: %w", saleID, err)
	}
	return body.Data, nil
}

// pickups lists the pickup fulfillments in progress, by sale, and their versions and sales by id.
func (s *SalesSource) pickups(ctx context.Context) (map[string][]fulfillment, map[string]seenFulfillment, error) {
	by := map[string][]fulfillment{}
	seen := map[string]seenFulfillment{}
	size := min(s.read.pageSize, 100)
	for _, state := range inProgress {
		for pg := 1; ; pg++ {
			var body struct {
				Data []fulfillment `json:"data"`
			}
			q := url.Values{"fulfillment_type": {"PICKUP"}, "fulfillment_state": {state},
				"page_number": {strconv.Itoa(pg)}, "page_size": {strconv.Itoa(size)}}
			if err := s.write.Do(ctx, "GET", "/fulfillments", q, nil, &body); err != nil {
				return nil, nil, fmt.Errorf("retailpos_sales: list %s pickup fulfillments: %w", state, err)
			}
			for _, f := range body.Data {
				by[f.SaleID] = append(by[f.SaleID], f)
				seen[f.ID] = seenFulfillment{Version: f.Version, SaleID: f.SaleID}
			}
			if len(body.Data) < size {
				break
			}
		}
	}
	return by, seen, nil
}

// orderID is the website order number of a sale possync created, "" for any other sale: the sale's id is
// our own (retailpos_orders' SaleID of orders_pipeline and the order id it carries as source id), or, for
// a POS that does not keep a client-given id, its source is possync and its invoice number is
// invoice_prefix + that order id.
func (s *SalesSource) orderID(x *sale) string {
	id := strings.TrimSpace(x.SourceID)
	if id == "" {
		return ""
	}
	if x.ID == SaleID(s.cfg.OrdersPipeline, id) {
		return id
	}
	// A version 5 id that is not ours is another pipeline's sale; the POS itself gives random (version 4) ids.
	if !isV5(x.ID) && strings.EqualFold(x.Source, "possync") && x.InvoiceNumber == s.cfg.InvoicePrefix+id {
		return id
	}
	return ""
}

// isV5 reports whether id is a UUID of version 5 (the ids retailpos_orders gives its sales).
func isV5(id string) bool { return len(id) == 36 && id[14] == '5' }

// lineState is one sale line's fulfilment, as line_fulfilment shows it.
type lineState struct {
	LineID    string  `json:"line_id"`
	ProductID string  `json:"product_id"`
	Quantity  float64 `json:"quantity"`
	Packed    float64 `json:"packed"`
	Fulfilled float64 `json:"fulfilled"`
}

// record is a sale's status row (orders-apis.md A.7): voided → Rejected; closed, or pending with every line
// fulfilled in its pickup fulfillments → Completed; pending with every line packed (or fulfilled) → Ready for
// Pickup; some lines only → open and partial; else open.
func (s *SalesSource) record(x *sale, fs []fulfillment) record.Record {
	status := POSOpen
	switch x.State {
	case "voided":
		status = POSRejected
	case "closed":
		status = POSCompleted
	}
	fulfil := any(nil)
	switch {
	case slices.Contains(x.Attributes, "pickup"):
		fulfil = order.FulfilPickup
	case slices.Contains(x.Attributes, "delivery"):
		fulfil = order.FulfilDelivery
	}
	ready := map[string]float64{}
	fulfilled := map[string]float64{}
	for _, f := range fs {
		for _, l := range f.LineItems {
			p, _ := strconv.ParseFloat(l.PackedQuantity, 64)
			d, _ := strconv.ParseFloat(l.FulfilledQuantity, 64)
			ready[l.SaleLineItemID] += max(p, d)
			fulfilled[l.SaleLineItemID] += d
		}
	}
	var lines []lineState
	total, done := 0, 0
	for _, l := range x.LineItems {
		_, inFulfillment := ready[l.ID]
		if l.Quantity <= 0 || (len(fs) > 0 && !inFulfillment) {
			continue // a discount line; with fulfillments, a line none holds (shipping, a service)
		}
		total++
		if ready[l.ID] >= l.Quantity {
			done++
		}
		lines = append(lines, lineState{LineID: l.ID, ProductID: l.ProductID, Quantity: l.Quantity, Packed: ready[l.ID], Fulfilled: fulfilled[l.ID]})
	}
	partial := false
	if status == POSOpen && len(fs) > 0 {
		handed := 0
		for _, l := range lines {
			if l.Fulfilled >= l.Quantity {
				handed++
			}
		}
		switch {
		case total > 0 && handed == total:
			status = POSCompleted // picked up, the sale not closed yet (a layby still owing)
		case total > 0 && done == total:
			status = POSReady
		case done > 0:
			partial = true
		}
	}
	var lf any
	if len(fs) > 0 {
		b, _ := json.Marshal(lines) // plain fields always marshal
		lf = string(b)
	}
	return record.Record{order.ColOrderID: s.orderID(x), "sale_id": x.ID, "invoice_number": nullText(x.InvoiceNumber),
		"pos_state": x.State, "pos_status": status, order.ColFulfilment: fulfil, "lines_total": int64(total),
		"lines_ready": int64(done), "partial": partial, "line_fulfilment": lf, "version": x.Version}
}
