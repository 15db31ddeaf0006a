package orderurl

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/possync/possync/connectors/apistats"
	"github.com/possync/possync/connectors/internal/httpapi"
	"github.com/possync/possync/spec"
)

// client calls the order export's one URL with its method values (domain README §7.2). Every call is a GET;
// UpdateOrder and UpdateStatus are idempotent on the site (confirming twice is harmless), so every call is
// retried. The URL key travels in the query string only: errors name the method, never the URL.
type client struct {
	base     *url.URL
	merchant string
	key      spec.Secret
	location string
	http     *http.Client
	// retries bounds the retries of one call; the delay starts at baseDelay and doubles, with jitter, up to
	// maxDelay.
	retries             int
	baseDelay, maxDelay time.Duration
	sleep               func(ctx context.Context, d time.Duration) error
}

// callError is a call the site answered with a non-2xx status after retries.
type callError struct {
	Method   string
	Status   int
	Message  string
	Attempts int
}

func (e *callError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("order export %s: HTTP %d: %s", e.Method, e.Status, msg)
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return s
}

// fatal reports whether the error concerns every call, not one order: the URL key or merchant was refused,
// or the URL is wrong.
func (e *callError) fatal() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusNotFound && e.Method == "Orders"
}

// transient reports whether a status is worth retrying: the site was unavailable or overloaded, or a gateway
// gave up.
func transient(status int) bool {
	return status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
		status == http.StatusGatewayTimeout || status == http.StatusRequestTimeout || status == http.StatusInternalServerError
}

// call sends one method with its extra parameters and returns the body of the 2xx answer.
func (c *client) call(ctx context.Context, method string, extra url.Values) ([]byte, error) {
	q := url.Values{}
	for k, vs := range c.base.Query() {
		q[k] = vs
	}
	q.Set("method", method)
	q.Set("ver", APIVersion)
	q.Set("merchant", c.merchant)
	q.Set("URLkey", c.key.Reveal())
	if c.location != "" && method == "Orders" {
		q.Set("location", c.location)
	}
	for k, vs := range extra {
		q[k] = vs
	}
	u := *c.base
	u.RawQuery = q.Encode()
	stats := apistats.From(ctx)
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			stats.Retry()
		}
		stats.Request()
		body, status, err := c.once(ctx, u.String())
		if status == http.StatusTooManyRequests {
			stats.RateLimit()
		}
		switch {
		case err == nil && status/100 == 2:
			return body, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			if attempt > c.retries {
				return nil, fmt.Errorf("order export %s: %w (after %d attempts)", method, err, attempt)
			}
		default:
			ce := &callError{Method: method, Status: status, Message: c.bodyText(body), Attempts: attempt}
			if !transient(status) || attempt > c.retries {
				return nil, ce
			}
		}
		if err := c.sleep(ctx, c.backoff(attempt)); err != nil {
			return nil, err
		}
	}
}

// once sends one request. A transport failure or a body cut short (a timeout while reading) is an error; a
// status is returned as is.
func (c *client) once(ctx context.Context, u string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, errors.New("invalid order export URL")
	}
	req.Header.Set("User-Agent", httpapi.UserAgent)
	req.Header.Set("Accept", "application/xml, text/xml, text/plain")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, scrub(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("read response: %w", scrub(err))
	}
	return body, resp.StatusCode, nil
}

func (c *client) backoff(attempt int) time.Duration {
	d := c.baseDelay << min(attempt-1, 20)
	if d > c.maxDelay || d <= 0 {
		d = c.maxDelay
	}
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

// redact masks the URL key should the site echo it.
func (c *client) redact(s string) string {
	if k := c.key.Reveal(); k != "" {
		var r spec.Redactor
		r.Add(k)
		s = r.Redact(s)
	}
	return s
}

// scrub removes the URL (and its URL key) from a transport error.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("timeout: %v", ue.Err)
		}
		return fmt.Errorf("%v", ue.Err)
	}
	return err
}

// bodyText is the first line of an error body, without markup, for messages, with the URL key masked
// before it is cut to 200 bytes (a cut could leave a prefix of the key too short to be recognised).
func (c *client) bodyText(b []byte) string {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, "<") {
		var r xmlResponse
		if xml.Unmarshal(b, &r) == nil && r.message() != "" {
			return c.redact(r.message())
		}
	}
	s, _, _ = strings.Cut(s, "\n")
	s = c.redact(s)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}

// xmlResponse is the site's answer to UpdateOrder and UpdateStatus: `OK`, or
// <Response><Success>true|false</Success><Message>…</Message></Response>.
type xmlResponse struct {
	XMLName xml.Name
	Success string `xml:"Success"`
	Message string `xml:"Message"`
	Error   string `xml:"Error"`
}

func (r *xmlResponse) message() string {
	if m := strings.TrimSpace(r.Message); m != "" {
		return m
	}
	return strings.TrimSpace(r.Error)
}

// accepted reads a 2xx answer to UpdateOrder or UpdateStatus: empty, OK or Success true are success; Success
// false or a body starting with ERROR or FAIL is the site's refusal, returned as an error with its message.
func (c *client) accepted(method, orderID string, body []byte) error {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil
	}
	if b[0] == '<' {
		var r xmlResponse
		if err := xml.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("order export %s of order %s: unreadable answer: %v", method, orderID, err)
		}
		if s := strings.ToLower(strings.TrimSpace(r.Success)); s == "false" || s == "0" || s == "no" {
			msg := r.message()
			if msg == "" {
				msg = "refused without a message"
			}
			return fmt.Errorf("order export %s of order %s: %s", method, orderID, msg)
		}
		return nil
	}
	up := strings.ToUpper(string(b))
	if strings.HasPrefix(up, "ERROR") || strings.HasPrefix(up, "FAIL") {
		return fmt.Errorf("order export %s of order %s: %s", method, orderID, c.bodyText(b))
	}
	return nil
}
