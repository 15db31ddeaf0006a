// Package retailpos holds the connectors of a Lightspeed Retail X-Series store (formerly Vend), which share
// one API client (bearer token, pacing, 429 with Retry-After, error bodies): the retailpos source (the
// product catalog, read through API 2.0, with each product's inventory summed over the outlets sold online),
// the retailpos_promotions source, the retailpos_customers source (customers, for order_match) and the
// retailpos_orders sink (each website order an open sale, exactly once; sales.go).
//
// The catalog source's reads return Mode Changes keyed by id: the runner keeps the source's records and
// merges each read into them. A full read returns every product, deleted ones included (deleted = true), and an incremental
// read only the products whose product or inventory changed since the checkpoint. A full read is not a
// Snapshot on purpose: the runner refreshes a source's stored records only from Changes reads, so a Snapshot
// would leave them stale for the next incremental merge; and since X-Series soft-deletes products, a full
// read with deleted=true already carries every deletion as data. The cost: a product purged from the API
// altogether (never seen as deleted) would stay in the stored records. See sourceSpec for the details users
// read in `possync connectors retailpos`.
package retailpos

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/internal/httpapi"
	"github.com/possync/possync/spec"
)

func init() {
	connectors.Sources.MustRegister(sourceSpec, connectors.SourceOf(NewSource))
}

// connection is the connection settings every retailpos component declares, embedded in each one's config
// struct (spec.Config.Decode reads an embedded struct's fields at the same level, so the YAML stays flat).
// The retailpos_orders sink does not declare page_size (hence `shared`); it reads with the default.
type connection struct {
	DomainPrefix      string        `spec:"domain_prefix"`
	BaseURL           string        `spec:"base_url"`
	Token             spec.Secret   `spec:"token"`
	PageSize          int           `spec:"page_size,shared"`
	Timeout           time.Duration `spec:"timeout"`
	RetryBudget       time.Duration `spec:"retry_budget"`
	RequestsPerMinute int           `spec:"requests_per_minute"`
}

// defaultConnection returns the connection settings' defaults (also declared in the components' specs).
func defaultConnection() connection {
	return connection{PageSize: defaultPageSize, Timeout: defaultTimeout, RetryBudget: defaultRetryBudget,
		RequestsPerMinute: defaultRequestsPerMinute}
}

type sourceConfig struct {
	connection
	Outlets          []string      `spec:"outlets"`
	EcomOutlet       string        `spec:"ecom_outlet"`
	FullRefreshEvery time.Duration `spec:"full_refresh_every"`
}

// Defaults (also declared in sourceSpec).
const (
	defaultPageSize          = 1000
	defaultTimeout           = 30 * time.Second
	defaultRetryBudget       = 2 * time.Minute
	defaultFullRefreshEvery  = 24 * time.Hour
	defaultRequestsPerMinute = 60
	limiterBurst             = 10
)

// Source reads a Retail POS catalog. Read may be called once per run; the source holds no per-read state.
type Source struct {
	api              *api
	outlets          []string
	ecomOutlet       string
	fullRefreshEvery time.Duration
}

var (
	_ connectors.Source           = (*Source)(nil)
	_ connectors.ConnectionTester = (*Source)(nil)
)

var domainPrefix = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$`)

// NewSource builds a source from its configuration. It checks the settings (a base URL or a domain prefix, a
// token, positive page size and timeout, non-negative rate and refresh period) and touches no network.
func NewSource(cfg spec.Config, _ connectors.Env) (*Source, error) {
	c := sourceConfig{connection: defaultConnection(), FullRefreshEvery: defaultFullRefreshEvery}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	a, err := c.connect()
	if err != nil {
		return nil, err
	}
	if c.FullRefreshEvery < 0 {
		return nil, fmt.Errorf("full_refresh_every must not be negative (0 turns the periodic full refresh off)")
	}
	for i, o := range c.Outlets {
		if strings.TrimSpace(o) == "" {
			return nil, fmt.Errorf("outlets: entry %d is empty", i+1)
		}
	}
	return &Source{api: a, outlets: c.Outlets,
		ecomOutlet: strings.TrimSpace(c.EcomOutlet), fullRefreshEvery: c.FullRefreshEvery}, nil
}

// connect checks the connection settings every retailpos component shares and returns their API client:
// bearer token, per-request timeout, retry budget, client-side pacing (none at 0 requests per minute) and the
// API's error bodies.
func (c connection) connect() (*api, error) {
	token, timeout, budget, perMinute, pageSize := c.Token, c.Timeout, c.RetryBudget, c.RequestsPerMinute, c.PageSize
	base, err := baseURL(c.BaseURL, c.DomainPrefix)
	if err != nil {
		return nil, err
	}
	switch {
	case token.IsZero():
		return nil, fmt.Errorf("token is required (an X-Series personal token or OAuth access token, e.g. ${RETAILPOS_TOKEN})")
	case pageSize < 1:
		return nil, fmt.Errorf("page_size must be at least 1, not %d", pageSize)
	case timeout <= 0:
		return nil, fmt.Errorf("timeout must be positive, not %s", timeout)
	case budget < 0:
		return nil, fmt.Errorf("retry_budget must not be negative, not %s", budget)
	case perMinute < 0:
		return nil, fmt.Errorf("requests_per_minute must not be negative (0 turns the client-side pacing off)")
	}
	client := &httpapi.Client{Base: base, Token: token, HTTP: &http.Client{Timeout: timeout}, Budget: budget,
		DecodeError: decodeError}
	if perMinute > 0 {
		client.Limiter = httpapi.NewLimiter(perMinute, min(limiterBurst, perMinute))
	}
	return &api{c: client, pageSize: pageSize}, nil
}

// baseURL returns base_url when set, else the API root of the domain prefix.
func baseURL(raw, prefix string) (*url.URL, error) {
	if raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("base_url %q must be an http(s) URL such as https://acme.retail.lightspeed.app/api/2.0", raw)
		}
		return u, nil
	}
	switch {
	case prefix == "":
		return nil, fmt.Errorf("set domain_prefix (the acme of acme.retail.lightspeed.app) or base_url")
	case !domainPrefix.MatchString(prefix):
		return nil, fmt.Errorf("domain_prefix %q must be just the store's prefix, e.g. acme for acme.retail.lightspeed.app", prefix)
	}
	return url.Parse("https://" + prefix + ".retail.lightspeed.app/api/2.0")
}

// Schema returns the fixed product schema.
func (s *Source) Schema() *arrow.Schema { return schema }

// Check lists the outlets (which proves the token) and resolves the selected ones. It retries little, so
// that it answers within seconds.
func (s *Source) Check(ctx context.Context) error {
	c := *s
	c.api = s.api.forCheck()
	_, _, err := c.selected(ctx)
	return err
}

// selected returns the IDs (sorted) and names of the outlets whose inventory is summed.
func (s *Source) selected(ctx context.Context) (ids, names []string, err error) {
	all, err := s.api.outlets(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list outlets: %w", err)
	}
	return selectOutlets(s.outlets, s.ecomOutlet, all)
}

// Read reads the catalog: everything on the first run, on a full refresh, when the selected outlets
// changed, when the periodic full refresh is due, or when the lookups an incremental read needs would cost
// more than a full read; otherwise only what changed since the checkpoint. All the requests happen here; the
// returned reader only builds batches.
func (s *Source) Read(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	ids, names, err := s.selected(ctx)
	if err != nil {
		return nil, err
	}
	rd := &reading{api: s.api, outlets: map[string]bool{}, skus: map[string]string{}, index: map[string]int{}}
	for _, id := range ids {
		rd.outlets[id] = true
	}
	var cp *checkpoint
	var cpErr error
	if !req.FullRefresh {
		cp, cpErr = parseCheckpoint(req.Checkpoint)
	}
	reason := fullReason(cp, cpErr, req.FullRefresh, ids, now, s.fullRefreshEvery)
	var next checkpoint
	if reason == "" {
		if next, reason, err = rd.incremental(ctx, cp); err != nil {
			return nil, err
		}
	}
	if reason != "" {
		if next, err = rd.full(ctx, reason, ids, now); err != nil {
			return nil, err
		}
	}
	rd.finish(names)
	alloc := req.Alloc
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	return &reader{rows: rd.rows, skus: rd.skus, alloc: alloc, result: connectors.ReadResult{
		Mode: connectors.Changes, Key: []string{"id"}, Checkpoint: next.encode(), Rejects: rd.rejects, Notes: rd.notes,
	}}, nil
}
