package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/possync/possync/connectors/internal/neterr"
	"github.com/possync/possync/spec"
)

// closedAddr returns the address of a port nothing listens on (a listener opened, then closed).
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestPermanentFailuresFailAtOnce: what a retry cannot fix (nothing listening, a failed TLS handshake, a
// scheme other than http(s), a refused request) fails on the first attempt, for GET and POST alike, with
// its cause and the server it tried; no wait happens.
func TestPermanentFailuresFailAtOnce(t *testing.T) {
	var plainHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits.Add(1)
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"not_found","message":"no such store"}`))
	}))
	defer plain.Close()
	var tlsHits atomic.Int32
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tlsHits.Add(1) }))
	defer untrusted.Close()
	closed := closedAddr(t)
	plainHost := strings.TrimPrefix(plain.URL, "http://")
	for _, c := range []struct {
		name, base string
		kind       neterr.Kind
		want       []string
	}{
		{"connection refused", "http://" + closed + "/api", neterr.Refused,
			[]string{"at " + closed + ": connection refused: nothing listens at that address"}},
		{"untrusted certificate", untrusted.URL + "/api", neterr.TLS,
			[]string{"at " + strings.TrimPrefix(untrusted.URL, "https://") + ": TLS handshake failed", "certificate"}},
		{"https to a plain HTTP port", "https://" + plainHost + "/api", neterr.TLS,
			[]string{"at " + plainHost + ": TLS handshake failed: the server does not speak TLS there"}},
		{"ftp scheme", "ftp://" + plainHost + "/api", neterr.Scheme,
			[]string{"at " + plainHost + ": unsupported URL scheme: only http and https are spoken here"}},
		{"404", plain.URL + "/api", 0, []string{"at " + plainHost + ": HTTP 404: not_found: no such store"}},
	} {
		for _, method := range []string{"GET", "POST"} {
			t.Run(c.name+" "+method, func(t *testing.T) {
				plainHits.Store(0)
				var slept []time.Duration
				cl := newClient(t, plain, &slept)
				cl.Base, _ = url.Parse(c.base)
				cl.MaxRetries = 25
				err := cl.Do(context.Background(), method, "/products", url.Values{"token": {"URLKEY-SECRET"}}, nil, nil)
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v\nwant it to contain %q", err, w)
					}
				}
				if len(slept) != 0 || plainHits.Load() > 1 {
					t.Errorf("retried: %d waits, %d requests reached the server", len(slept), plainHits.Load())
				}
				if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "outcome unknown") {
					t.Errorf("err = %v: leaks the query, or calls a request that never left uncertain", err)
				}
				var te *TransportError
				if c.kind != 0 && (!errors.As(err, &te) || te.Kind != c.kind || te.Temporary()) {
					t.Errorf("err = %#v, want a permanent *TransportError of kind %d", err, c.kind)
				}
			})
		}
	}
	if tlsHits.Load() != 0 {
		t.Errorf("the untrusted server served %d requests", tlsHits.Load())
	}
}

// TestRetryBudget: 429s and 503s are retried while the waits fit the budget; the error then says how many
// attempts were made in how long, and which budget stopped them.
func TestRetryBudget(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	var slept []time.Duration
	cl := newClient(t, srv, &slept)
	cl.MaxRetries, cl.Budget = 25, 5*time.Second
	err := cl.Do(context.Background(), "GET", "/products", nil, nil, nil)
	want := "HTTP 429: Too Many Requests (gave up after 3 attempts in 4s: waiting 2s more would pass the retry budget of 5s)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v\nwant it to contain %q", err, want)
	}
	if n.Load() != 3 || !equalDurations(slept, []time.Duration{2 * time.Second, 2 * time.Second}) {
		t.Errorf("%d attempts, waits %v; want 3 attempts and two waits of 2s", n.Load(), slept)
	}
	if !strings.Contains(err.Error(), "at "+strings.TrimPrefix(srv.URL, "http://")) {
		t.Errorf("err = %v does not name the server", err)
	}
}

// TestForCheckRetriesLittle: a connection check gives a failing API two retries at most, within the check's
// own short budget, whatever the connector's budget.
func TestForCheckRetriesLittle(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	var slept []time.Duration
	cl := newClient(t, srv, &slept)
	cl.MaxRetries, cl.Budget = 25, time.Hour
	err := cl.ForCheck().Do(context.Background(), "GET", "/products", nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") || n.Load() != 3 {
		t.Fatalf("err = %v after %d attempts; want a 503 after 3", err, n.Load())
	}
	var total time.Duration
	for _, d := range slept {
		total += d
	}
	if total > CheckBudget {
		t.Errorf("the check waited %s, more than its budget %s", total, CheckBudget)
	}
	if cl.MaxRetries != 25 || cl.Budget != time.Hour {
		t.Errorf("ForCheck changed the client it copies")
	}
}

// TestUndecodedBodyExplains: an error body the vendor decoder cannot read still explains the failure.
func TestUndecodedBodyExplains(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"upstream connect error or disconnect/reset before headers", "HTTP 400: upstream connect error or disconnect/reset before headers"},
		{"<html><head><title>400 Bad Request: store\n  tok-SECRET-123 is paused</title></head><body>...</body></html>",
			"HTTP 400: 400 Bad Request: store *** is paused"},
		{"\x00\x01\xff", "HTTP 400: Bad Request"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(c.body))
		}))
		var slept []time.Duration
		cl := newClient(t, srv, &slept)
		cl.Token = spec.NewSecret("tok-SECRET-123")
		err := cl.Do(context.Background(), "GET", "/products", nil, nil, nil)
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("body %q: err = %v, want %q", c.body, err, c.want)
		}
	}
}
