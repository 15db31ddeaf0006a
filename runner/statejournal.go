package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/state"
)

// StateView is what a pipeline's state holds, read for `possync state` (never changed by reading it).
type StateView struct {
	Pipeline string `json:"pipeline"`
	// Path is the state database (DuckStore), or "" for another store.
	Path string     `json:"path,omitempty"`
	Meta state.Meta `json:"meta"`
	// Pending counts unresolved intents: changes an interrupted apply may have sent (settled by the next run).
	Pending int `json:"pending_intents"`
	// Runs are the journal's newest runs, newest first.
	Runs []JournalRun `json:"runs"`
	// Busy, set by `state list` for a state a run holds open (it cannot be read then), names that run.
	Busy string `json:"running,omitempty"`
}

// JournalRun is one run of the journal, with the outcome its stored run report gives.
type JournalRun struct {
	RunID      string  `json:"run_id"`
	StartedAt  string  `json:"started_at"`
	FinishedAt string  `json:"finished_at,omitempty"`
	Seconds    float64 `json:"seconds,omitempty"`
	// Status is the journal's: applying (unfinished, or killed), done or failed.
	Status string `json:"status"`
	// Outcome is the run report's exit reason (ok, noop, blocked, ...); "" without a report.
	Outcome  string `json:"outcome,omitempty"`
	ExitCode int    `json:"exit_code"`
	PlanHash string `json:"plan_hash,omitempty"`
	// Serial is the state serial the run left: after its last commit, or for a run that committed nothing
	// (no changes, or a failure before its first commit) the one it found, as its report says (0: none, or
	// a report written before possync reported it).
	Serial   int64 `json:"serial"`
	Commits  int   `json:"commits"`
	Acked    int64 `json:"acked"`
	Rejected int64 `json:"rejected"`
	// Planned and Applied are the report's change counts per action.
	Planned map[string]int `json:"planned,omitempty"`
	Applied map[string]int `json:"applied,omitempty"`
	// Error is the report's (already redacted) failure reason.
	Error string `json:"error,omitempty"`
}

// ReadState reads pipeline's state under st read-only: its Meta, pending intents and at most limit runs of
// the journal (limit <= 0: all). store overrides the store st selects (its backend: the local DuckStore, or
// the shared PostgreSQL state); nil uses it. A pipeline without state reads as empty. merchant is the
// pipeline's: a state of another merchant is refused (*state.MerchantError), as a plan or run of the
// pipeline refuses it; "" reads any (`state list`, which knows no pipeline file).
func ReadState(ctx context.Context, st pipelines.State, pipeline, merchant string, store state.Store, limit int) (*StateView, error) {
	v := &StateView{Pipeline: pipeline, Runs: []JournalRun{}}
	if store == nil {
		// The state the pipeline's runs use: the shared one, or the local file.
		store = state.New(state.Config{Backend: st.Backend, Schema: st.Schema, Dir: st.Dir, Merchant: merchant}, pipeline)
		defer state.Close(store)
		if ds, ok := store.(*state.DuckStore); ok {
			v.Path = ds.Path()
			if _, err := os.Stat(ds.Path()); errors.Is(err, os.ErrNotExist) {
				return v, nil
			}
		}
	}
	d, err := openEngine(ctx, pipelines.State{Dir: os.TempDir(), MemoryLimit: st.MemoryLimit, Threads: st.Threads})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if v.Meta, err = store.Open(ctx, d.Conn(), true); err != nil {
		if me := (*state.MerchantError)(nil); errors.As(err, &me) {
			return nil, err // it names the state and the pipeline
		}
		if busy := runInProgress(store); busy != nil {
			return nil, fmt.Errorf("state of %s: a run is in progress and holds it (read it when the run ends): %w", pipeline, busy)
		}
		return nil, fmt.Errorf("state of %s: %w", pipeline, err)
	}
	intents, err := store.Intents(ctx, d.Conn())
	if err != nil && v.Meta.Lineage != "" {
		return nil, fmt.Errorf("state of %s: %w", pipeline, err)
	}
	v.Pending = len(intents)
	runs, err := store.Runs(ctx, d.Conn(), limit)
	if err != nil {
		return nil, fmt.Errorf("state of %s: %w", pipeline, err)
	}
	for _, r := range runs {
		v.Runs = append(v.Runs, journalRun(r))
	}
	return v, nil
}

// journalRun adds to a journal entry what its stored run report says.
func journalRun(r state.RunEntry) JournalRun {
	j := JournalRun{RunID: r.ID, Status: r.Status, PlanHash: r.PlanHash, Serial: r.Serial, Commits: r.Commits, Acked: r.Acked, Rejected: r.Rejected}
	if !r.StartedAt.IsZero() {
		j.StartedAt = r.StartedAt.UTC().Format("2006-01-02T15:04:05Z")
	}
	if !r.FinishedAt.IsZero() {
		j.FinishedAt = r.FinishedAt.UTC().Format("2006-01-02T15:04:05Z")
		j.Seconds = float64(r.FinishedAt.Sub(r.StartedAt).Milliseconds()) / 1000
	}
	if len(r.Report) > 0 {
		var rep Report
		if json.Unmarshal(r.Report, &rep) == nil {
			j.Outcome, j.ExitCode, j.Error = rep.ExitReason, rep.ExitCode, rep.Error
			if r.Commits == 0 {
				j.Serial = rep.StateSerial
			}
			j.Planned, j.Applied = summaryMap(rep.Planned.Create, rep.Planned.Update, rep.Planned.Deactivate, rep.Planned.Delete),
				summaryMap(rep.Applied.Create, rep.Applied.Update, rep.Applied.Deactivate, rep.Applied.Delete)
		}
	}
	return j
}

func summaryMap(c, u, da, de int) map[string]int {
	return map[string]int{"create": c, "update": u, "deactivate": da, "delete": de}
}

// StatePipelines lists the pipelines that have a DuckDB state in dir (<pipeline>.duckdb), sorted.
func StatePipelines(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	var out []string
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".duckdb"); ok && !e.IsDir() {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// DefaultStateDir is the state folder of a pipeline that names none: $POSSYNC_STATE_DIR, else .possync.
func DefaultStateDir() string {
	if d := os.Getenv("POSSYNC_STATE_DIR"); d != "" {
		return d
	}
	return filepath.Clean(".possync")
}

// runInProgress returns the *state.LockedError naming the run that holds store's run lock, or nil when none
// does (the lock, taken to find out, is released at once). DuckDB refuses to open a state file that a run
// has open for writing; this says which run.
func runInProgress(store state.Store) error {
	unlock, err := store.Lock(state.Holder{PID: pid(), Host: host(), RunID: "state", StartedAt: time.Now().UTC()})
	if err == nil {
		_ = unlock()
		return nil
	}
	if errors.Is(err, state.ErrLocked) {
		return err
	}
	return nil
}
