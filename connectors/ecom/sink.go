// Package ecom is the sink of a Lightspeed eCom (E-Series) store, which speaks the Ecwid REST API v3: it
// creates, updates, deactivates and deletes products and their combinations (variants) keyed by SKU, through
// direct requests or batch tickets, never creating a duplicate; it reconciles interrupted runs, lists the
// store for plan --refresh, estimates the cost of a plan and tests its token. Package ecomtest emulates the
// API for tests and demos.
package ecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/internal/httpapi"
	"github.com/possync/possync/spec"
)

// Retries: a 429 waits for its Retry-After, and a rate-limit storm can last many answers, so a request is
// retried up to 25 times; 408 and 5xx back off exponentially up to 10 s; retry_budget (default 2 min) bounds
// the time in all before the sink gives up on the store.
const (
	maxRetries = 25
	maxDelay   = 10 * time.Second
)

// batchSize is the number of changes the sink asks the runner for per Apply call: one batch ticket's worth.
const batchSize = 500

// Sink is the eCom sink. It is used by one goroutine at a time.
type Sink struct {
	cfg config
	// newDisabled: products the sync creates start disabled (new_products: disabled).
	newDisabled bool
	client      *httpapi.Client
	schema      *arrow.Schema
	m           *mapper
	// index maps SKUs to store ids; cats caches the store's categories. Both live as long as the sink.
	index index
	cats  categories
	// sleep waits between batch ticket polls.
	sleep func(ctx context.Context, d time.Duration) error
}

var (
	_ connectors.Sink             = (*Sink)(nil)
	_ connectors.Batcher          = (*Sink)(nil)
	_ connectors.Reconciler       = (*Sink)(nil)
	_ connectors.Lister           = (*Sink)(nil)
	_ connectors.Estimator        = (*Sink)(nil)
	_ connectors.ConnectionTester = (*Sink)(nil)
)

// NewSink builds the sink from its configuration. It checks the records the pipeline delivers (env.Schema,
// when known): every field must be one the sink maps, with a compatible type, the key must be sku, and the
// eCom-only fields present must be exactly those listed in owned_fields. It sends no request.
func NewSink(cfg spec.Config, env connectors.Env) (*Sink, error) {
	var c config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	return build(c, env)
}

// build makes the sink of a decoded configuration; see NewSink.
func build(c config, env connectors.Env) (*Sink, error) {
	c = c.withDefaults()
	if strings.TrimSpace(c.StoreID) == "" {
		return nil, fmt.Errorf("store_id is required")
	}
	if c.Token.IsZero() {
		return nil, fmt.Errorf("token is required")
	}
	base, err := url.Parse(strings.TrimSuffix(c.BaseURL, "/") + "/" + url.PathEscape(strings.TrimSpace(c.StoreID)))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("base_url %q is not an absolute URL", c.BaseURL)
	}
	if base.Scheme != "http" && base.Scheme != "https" {
		return nil, fmt.Errorf("base_url %q: the scheme %s is not supported, only http and https", c.BaseURL, base.Scheme)
	}
	m, err := newMapper(env.Schema, env.Key, c.OwnedFields)
	if err != nil {
		return nil, err
	}
	s := &Sink{
		cfg:         c,
		newDisabled: c.NewProducts == "disabled",
		client: &httpapi.Client{
			Base:        base,
			Token:       c.Token,
			HTTP:        &http.Client{Timeout: c.Timeout},
			MaxRetries:  maxRetries,
			MaxDelay:    maxDelay,
			Budget:      c.RetryBudget,
			Limiter:     budgetLimiter(c.RequestsPerMinute),
			DecodeError: decodeError,
		},
		schema: env.Schema,
		m:      m,
		index:  newIndex(),
		sleep:  httpapi.Sleep,
	}
	return s, nil
}

// SetSleep replaces how the sink waits (retry back-offs, Retry-After, ticket polls), for tests and demos
// that drive an emulated store and must not really wait. The request pace (requests_per_minute) is not
// affected.
func (s *Sink) SetSleep(sleep func(ctx context.Context, d time.Duration) error) {
	s.client.Sleep = sleep
	s.sleep = sleep
}

// BatchSize asks the runner for 500 changes per Apply call, the size of one batch ticket.
func (s *Sink) BatchSize() int { return batchSize }

// Check reads one product (GET /products?limit=1): it proves the store is reachable and the token may read
// the catalog. A refused token is reported as such. It retries little (httpapi.Client.ForCheck), so that it
// answers within seconds.
func (s *Sink) Check(ctx context.Context) error {
	var page envelope
	err := s.client.ForCheck().Do(ctx, http.MethodGet, "/products", url.Values{"limit": {"1"}}, nil, &page)
	if isAuth(err) {
		return fmt.Errorf("store %s: token refused (check the token and its read_catalog, update_catalog and create_catalog scopes): %w", s.cfg.StoreID, err)
	}
	if err != nil {
		return fmt.Errorf("store %s: %w", s.cfg.StoreID, err)
	}
	return nil
}

// Close releases idle connections.
func (s *Sink) Close() error {
	s.client.HTTP.CloseIdleConnections()
	return nil
}

// decodeError reads the API's error body {"errorMessage": "...", "errorCode": "..."} (older answers use
// error_message).
func decodeError(_ int, body []byte) (code, message string) {
	var e struct {
		Message    string `json:"errorMessage"`
		OldMessage string `json:"error_message"`
		Code       string `json:"errorCode"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	if e.Message == "" {
		e.Message = e.OldMessage
	}
	return e.Code, e.Message
}

// isAuth reports whether err is the store refusing the token (401 or 403).
func isAuth(err error) bool {
	var se *httpapi.StatusError
	return errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden)
}

// refused wraps an error that stops the run because the store refused the token.
func refused(err error) error {
	if isAuth(err) {
		return fmt.Errorf("the store refused the token (check it and its scopes): %w", err)
	}
	return err
}

// budgetLimiter paces requests so that no minute, wherever it starts, holds more than perMinute of them: the
// store counts requests per minute and answers 429 beyond (a window that may start at any request), and a
// token bucket allows its burst plus its rate over any interval. So the bucket holds one request and refills
// at perMinute-1 a minute: 1 + (perMinute-1) = perMinute. (A burst of perMinute/60 went 10 over the budget in
// a minute at 600/min, and drew 429s in steady state: make bench-api.)
func budgetLimiter(perMinute int) *httpapi.Limiter {
	return httpapi.NewLimiter(max(1, perMinute-1), 1)
}
