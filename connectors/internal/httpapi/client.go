// Package httpapi is the HTTP client the API connectors share: JSON requests with a bearer token, timeouts,
// a client-side rate limit, and retries that honour Retry-After within a total time budget. Errors name the
// method, the path, the server (host:port) and the vendor's message, never the token or the query string.
//
// Retry policy: only what a retry can fix is retried. A refused connection, a host name that does not
// resolve, a failed TLS handshake and a URL scheme other than http(s) fail at once with their cause, as do
// 4xx answers other than 408 and 429. 429 waits for Retry-After (seconds or an HTTP date) or backs off; 408,
// 5xx and other transport failures (timeouts, resets) back off exponentially with jitter. Retries stop at
// MaxRetries or when the next wait would pass the Budget, and the error then says so. A transport failure
// after the request may have left, a 408, 500, 502 or 504 is retried for idempotent methods only: a POST or
// PATCH that may have been carried out returns an *UncertainError, so the caller can look the outcome up
// instead of creating a duplicate (429 and 503 are retried for every method: the server did not take the
// request on).
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/possync/possync/connectors/apistats"
	"github.com/possync/possync/connectors/internal/neterr"
	"github.com/possync/possync/spec"
)

// UserAgent identifies possync to the APIs (X-Series requires one).
const UserAgent = "possync/1 (+https://github.com/possync/possync)"

// Client calls one JSON API.
type Client struct {
	// Base is the API root, e.g. https://acme.retail.lightspeed.app/api/2.0; request paths are appended.
	Base *url.URL
	// Token is sent as "Authorization: Bearer <token>".
	Token spec.Secret
	// HTTP sends the requests; its Timeout bounds each attempt. Nil means a client with a 30 s timeout.
	HTTP *http.Client
	// MaxRetries bounds the retries of one request (default 5).
	MaxRetries int
	// Budget bounds the time one request spends on its attempts and the waits between them (default
	// DefaultBudget): a retry whose wait would pass it is not made, and the error says so.
	Budget time.Duration
	// BaseDelay is the first backoff delay (default 500 ms); it doubles per retry, with jitter, up to MaxDelay
	// (default 30 s). A Retry-After longer than MaxWait (default 5 min) fails the request instead of waiting.
	BaseDelay, MaxDelay, MaxWait time.Duration
	// Limiter, when set, paces requests (e.g. 600 per minute).
	Limiter *Limiter
	// DecodeError extracts the vendor's error code and message from an error body; Decode masks the token
	// in what it returns.
	DecodeError func(status int, body []byte) (code, message string)
	// Sleep waits; tests may replace it. It must return ctx.Err() when ctx ends first.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used to read HTTP-date Retry-After values.
	Now func() time.Time
}

// StatusError is a response with a non-2xx status after retries.
type StatusError struct {
	Method, Path string
	// Server is the API's host:port.
	Server   string
	Status   int
	Code     string // vendor error code, if any
	Message  string // vendor message, if any
	Attempts int
	// GaveUp, when set, says why the retries stopped (their number or the budget).
	GaveUp string
}

func (e *StatusError) Error() string {
	msg := e.Message
	if e.Code != "" {
		msg = e.Code + ": " + msg
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s%s: HTTP %d: %s%s", e.Method, e.Path, at(e.Server), e.Status, msg, paren(e.GaveUp))
}

// TransportError is a request that got no HTTP answer: the server was not reached, or did not answer.
type TransportError struct {
	Method, Path string
	// Server is the API's host:port.
	Server string
	Kind   neterr.Kind
	// Err is the cause, without the URL (which may carry a secret in its query).
	Err      error
	Attempts int
	// GaveUp, when set, says why the retries stopped.
	GaveUp string
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("%s %s%s: %s%s", e.Method, e.Path, at(e.Server), neterr.Explain(e.Err), paren(e.GaveUp))
}

func (e *TransportError) Unwrap() error { return e.Err }

// Temporary reports whether retrying later may succeed: not for a refused connection, an unknown host, a
// failed TLS handshake or an unsupported scheme.
func (e *TransportError) Temporary() bool { return !e.Kind.Permanent() }

func at(server string) string {
	if server == "" {
		return ""
	}
	return " at " + server
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// Temporary reports whether retrying later may succeed (429, 408, 5xx).
func (e *StatusError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status >= 500
}

// mayHaveActed reports whether a server answering with status may have carried the request out first: a
// timeout or a gateway error can come after the application acted. 429 and 503 say the request was not
// taken on.
func mayHaveActed(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusInternalServerError ||
		status == http.StatusBadGateway || status == http.StatusGatewayTimeout
}

// UncertainError is a non-idempotent request that failed (in transport, or with a timeout or gateway error)
// after it may have reached the server. Err is the *StatusError or *TransportError.
type UncertainError struct {
	Method, Path string
	Err          error
}

func (e *UncertainError) Error() string {
	return fmt.Sprintf("%v (outcome unknown: the request may have been applied)", e.Err)
}

func (e *UncertainError) Unwrap() error { return e.Err }

// DefaultBudget is the retry budget of a request when the connector sets none.
const DefaultBudget = 2 * time.Minute

// CheckBudget bounds a connection check: it answers within seconds, retrying little.
const CheckBudget = 10 * time.Second

// ForCheck returns a copy of c for a connection check: at most 2 retries within CheckBudget, and each
// attempt bounded by CheckBudget too. The copy shares c's rate limiter.
func (c *Client) ForCheck() *Client {
	c.defaults()
	q := *c
	q.Budget = min(q.Budget, CheckBudget)
	q.MaxRetries = min(q.MaxRetries, 2)
	timeout := c.HTTP.Timeout
	if timeout <= 0 || timeout > CheckBudget {
		timeout = CheckBudget
	}
	q.HTTP = &http.Client{Transport: c.HTTP.Transport, Timeout: timeout}
	return &q
}

func (c *Client) defaults() {
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 5
	}
	if c.BaseDelay == 0 {
		c.BaseDelay = 500 * time.Millisecond
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = 30 * time.Second
	}
	if c.MaxWait == 0 {
		c.MaxWait = 5 * time.Minute
	}
	if c.Budget == 0 {
		c.Budget = DefaultBudget
	}
	if c.Sleep == nil {
		c.Sleep = Sleep
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Sleep waits d, or returns ctx.Err() when ctx ends first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Do sends a request and decodes a JSON response into out (when out is non-nil and the body is not empty).
// body, when non-nil, is sent as JSON. It returns a *StatusError for a non-2xx answer and an *UncertainError
// for a POST lost in transport.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	c.defaults()
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
	}
	u := *c.Base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	idempotent := method != http.MethodPost && method != http.MethodPatch
	server := Server(&u)
	var spent time.Duration // attempts plus waits, against the budget
	stats := apistats.From(ctx)
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			stats.Retry()
		}
		if c.Limiter != nil {
			if err := c.Limiter.Wait(ctx); err != nil {
				return err
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(payload))
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, scrub(err)) // a URL parse error quotes the query
		}
		req.Header.Set("Authorization", "Bearer "+c.Token.Reveal())
		req.Header.Set("User-Agent", UserAgent)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		began := c.Now()
		stats.Request()
		resp, err := c.HTTP.Do(req)
		spent += max(c.Now().Sub(began), 0)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			te := &TransportError{Method: method, Path: path, Server: server, Err: scrub(err), Attempts: attempt}
			te.Kind = neterr.Classify(te.Err)
			switch {
			case !te.Temporary(): // the request never left: not even a POST is uncertain
				return te
			case !idempotent:
				return &UncertainError{Method: method, Path: path, Err: te}
			}
			wait := c.backoff(attempt)
			if te.GaveUp = c.giveUp(attempt, spent, wait); te.GaveUp != "" {
				return te
			}
			if err := c.Sleep(ctx, wait); err != nil {
				return err
			}
			spent += wait
			continue
		}
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			if rerr != nil {
				if idempotent {
					return fmt.Errorf("%s %s at %s: read response: %w", method, path, server, scrub(rerr))
				}
				return &UncertainError{Method: method, Path: path, Err: &TransportError{Method: method, Path: path,
					Server: server, Kind: neterr.Classify(rerr), Err: scrub(rerr), Attempts: attempt}}
			}
			if err := c.decodeAnswer(method, data, resp.Header.Get("Content-Type"), out); err != nil {
				return fmt.Errorf("%s %s at %s: %w", method, path, server, err)
			}
			return nil
		}
		se := &StatusError{Method: method, Path: path, Server: server, Status: resp.StatusCode, Attempts: attempt}
		se.Code, se.Message = c.Decode(resp.StatusCode, data)
		if !idempotent && mayHaveActed(resp.StatusCode) {
			return &UncertainError{Method: method, Path: path, Err: se}
		}
		if !se.Temporary() {
			return se
		}
		wait := c.backoff(attempt)
		if resp.StatusCode == http.StatusTooManyRequests {
			stats.RateLimit()
			if d, ok := retryAfter(resp.Header.Get("Retry-After"), c.Now()); ok {
				wait = d
			}
		}
		if wait > c.MaxWait {
			se.GaveUp = fmt.Sprintf("asked to wait %s, more than the %s allowed", wait.Round(time.Second), c.MaxWait)
			return se
		}
		if se.GaveUp = c.giveUp(attempt, spent, wait); se.GaveUp != "" {
			return se
		}
		if err := c.Sleep(ctx, wait); err != nil {
			return err
		}
		spent += wait
	}
}

// giveUp says why no retry follows attempt, with spent used of the budget and wait the next delay; "" means
// retry.
func (c *Client) giveUp(attempt int, spent, wait time.Duration) string {
	switch {
	case attempt > c.MaxRetries:
		return fmt.Sprintf("gave up after %d attempts", attempt)
	case spent+wait > c.Budget:
		return fmt.Sprintf("gave up after %d attempts in %s: waiting %s more would pass the retry budget of %s",
			attempt, spent.Round(time.Millisecond), wait.Round(time.Millisecond), c.Budget)
	}
	return ""
}

// Server returns the host:port of u, with the scheme's default port when u names none.
func Server(u *url.URL) string {
	if u.Port() != "" || u.Host == "" {
		return u.Host
	}
	port := "443"
	if u.Scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Decode reads a vendor error body with DecodeError, masking the token should the server echo it: the
// message reaches errors, reports and logs. A body DecodeError cannot read (a proxy's text or HTML page, a
// JSON shape the vendor does not document) still explains the error: its text, or an HTML page's title,
// cut to 300 characters.
func (c *Client) Decode(status int, body []byte) (code, message string) {
	var r spec.Redactor
	r.Add(c.Token.Reveal())
	if c.DecodeError != nil {
		code, message = c.DecodeError(status, body)
	}
	if code == "" && message == "" {
		message = excerpt([]byte(r.Redact(string(body)))) // masked before the cut, which could leave a prefix of it
	}
	return r.Redact(code), r.Redact(message)
}

// excerpt is the readable gist of an error body: an HTML page's title, or the text with its white space
// collapsed, at most 300 characters; "" for an empty or binary body.
func excerpt(body []byte) string {
	text := strings.TrimSpace(string(body))
	if !utf8.ValidString(text) {
		return ""
	}
	lower := strings.ToLower(text)
	if strings.HasPrefix(lower, "<") {
		i, j := strings.Index(lower, "<title>"), strings.Index(lower, "</title>")
		if i < 0 || j < i {
			return ""
		}
		text = text[i+len("<title>") : j]
	}
	text = strings.Join(strings.Fields(text), " ")
	if r := []rune(text); len(r) > 300 {
		text = string(r[:300]) + "…"
	}
	return text
}

// backoff is the delay before retry number attempt: BaseDelay·2^(attempt-1), capped, with ±50% jitter.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.BaseDelay << min(attempt-1, 20)
	if d > c.MaxDelay || d <= 0 {
		d = c.MaxDelay
	}
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// scrub removes the URL (and so any query-string secret) from a transport error: it returns the error the
// *url.Error wraps (unwrapping nested ones, as a failed redirect makes), keeping its type for
// classification.
func scrub(err error) error {
	for {
		var ue *url.Error
		if !errors.As(err, &ue) || ue.Err == nil {
			return err
		}
		err = ue.Err
	}
}
