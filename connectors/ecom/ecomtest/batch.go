package ecomtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// maxBatch is the largest number of sub-requests one batch ticket takes.
const maxBatch = 500

// subRequest is one request of a batch.
type subRequest struct {
	ID     string          `json:"id"`
	Path   string          `json:"path"`
	Method string          `json:"method"`
	Body   json.RawMessage `json:"body"`
}

// SubResponse is the answer to one sub-request of a batch ticket.
type SubResponse struct {
	ID             string          `json:"id"`
	Status         string          `json:"status"` // COMPLETED, FAILED or NOT_EXECUTED
	HTTPStatusCode int             `json:"httpStatusCode,omitempty"`
	HTTPStatusLine string          `json:"httpStatusLine,omitempty"`
	HTTPBody       json.RawMessage `json:"httpBody,omitempty"`
}

// ticket is a batch the store executed when it was created; polls reveal its progress step by step.
type ticket struct {
	responses []SubResponse
	polls     int
}

// createBatch executes the sub-requests at once (a real store runs them in the background whether or not
// anyone polls) and returns the ticket. stopOnFirstFailure (default true) leaves the requests after the first
// failure NOT_EXECUTED; a deduplicationKey seen before returns the earlier ticket without executing again.
func (s *Server) createBatch(query url.Values, body []byte) (any, *apiError) {
	if key := query.Get("deduplicationKey"); key != "" {
		if id, ok := s.dedup[key]; ok {
			return map[string]string{"ticket": id}, nil
		}
	}
	var reqs []subRequest
	if err := json.Unmarshal(body, &reqs); err != nil {
		return nil, errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Can't create batch. Batch request body is invalid")
	}
	if len(reqs) == 0 || len(reqs) > maxBatch {
		return nil, errorf(http.StatusBadRequest, "WRONG_PARAMETER", "A batch takes 1 to %d requests, not %d", maxBatch, len(reqs))
	}
	stop := query.Get("stopOnFirstFailure") != "false"
	s.nextTicket++
	id := fmt.Sprintf("11d140a2-966f-4a9f-b4e6-%012d", s.nextTicket)
	t := &ticket{}
	failed := false
	for _, r := range reqs {
		resp := SubResponse{ID: r.ID, Status: "NOT_EXECUTED"}
		if !(failed && stop) {
			status, out := s.subRequest(r, id)
			resp.HTTPStatusCode, resp.HTTPStatusLine = status, fmt.Sprintf("%d %s", status, http.StatusText(status))
			resp.HTTPBody, _ = json.Marshal(out)
			resp.Status = "COMPLETED"
			if status/100 != 2 {
				resp.Status, failed = "FAILED", true
			}
		}
		t.responses = append(t.responses, resp)
	}
	s.tickets[id] = t
	if key := query.Get("deduplicationKey"); key != "" {
		s.dedup[key] = id
	}
	return map[string]string{"ticket": id}, nil
}

// subRequest executes one request of a batch; its path is relative to the store and may carry a query.
func (s *Server) subRequest(r subRequest, ticket string) (int, any) {
	u, err := url.Parse(r.Path)
	if err != nil || r.Path == "" {
		e := errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Bad path %q", r.Path)
		return e.Status, e
	}
	body := []byte(r.Body)
	var str string
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte(`"`)) && json.Unmarshal(body, &str) == nil {
		body = []byte(str) // the documented form sends the body as a JSON string
	}
	method, path := strings.ToUpper(r.Method), "/"+strings.TrimPrefix(u.Path, "/")
	if f := s.takeFailureOf(method, path, true); f != nil {
		if f.AfterActing {
			s.dispatch(method, path, u.Query(), body, ticket)
		}
		return f.Status, failureBody(f)
	}
	return s.dispatch(method, path, u.Query(), body, ticket)
}

// batchStatus reports a ticket's progress: the first poll sees it QUEUED, later ones IN_PROGRESS with part of
// the responses, and from poll Options.TicketPolls on it is COMPLETED with every response.
func (s *Server) batchStatus(query url.Values) (any, *apiError) {
	id := query.Get("ticket")
	t, ok := s.tickets[id]
	if !ok {
		return nil, errorf(http.StatusNotFound, "NOT_FOUND", "Batch ticket %q is not found", id)
	}
	t.polls++
	total := len(t.responses)
	status, done := "COMPLETED", total
	switch {
	case t.polls >= s.opts.TicketPolls:
	case t.polls == 1:
		status, done = "QUEUED", 0
	default:
		status, done = "IN_PROGRESS", total*(t.polls-1)/(s.opts.TicketPolls-1)
	}
	return map[string]any{"status": status, "totalRequests": total, "completedRequests": done,
		"responses": t.responses[:done]}, nil
}
