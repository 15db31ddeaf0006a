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

// Stage is the cost of one stage of a run.
type Stage struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	// PeakRSS is the process's peak resident memory during the stage, in bytes (0 where the platform does
	// not tell).
	PeakRSS int64 `json:"peak_rss_bytes"`
}

// timings records the duration and peak memory of each stage of a run, in order.
type timings struct {
	mu      sync.Mutex
	stages  []Stage
	observe func(Event)
}

func newTimings() *timings { return &timings{} }

// start begins a stage; the returned function ends it. A stage run twice adds up (peak: the larger).
func (t *timings) start(name string) func() {
	resetPeakRSS()
	t.notify(Event{Stage: name, Kind: StageStart})
	t0 := time.Now()
	return func() {
		d, peak := time.Since(t0), peakRSS()
		defer t.notify(Event{Stage: name, Kind: StageEnd, Seconds: d.Seconds()})
		t.mu.Lock()
		defer t.mu.Unlock()
		for i := range t.stages {
			if t.stages[i].Name == name {
				t.stages[i].Seconds += d.Seconds()
				t.stages[i].PeakRSS = max(t.stages[i].PeakRSS, peak)
				return
			}
		}
		t.stages = append(t.stages, Stage{Name: name, Seconds: d.Seconds(), PeakRSS: peak})
	}
}

func (t *timings) list() []Stage {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Stage(nil), t.stages...)
}

func (t *timings) seconds() map[string]float64 {
	out := map[string]float64{}
	for _, s := range t.list() {
		out[s.Name] = s.Seconds
	}
	return out
}

// resetPeakRSS resets the kernel's resident-set high-water mark of this process (Linux: clear_refs 5).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS reads the resident-set high-water mark (VmHWM) in bytes; 0 when unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// failpoint kills the process at a named point of an apply when POSSYNC_FAILPOINT names it ("name" or
// "name:N" for the Nth time the point is reached). It exists for the crash tests, which kill the real binary
// at each point and check that the next run converges; SIGKILL leaves no chance to clean up, as in a real crash.
// With POSSYNC_FAILPOINT_RELEASE naming a file, the process waits there until the file exists instead (the
// lock tests hold a run at a known point; see failpointHold).
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
		if failpointHold() {
			return
		}
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
