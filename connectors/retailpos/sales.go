package retailpos

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/internal/httpapi"
	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

func init() {
	connectors.Sinks.MustRegister(salesSpec, connectors.SinkOf(NewSalesSink))
}

// salesBatchSize is the number of orders per Apply call: small, so that the state records progress often
// (each order costs a few requests).
const salesBatchSize = 25

// resends bounds how often one order is sent again after an answer was lost and the lookup did not find it;
// lookupDelay (times the attempt) is the wait before that lookup.
const (
	resends     = 3
	lookupDelay = 2 * time.Second
)

// salesConfig is the retailpos_orders sink's configuration. The sink declares no page_size: its connection's
// PageSize stays defaultPageSize.
type salesConfig struct {
	connection
	UserID          string            `spec:"user_id"`
	SaleType        string            `spec:"sale_type"`
	Registers       map[string]string `spec:"registers"`
	ShippingProduct string            `spec:"shipping_product"`
	DiscountProduct string            `spec:"discount_product"`
	Tax             string            `spec:"tax"`
	NoTax           string            `spec:"no_tax"`
	InvoicePrefix   string            `spec:"invoice_prefix"`
	CustomerPrefix  string            `spec:"customer_prefix"`
	APIVersion      string            `spec:"api_version"`
}

// SalesSink is the retailpos_orders sink. It is used by one goroutine at a time.
type SalesSink struct {
	cfg      salesConfig
	pipeline string
	read     *api            // API 2.0: lookups and searches
	write    *httpapi.Client // the date-versioned API: creations
	// setup is what every sale needs, loaded once (outlets, registers, taxes, products).
	setup *salesSetup
}

var (
	_ connectors.Sink             = (*SalesSink)(nil)
	_ connectors.Batcher          = (*SalesSink)(nil)
	_ connectors.Reconciler       = (*SalesSink)(nil)
	_ connectors.ConnectionTester = (*SalesSink)(nil)
	_ connectors.Estimator        = (*SalesSink)(nil)
)

// NewSalesSink builds the sink. The records must carry order_id (the key) and lines; it sends no request.
func NewSalesSink(cfg spec.Config, env connectors.Env) (*SalesSink, error) {
	c := salesConfig{connection: defaultConnection(), SaleType: "layby",
		NoTax: defaultNoTax, InvoicePrefix: defaultInvoicePrefix, CustomerPrefix: defaultCustomerPrefix,
		APIVersion: defaultAPIVersion}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	read, err := c.connect()
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(c.UserID) == "" {
		return nil, fmt.Errorf("user_id is required (the X-Series user the sales are recorded by)")
	}
	if c.SaleType != "layby" && c.SaleType != "onaccount" {
		return nil, fmt.Errorf("sale_type %q must be layby or onaccount", c.SaleType)
	}
	if env.Schema != nil {
		for _, f := range []string{order.ColOrderID, order.ColLines} {
			if len(env.Schema.FieldIndices(f)) == 0 {
				return nil, fmt.Errorf("the records lack %s: feed the sink order records (an order source through order_match)", f)
			}
		}
	}
	if len(env.Key) > 0 && !slices.Equal(env.Key, []string{order.ColOrderID}) {
		return nil, fmt.Errorf("the pipeline key is %s; the orders sink needs key: order_id", strings.Join(env.Key, ","))
	}
	w := read.versioned(c.APIVersion)
	if w.Sleep == nil {
		w.Sleep = httpapi.Sleep
	}
	return &SalesSink{cfg: c, pipeline: env.Pipeline, read: read, write: w}, nil
}

// SetSleep replaces how the sink waits (retry back-offs, Retry-After), for tests and demos.
func (s *SalesSink) SetSleep(sleep func(ctx context.Context, d time.Duration) error) {
	s.read.c.Sleep = sleep
	s.write.Sleep = sleep
}

// BatchSize asks the runner for a few orders per Apply call.
func (s *SalesSink) BatchSize() int { return salesBatchSize }

// Check loads what every sale needs (outlets, registers, taxes, the shipping and discount products), which
// proves the token and the settings.
func (s *SalesSink) Check(ctx context.Context) error {
	_, err := s.load(ctx)
	return err
}

// Close releases idle connections.
func (s *SalesSink) Close() error {
	s.read.c.HTTP.CloseIdleConnections()
	return nil
}

// SaleID is the sale id the sink gives the order orderID of pipeline: a UUID version 5 (SHA-1, RFC 9562) of
// both, the same on every attempt and every run.
func SaleID(pipeline, orderID string) string {
	// namespace: the UUID 6ba7b811-9dad-11d1-80b4-00c04fd430c8 (URL), with a possync name.
	ns := []byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns)
	h.Write([]byte("possync:retailpos_orders:" + pipeline + "\x00" + orderID))
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Apply creates one sale per Create change; updates and deletions are refused (*connectors.ChangeError).
func (s *SalesSink) Apply(ctx context.Context, changes []connectors.Change) ([]error, error) {
	outcomes := make([]error, len(changes))
	for i := range outcomes {
		outcomes[i] = connectors.ErrNotAttempted
	}
	setup, err := s.load(ctx)
	if err != nil {
		return outcomes, err
	}
	for i := range changes {
		c := &changes[i]
		if c.Action != connectors.Create {
			outcomes[i] = &connectors.ChangeError{Reason: fmt.Sprintf("retailpos_orders never %ss a POS sale: an order "+
				"already imported stays as it is (set diff.on_change: keep and diff.on_missing: keep)", c.Action)}
			continue
		}
		err := s.createOrder(ctx, setup, c.After)
		var ce *connectors.ChangeError
		switch {
		case err == nil:
			outcomes[i] = nil
		case errors.As(err, &ce):
			outcomes[i] = ce
		default:
			outcomes[i] = err
			return outcomes, err
		}
	}
	return outcomes, nil
}

// Reconcile tells which orders of an interrupted run became sales: a creation landed when the sale with our
// id exists. Updates and deletions never land (they are refused).
func (s *SalesSink) Reconcile(ctx context.Context, changes []connectors.Change) ([]bool, error) {
	landed := make([]bool, len(changes))
	for i, c := range changes {
		if c.Action != connectors.Create {
			continue
		}
		id, _ := c.Key[order.ColOrderID].(string)
		found, err := s.saleExists(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("reconcile order %s: %w", id, err)
		}
		landed[i] = found
	}
	return landed, nil
}

// createOrder makes the sale of one order: its customer first when it has none, then the sale, looked up
// by our id after every lost answer before anything is sent again.
func (s *SalesSink) createOrder(ctx context.Context, setup *salesSetup, r record.Record) error {
	orderID := field(r, order.ColOrderID)
	fail := func(format string, args ...any) error {
		return &connectors.ChangeError{Reason: fmt.Sprintf("order %s: ", orderID) + fmt.Sprintf(format, args...)}
	}
	body, err := s.saleBody(setup, r)
	if err != nil {
		return fail("%v", err)
	}
	if body.CustomerID == "" {
		if body.CustomerID, err = s.ensureCustomer(ctx, r); err != nil {
			return s.classify(orderID, err)
		}
	}
	for attempt := 1; ; attempt++ {
		err := s.write.Do(ctx, http.MethodPost, "/sales", nil, body, nil)
		var ue *httpapi.UncertainError
		var se *httpapi.StatusError
		switch {
		case errors.As(err, &ue):
			// The POS may still be finishing the first attempt: give it a moment before asking.
			if err := s.write.Sleep(ctx, time.Duration(attempt)*lookupDelay); err != nil {
				return err
			}
		case errors.As(err, &se) && se.Status == http.StatusConflict:
			// How the POS answers a second sale with our id is undocumented; a conflict may be that.
		default:
			return s.classify(orderID, err)
		}
		found, lerr := s.saleExists(ctx, orderID)
		if lerr != nil {
			return fmt.Errorf("order %s: %v; looking the sale up failed too: %w", orderID, err, lerr)
		}
		if found {
			return nil
		}
		if se != nil && se.Status == http.StatusConflict {
			return s.classify(orderID, err)
		}
		if attempt >= resends {
			return fmt.Errorf("order %s: %w (sent %d times, the sale is not there)", orderID, err, attempt)
		}
	}
}

// classify turns an API error into a ChangeError when the POS refused the order itself (4xx but 401, 403,
// 408 and 429), and leaves every other error as one that stops the run.
func (s *SalesSink) classify(orderID string, err error) error {
	var se *httpapi.StatusError
	if errors.As(err, &se) && se.Status/100 == 4 && !se.Temporary() &&
		se.Status != http.StatusUnauthorized && se.Status != http.StatusForbidden {
		return &connectors.ChangeError{Status: se.Status, Reason: fmt.Sprintf("order %s: %v", orderID, err)}
	}
	if err != nil && (errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden)) {
		return fmt.Errorf("the Retail POS refused the token (check it may write sales and customers): %w", err)
	}
	if err != nil {
		return fmt.Errorf("order %s: %w", orderID, err)
	}
	return nil
}

// saleExists reports whether the order's sale exists: by our sale id (GET /sales/{id}), else by its invoice
// number (GET /search?type=sales&invoice_number=), for a POS that would not keep a client-given id. Both are
// GETs, retried as every GET.
func (s *SalesSink) saleExists(ctx context.Context, orderID string) (bool, error) {
	id := SaleID(s.pipeline, orderID)
	var one struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	err := s.read.get(ctx, "/sales/"+url.PathEscape(id), nil, &one)
	var se *httpapi.StatusError
	switch {
	case err == nil && one.Data.ID == id:
		return true, nil
	case err != nil && !(errors.As(err, &se) && se.Status == http.StatusNotFound):
		return false, err
	}
	var found struct {
		Data []struct {
			InvoiceNumber string `json:"invoice_number"`
		} `json:"data"`
	}
	invoice := s.cfg.InvoicePrefix + orderID
	q := url.Values{"type": {"sales"}, "invoice_number": {invoice}, "page_size": {"10"}}
	if err := s.read.get(ctx, "/search", q, &found); err != nil {
		return false, fmt.Errorf("search sales by invoice number: %w", err)
	}
	for _, x := range found.Data {
		if x.InvoiceNumber == invoice {
			return true, nil
		}
	}
	return false, nil
}

// ensureCustomer returns the POS customer of an order that has none: the one with our customer code, else
// the only one with its email, else a new one (looked up by code after a lost answer).
func (s *SalesSink) ensureCustomer(ctx context.Context, r record.Record) (string, error) {
	code := s.cfg.CustomerPrefix + "ORDER-" + field(r, order.ColOrderID)
	if wc := field(r, order.ColCustomerID); wc != "" {
		code = s.cfg.CustomerPrefix + wc
	}
	if id, n, err := s.searchCustomer(ctx, "customer_code", code); err != nil || n == 1 {
		return id, err
	}
	email := strings.TrimSpace(field(r, order.ColEmail))
	if strings.Contains(email, "@") {
		if id, n, err := s.searchCustomer(ctx, "email", email); err != nil || n == 1 {
			return id, err
		}
	}
	body := customerBody(r, code, email)
	for attempt := 1; ; attempt++ {
		var out struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		err := s.write.Do(ctx, http.MethodPost, "/customers", nil, body, &out)
		var ue *httpapi.UncertainError
		if err == nil {
			return out.Data.ID, nil
		}
		if !errors.As(err, &ue) {
			return "", err
		}
		id, n, lerr := s.searchCustomer(ctx, "customer_code", code)
		if lerr != nil {
			return "", fmt.Errorf("%v; looking the customer up failed too: %w", err, lerr)
		}
		if n > 0 {
			return id, nil
		}
		if attempt >= resends {
			return "", fmt.Errorf("%w (sent %d times, the customer is not there)", err, attempt)
		}
	}
}

// searchCustomer finds customers by one search key; it returns the first one's id and how many there are.
func (s *SalesSink) searchCustomer(ctx context.Context, key, value string) (string, int, error) {
	var body struct {
		Data []customer `json:"data"`
	}
	q := url.Values{"type": {"customers"}, key: {value}, "page_size": {"10"}}
	if err := s.read.get(ctx, "/search", q, &body); err != nil {
		return "", 0, fmt.Errorf("search customers by %s: %w", key, err)
	}
	if len(body.Data) == 0 {
		return "", 0, nil
	}
	return body.Data[0].ID, len(body.Data), nil
}

// customerBody is the creation body of an order's customer: bill-to name (else ship-to), split at its last
// space; a missing name becomes "Web customer <code>".
func customerBody(r record.Record, code, email string) map[string]any {
	name := strings.TrimSpace(field(r, order.ColBillName))
	if name == "" {
		name = strings.TrimSpace(field(r, order.ColShipName))
	}
	first, last := "Web", "customer "+code
	if name != "" {
		if i := strings.LastIndex(name, " "); i > 0 {
			first, last = strings.TrimSpace(name[:i]), strings.TrimSpace(name[i+1:])
		} else {
			first, last = name, name
		}
	}
	b := map[string]any{"customer_code": code, "first_name": first, "last_name": last,
		"note": "Created by possync from website order " + field(r, order.ColOrderID)}
	set := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			b[k] = v
		}
	}
	if strings.Contains(email, "@") {
		set("email", email)
	}
	set("phone", field(r, order.ColPhone))
	set("physical_address_1", field(r, order.ColBillAddress1))
	set("physical_address_2", field(r, order.ColBillAddress2))
	set("physical_city", field(r, order.ColBillCity))
	set("physical_state", field(r, order.ColBillState))
	set("physical_postcode", field(r, order.ColBillZip))
	return b
}

// field is a record's text field, "" when absent or not text.
func field(r record.Record, field string) string {
	s, _ := r[field].(string)
	return s
}

// number is a record's number field, 0 when absent.
func number(r record.Record, field string) float64 {
	switch x := r[field].(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	}
	return 0
}

// round4 rounds to 4 decimals (unit taxes may carry fractions of a cent).
func round4(f float64) float64 { return math.Round(f*1e4) / 1e4 }

// setupCalls is the number of requests that load what every sale needs (outlets, registers, taxes, and the
// shipping and discount products).
const setupCalls = 5

// Estimate counts the API calls applying a plan takes: one creation per order (customers the orders lack and
// lookups after lost answers come on top), plus the setup, and the time they take at requests_per_minute.
func (s *SalesSink) Estimate(counts map[connectors.Action]int) connectors.Estimate {
	n := counts[connectors.Create]
	if n == 0 {
		return connectors.Estimate{Note: "no sale to create"}
	}
	calls := n + setupCalls
	note := fmt.Sprintf("~%d calls: one sale per order, more for customers to create", calls)
	var d time.Duration
	if s.cfg.RequestsPerMinute > 0 {
		d = time.Duration(calls) * time.Minute / time.Duration(s.cfg.RequestsPerMinute)
		note += fmt.Sprintf(", ~%s at %d/min", d.Round(time.Second), s.cfg.RequestsPerMinute)
	}
	return connectors.Estimate{Calls: calls, Duration: d, Note: note}
}
