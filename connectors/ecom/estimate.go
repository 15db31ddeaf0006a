package ecom

import (
	"fmt"
	"strconv"
	"time"

	"github.com/possync/possync/connectors"
)

// pollsPerTicket is the number of status polls assumed per batch ticket.
const pollsPerTicket = 2

// Estimate counts the API calls applying a plan takes, and the time they take at requests_per_minute.
// Locating the SKUs costs one lookup each for a small plan, or one listing page per 100 changes for a larger
// one. Each change is one write (a direct request, or a sub-request of a batch ticket when the plan exceeds
// batch_threshold; a ticket adds its creation and its polls). Image uploads of new products come on top.
func (s *Sink) Estimate(counts map[connectors.Action]int) connectors.Estimate {
	n := 0
	for _, a := range connectors.Actions {
		n += counts[a]
	}
	lookups := n
	if n > lookupThreshold {
		lookups = 1 + (n+pageSize-1)/pageSize
	}
	calls := lookups + n
	if n > s.cfg.BatchThreshold {
		tickets := (n + maxTicket - 1) / maxTicket
		calls += tickets * (1 + pollsPerTicket)
	}
	d := time.Duration(calls) * time.Minute / time.Duration(s.cfg.RequestsPerMinute)
	return connectors.Estimate{Calls: calls, Duration: d,
		Note: fmt.Sprintf("~%s calls, ~%s at %d/min", thousands(calls), minutes(d), s.cfg.RequestsPerMinute)}
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
