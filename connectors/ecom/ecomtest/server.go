// Package ecomtest emulates the part of a Lightspeed eCom (E-Series) store's API, the Ecwid REST API v3,
// that the ecom sink uses, as an httptest server: products and their combinations, categories, product
// media, batch tickets, bearer-token checks, the per-token rate limit with 429 and Retry-After, the
// documented error bodies, and a record of every write. Tests and demos drive it and inspect it through the
// Server's methods; failures (a 429 storm, a refused token, a connection dropped after a write) are injected
// with Fail, FailNext and DropNext, and an outage of some endpoints (direct and batch requests alike) with
// Outage and EndOutage.
//
// Endpoints, relative to URL()/{storeId}: GET/POST /products (GET: offset, limit ≤ 100, sku, productId);
// GET/PUT/DELETE /products/{id}; PUT /products/{id}/media; GET/POST /products/{id}/combinations;
// GET/PUT/DELETE /products/{id}/combinations/{cid}; GET/POST /categories; GET /profile; POST /batch
// (stopOnFirstFailure, deduplicationKey) and GET /batch?ticket=.
package ecomtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures an emulated store. Zero values take the defaults.
type Options struct {
	// StoreID is the store's id in request paths (default "1003").
	StoreID string
	// Token is the only bearer token the store accepts (default "secret_possync-emulator-token").
	Token string
	// RateLimit is how many requests the store accepts per Window before answering 429 with Retry-After
	// (0: no limit). Window defaults to one minute.
	RateLimit int
	Window    time.Duration
	// TicketPolls is the number of status polls after which a batch ticket reports COMPLETED (default 3:
	// QUEUED, IN_PROGRESS, COMPLETED).
	TicketPolls int
	// Now is the store's clock (rate-limit windows, timestamps); default time.Now.
	Now func() time.Time
}

// Write is one write request the store received (directly or as a batch sub-request) and its status.
type Write struct {
	Method string
	// Path is relative to the store, e.g. "/products/37208340/combinations".
	Path string
	// Body is the JSON body as received.
	Body   json.RawMessage
	Status int
	// Ticket is the batch ticket the write came in, "" for a direct request.
	Ticket string
}

// Request is one HTTP request the server answered.
type Request struct {
	Method, Path string
	Status       int
}

// Failure makes the server answer requests with an error instead of serving them.
type Failure struct {
	// Method and Path (a prefix of the path relative to the store, e.g. "/products") select the requests;
	// empty selects all.
	Method, Path string
	// After lets that many selected requests through first.
	After int
	// Times is how many selected requests fail; a negative value fails all of them from then on.
	Times int
	// Status is the HTTP status; Code and Message fill the error body (defaults follow the status).
	Status        int
	Code, Message string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// AfterActing carries the request out before answering with Status, as a gateway that times out
	// (502, 504) after the store acted.
	AfterActing bool
	// InBatch makes the rule answer the requests of batch tickets too (they are selected by their own
	// method and path, e.g. POST /products); without it only direct requests fail.
	InBatch bool
}

// Server is an emulated store. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	http *httptest.Server

	mu          sync.Mutex
	st          *store
	failures    []*Failure
	drop        int
	windowStart time.Time
	windowCount int
	requests    []Request
	writes      []Write
	tickets     map[string]*ticket
	dedup       map[string]string
	nextTicket  int
}

// New starts an emulated store. Close it when done.
func New(opts Options) *Server {
	if opts.StoreID == "" {
		opts.StoreID = "1003"
	}
	if opts.Token == "" {
		opts.Token = "secret_possync-emulator-token"
	}
	if opts.Window <= 0 {
		opts.Window = time.Minute
	}
	if opts.TicketPolls <= 0 {
		opts.TicketPolls = 3
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, st: newStore(opts.Now), tickets: map[string]*ticket{}, dedup: map[string]string{}}
	s.http = httptest.NewServer(s)
	return s
}

// URL is the API base to configure the sink with (its base_url): the server's address plus /api/v3.
func (s *Server) URL() string { return s.http.URL + "/api/v3" }

// StoreID is the store's id (the sink's store_id).
func (s *Server) StoreID() string { return s.opts.StoreID }

// Token is the bearer token the store accepts (the sink's token).
func (s *Server) Token() string { return s.opts.Token }

// Close shuts the server down.
func (s *Server) Close() { s.http.Close() }

// ServeHTTP answers one API request: injected failures first, then the token check (403 INVALID_API_TOKEN),
// then the rate limit (429 RATE_LIMITED with Retry-After), then the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v3/")
	storeID, path, _ := strings.Cut(rest, "/")
	path = "/" + path
	s.mu.Lock()
	status, out, header := 0, any(nil), ""
	switch {
	case !ok:
		e := errorf(http.StatusNotFound, "NOT_FOUND", "Not an API path")
		status, out = e.Status, e
	default:
		if f := s.takeFailure(r.Method, path); f != nil {
			if f.AfterActing {
				s.dispatch(r.Method, path, r.URL.Query(), body, "")
			}
			status, out, header = f.Status, failureBody(f), f.RetryAfter
			break
		}
		if !s.authorized(r, storeID) {
			e := errorf(http.StatusForbidden, "INVALID_API_TOKEN", "Invalid access token for store %s", storeID)
			status, out = e.Status, e
			break
		}
		if wait, limited := s.limited(); limited {
			e := errorf(http.StatusTooManyRequests, "RATE_LIMITED", "Too many requests: limit is %d per %s", s.opts.RateLimit, s.opts.Window)
			status, out, header = e.Status, e, wait
			break
		}
		status, out = s.dispatch(r.Method, path, r.URL.Query(), body, "")
	}
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, Status: status})
	drop := s.drop > 0 && r.Method != http.MethodGet && ok
	if drop {
		s.drop--
	}
	s.mu.Unlock()
	if drop {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	if header != "" {
		w.Header().Set("Retry-After", header)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

// authorized checks the bearer token (or the token query parameter) and the store id.
func (s *Server) authorized(r *http.Request, storeID string) bool {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok == "" {
		tok = r.URL.Query().Get("token")
	}
	return tok == s.opts.Token && storeID == s.opts.StoreID
}

// limited counts the request in the current window and reports the Retry-After seconds when over the limit.
func (s *Server) limited() (string, bool) {
	if s.opts.RateLimit <= 0 {
		return "", false
	}
	now := s.opts.Now()
	if s.windowStart.IsZero() || now.Sub(s.windowStart) >= s.opts.Window {
		s.windowStart, s.windowCount = now, 0
	}
	s.windowCount++
	if s.windowCount <= s.opts.RateLimit {
		return "", false
	}
	left := s.windowStart.Add(s.opts.Window).Sub(now)
	secs := max(1, int((left+time.Second-1)/time.Second))
	return strconv.Itoa(secs), true
}

// takeFailure returns the injected failure answering this direct request, if any.
func (s *Server) takeFailure(method, path string) *Failure {
	return s.takeFailureOf(method, path, false)
}

// takeFailureOf returns the injected failure answering this request, direct or (inBatch) in a batch ticket.
func (s *Server) takeFailureOf(method, path string, inBatch bool) *Failure {
	for i, f := range s.failures {
		if (f.Method != "" && f.Method != method) || !strings.HasPrefix(path, f.Path) || (inBatch && !f.InBatch) {
			continue
		}
		if f.After > 0 {
			f.After--
			return nil
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.failures = append(s.failures[:i], s.failures[i+1:]...)
			}
		}
		return f
	}
	return nil
}

// failureBody is the error body of an injected failure.
func failureBody(f *Failure) *apiError {
	code, msg := f.Code, f.Message
	if code == "" {
		code = map[int]string{400: "WRONG_PARAMETER", 402: "NOT_AVAILABLE_ON_CURRENT_PLAN", 403: "INVALID_API_TOKEN",
			404: "PRODUCT_NOT_FOUND", 408: "TIMEOUT", 409: "SKU_ALREADY_EXISTS", 429: "RATE_LIMITED"}[f.Status]
		if code == "" && f.Status >= 500 {
			code = "INTERNAL_ERROR"
		}
	}
	if msg == "" {
		msg = http.StatusText(f.Status)
	}
	return &apiError{Status: f.Status, Code: code, Message: msg}
}

// Fail injects a failure rule; rules are checked in the order they were added.
func (s *Server) Fail(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &f)
}

// Outage makes every request of method (empty: any) to a path starting with path fail with status (e.g.
// 500 or 503), direct requests and the requests of batch tickets alike, until EndOutage.
func (s *Server) Outage(method, path string, status int) {
	s.Fail(Failure{Method: method, Path: path, Times: -1, Status: status, InBatch: true})
}

// EndOutage removes every injected failure rule.
func (s *Server) EndOutage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = nil
}

// FailNext makes the next n requests fail with status (and Retry-After: retryAfter when not empty), e.g.
// FailNext(20, 429, "1") for a rate-limit storm.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.Fail(Failure{Times: n, Status: status, RetryAfter: retryAfter})
}

// DropNext makes the next n write requests (not GET) take effect and then lose their answer: the connection
// is closed without a response, as when the network fails after the store applied a write.
func (s *Server) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop += n
}

// Seed preloads products, as a merchant who already has a catalog (ids and combination ids are assigned
// when zero; options the combinations use are added). It returns the product ids and panics on a product
// the API would refuse (duplicate SKU, negative price): seeds are test fixtures.
func (s *Server) Seed(products ...Product) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, len(products))
	for i := range products {
		p := products[i].clone()
		if p.ID == 0 {
			p.ID = s.st.id()
		}
		for k := range p.GalleryImages {
			if p.GalleryImages[k].ID == 0 {
				p.GalleryImages[k].ID = s.st.id()
			}
		}
		for k := range p.Combinations {
			c := &p.Combinations[k]
			if c.ID == 0 {
				c.ID = s.st.id()
			}
			if c.CombinationNumber == 0 {
				c.CombinationNumber = k + 1
			}
			ensureOptions(p, c.Options)
		}
		if err := s.st.validate(p); err != nil {
			panic("ecomtest: seed " + p.SKU + ": " + err.Error())
		}
		if p.Created == "" {
			s.st.touch(p, true)
		}
		s.st.put(p)
		ids[i] = p.ID
	}
	return ids
}

// Edit changes the product holding sku (its own SKU or a combination's) as a merchant editing it in the
// store's admin would. It reports whether the SKU was found. f runs under the server's lock: it must not call
// the Server's methods.
func (s *Server) Edit(sku string, f func(*Product)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.st.findSKU(sku)
	if !ok {
		return false
	}
	q := p.clone()
	f(q)
	q.ID = p.ID
	s.st.touch(q, false)
	s.st.put(q)
	return true
}

// Products returns a copy of every product, in creation order.
func (s *Server) Products() []Product {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Product
	for _, p := range s.st.list() {
		out = append(out, *p.clone())
	}
	return out
}

// Find returns a copy of the product holding sku (its own SKU or a combination's).
func (s *Server) Find(sku string) (Product, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.st.findSKU(sku)
	if !ok {
		return Product{}, false
	}
	return *p.clone(), true
}

// AddCategory returns the id of the category path "Parent > Child", creating the levels that are missing.
func (s *Server) AddCategory(path string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.ensureCategory(path)
}

// CategoryPath returns the path "Parent > Child" of a category id ("" when unknown).
func (s *Server) CategoryPath(id int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.categoryPath(id)
}

// Categories returns a copy of every category, in creation order.
func (s *Server) Categories() []Category {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Category, 0, len(s.st.catOrder))
	for _, id := range s.st.catOrder {
		out = append(out, *s.st.categories[id])
	}
	return out
}

// Writes returns every write the store executed, in order, with its status (batch sub-requests included,
// with their ticket; requests refused by the token check, the rate limit or an injected failure are not).
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Write(nil), s.writes...)
}

// Requests returns every HTTP request the server answered, in order, with its status.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Reset forgets the recorded writes and requests (the catalog stays).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes, s.requests = nil, nil
}
