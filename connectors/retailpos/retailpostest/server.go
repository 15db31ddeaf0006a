// Package retailpostest emulates the catalog endpoints of the Lightspeed Retail X-Series API 2.0 (formerly
// Vend) as an httptest server, for the retailpos connector's tests, end-to-end tests and demos.
//
// It behaves as the public documentation describes: every item carries a global version that grows on every
// change; collections page by version cursor (after, before, page_size; a page answers {"data": [...],
// "version": {"min", "max"}}, with null bounds when empty); deleted products are soft-deleted and listed only
// with deleted=true; requests need "Authorization: Bearer <token>" (401 otherwise); errors are
// {"error", "message"}; a rate limit answers 429 with Retry-After as an HTTP date. Tests change the data with
// Upsert, Delete and SetInventory, inject failures with FailNext, and inspect every request with Requests.
//
// Endpoints, under URL(): GET /products (sku= filters by SKU), /products/{id}, /products/{id}/inventory,
// /inventory, /outlets, /brands; for the orders connectors, customers, registers, taxes and sales (see
// sales.go; tests add data with AddCustomer, AddRegister and AddTax, read Sales and inject ActThenFail); and, for the promotions source, /promotions/search, /promotions/{id}/products, /price_books and
// /price_book_products (see promohandlers.go; tests add data with AddPromotion, AddPriceBook and
// SetPriceBookPrice, or LoadPromotionsExample).
package retailpostest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultToken is the bearer token a server accepts when Options.Token is empty.
const DefaultToken = "retailpos-test-token"

// APIPath is the path of the API root on the server.
const APIPath = "/api/2.0"

// Options configure a Server. The zero value is a server without rate limit, on the real clock.
type Options struct {
	// Token is the bearer token the server accepts (default DefaultToken).
	Token string
	// RateLimit is how many requests each RateWindow allows; the next ones get 429 with Retry-After set to the
	// window's end (an HTTP date). 0 means no limit. X-Series allows 300 × registers + 50 per 5 minutes.
	RateLimit int
	// RateWindow is the length of a rate-limit window (default 5 minutes).
	RateWindow time.Duration
	// MaxPageSize caps page_size (default 5000); a request without page_size gets DefaultPageSize.
	MaxPageSize int
	// BrandIDsOnly serves products with brand_id but without the embedded brand object, so that clients must
	// resolve brand names through /brands.
	BrandIDsOnly bool
	// Now is the server's clock (timestamps, rate-limit windows, Retry-After); default time.Now.
	Now func() time.Time
	// IgnoreSaleIDs makes the server give every sale its own id, ignoring the one the client sent (the
	// documentation says a client id is kept; this is the reading that would break a client relying on it).
	IgnoreSaleIDs bool
	// SaleIDConflict answers 409 to a sale whose id exists already (instead of creating a second sale).
	SaleIDConflict bool
	// Seed makes generated IDs and version steps reproducible (default 1).
	Seed uint64
}

// DefaultPageSize is the page size of a request without page_size.
const DefaultPageSize = 1000

// Server is a running emulator. Its methods are safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	opts Options

	mu        sync.Mutex
	rng       *rand.Rand
	version   int64
	products  *table[Product]
	inventory *table[Inventory]
	outlets   *table[Outlet]
	brands    *table[Brand]
	promos    *promoData
	sd        *salesData
	// families counts the live members of each product family (by parent ID).
	families map[string]int
	requests []Request
	// resets counts ResetRequests calls, so a request answered after one does not update a newer record.
	resets int
	// failN more requests fail with failStatus, after failAfter more requests were served.
	failN, failStatus, failAfter int
	windowStart                  time.Time
	windowCount                  int
}

// New starts an empty emulator; Close stops it.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = 5 * time.Minute
	}
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = 5000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	s := &Server{
		opts:      opts,
		rng:       rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed)),
		version:   1_000_000,
		products:  newTable[Product](),
		inventory: newTable[Inventory](),
		outlets:   newTable[Outlet](),
		brands:    newTable[Brand](),
		promos:    newPromoData(),
		sd:        newSalesData(),
		families:  map[string]int{},
	}
	s.srv = httptest.NewServer(s.routes())
	return s
}

// URL is the API root (e.g. http://127.0.0.1:41234/api/2.0), the retailpos source's base_url.
func (s *Server) URL() string { return s.srv.URL + APIPath }

// Token is the bearer token the server accepts.
func (s *Server) Token() string { return s.opts.Token }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// FailNext makes the next n authorized requests fail with status (429 responses carry a Retry-After one
// second ahead, as an HTTP date).
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failAfter, s.failN, s.failStatus = 0, n, status
}

// FailAfter lets the next after authorized requests through, then fails n with status: a failure in the
// middle of a listing.
func (s *Server) FailAfter(after, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failAfter, s.failN, s.failStatus = after, n, status
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.resets++
}

// routes wires the endpoints behind the auth, failure-injection and rate-limit checks.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+APIPath+"/products", s.listProducts)
	mux.HandleFunc("GET "+APIPath+"/products/{id}", s.getProduct)
	mux.HandleFunc("GET "+APIPath+"/products/{id}/inventory", s.productInventory)
	mux.HandleFunc("GET "+APIPath+"/inventory", s.listInventory)
	mux.HandleFunc("GET "+APIPath+"/outlets", s.listOutlets)
	mux.HandleFunc("GET "+APIPath+"/brands", s.listBrands)
	s.promotionRoutes(mux)
	s.salesRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		var body []byte
		if r.Body != nil && r.Method != http.MethodGet {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		// The request is recorded before it is served, so a client that saw its effect (a sale created before
		// the connection dropped) also finds it in Requests; its status is filled in once it is answered.
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, APIPath),
			Query: r.URL.RawQuery, Body: string(body)})
		at, gen := len(s.requests)-1, s.resets
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			if gen == s.resets { // ResetRequests dropped the record meanwhile otherwise
				s.requests[at].Status = rec.status
			}
			s.mu.Unlock()
		}()
		if r.Header.Get("Authorization") != "Bearer "+s.opts.Token {
			writeError(rec, http.StatusUnauthorized, "Unauthorized", "The access token is missing, invalid or expired.")
			return
		}
		if s.throttle(rec) {
			return
		}
		mux.ServeHTTP(rec, r)
	})
}

// throttle answers an injected failure or a rate-limit 429, and reports whether it did.
func (s *Server) throttle(w http.ResponseWriter) bool {
	s.mu.Lock()
	now := s.opts.Now()
	if s.failN > 0 && s.failAfter > 0 {
		s.failAfter--
	} else if s.failN > 0 {
		s.failN--
		status := s.failStatus
		s.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", httpDate(now.Add(time.Second)))
		}
		writeError(w, status, http.StatusText(status), "injected failure")
		return true
	}
	if s.opts.RateLimit <= 0 {
		s.mu.Unlock()
		return false
	}
	if s.windowStart.IsZero() || !now.Before(s.windowStart.Add(s.opts.RateWindow)) {
		s.windowStart, s.windowCount = now, 0
	}
	s.windowCount++
	remaining := s.opts.RateLimit - s.windowCount
	reset := s.windowStart.Add(s.opts.RateWindow)
	s.mu.Unlock()
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(remaining, 0)))
	if remaining < 0 {
		w.Header().Set("Retry-After", httpDate(reset))
		writeError(w, http.StatusTooManyRequests, "Too Many Requests",
			fmt.Sprintf("Rate limit of %d requests per %s exceeded.", s.opts.RateLimit, s.opts.RateWindow))
		return true
	}
	return false
}

// httpDate formats t as an HTTP date, rounded up to the next whole second so that waiting until it never
// ends early.
func httpDate(t time.Time) string {
	if r := t.Truncate(time.Second); r.Before(t) {
		t = r.Add(time.Second)
	}
	return t.UTC().Format(http.TimeFormat)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

// Hijack lets an act-then-fail fault drop the connection; the request is recorded with status 0.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.status = 0
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers the API's error body.
func writeError(w http.ResponseWriter, status int, title, message string) {
	writeJSON(w, status, map[string]string{"error": title, "message": message})
}

// nextVersion bumps the global version by a small varying step (versions are not +1 per resource); the
// lock is held.
func (s *Server) nextVersion() int64 {
	s.version += 1 + s.rng.Int64N(7)
	return s.version
}

// newID returns a random UUID-shaped ID from the server's seeded generator; the lock is held.
func (s *Server) newID() string {
	a, b := s.rng.Uint64(), s.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0xfff, b&0xffffffffffff)
}
