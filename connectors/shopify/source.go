// Package shopify is the shopify_orders source: a Shopify store's orders, read through the Admin GraphQL
// API as order records (connectors/order), incrementally by updatedAt, paced by the query cost the API
// reports, and marked as imported (a tag or a metafield) when the runner confirms them.
//
// It owns the GraphQL client (cost-based pacing, THROTTLED and retry handling, errors that never carry the
// token), the mapping of Shopify's Order object to the order record, the updatedAt checkpoint with its overlap
// window, and the Confirmer. Reads are connectors.Changes keyed by order_id: the runner keeps every order read
// in its state, so an order that order_match holds back is evaluated again on later runs although the
// checkpoint has moved past it, and an order read again (overlap, a new tag) is not imported twice. The
// emulator it is tested against lives in shopifytest.
package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

func init() {
	connectors.Sources.MustRegister(sourceSpec, newSource)
}

// newSource builds the source; with confirm: false it is wrapped by connectors.WithoutConfirm, so the runner
// never asks it to confirm.
func newSource(cfg spec.Config, env connectors.Env) (connectors.Source, error) {
	s, err := NewSource(cfg, env)
	if err != nil {
		return nil, err
	}
	if s.readOnly {
		return connectors.WithoutConfirm(s), nil
	}
	return s, nil
}

// Defaults (also declared in sourceSpec).
const (
	defaultAPIVersion = "2025-10"
	defaultTag        = "possync-imported"
	defaultOverlap    = 5 * time.Minute
	defaultTimeout    = 30 * time.Second
	defaultLineItems  = 10
	maxPageSize       = 250
	batchSize         = 1024
)

// connection is the settings the shopify source and the shopify_status sink share, embedded in their config
// structs (spec.Config.Decode reads an embedded struct's fields at the same level, so the YAML stays flat).
type connection struct {
	Shop       string        `spec:"shop"`
	BaseURL    string        `spec:"base_url"`
	Token      spec.Secret   `spec:"token"`
	APIVersion string        `spec:"api_version"`
	OrderID    string        `spec:"order_id"`
	Timeout    time.Duration `spec:"timeout"`
}

// defaultConnection returns the shared settings' defaults (also declared in the components' specs).
func defaultConnection() connection {
	return connection{APIVersion: defaultAPIVersion, OrderID: "name", Timeout: defaultTimeout}
}

// check checks the shared settings but the timeout (a base URL or a shop handle, a token, an API version,
// order_id name or id) and returns the shop's root URL. Each component checks the timeout among its own
// settings.
func (c connection) check() (*url.URL, error) {
	base, err := shopURL(c.BaseURL, c.Shop)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Token.IsZero():
		return nil, fmt.Errorf("token is required (an Admin API access token, e.g. ${SHOPIFY_TOKEN})")
	case !apiVersion.MatchString(c.APIVersion):
		return nil, fmt.Errorf("api_version %q must be a Shopify API version such as %s", c.APIVersion, defaultAPIVersion)
	case c.OrderID != "name" && c.OrderID != "id":
		return nil, fmt.Errorf("order_id must be name or id, not %q", c.OrderID)
	}
	return base, nil
}

type sourceConfig struct {
	connection
	Since              string        `spec:"since"`
	Overlap            time.Duration `spec:"overlap"`
	Mark               string        `spec:"mark"`
	MarkTag            string        `spec:"mark_tag"`
	MetafieldNamespace string        `spec:"metafield_namespace"`
	MetafieldKey       string        `spec:"metafield_key"`
	PageSize           int           `spec:"page_size"`
	LineItems          int           `spec:"line_items"`
	Confirm            bool          `spec:"confirm"`
}

// Source reads a shop's orders and confirms the imported ones. Read is called once per run; Confirm uses
// what the last Read saw (each order's global id and whether it already carries the mark).
type Source struct {
	api       *client
	byName    bool
	since     time.Time
	overlap   time.Duration
	mark      string // "tag", "metafield" or "none"
	tag       string
	namespace string
	key       string
	pageSize  int
	lineItems int
	// readOnly (confirm: false): no Confirm, and the records carry the imported column.
	readOnly bool
	schema   *arrow.Schema

	mu   sync.Mutex
	seen map[string]*seenOrder // order_id → what the last read saw
}

// seenOrder is what a read learnt of an order for Confirm.
type seenOrder struct {
	gid, name string
	marked    bool
}

var (
	_ connectors.Source           = (*Source)(nil)
	_ connectors.Confirmer        = (*Source)(nil)
	_ connectors.ConnectionTester = (*Source)(nil)
)

var (
	shopHandle = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$`)
	apiVersion = regexp.MustCompile(`^([0-9]{4}-(01|04|07|10)|unstable)$`)
)

// NewSource builds a source from its configuration. It checks every setting and touches no network.
func NewSource(cfg spec.Config, _ connectors.Env) (*Source, error) {
	c := sourceConfig{connection: defaultConnection(), Overlap: defaultOverlap, Mark: "tag",
		MarkTag: defaultTag, MetafieldNamespace: "possync", MetafieldKey: "imported_at", PageSize: maxPageSize,
		LineItems: defaultLineItems, Confirm: true}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	base, err := c.check()
	if err != nil {
		return nil, err
	}
	s := &Source{byName: c.OrderID != "id", overlap: c.Overlap, mark: c.Mark, tag: strings.TrimSpace(c.MarkTag),
		namespace: c.MetafieldNamespace, key: c.MetafieldKey, pageSize: c.PageSize, lineItems: c.LineItems,
		readOnly: !c.Confirm, schema: order.Schema()}
	if s.readOnly {
		s.schema = arrow.NewSchema(append(order.Schema().Fields(),
			arrow.Field{Name: order.ColImported, Type: arrow.FixedWidthTypes.Boolean, Nullable: true}), nil)
	}
	switch {
	case c.PageSize < 1 || c.PageSize > maxPageSize:
		return nil, fmt.Errorf("page_size must be between 1 and %d (Shopify's page limit), not %d", maxPageSize, c.PageSize)
	case c.LineItems < 1 || c.LineItems > maxPageSize:
		return nil, fmt.Errorf("line_items must be between 1 and %d, not %d", maxPageSize, c.LineItems)
	case c.Overlap < 0:
		return nil, fmt.Errorf("overlap must not be negative")
	case c.Timeout <= 0:
		return nil, fmt.Errorf("timeout must be positive, not %s", c.Timeout)
	case c.Mark != "tag" && c.Mark != "metafield" && c.Mark != "none":
		return nil, fmt.Errorf("mark must be tag, metafield or none, not %q", c.Mark)
	case c.Mark == "tag" && s.tag == "":
		return nil, fmt.Errorf("mark_tag must not be empty with mark: tag")
	case c.Mark == "tag" && (len(s.tag) > 255 || strings.Contains(s.tag, ",")):
		return nil, fmt.Errorf("mark_tag %q must be at most 255 characters without a comma", s.tag)
	case c.Mark == "metafield" && (len(c.MetafieldNamespace) < 3 || len(c.MetafieldKey) < 2):
		return nil, fmt.Errorf("metafield_namespace needs at least 3 characters and metafield_key at least 2")
	}
	if c.Since != "" {
		t, err := time.Parse(time.RFC3339, c.Since)
		if err != nil {
			return nil, fmt.Errorf("since %q must be an RFC 3339 time such as 2026-11-01T00:00:00Z", c.Since)
		}
		s.since = t.UTC()
	}
	s.api = newClient(base, c.APIVersion, c.Token, c.Timeout)
	return s, nil
}

// shopURL returns base_url when set, else the shop's myshopify.com root.
func shopURL(raw, shop string) (*url.URL, error) {
	if raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return nil, fmt.Errorf("base_url %q must be an http(s) URL such as https://acme.myshopify.com", raw)
		}
		return u, nil
	}
	shop = strings.TrimSuffix(strings.TrimSpace(shop), ".myshopify.com")
	switch {
	case shop == "":
		return nil, fmt.Errorf("set shop (the acme of acme.myshopify.com) or base_url")
	case !shopHandle.MatchString(shop):
		return nil, fmt.Errorf("shop %q must be the store's myshopify handle, e.g. acme for acme.myshopify.com", shop)
	}
	return url.Parse("https://" + shop + ".myshopify.com")
}

// Schema returns the order record schema (and the imported column, with confirm: false).
func (s *Source) Schema() *arrow.Schema { return s.schema }

// Check asks for the shop's name, which proves the URL and the token.
func (s *Source) Check(ctx context.Context) error {
	return s.api.do(ctx, "shop", "shop", shopQuery, nil, nil)
}

// checkpoint is the source's state between runs (ReadResult.Checkpoint, JSON).
type checkpoint struct {
	// UpdatedAt is the latest updatedAt read (or just before an order that had to be rejected).
	UpdatedAt time.Time `json:"updated_at"`
	// PageSize is the page size that fit Shopify's single-query cost limit, when page_size did not: the
	// next read starts with it instead of being refused once more.
	PageSize int `json:"page_size,omitempty"`
}

// Read reads the orders updated since the checkpoint minus the overlap (all orders, or those updated since
// `since`, on the first run and on a full refresh). All requests happen here; the reader only builds batches.
func (s *Source) Read(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	var prev *checkpoint
	var notes []string
	if len(req.Checkpoint) > 0 && !req.FullRefresh {
		var cp checkpoint
		if err := json.Unmarshal(req.Checkpoint, &cp); err != nil || cp.UpdatedAt.IsZero() {
			notes = append(notes, "shopify_orders: the checkpoint is unreadable; reading every order again")
		} else {
			prev = &cp
		}
	}
	from := s.since
	if prev != nil {
		from = prev.UpdatedAt.Add(-s.overlap)
	}
	filter := ""
	if !from.IsZero() {
		// Quoted: Shopify ignores the time of an unquoted date-time. Seconds, rounded down (>= keeps the order
		// updated in that second).
		filter = fmt.Sprintf("updated_at:>='%s'", from.UTC().Truncate(time.Second).Format(time.RFC3339))
	}
	statsBefore := s.api.snapshot()
	rd := &reading{s: s, filter: filter, first: s.pageSize, index: map[string]int{}, seen: map[string]*seenOrder{}}
	if prev != nil && prev.PageSize > 0 && prev.PageSize < rd.first {
		rd.first = prev.PageSize
	}
	if err := rd.run(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.seen = rd.seen
	s.mu.Unlock()

	next := checkpoint{}
	if prev != nil {
		next = *prev
	}
	high := rd.high
	if !rd.lowestReject.IsZero() && (high.IsZero() || !rd.lowestReject.After(high)) {
		// Stay before the first rejected order, so the next read (from here minus the overlap) sees it again.
		high = rd.lowestReject.Add(-time.Second)
	}
	if high.After(next.UpdatedAt) {
		next.UpdatedAt = high
	}
	next.PageSize = 0
	if rd.first < s.pageSize {
		next.PageSize = rd.first
	}
	var cpBytes []byte
	if !next.UpdatedAt.IsZero() {
		cpBytes, _ = json.Marshal(next)
	}
	st := s.api.snapshot()
	if n := st.throttled - statsBefore.throttled; n > 0 {
		notes = append(notes, fmt.Sprintf("shopify_orders: Shopify throttled %d request(s); the read waited %s in all for the query cost to restore",
			n, (st.waited-statsBefore.waited).Round(time.Millisecond)))
	}
	alloc := req.Alloc
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	rows := make([]record.Record, 0, len(rd.rows))
	for _, r := range rd.rows {
		if r != nil {
			rows = append(rows, r)
		}
	}
	return connectors.RecordsReader(s.schema, rows, batchSize, alloc, connectors.ReadResult{Mode: connectors.Changes,
		Key: []string{order.ColOrderID}, Checkpoint: cpBytes, Rejects: rd.rejects, Notes: notes}), nil
}

// reading is one read's progress.
type reading struct {
	s      *Source
	filter string
	first  int // orders per page
	rows   []record.Record
	index  map[string]int // order_id → position in rows (an order read twice keeps its last version)
	seen   map[string]*seenOrder
	high   time.Time
	// lowestReject is the earliest updatedAt of a rejected order.
	lowestReject time.Time
	rejects      []connectors.Reject
}

// run reads every page.
func (rd *reading) run(ctx context.Context) error {
	s := rd.s
	after := ""
	query := ordersQuery(s.mark == "metafield")
	for page := 1; ; page++ {
		first := rd.first
		vars := map[string]any{"first": first, "query": nullable(rd.filter), "lines": s.lineItems, "after": nullable(after)}
		if s.mark == "metafield" {
			vars["ns"], vars["key"] = s.namespace, s.key
		}
		op := fmt.Sprintf("orders page %d", page)
		if rd.filter != "" {
			op += " (" + rd.filter + ")"
		}
		var data ordersData
		err := s.api.do(ctx, "orders", op, query, vars, &data)
		var e *Error
		if errors.As(err, &e) && e.Code == "MAX_COST_EXCEEDED" && first == 1 {
			return fmt.Errorf("%w: one order costs more than Shopify allows per query; lower line_items", err)
		}
		if errors.As(err, &e) && e.Code == "MAX_COST_EXCEEDED" {
			// cost = 2 + first × (cost of one order): take as many orders as the limit allows (half as many
			// when Shopify does not say the cost).
			smaller := first / 2
			if e.cost > 2 && e.maxCost > 2 {
				perOrder := (e.cost - 2) / float64(first)
				smaller = min(first-1, int((e.maxCost-2)/perOrder))
			}
			if smaller < 1 {
				return fmt.Errorf("%w: one order costs more than the limit; lower line_items", err)
			}
			rd.first = smaller
			page--
			continue
		}
		if err != nil {
			return err
		}
		if data.Orders == nil {
			return &Error{Op: op, Message: "the answer has no orders"}
		}
		for i := range data.Orders.Nodes {
			if err := rd.add(ctx, &data.Orders.Nodes[i], fmt.Sprintf("orders page %d, order %d", page, i+1)); err != nil {
				return err
			}
		}
		if !data.Orders.PageInfo.HasNextPage {
			return nil
		}
		if data.Orders.PageInfo.EndCursor == "" {
			return &Error{Op: op, Message: "hasNextPage without an endCursor"}
		}
		after = data.Orders.PageInfo.EndCursor
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// add maps one order (reading its remaining line items first) and keeps it.
func (rd *reading) add(ctx context.Context, o *orderNode, where string) error {
	s := rd.s
	id := o.Name
	if !s.byName {
		id = o.LegacyResourceID
		if id == "" {
			id = gidTail(o.ID)
		}
	}
	if id == "" || o.ID == "" {
		rd.rejects = append(rd.rejects, connectors.Reject{Where: where, Reason: "the order has no id or name"})
		return nil
	}
	lines := o.LineItems.Nodes
	for pi, more := o.LineItems.PageInfo, o.LineItems.PageInfo.HasNextPage; more; more = pi.HasNextPage {
		var data orderLinesData
		op := fmt.Sprintf("order %s line items after %d", o.Name, len(lines))
		if err := s.api.do(ctx, "order lines", op, orderLinesQuery, map[string]any{"id": o.ID, "after": pi.EndCursor}, &data); err != nil {
			return err
		}
		if data.Order == nil {
			return &Error{Op: op, Message: "the order is gone"}
		}
		lines = append(lines, data.Order.LineItems.Nodes...)
		pi = data.Order.LineItems.PageInfo
	}
	rec, updated, err := orderRecord(o, lines, id)
	if err != nil {
		rd.rejects = append(rd.rejects, connectors.Reject{Where: where + " (" + o.Name + ")",
			Key: map[string]any{order.ColOrderID: id}, Reason: err.Error()})
		if t, perr := parseTime(o.UpdatedAt); perr == nil && !t.IsZero() && (rd.lowestReject.IsZero() || t.Before(rd.lowestReject)) {
			rd.lowestReject = t
		}
		return nil
	}
	if updated.After(rd.high) {
		rd.high = updated
	}
	marked := false
	switch s.mark {
	case "tag":
		for _, t := range o.Tags {
			marked = marked || strings.EqualFold(strings.TrimSpace(t), s.tag)
		}
	case "metafield":
		marked = o.Mark != nil && o.Mark.Value != ""
	}
	rd.seen[id] = &seenOrder{gid: o.ID, name: o.Name, marked: marked}
	if s.readOnly {
		rec[order.ColImported] = marked
	}
	if i, ok := rd.index[id]; ok {
		rd.rows[i] = nil // read again later in the same read (updated meanwhile): keep the newer version
	}
	rd.index[id] = len(rd.rows)
	rd.rows = append(rd.rows, rec)
	return nil
}
