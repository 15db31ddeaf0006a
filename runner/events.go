package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/stage"
	"github.com/possync/possync/runner/state"
	"github.com/possync/possync/runner/steps"
)

// EventKind says what an Event reports.
type EventKind int

const (
	// StageStart: a stage began.
	StageStart EventKind = iota
	// StageEnd: a stage ended; Seconds is its duration (a stage that runs several times reports each run).
	StageEnd
	// StageRows: the row counts of a stage that just ended (reads, transform steps) or the progress of the
	// apply (RowsOut of RowsIn changes applied so far).
	StageRows
)

// Event is a progress signal of a plan or a run, for logs, metrics and a progress display. Stage names are
// those of Report.Durations ("read NAME", "transform TYPE NAME", "diff", "apply", ...). Events are delivered
// synchronously on the goroutine running the stage; an observer must be quick and must not call back into the
// runner.
type Event struct {
	Stage string
	Kind  EventKind
	// Seconds is the duration of the stage (StageEnd, and StageRows of a step).
	Seconds float64
	// RowsIn and RowsOut are the rows a step read and produced; -1 when unknown (a read has no rows in).
	RowsIn, RowsOut int64
	// Rejected counts the input rows a source could not use (reads).
	Rejected int
}

// notify delivers e to the observer, if any.
func (t *timings) notify(e Event) {
	if t.observe != nil {
		t.observe(e)
	}
}

// lastSeconds is the total duration recorded so far for a stage.
func (t *timings) lastSeconds(name string) float64 {
	for _, s := range t.list() {
		if s.Name == name {
			return s.Seconds
		}
	}
	return 0
}

// readRows reports a staged source's record count and rejects.
func (s *session) readRows(name string, st *stage.Output) {
	if s.timings.observe == nil {
		return
	}
	stage := "read " + name
	s.timings.notify(Event{Stage: stage, Kind: StageRows, Seconds: s.timings.lastSeconds(stage), RowsIn: -1,
		RowsOut: st.Input.Records, Rejected: len(st.Result.Rejects)})
}

// stepRows reports the rows a transform step read (its input relation, "" when none) and produced (its
// table). It counts only when someone observes (steps.Input.Ran).
func (s *session) stepRows(ctx context.Context, st *pipelines.Step, input, table string) {
	if s.timings.observe == nil {
		return
	}
	stage := "transform " + steps.Name(st)
	in, out := int64(-1), int64(-1)
	if input != "" {
		if n, err := s.d.Count(ctx, "SELECT count(*) FROM "+engine.Ident(input)); err == nil {
			in = n
		}
	}
	if n, err := s.d.Count(ctx, "SELECT count(*) FROM "+engine.Ident(table)); err == nil {
		out = n
	}
	s.timings.notify(Event{Stage: stage, Kind: StageRows, Seconds: s.timings.lastSeconds(stage), RowsIn: in, RowsOut: out})
}

// applyProgress reports how many of the plan's changes the sink has acknowledged so far.
func (s *session) applyProgress(applied, total int) {
	s.timings.notify(Event{Stage: "apply", Kind: StageRows, RowsIn: int64(total), RowsOut: int64(applied)})
}

// EngineVersion is the version of the embedded DuckDB (e.g. "v1.4.1"), asked of the engine itself.
func EngineVersion(ctx context.Context) (string, error) {
	d, err := openEngine(ctx, pipelines.State{Dir: os.TempDir()})
	if err != nil {
		return "", err
	}
	defer d.Close()
	var v string
	if err := d.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return "", fmt.Errorf("duckdb version: %w", err)
	}
	return v, nil
}

// LastSuccess is when the pipeline's last successful apply finished, from the state's run journal; zero when
// the journal has none (or there is no state yet, or the state is another merchant's, whose successes are
// not this pipeline's: its runs are refused, state.MerchantError). It opens the state read-only, so call it
// after a run has released it.
func LastSuccess(ctx context.Context, p *pipelines.Pipeline) (t time.Time, err error) {
	defer func() {
		if me := (*state.MerchantError)(nil); errors.As(err, &me) {
			t, err = time.Time{}, nil
		}
	}()
	store := newStore(p)
	defer state.Close(store)
	if !stateConfig(p).IsLocal() {
		return store.LastSuccess(ctx, nil) // read in PostgreSQL: no snapshot copied in
	}
	if _, err := os.Stat(state.NewDuckStore(p.State.Dir, p.Name).Path()); errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	d, err := openEngine(ctx, p.State)
	if err != nil {
		return time.Time{}, err
	}
	defer d.Close()
	if _, err := store.Open(ctx, d.Conn(), true); err != nil {
		return time.Time{}, err
	}
	return store.LastSuccess(ctx, d.Conn())
}
