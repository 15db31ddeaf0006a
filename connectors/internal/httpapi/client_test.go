package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/possync/possync/connectors/apistats"
	"github.com/possync/possync/spec"
)

// newClient returns a client of srv whose sleeps are recorded instead of slept.
func newClient(t *testing.T, srv *httptest.Server, slept *[]time.Duration) *Client {
	t.Helper()
	u, _ := url.Parse(srv.URL + "/api")
	return &Client{Base: u, Token: spec.NewSecret("tok-SECRET-123"), MaxRetries: 3,
		DecodeError: func(_ int, b []byte) (string, string) {
			var e struct{ Error, Message string }
			_ = json.Unmarshal(b, &e)
			return e.Error, e.Message
		},
		Sleep: func(_ context.Context, d time.Duration) error { *slept = append(*slept, d); return nil },
		Now:   func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) },
	}
}

func TestRetryPolicy(t *testing.T) {
	cases := []struct {
		name     string
		method   string
		statuses []int
		header   string
		want     string // "" = success
		attempts int
		slept    []time.Duration // exact sleeps where they are deterministic
	}{
		{"429 with Retry-After as an HTTP date", "GET", []int{429, 200}, "Sun, 22 Nov 2026 10:00:07 GMT", "", 2, []time.Duration{7 * time.Second}},
		{"429 with Retry-After seconds", "PUT", []int{429, 429, 200}, "3", "", 3, []time.Duration{3 * time.Second, 3 * time.Second}},
		{"5xx retried then success", "GET", []int{503, 500, 200}, "", "", 3, nil},
		{"408 retried", "DELETE", []int{408, 200}, "", "", 2, nil},
		{"4xx never retried", "GET", []int{404}, "", "HTTP 404: not_found: no such product", 1, nil},
		{"409 never retried", "POST", []int{409}, "", "HTTP 409", 1, nil},
		{"POST 429 and 503 retried (not taken on)", "POST", []int{429, 503, 200}, "1", "", 3, nil},
		{"POST 502 is uncertain, never re-sent", "POST", []int{502, 200}, "", "outcome unknown", 1, nil},
		{"PATCH 500 is uncertain", "PATCH", []int{500, 200}, "", "outcome unknown", 1, nil},
		{"POST 504 is uncertain", "POST", []int{504, 200}, "", "outcome unknown", 1, nil},
		{"PUT 502 retried (idempotent)", "PUT", []int{502, 200}, "", "", 2, nil},
		{"retries are bounded", "GET", []int{503, 503, 503, 503, 503}, "", "HTTP 503", 4, nil},
		{"Retry-After beyond the allowed wait fails", "GET", []int{429}, "86400", "more than the 5m0s allowed", 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if got := r.Header.Get("Authorization"); got != "Bearer tok-SECRET-123" || r.Header.Get("User-Agent") == "" {
					t.Errorf("headers: %q %q", got, r.Header.Get("User-Agent"))
				}
				i := int(n.Add(1)) - 1
				st := c.statuses[min(i, len(c.statuses)-1)]
				if st == 429 {
					w.Header().Set("Retry-After", c.header)
				}
				w.WriteHeader(st)
				if st >= 400 {
					_, _ = w.Write([]byte(`{"error":"not_found","message":"no such product"}`))
					return
				}
				_, _ = w.Write([]byte(`{"ok":true}`))
			}))
			defer srv.Close()
			var slept []time.Duration
			cl := newClient(t, srv, &slept)
			var out struct{ OK bool }
			var stats apistats.Counters
			err := cl.Do(apistats.With(context.Background(), &stats), c.method, "/products/1", url.Values{"key": {"URLKEY-SECRET"}}, nil, &out)
			if int(n.Load()) != c.attempts {
				t.Errorf("attempts = %d, want %d", n.Load(), c.attempts)
			}
			// Every attempt is a request, every attempt after the first a retry, every 429 seen a rate limit.
			want := apistats.Snapshot{Requests: int64(c.attempts), Retries: int64(c.attempts - 1)}
			for _, st := range c.statuses[:min(c.attempts, len(c.statuses))] {
				if st == 429 {
					want.RateLimited++
				}
			}
			if got := stats.Read(); got != want {
				t.Errorf("counted %+v, want %+v", got, want)
			}
			if c.want == "" {
				if err != nil || !out.OK {
					t.Fatalf("err = %v, out = %+v", err, out)
				}
			} else if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if err != nil && (strings.Contains(err.Error(), "SECRET")) {
				t.Fatalf("error leaks a secret: %v", err)
			}
			if c.slept != nil && !equalDurations(slept, c.slept) {
				t.Errorf("slept %v, want %v", slept, c.slept)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPostLostInTransportIsUncertain(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close() // the server got the request, the client never hears back
	}))
	defer srv.Close()
	var slept []time.Duration
	cl := newClient(t, srv, &slept)
	err := cl.Do(context.Background(), "POST", "/products", url.Values{"token": {"URLKEY-SECRET"}}, map[string]any{"sku": "A"}, nil)
	var ue *UncertainError
	if !errors.As(err, &ue) || n.Load() != 1 {
		t.Fatalf("err = %v after %d attempts; want one attempt and an UncertainError", err, n.Load())
	}
	if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("error leaks the URL or a secret: %v", err)
	}
	// A GET lost the same way is retried.
	n.Store(0)
	err = cl.Do(context.Background(), "GET", "/products", nil, nil, nil)
	if err == nil || n.Load() != 4 {
		t.Fatalf("GET: err = %v after %d attempts, want 4 attempts", err, n.Load())
	}
}

func TestLimiterPaces(t *testing.T) {
	l := NewLimiter(600, 10)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var slept time.Duration
	l.now = func() time.Time { return now }
	l.sleep = func(_ context.Context, d time.Duration) error { slept += d; now = now.Add(d); return nil }
	for i := 0; i < 70; i++ {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// 10 go at once, the other 60 at 10 per second: 6 s.
	if slept != 6*time.Second {
		t.Fatalf("70 requests at 600/min with a burst of 10 slept %s, want 6s", slept)
	}
	if got := l.Estimate(1240); got != 123*time.Second {
		t.Fatalf("estimate of 1240 calls = %s, want 2m3s", got)
	}
}

// TestEchoedTokenIsMasked: a vendor error that quotes the token (code or message) never carries it into the
// error, whichever connector decodes the body.
func TestEchoedTokenIsMasked(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":"bad tok-SECRET-123","message":"token tok-SECRET-123 lacks a scope"}`))
	}))
	defer srv.Close()
	var slept []time.Duration
	cl := newClient(t, srv, &slept)
	err := cl.Do(context.Background(), "GET", "/products", nil, nil, nil)
	var se *StatusError
	if !errors.As(err, &se) || strings.Contains(err.Error(), "SECRET") || se.Message != "token *** lacks a scope" || se.Code != "bad ***" {
		t.Fatalf("err = %v, want the token masked in code and message", err)
	}
	if code, msg := cl.Decode(403, []byte(`{"message":"tok-SECRET-123"}`)); code != "" || msg != spec.Mask {
		t.Fatalf("Decode = %q, %q; want the token masked", code, msg)
	}
	// A body no decoder reads is cut to 300 characters: the token is masked before the cut, which could
	// otherwise leave a prefix of it too short to recognise.
	if code, msg := cl.Decode(403, []byte(strings.Repeat("x", 293)+"tok-SECRET-123")); code != "" || strings.Contains(msg, "tok-SEC") {
		t.Fatalf("Decode of a cut body = %q, %q; want no part of the token", code, msg)
	}
}
