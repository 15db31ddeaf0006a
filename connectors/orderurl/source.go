// Package orderurl is the order_url source: the website's order export (Workstand / SmartEtailing export API
// version 2.0, domain README §2 and §7.2). It owns the protocol client (one URL, GET with method=Orders,
// UpdateOrder or UpdateStatus; the URL key in the query string, a secret), the WebOrders XML parser, and
// the confirmation of imported orders (connectors.Confirmer). Its records follow connectors/order.Schema().
//
// A read is a Snapshot of the orders the export serves now (every order not yet confirmed). The runner
// confirms, after each commit, the orders of the read that are in the applied state, so an order is
// confirmed only once the sink acknowledged it and the state recorded it, and a confirm lost to a crash or
// a failure is retried by the next run. The package orderurltest emulates the site.
package orderurl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
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
	if !s.confirm {
		return connectors.WithoutConfirm(s), nil // it only reads: the orders stay in the download for the POS
	}
	return s, nil
}

// endpoint is the order export settings the order_url source and the order_url_status sink share, embedded in
// their config structs (spec.Config.Decode reads an embedded struct's fields at the same level, so the YAML
// stays flat).
type endpoint struct {
	URL      string        `spec:"url"`
	Merchant string        `spec:"merchant"`
	URLKey   spec.Secret   `spec:"url_key"`
	Timeout  time.Duration `spec:"timeout"`
	Retries  int           `spec:"retries"`
}

// defaultEndpoint returns the shared settings' defaults (also declared in the components' specs).
func defaultEndpoint() endpoint {
	return endpoint{Timeout: 60 * time.Second, Retries: 5}
}

// connect checks the settings and builds the client (newClient), location being the source's (the sink has none).
func (e endpoint) connect(location string) (*client, error) {
	return newClient(e.URL, e.Merchant, e.URLKey, location, e.Timeout, e.Retries)
}

type sourceConfig struct {
	endpoint
	Location          string `spec:"location"`
	StatusAfterImport string `spec:"status_after_import"`
	TimeZone          string `spec:"timezone"`
	Confirm           bool   `spec:"confirm"`
}

// Source reads the order export and confirms imported orders.
type Source struct {
	c           *client
	statusAfter string
	confirm     bool
	loc         *time.Location
	schema      *arrow.Schema

	mu sync.Mutex
	// cancelled holds the orders the last read saw cancelled: Confirm confirms their receipt but leaves their
	// status alone (a cancelled order is never set to Being Processed).
	cancelled map[string]bool
}

var (
	_ connectors.Source           = (*Source)(nil)
	_ connectors.Confirmer        = (*Source)(nil)
	_ connectors.ConnectionTester = (*Source)(nil)
)

// NewSource builds the source from its configuration. It checks the settings (an http(s) URL without a URL
// key in it, a merchant, a URL key, a known time zone, a positive timeout) and touches no network.
func NewSource(cfg spec.Config, _ connectors.Env) (*Source, error) {
	c := sourceConfig{endpoint: defaultEndpoint(), StatusAfterImport: DefaultStatusAfterImport, TimeZone: "UTC",
		Confirm: true}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	cl, err := c.connect(c.Location)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("timezone %q is not an IANA time zone such as America/Denver", c.TimeZone)
	}
	return &Source{c: cl, statusAfter: strings.TrimSpace(c.StatusAfterImport), confirm: c.Confirm, loc: loc,
		schema: order.Schema()}, nil
}

// Schema is the order record schema.
func (s *Source) Schema() *arrow.Schema { return s.schema }

// Check downloads the pending orders (which proves the URL, merchant and URL key) without confirming any.
func (s *Source) Check(ctx context.Context) error {
	_, err := s.download(ctx)
	return err
}

// download fetches and parses the export.
func (s *Source) download(ctx context.Context) (*Feed, error) {
	body, err := s.c.call(ctx, "Orders", nil)
	if err != nil {
		return nil, err
	}
	f, err := Parse(bytes.NewReader(body), s.loc)
	if err != nil {
		return nil, fmt.Errorf("order export Orders: %w", err)
	}
	return f, nil
}

// Read downloads the orders pending export. The download happens here, whole: a response that fails to
// parse yields no reader and no records.
func (s *Source) Read(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	f, err := s.download(ctx)
	if err != nil {
		return nil, err
	}
	cancelled := map[string]bool{}
	for _, r := range f.Records {
		if r[order.ColCancelled] == true {
			cancelled[r[order.ColOrderID].(string)] = true
		}
	}
	s.mu.Lock()
	s.cancelled = cancelled
	s.mu.Unlock()
	alloc := req.Alloc
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	notes := f.Notes
	if n := len(f.Records); n > 0 {
		notes = append([]string{fmt.Sprintf("order export: %d order(s) pending", n)}, notes...)
	}
	return connectors.RecordsReader(s.schema, f.Records, batchRows, alloc, connectors.ReadResult{
		Mode: connectors.Snapshot, Key: []string{order.ColOrderID}, Rejects: f.Rejects, Notes: notes}), nil
}

// Confirm confirms receipt of each order (UpdateOrder), then sets its status to status_after_import
// (UpdateStatus) unless that is off or the order was read cancelled. Both are idempotent on the site. An order the site refuses gets its
// error as outcome; a refused URL key or a cancelled context stops the confirmation (the remaining orders
// are ErrNotAttempted, and the next run retries them).
func (s *Source) Confirm(ctx context.Context, keys []record.Record) ([]error, error) {
	out := make([]error, len(keys))
	for i := range out {
		out[i] = connectors.ErrNotAttempted
	}
	for i, k := range keys {
		id, _ := k[order.ColOrderID].(string)
		if id == "" {
			out[i] = fmt.Errorf("no %s in the key %v", order.ColOrderID, k)
			continue
		}
		err := s.confirmOne(ctx, id)
		var ce *callError
		if errors.As(err, &ce) && ce.fatal() || ctx.Err() != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return out, err
		}
		out[i] = err
	}
	return out, nil
}

func (s *Source) confirmOne(ctx context.Context, id string) error {
	body, err := s.c.call(ctx, "UpdateOrder", url.Values{"OrderNumber": {id}})
	if err != nil {
		return err
	}
	if err := s.c.accepted("UpdateOrder", id, body); err != nil {
		return errors.New(s.c.redact(err.Error()))
	}
	s.mu.Lock()
	cancelled := s.cancelled[id]
	s.mu.Unlock()
	if s.statusAfter == "" || cancelled {
		return nil
	}
	body, err = s.c.call(ctx, "UpdateStatus", url.Values{"OrderNumber": {id}, "OrderStatus": {s.statusAfter}})
	if err != nil {
		return fmt.Errorf("receipt confirmed, status not changed: %w", err)
	}
	if err := s.c.accepted("UpdateStatus", id, body); err != nil {
		return fmt.Errorf("receipt confirmed, status not changed: %s", s.c.redact(err.Error()))
	}
	return nil
}

// batchRows is the most rows a batch holds.
const batchRows = 1024
