package ecom

import (
	"fmt"
	"strconv"
	"time"

	"github.com/possync/possync/connectors"
)

// pollsPerTicket is the number of status polls assumed per batch ticket.
const pollsPerTicket = 2

// Estimate counts the HTTP requests applying a plan takes (what the rate limit counts), and the time they
// take at requests_per_minute. Locating the SKUs costs one lookup each for a small plan, or a listing of the
// store for a larger one (its first page, then one page per 100 products it holds: at least the products the
// plan updates, deactivates or deletes). Each change is one write: a direct request, or, when the plan
// exceeds batch_threshold, a sub-request of a batch ticket of up to 500, which costs one request to create
// and its polls (a created product's variants wait for its id, so a ticket may hold fewer). Image uploads of
// new products come on top. The time is the budget's: what the store takes to run a ticket is not counted.
func (s *Sink) Estimate(counts map[connectors.Action]int) connectors.Estimate {
	n := 0
	for _, a := range connectors.Actions {
		n += counts[a]
	}
	lookups := n
	if n > lookupThreshold {
		lookups = min(n, 1+(n-counts[connectors.Create]+pageSize-1)/pageSize)
	}
	calls := lookups + n
	tickets := 0
	if n > s.cfg.BatchThreshold {
		tickets = (n + maxTicket - 1) / maxTicket
		calls = lookups + tickets*(1+pollsPerTicket)
	}
	d := time.Duration(calls) * time.Minute / time.Duration(s.cfg.RequestsPerMinute)
	note := fmt.Sprintf("~%s calls, ~%s at %d/min", thousands(calls), minutes(d), s.cfg.RequestsPerMinute)
	if tickets > 0 {
		note += fmt.Sprintf(" (%s writes in %s batch tickets)", thousands(n), thousands(tickets))
	}
	return connectors.Estimate{Calls: calls, Duration: d, Note: note}
}

// minutes formats a duration as "2.1 min", or "45 s" under a minute.
func minutes(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	}
	return fmt.Sprintf("%.1f min", d.Minutes())
}

// thousands formats n with comma separators: 1240 → "1,240".
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
