package httpapi

import (
	"context"
	"sync"
	"time"
)

// Limiter paces requests to a rate (a token bucket with a burst). It is safe for concurrent use.
type Limiter struct {
	mu       sync.Mutex
	interval time.Duration // time per token
	burst    float64
	tokens   float64
	last     time.Time
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
}

// NewLimiter allows perMinute requests per minute, with bursts of up to burst requests.
func NewLimiter(perMinute, burst int) *Limiter {
	return &Limiter{interval: time.Minute / time.Duration(perMinute), burst: float64(burst), tokens: float64(burst),
		now: time.Now, sleep: Sleep}
}

// Wait blocks until a request may go, or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	now := l.now()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+float64(now.Sub(l.last))/float64(l.interval))
	}
	l.last = now
	l.tokens--
	var wait time.Duration
	if l.tokens < 0 {
		wait = time.Duration(-l.tokens * float64(l.interval))
	}
	l.mu.Unlock()
	if wait > 0 {
		return l.sleep(ctx, wait)
	}
	return nil
}

// Estimate is how long n requests take at the limiter's rate after its burst.
func (l *Limiter) Estimate(n int) time.Duration {
	extra := float64(n) - l.burst
	if extra <= 0 {
		return 0
	}
	return time.Duration(extra * float64(l.interval))
}
