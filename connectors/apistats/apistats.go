// Package apistats counts a connector's API traffic: requests sent, retries made, and rate-limit answers
// (HTTP 429), for the run report and the metrics file. The runner puts a connector's Counters into the
// context it calls the connector with (With); the HTTP clients that connectors share (connectors/internal/
// httpapi, and the clients with their own retry loops) count into the Counters of their request's context
// (From). A context without Counters counts nothing, so tests and `possync check` need no setup.
//
// It owns the counters only. It may not import other project packages: both the connectors and the runner
// import it.
package apistats

import (
	"context"
	"sync/atomic"
)

// Counters are one connector's API counts; safe for concurrent use.
type Counters struct {
	requests, retries, rateLimited atomic.Int64
}

// Snapshot is a reading of Counters.
type Snapshot struct {
	// Requests counts the HTTP requests sent (every attempt, retries included).
	Requests int64 `json:"requests"`
	// Retries counts the attempts that followed a failed one.
	Retries int64 `json:"retries"`
	// RateLimited counts the answers that asked to slow down (HTTP 429, or an API's throttled answer).
	RateLimited int64 `json:"rate_limited"`
}

type key struct{}

// With returns ctx carrying c: the requests made with it count into c.
func With(ctx context.Context, c *Counters) context.Context { return context.WithValue(ctx, key{}, c) }

// From returns the Counters of ctx; nil (which counts nothing) when it has none.
func From(ctx context.Context) *Counters {
	c, _ := ctx.Value(key{}).(*Counters)
	return c
}

// Request counts a request sent.
func (c *Counters) Request() {
	if c != nil {
		c.requests.Add(1)
	}
}

// Retry counts a retry about to be made.
func (c *Counters) Retry() {
	if c != nil {
		c.retries.Add(1)
	}
}

// RateLimit counts an answer that asked to slow down.
func (c *Counters) RateLimit() {
	if c != nil {
		c.rateLimited.Add(1)
	}
}

// Read returns the counts so far.
func (c *Counters) Read() Snapshot {
	if c == nil {
		return Snapshot{}
	}
	return Snapshot{Requests: c.requests.Load(), Retries: c.retries.Load(), RateLimited: c.rateLimited.Load()}
}
