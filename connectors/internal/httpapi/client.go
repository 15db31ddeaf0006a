// Package httpapi is the HTTP client the API connectors share: JSON requests with a bearer token, timeouts,
// a client-side rate limit, and bounded retries that honour Retry-After. Errors name the method, the path and
// the vendor's message, never the token or the query string.
//
// Retry policy: 429 waits for Retry-After (seconds or an HTTP date) or backs off; 408 and 5xx back off
// exponentially with jitter; other 4xx never retry. A transport failure, a 408, 500, 502 or 504 is retried
// for idempotent methods only: a POST or PATCH that may have been carried out returns an *UncertainError,
// so the caller can look the outcome up instead of creating a duplicate (429 and 503 are retried for every
// method: the server did not take the request on).
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/possync/possync/pipelines/spec"
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
	Status       int
	Code         string // vendor error code, if any
	Message      string // vendor message, if any
	Attempts     int
}

func (e *StatusError) Error() string {
	msg := e.Message
	if e.Code != "" {
		msg = e.Code + ": " + msg
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, msg)
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
// after it may have reached the server.
type UncertainError struct {
	Method, Path string
	Err          error
}

func (e *UncertainError) Error() string {
	return fmt.Sprintf("%s %s: outcome unknown (the request may have been applied): %v", e.Method, e.Path, e.Err)
}

func (e *UncertainError) Unwrap() error { return e.Err }

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
	for attempt := 1; ; attempt++ {
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
		resp, err := c.HTTP.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			err = scrub(err)
			if !idempotent {
				return &UncertainError{Method: method, Path: path, Err: err}
			}
			if attempt > c.MaxRetries {
				return fmt.Errorf("%s %s: %w (after %d attempts)", method, path, err, attempt)
			}
			if err := c.Sleep(ctx, c.backoff(attempt)); err != nil {
				return err
			}
			continue
		}
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			if rerr != nil {
				if idempotent {
					return fmt.Errorf("%s %s: read response: %w", method, path, scrub(rerr))
				}
				return &UncertainError{Method: method, Path: path, Err: scrub(rerr)}
			}
			if err := c.decodeAnswer(method, data, resp.Header.Get("Content-Type"), out); err != nil {
				return fmt.Errorf("%s %s: %w", method, path, err)
			}
			return nil
		}
		se := &StatusError{Method: method, Path: path, Status: resp.StatusCode, Attempts: attempt}
		se.Code, se.Message = c.Decode(resp.StatusCode, data)
		if !idempotent && mayHaveActed(resp.StatusCode) {
			return &UncertainError{Method: method, Path: path, Err: se}
		}
		if !se.Temporary() || attempt > c.MaxRetries {
			return se
		}
		wait := c.backoff(attempt)
		if resp.StatusCode == http.StatusTooManyRequests {
			if d, ok := retryAfter(resp.Header.Get("Retry-After"), c.Now()); ok {
				wait = d
			}
		}
		if wait > c.MaxWait {
			se.Message += fmt.Sprintf(" (asked to wait %s, more than the %s allowed)", wait.Round(time.Second), c.MaxWait)
			return se
		}
		if err := c.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// Decode reads a vendor error body with DecodeError ("", "" without one), masking the token should the
// server echo it: the message reaches errors, reports and logs.
func (c *Client) Decode(status int, body []byte) (code, message string) {
	if c.DecodeError == nil {
		return "", ""
	}
	code, message = c.DecodeError(status, body)
	if tok := c.Token.Reveal(); tok != "" {
		var r spec.Redactor
		r.Add(tok)
		code, message = r.Redact(code), r.Redact(message)
	}
	return code, message
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

// scrub removes the URL (and so any query-string secret) from a transport error.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s", ue.Err)
	}
	return err
}
