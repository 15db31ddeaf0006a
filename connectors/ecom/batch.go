package ecom

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/possync/possync/connectors/internal/httpapi"
)

// maxTicket is the largest number of requests one batch ticket takes.
const maxTicket = 500

// maxTicketWait bounds how long the sink polls one ticket.
const maxTicketWait = 30 * time.Minute

// subRequest is one request of a batch ticket; its path is relative to the store.
type subRequest struct {
	ID     string `json:"id"`
	Path   string `json:"path"`
	Method string `json:"method"`
	Body   any    `json:"body,omitempty"`
}

// subResponse is the answer to one request of a ticket.
type subResponse struct {
	ID             string          `json:"id"`
	Status         string          `json:"status"`
	HTTPStatusCode int             `json:"httpStatusCode"`
	HTTPBody       json.RawMessage `json:"httpBody"`
}

// ticketStatus is the answer of GET /batch?ticket=.
type ticketStatus struct {
	Status            string        `json:"status"`
	TotalRequests     int           `json:"totalRequests"`
	CompletedRequests int           `json:"completedRequests"`
	Responses         []subResponse `json:"responses"`
}

// runBatch sends the requests through tickets of at most 500 and hands each answer to its request. The
// answers of a ticket are all handled before the sink stops on a fatal one.
func (a *applier) runBatch(ctx context.Context, ops []op) ([]op, error) {
	var live []op
	for _, o := range ops {
		if a.st[o.ch].done {
			a.st[o.ch].open--
			continue
		}
		live = append(live, o)
	}
	var next []op
	for lo := 0; lo < len(live); lo += maxTicket {
		chunk := live[lo:min(lo+maxTicket, len(live))]
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		results, created, err := a.s.runTicket(ctx, chunk)
		if err != nil {
			if created { // the ticket ran, or may have: its writes' fate is unknown
				for _, o := range chunk {
					a.st[o.ch].open--
					if o.method != http.MethodGet {
						a.st[o.ch].sent = true
					}
					a.settle(o.ch, a.unknown(o, fmt.Errorf("batch: %w", err)))
				}
			}
			return nil, refused(err)
		}
		var fatal error
		for k, o := range chunk {
			if results[k] == nil { // NOT_EXECUTED
				a.st[o.ch].open--
				a.settle(o.ch, a.stopped(o.ch))
				continue
			}
			follow, err := a.handle(ctx, o, *results[k], false)
			next = append(next, follow...)
			if fatal == nil {
				fatal = err
			}
		}
		if fatal == nil {
			fatal = a.failing()
		}
		if fatal != nil {
			return nil, fatal
		}
	}
	return next, nil
}

// runTicket creates a batch ticket for ops (POST /batch, never stopping on a failure), polls it every
// poll_interval until COMPLETED and returns each request's result (nil for one the store did not execute).
// created reports whether, on error, the ticket was (or may have been) created. A creation lost in transport
// is sent again with the same deduplicationKey, which the store answers with the same ticket.
func (s *Sink) runTicket(ctx context.Context, ops []op) (results []*result, created bool, err error) {
	reqs := make([]subRequest, len(ops))
	for k, o := range ops {
		path := o.path
		if len(o.query) > 0 {
			path += "?" + o.query.Encode()
		}
		reqs[k] = subRequest{ID: strconv.Itoa(k), Path: path, Method: o.method, Body: o.body}
	}
	q := url.Values{"stopOnFirstFailure": {"false"}, "deduplicationKey": {newKey()}}
	var out struct {
		Ticket string `json:"ticket"`
	}
	for attempt := 0; attempt < 3; attempt++ {
		if err = s.client.Do(ctx, http.MethodPost, "/batch", q, reqs, &out); !isUncertain(err) {
			break
		}
	}
	switch {
	case err != nil:
		return nil, isUncertain(err), err
	case out.Ticket == "":
		return nil, true, fmt.Errorf("POST /batch: no ticket in the answer")
	}
	st, err := s.poll(ctx, out.Ticket)
	if err != nil {
		return nil, true, err
	}
	byID := make(map[string]subResponse, len(st.Responses))
	for _, r := range st.Responses {
		byID[r.ID] = r
	}
	results = make([]*result, len(ops))
	for k, o := range ops {
		r, ok := byID[strconv.Itoa(k)]
		switch {
		case !ok:
			results[k] = &result{err: fmt.Errorf("batch ticket %s has no answer for %s %s", out.Ticket, o.method, o.path)}
		case r.Status == "NOT_EXECUTED":
		case r.HTTPStatusCode/100 == 2:
			results[k] = &result{body: r.HTTPBody}
		default:
			se := &httpapi.StatusError{Method: o.method, Path: o.path, Status: r.HTTPStatusCode, Attempts: 1}
			se.Code, se.Message = s.client.Decode(r.HTTPStatusCode, r.HTTPBody)
			results[k] = &result{err: se}
		}
	}
	return results, false, nil
}

// poll waits for a ticket to complete.
func (s *Sink) poll(ctx context.Context, ticket string) (*ticketStatus, error) {
	maxPolls := max(60, int(maxTicketWait/s.cfg.PollInterval))
	for n := 1; ; n++ {
		if err := s.sleep(ctx, s.cfg.PollInterval); err != nil {
			return nil, err
		}
		var st ticketStatus
		if err := s.client.Do(ctx, http.MethodGet, "/batch", url.Values{"ticket": {ticket}}, nil, &st); err != nil {
			return nil, fmt.Errorf("poll batch ticket %s: %w", ticket, err)
		}
		if st.Status == "COMPLETED" {
			return &st, nil
		}
		if n >= maxPolls {
			return nil, fmt.Errorf("batch ticket %s not completed after %d polls (%d of %d requests done)",
				ticket, n, st.CompletedRequests, st.TotalRequests)
		}
	}
}

// newKey returns a random deduplication key.
func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
