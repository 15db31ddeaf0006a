package runner

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/possync/possync/runner/internal/proctime"
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
	// CPU is the processor time the whole process (DuckDB's threads included) used during the stage, user
	// plus system, in seconds (0 where the platform does not tell): on a shared machine it moves far less
	// than Seconds when other work takes the processors.
	CPU float64 `json:"cpu_seconds,omitempty"`
}

// timings records the duration and peak memory of each stage of a run, in order.
type timings struct {
	mu      sync.Mutex
	stages  []Stage
	observe func(Event)
	// open holds the high-water marks of the stages begun and not ended: a stage begun inside another (the
	// run's checkpoint inside the export, beside the merge; a streamed apply's waits inside the apply)
	// resets the process's peak, so it first adds the peak so far to every open stage's.
	open []*int64
}

func newTimings() *timings { return &timings{} }

// start begins a stage; the returned function ends it. A stage run twice adds up (peak: the larger). A
// stage begun while another runs is counted in both (seconds, processor time and peak).
func (t *timings) start(name string) func() {
	mark := new(int64)
	t.mu.Lock()
	if len(t.open) > 0 {
		h := peakRSS()
		for _, m := range t.open {
			*m = max(*m, h)
		}
	}
	t.open = append(t.open, mark)
	resetPeakRSS()
	t.mu.Unlock()
	t.notify(Event{Stage: name, Kind: StageStart})
	t0, c0 := time.Now(), proctime.Seconds()
	return func() {
		d, peak, cpu := time.Since(t0), peakRSS(), proctime.Seconds()-c0
		defer t.notify(Event{Stage: name, Kind: StageEnd, Seconds: d.Seconds()})
		t.mu.Lock()
		defer t.mu.Unlock()
		if i := slices.Index(t.open, mark); i >= 0 {
			t.open = slices.Delete(t.open, i, i+1)
		}
		peak = max(peak, *mark)
		for i := range t.stages {
			if t.stages[i].Name == name {
				t.stages[i].Seconds += d.Seconds()
				t.stages[i].PeakRSS = max(t.stages[i].PeakRSS, peak)
				t.stages[i].CPU += cpu
				return
			}
		}
		t.stages = append(t.stages, Stage{Name: name, Seconds: d.Seconds(), PeakRSS: peak, CPU: cpu})
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
