package shopify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/possync/possync/connectors/apistats"
	"github.com/possync/possync/connectors/internal/httpapi"
	"github.com/possync/possync/spec"
)

// client calls the Admin GraphQL API of one shop. It paces its requests by the calculated query cost the
// API reports: after each answer it knows the bucket (extensions.cost.throttleStatus: currentlyAvailable,
// restoreRate, maximumAvailable) and the cost of each kind of request (requestedQueryCost), and before the
// next request of a kind it waits exactly until the bucket, restoring at restoreRate, holds that cost. A
// THROTTLED answer (HTTP 200 or 429) updates the bucket and waits the same way before retrying.
//
// Transport failures, 5xx and 429 without a GraphQL body are retried with exponential backoff (Retry-After
// honoured). Every request the source sends is safe to repeat: queries, and the mutations tagsAdd and
// metafieldsSet, which set the same tag or value again. Errors name the request, never the token.
type client struct {
	endpoint string
	token    spec.Secret
	http     *http.Client
	// now and sleep are the clock and the waiter (tests inject a fake clock that advances on sleep).
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	// maxRetries bounds the retries of failed transports and 5xx/429 answers; maxThrottled the THROTTLED
	// answers one request may get before the request fails.
	maxRetries, maxThrottled int
	baseDelay, maxDelay      time.Duration

	mu      sync.Mutex
	bucket  bucket
	costs   map[string]float64 // requested cost per kind of request, as last reported
	stats   stats
	redact  spec.Redactor
	version string
}

// bucket is the leaky bucket as last reported, at the time the answer arrived.
type bucket struct {
	known                bool
	available, max, rate float64
	at                   time.Time
}

// stats count what pacing did (for notes and tests).
type stats struct {
	requests, throttled int
	waited              time.Duration
}

// Error is a failed API request: an HTTP status, a GraphQL error or a malformed answer.
type Error struct {
	// Op names the request, e.g. "orders page 3" or "tagsAdd #1001".
	Op string
	// Status is the HTTP status (0 for a transport failure).
	Status int
	// Code is the GraphQL error code (extensions.code), when any.
	Code string
	// Message says what went wrong, the token masked.
	Message string
	// cost and maxCost are set for MAX_COST_EXCEEDED.
	cost, maxCost float64
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Status != 0 && e.Status != http.StatusOK {
		return fmt.Sprintf("shopify %s: HTTP %d: %s", e.Op, e.Status, msg)
	}
	return fmt.Sprintf("shopify %s: %s", e.Op, msg)
}

// fatal reports whether the error rules out further requests (bad token, missing scope, wrong shop).
func (e *Error) fatal() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusNotFound ||
		e.Status == http.StatusPaymentRequired || e.Code == "ACCESS_DENIED"
}

// response is a GraphQL answer.
type response struct {
	Data       json.RawMessage `json:"data"`
	Errors     json.RawMessage `json:"errors"`
	Extensions struct {
		Cost *costInfo `json:"cost"`
	} `json:"extensions"`
}

type costInfo struct {
	RequestedQueryCost float64  `json:"requestedQueryCost"`
	ActualQueryCost    *float64 `json:"actualQueryCost"`
	ThrottleStatus     struct {
		MaximumAvailable   float64 `json:"maximumAvailable"`
		CurrentlyAvailable float64 `json:"currentlyAvailable"`
		RestoreRate        float64 `json:"restoreRate"`
	} `json:"throttleStatus"`
}

type gqlError struct {
	Message    string `json:"message"`
	Path       []any  `json:"path"`
	Extensions struct {
		Code    string  `json:"code"`
		Cost    float64 `json:"cost"`
		MaxCost float64 `json:"maxCost"`
	} `json:"extensions"`
}

func newClient(base *url.URL, version string, token spec.Secret, timeout time.Duration) *client {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/admin/api/" + version + "/graphql.json"
	c := &client{endpoint: u.String(), token: token, http: &http.Client{Timeout: timeout}, now: time.Now,
		sleep: httpapi.Sleep, maxRetries: 5, maxThrottled: 30, baseDelay: time.Second, maxDelay: 30 * time.Second,
		costs: map[string]float64{}, version: version}
	c.redact.Add(token.Reveal())
	return c
}

// do sends one GraphQL request of a kind ("orders", "order lines", "tagsAdd", ...) and decodes data into
// out. op names the request in errors.
func (c *client) do(ctx context.Context, kind, op, query string, vars map[string]any, out any) error {
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return &Error{Op: op, Message: "encode request: " + err.Error()}
	}
	retries, throttled := 0, 0
	stats := apistats.From(ctx)
	for first := true; ; first = false {
		if err := c.pace(ctx, kind); err != nil {
			return err
		}
		if !first {
			stats.Retry()
		}
		stats.Request()
		status, body, retryAfter, err := c.post(ctx, payload)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if retries++; retries > c.maxRetries {
				return &Error{Op: op, Message: fmt.Sprintf("%v (after %d attempts)", err, retries)}
			}
			if err := c.wait(ctx, c.backoff(retries)); err != nil {
				return err
			}
			continue
		}
		var resp response
		jerr := json.Unmarshal(body, &resp)
		if jerr == nil && resp.Extensions.Cost != nil {
			c.observe(kind, resp.Extensions.Cost)
		}
		var errs []gqlError
		if jerr == nil && len(resp.Errors) > 0 && resp.Errors[0] == '[' {
			_ = json.Unmarshal(resp.Errors, &errs)
		}
		if isThrottled(errs) {
			stats.RateLimit()
			c.mu.Lock()
			c.stats.throttled++
			c.mu.Unlock()
			if throttled++; throttled > c.maxThrottled {
				return &Error{Op: op, Status: status, Code: "THROTTLED",
					Message: fmt.Sprintf("still throttled after %d waits for the query cost to restore", c.maxThrottled)}
			}
			if resp.Extensions.Cost == nil || c.paceDelay(kind) <= 0 {
				// No bucket to wait for, or one that says the cost is available: back off instead.
				if err := c.wait(ctx, c.backoff(throttled)); err != nil {
					return err
				}
			}
			continue // pace waits for the reported bucket to hold the requested cost
		}
		if status/100 != 2 {
			e := &Error{Op: op, Status: status, Message: c.errorText(resp.Errors, errs, body)}
			if len(errs) > 0 {
				e.Code = errs[0].Extensions.Code
			}
			temporary := status == http.StatusTooManyRequests || status >= 500
			if status == http.StatusTooManyRequests {
				stats.RateLimit() // a 429 without a THROTTLED body (counted above)
			}
			if !temporary {
				return e
			}
			if retries++; retries > c.maxRetries {
				e.Message += fmt.Sprintf(" (after %d attempts)", retries)
				return e
			}
			wait := c.backoff(retries)
			if retryAfter > 0 {
				wait = retryAfter
			}
			if err := c.wait(ctx, wait); err != nil {
				return err
			}
			continue
		}
		if jerr != nil {
			return &Error{Op: op, Status: status, Message: "malformed JSON answer: " + jerr.Error()}
		}
		if len(errs) > 0 || (len(resp.Errors) > 0 && string(resp.Errors) != "null") {
			e := &Error{Op: op, Status: status, Message: "GraphQL error: " + c.errorText(resp.Errors, errs, body)}
			if len(errs) > 0 {
				e.Code = errs[0].Extensions.Code
				if e.Code == "MAX_COST_EXCEEDED" {
					e.cost, e.maxCost = errs[0].Extensions.Cost, errs[0].Extensions.MaxCost
				}
			}
			return e
		}
		if len(resp.Data) == 0 || string(resp.Data) == "null" {
			return &Error{Op: op, Status: status, Message: "the answer has no data"}
		}
		if out != nil {
			if err := json.Unmarshal(resp.Data, out); err != nil {
				return &Error{Op: op, Status: status, Message: "unexpected answer: " + err.Error()}
			}
		}
		return nil
	}
}

// post sends the request once and returns the status, the body and a Retry-After delay.
func (c *client) post(ctx context.Context, payload []byte) (int, []byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, 0, scrub(err)
	}
	req.Header.Set("X-Shopify-Access-Token", c.token.Reveal())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", httpapi.UserAgent)
	c.mu.Lock()
	c.stats.requests++
	c.mu.Unlock()
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, 0, scrub(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, 0, fmt.Errorf("read answer: %w", scrub(err))
	}
	var after time.Duration
	if n, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && n > 0 {
		after = time.Duration(n) * time.Second
	}
	return resp.StatusCode, body, after, nil
}

// scrub drops the URL from a transport error.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s", ue.Err)
	}
	return err
}

// errorText renders the errors of an answer (an array of GraphQL errors, or Shopify's string or object
// form on 4xx), the token masked.
func (c *client) errorText(raw json.RawMessage, errs []gqlError, body []byte) string {
	var parts []string
	for _, e := range errs {
		m := e.Message
		if len(e.Path) > 0 {
			m += fmt.Sprintf(" (at %v)", e.Path)
		}
		parts = append(parts, m)
	}
	if len(parts) == 0 && len(raw) > 0 {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			parts = append(parts, s)
		} else {
			parts = append(parts, string(raw))
		}
	}
	if len(parts) == 0 {
		// Masked before the cut, which could leave a prefix of the token too short to be recognised.
		text := c.redact.Redact(strings.TrimSpace(string(body)))
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		if text == "" {
			text = "empty answer"
		}
		parts = append(parts, text)
	}
	return c.redact.Redact(strings.Join(parts, "; "))
}

func isThrottled(errs []gqlError) bool {
	for _, e := range errs {
		if e.Extensions.Code == "THROTTLED" {
			return true
		}
	}
	return false
}

// observe records the bucket and the requested cost an answer reports.
func (c *client) observe(kind string, cost *costInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ts := cost.ThrottleStatus
	if ts.RestoreRate > 0 && ts.MaximumAvailable > 0 {
		c.bucket = bucket{known: true, available: ts.CurrentlyAvailable, max: ts.MaximumAvailable,
			rate: ts.RestoreRate, at: c.now()}
	}
	if cost.RequestedQueryCost > 0 {
		c.costs[kind] = cost.RequestedQueryCost
	}
}

// pace waits until the bucket holds the cost of a request of this kind (known from an earlier answer).
func (c *client) pace(ctx context.Context, kind string) error {
	if d := c.paceDelay(kind); d > 0 {
		return c.wait(ctx, d)
	}
	return nil
}

// paceDelay is how long until the bucket, as last reported and restoring since, holds the cost of a request
// of this kind; 0 when it does or when either is unknown.
func (c *client) paceDelay(kind string) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	need, b := c.costs[kind], c.bucket
	if !b.known || need <= 0 || need > b.max {
		return 0
	}
	avail := math.Min(b.max, b.available+c.now().Sub(b.at).Seconds()*b.rate)
	if need <= avail {
		return 0
	}
	// Round up to the millisecond, so the bucket holds the cost when the wait ends.
	return time.Duration(math.Ceil((need-avail)/b.rate*1000)) * time.Millisecond
}

func (c *client) wait(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.stats.waited += d
	c.mu.Unlock()
	return c.sleep(ctx, d)
}

// backoff is the delay before retry n: baseDelay·2^(n-1), at most maxDelay.
func (c *client) backoff(n int) time.Duration {
	d := c.baseDelay << min(n-1, 20)
	if d > c.maxDelay || d <= 0 {
		d = c.maxDelay
	}
	return d
}

// snapshot returns the pacing counters.
func (c *client) snapshot() stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}
