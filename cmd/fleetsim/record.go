package main

import (
	"bufio"
	"encoding/json"
	"strings"
	"sync"
	"time"
)

// runRecord is one possync process of the simulation.
type runRecord struct {
	Pipeline, Worker int
	Start, End       time.Time
	ExitCode         int
	Killed           bool // died by SIGKILL (a timer or a failpoint)
	Final            bool // a convergence run after the phase (not counted in the throughput)
	Stderr           string
	// InLockFirst and InLockLast are the first and last timestamps of the step and stage lines the run logged.
	// possync reads, transforms, plans, applies and exports only while it holds the pipeline's lock, so
	// [InLockFirst, InLockLast] lies within the time the run held it (zero when it logged none: locked out).
	InLockFirst, InLockLast time.Time
	ExitReason              string
	Applied                 int
	Recovered               int
}

// parseLogs finds the run's in-lock interval in its JSON log lines (stderr).
func (r *runRecord) parseLogs() {
	sc := bufio.NewScanner(strings.NewReader(r.Stderr))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var l struct {
			Time  time.Time `json:"time"`
			Stage string    `json:"stage"`
		}
		if json.Unmarshal(line, &l) != nil || l.Stage == "" || l.Time.IsZero() {
			continue
		}
		if r.InLockFirst.IsZero() || l.Time.Before(r.InLockFirst) {
			r.InLockFirst = l.Time
		}
		if l.Time.After(r.InLockLast) {
			r.InLockLast = l.Time
		}
	}
}

// parseReport reads the run report possync printed on stdout (none when it was killed).
func (r *runRecord) parseReport(stdout string) {
	var rep struct {
		ExitReason string         `json:"exit_reason"`
		Applied    map[string]int `json:"applied"`
		Recovered  int            `json:"recovered"`
	}
	if json.Unmarshal([]byte(stdout), &rep) != nil {
		return
	}
	r.ExitReason, r.Recovered = rep.ExitReason, rep.Recovered
	for _, n := range rep.Applied {
		r.Applied += n
	}
}

// durationEstimate is the running mean of successful runs' durations, for placing timed kills.
type durationEstimate struct {
	mu    sync.Mutex
	total time.Duration
	n     int
}

func newDurationEstimate() *durationEstimate { return &durationEstimate{} }

func (d *durationEstimate) add(x time.Duration) {
	d.mu.Lock()
	d.total += x
	d.n++
	d.mu.Unlock()
}

// get is the mean, or 300 ms before the first run ended.
func (d *durationEstimate) get() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == 0 {
		return 300 * time.Millisecond
	}
	return d.total / time.Duration(d.n)
}
