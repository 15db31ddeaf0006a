package retailpos

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	rpt "github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/spec"
)

func TestRateLimitStormStillCompletes(t *testing.T) {
	// 5 requests per minute against a read of ~45 requests: most pages first get a 429 whose Retry-After (an
	// HTTP date) names the end of the window.
	e := newEnv(t, rpt.Options{RateLimit: 5, RateWindow: time.Minute})
	e.srv.Generate(200, 4)
	start := e.clk.Now()
	res := read(t, e.source(map[string]any{"page_size": int64(10)}), connectors.ReadRequest{Now: start})
	if len(res.records) != 200 {
		t.Fatalf("%d records, want 200", len(res.records))
	}
	var throttled int
	for _, r := range e.srv.Requests() {
		if r.Status == http.StatusTooManyRequests {
			throttled++
		}
	}
	slept := e.clk.sleeps()
	if throttled < 5 || len(slept) != throttled {
		t.Fatalf("%d 429s and %d sleeps; want several, one sleep each", throttled, len(slept))
	}
	for _, d := range slept {
		if d <= 0 || d > time.Minute {
			t.Errorf("slept %s; want the rest of the 1-minute window", d)
		}
	}
	// Every wait ended exactly at a window's end, so no request was throttled twice in a row.
	reqs := e.srv.Requests()
	for i := 1; i < len(reqs); i++ {
		if reqs[i].Status == http.StatusTooManyRequests && reqs[i-1].Status == http.StatusTooManyRequests {
			t.Fatalf("requests %d and %d both throttled", i-1, i)
		}
	}
}

func TestInjected429WaitsForRetryAfterDate(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	e.srv.FailNext(3, http.StatusTooManyRequests)
	res := read(t, e.source(bothOutlets), connectors.ReadRequest{Now: e.clk.Now()})
	if len(res.records) != 8 {
		t.Fatalf("%d records", len(res.records))
	}
	if got := e.clk.sleeps(); !slices.Equal(got, []time.Duration{time.Second, time.Second, time.Second}) {
		t.Errorf("slept %v, want 1s three times (Retry-After one second ahead)", got)
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	e.srv.FailNext(2, http.StatusInternalServerError)
	res := read(t, e.source(bothOutlets), connectors.ReadRequest{Now: e.clk.Now()})
	if len(res.records) != 8 {
		t.Fatalf("%d records", len(res.records))
	}
	reqs := e.srv.Requests()
	if reqs[0].Status != 500 || reqs[1].Status != 500 || reqs[2].Status != 200 || reqs[2].Path != "/outlets" {
		t.Errorf("requests %v, want two 500s then the same request answered", reqs[:3])
	}
	if n := len(e.clk.sleeps()); n != 2 {
		t.Errorf("%d backoff sleeps, want 2", n)
	}
}

func TestRefusedTokenIsAClearErrorWithoutTheToken(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	const bad = "tok-WRONG-98765"
	src := e.source(map[string]any{"token": spec.NewSecret(bad)})
	_, err := tryRead(src, connectors.ReadRequest{Now: e.clk.Now()})
	checkErr := src.Check(t.Context())
	for _, err := range []error{err, checkErr} {
		if err == nil {
			t.Fatal("no error with a wrong token")
		}
		msg := err.Error()
		if !strings.Contains(msg, "refused the token") || !strings.Contains(msg, "HTTP 401") || strings.Contains(msg, bad) {
			t.Errorf("error %q: want a clear 401 without the token", msg)
		}
	}
	if reqs := e.srv.Requests(); len(reqs) != 2 {
		t.Errorf("%d requests; a 401 must not be retried", len(reqs))
	}
}

func TestEchoedTokenIsMasked(t *testing.T) {
	const tok = "tok-SECRET-4242"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":"Forbidden","message":"token ` + tok + ` lacks scope products:read"}`))
	}))
	t.Cleanup(srv.Close)
	s, err := NewSource(spec.Config{Values: map[string]any{"base_url": srv.URL, "token": spec.NewSecret(tok)}}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Check(t.Context())
	if err == nil || strings.Contains(err.Error(), tok) || !strings.Contains(err.Error(), "token *** lacks scope") {
		t.Errorf("error %v", err)
	}
}

func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	s, err := NewSource(spec.Config{Values: map[string]any{"base_url": srv.URL, "token": spec.NewSecret("t0ken"),
		"timeout": 20 * time.Millisecond}}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var slept int
	s.api.c.Sleep = func(_ context.Context, _ time.Duration) error { slept++; return nil }
	err = s.Check(t.Context())
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "timeout") || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("error %v, want a timeout after the check's few retries", err)
	}
	if slept != 2 {
		t.Errorf("%d sleeps between 3 attempts", slept)
	}
	// A read retries timeouts as long as its budget allows.
	slept = 0
	_, err = s.Read(t.Context(), connectors.ReadRequest{})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "timeout") || !strings.Contains(err.Error(), "after 6 attempts") {
		t.Errorf("error %v, want a timeout after the bounded retries", err)
	}
	if slept != 5 {
		t.Errorf("%d sleeps between 6 attempts", slept)
	}
}

// TestErrorsKeepTheAPIExplanation: whatever shape the API's error body has, the error says what the API
// said, names the server, and never shows the token.
func TestErrorsKeepTheAPIExplanation(t *testing.T) {
	const tok = "tok-SECRET-4242-abcdef"
	for _, c := range []struct {
		status int
		body   string
		want   string
	}{
		{400, `{"error":"Bad Request","message":"page_size must be a positive integer"}`, "HTTP 400: Bad Request: page_size must be a positive integer"},
		{400, `{"error":"Bad Request","details":"after must be a non-negative integer"}`, "HTTP 400: Bad Request: after must be a non-negative integer"},
		{401, `{"error":"invalid_token","error_description":"The access token expired"}`, "HTTP 401: invalid_token: The access token expired"},
		{404, `{"error":{"code":"not_found","message":"Unknown outlet endpoint"}}`, "HTTP 404: not_found: Unknown outlet endpoint"},
		{502, `upstream connect error or disconnect/reset before headers`, "HTTP 502: upstream connect error or disconnect/reset before headers"},
		{403, `<html><title>403 Forbidden: token TOK-SECRET-4242-ABCDEF blocked</title></html>`, "HTTP 403: 403 Forbidden: token *** blocked"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			_, _ = w.Write([]byte(c.body))
		}))
		s, err := NewSource(spec.Config{Values: map[string]any{"base_url": srv.URL, "token": spec.NewSecret(tok)}}, connectors.Env{})
		if err != nil {
			t.Fatal(err)
		}
		s.api.c.Sleep = func(context.Context, time.Duration) error { return nil }
		err = s.Check(t.Context())
		srv.Close()
		host := strings.TrimPrefix(srv.URL, "http://")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "at "+host) ||
			strings.Contains(strings.ToLower(err.Error()), "secret-4242") {
			t.Errorf("body %s: error %v\nwant it to contain %q and the server %s, and no token", c.body, err, c.want, host)
		}
	}
}
