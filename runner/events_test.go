package runner_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/possync/possync/runner"
)

// TestObserveEventsRunIDAndLastSuccess: an observed apply reports every stage's start and end, the rows of
// the read and of the step, and the apply's progress; it takes the caller's run ID; the journal then gives
// its finish as the last success.
func TestObserveEventsRunIDAndLastSuccess(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,anchor,3\nB,bottle,2.5\nC,cup,1\n")
	p := loadAt(t, dir)
	if ts, err := runner.LastSuccess(context.Background(), p); err != nil || !ts.IsZero() {
		t.Fatalf("last success before any run = %v, %v; want zero", ts, err)
	}
	var mu sync.Mutex
	var events []runner.Event
	rep := mustApply(t, p, runner.Options{RunID: "run-from-the-caller", Observe: func(e runner.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	if rep.RunID != "run-from-the-caller" {
		t.Errorf("report run ID %q, want the caller's", rep.RunID)
	}
	open := map[string]int{}
	var read, step, progress *runner.Event
	for i, e := range events {
		switch e.Kind {
		case runner.StageStart:
			open[e.Stage]++
		case runner.StageEnd:
			if open[e.Stage]--; open[e.Stage] < 0 || e.Seconds < 0 {
				t.Errorf("stage %q ended without a start (or negative seconds %v)", e.Stage, e.Seconds)
			}
		case runner.StageRows:
			switch {
			case e.Stage == "read source":
				read = &events[i]
			case strings.HasPrefix(e.Stage, "transform "):
				step = &events[i]
			case e.Stage == "apply":
				progress = &events[i]
			}
		}
	}
	for s, n := range open {
		if n != 0 {
			t.Errorf("stage %q: %d start(s) without an end", s, n)
		}
	}
	if _, ok := rep.Durations["read source"]; !ok || read == nil || read.RowsOut != 3 || read.RowsIn != -1 || read.Seconds <= 0 {
		t.Errorf("read rows event %+v; want 3 rows out, rows in unknown, its seconds", read)
	}
	if step == nil || step.RowsIn != 3 || step.RowsOut != 3 {
		t.Errorf("step rows event %+v; want 3 in, 3 out", step)
	}
	if progress == nil || progress.RowsIn != 3 || progress.RowsOut != 3 {
		t.Errorf("apply progress event %+v; want 3 of 3", progress)
	}
	ts, err := runner.LastSuccess(context.Background(), p)
	if err != nil || ts.Sub(rep.FinishedAt).Abs() > time.Second {
		t.Errorf("last success = %v, %v; want about the run's finish %v", ts, err, rep.FinishedAt)
	}
	if v, err := runner.EngineVersion(context.Background()); err != nil || !strings.HasPrefix(v, "v") {
		t.Errorf("engine version %q, %v; want DuckDB's vX.Y.Z", v, err)
	}
}
