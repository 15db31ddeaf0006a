package runner

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

func pid() int { return os.Getpid() }

func host() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

// timings records the duration of each stage of a run, in order.
type timings struct {
	mu    sync.Mutex
	order []string
	d     map[string]time.Duration
}

func newTimings() *timings { return &timings{d: map[string]time.Duration{}} }

// start begins timing a stage; the returned function ends it. A stage timed twice adds up.
func (t *timings) start(name string) func() {
	t0 := time.Now()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if _, ok := t.d[name]; !ok {
			t.order = append(t.order, name)
		}
		t.d[name] += time.Since(t0)
	}
}

func (t *timings) seconds() map[string]float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]float64, len(t.d))
	for k, v := range t.d {
		out[k] = v.Seconds()
	}
	return out
}

// failpoint kills the process at a named point of an apply when POSSYNC_FAILPOINT names it ("name" or
// "name:N" for the Nth time the point is reached). It exists for the crash tests, which kill the real binary
// at each point and check that the next run converges; SIGKILL leaves no chance to clean up, as in a real crash.
func failpoint(name string) {
	fp := os.Getenv("POSSYNC_FAILPOINT")
	if fp == "" {
		return
	}
	want, nth, _ := strings.Cut(fp, ":")
	if want != name {
		return
	}
	n := 1
	if nth != "" {
		n, _ = strconv.Atoi(nth)
	}
	fpMu.Lock()
	fpHits[name]++
	hit := fpHits[name] == n
	fpMu.Unlock()
	if hit {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // wait for the signal
	}
}

var (
	fpMu   sync.Mutex
	fpHits = map[string]int{}
)

// sliceReader is an array.RecordReader over batches it owns.
type sliceReader struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
	cur     arrow.RecordBatch
}

var _ array.RecordReader = (*sliceReader)(nil)

func (r *sliceReader) Retain() {}
func (r *sliceReader) Release() {
	r.drop()
	for _, b := range r.batches {
		b.Release()
	}
	r.batches = nil
}
func (r *sliceReader) Schema() *arrow.Schema          { return r.schema }
func (r *sliceReader) Err() error                     { return nil }
func (r *sliceReader) Record() arrow.RecordBatch      { return r.cur }
func (r *sliceReader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *sliceReader) drop() {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
}
func (r *sliceReader) Next() bool {
	r.drop()
	if len(r.batches) == 0 {
		return false
	}
	r.cur, r.batches = r.batches[0], r.batches[1:]
	return true
}
