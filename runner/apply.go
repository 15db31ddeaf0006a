package runner

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/apply"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/export"
	"github.com/possync/possync/runner/failpoint"
	"github.com/possync/possync/runner/outcome"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// Apply plans the pipeline and applies the plan through its sink. With saved, it applies exactly that plan,
// and refuses it (StaleError, nothing written) when the recomputed plan differs. It holds the pipeline's
// lock throughout; another holder makes it return a *state.LockedError. The report is returned also on
// failure, as far as the run got.
func Apply(ctx context.Context, p *pipelines.Pipeline, opts Options, saved *plan.Plan) (*Report, error) {
	s := newSession(p, opts)
	release := func() {}
	defer func() {
		s.close()
		release() // after the journal entry and the state's close: see lockAndApply
	}()
	rep := &Report{RunID: cmp.Or(opts.RunID, state.NewRunID(time.Now())), Pipeline: p.Name, Merchant: p.Merchant, StartedAt: time.Now().UTC(),
		Rejected: []RejectedChange{}, InputRejects: []connectors.Reject{}}
	release, err := s.lockAndApply(ctx, saved, rep)
	if err != nil && ctx.Err() != nil {
		// Stopped by a signal: whatever failed, it failed because of it, and what to do is to run again.
		err = &outcome.InterruptedError{Applied: rep.Applied.Total(), Planned: rep.Planned.Total(), Err: err}
	}
	rep.FinishedAt = time.Now().UTC()
	rep.Durations = s.timings.seconds()
	rep.API = s.apiCalls()
	rep.State = stateTransfer(s.store)
	rep.StateSerial = s.meta.Serial
	if err != nil {
		rep.Error = p.Secrets.Redact(err.Error()) // the report is stored in the state and printed
		rep.ExitReason, rep.ExitCode = outcome.Classify(err)
	}
	if s.d != nil && s.runBegun {
		b, _ := json.Marshal(rep)
		b = []byte(p.Secrets.Redact(string(b))) // connectors' notes and rejects may quote an echoed secret
		status := "done"
		if err != nil {
			status = "failed"
		}
		run := state.Run{ID: rep.RunID, FinishedAt: rep.FinishedAt, Status: status, PlanHash: rep.PlanHash, Report: b}
		if ferr := s.store.FinishRun(context.WithoutCancel(ctx), s.d.Conn(), run); ferr != nil && err == nil {
			err = ferr
		}
	}
	return rep, err
}

// lockAndApply takes the pipeline's lock and applies under it. It returns the lock's release, which the
// caller calls only after its last write to the state (the run's journal entry) and after closing the
// state: the next run on this machine takes the lock as soon as it is released, and must find the state
// file closed (DuckDB refuses to open a file another process holds open; the fleet simulation met it as an
// exit 1 of a run that should have applied).
func (s *session) lockAndApply(ctx context.Context, saved *plan.Plan, rep *Report) (release func(), err error) {
	unlock, err := s.store.Lock(state.Holder{PID: pid(), Host: host(), RunID: rep.RunID, StartedAt: rep.StartedAt})
	if err != nil {
		return func() {}, err
	}
	return func() { _ = unlock() }, s.apply(ctx, saved, rep)
}

// apply runs under the lock (lockAndApply).
func (s *session) apply(ctx context.Context, saved *plan.Plan, rep *Report) (err error) {
	failpoint.Hit("after-lock")
	if err := s.prepare(ctx, false); err != nil {
		return err
	}
	// The burst prepare may have started lasts until the plan's diff (afterDiff), and a path out between
	// the two (the recovery's error) must put the cap back too: a no-op once the plan has.
	defer s.stopBurst(ctx, &err)
	ctx = s.sinkCtx(ctx) // from here on the API calls are the sink's (a confirming source counts its own)
	s.exportBase = s.meta.Exported == s.meta.Serial
	for _, st := range s.staged {
		rep.InputRejects = append(rep.InputRejects, st.Result.Rejects...)
	}
	done := s.timings.start("recover")
	n, note, err := s.applier(rep.RunID).Recover(ctx)
	done()
	if note != "" {
		rep.Notes = append(rep.Notes, note)
	}
	if err != nil {
		rep.Notes = append(rep.Notes, noteTexts(s.sourceNotes())...)
		return fmt.Errorf("settle interrupted run: %w", err)
	}
	rep.Recovered = n
	pl, ccs, seqs, err := s.plan(ctx, applyMode)
	if err != nil {
		rep.Notes = append(rep.Notes, noteTexts(s.sourceNotes())...)
		return err
	}
	// The plan's notes as `plan` shows them (the sources' among them), also when a guard blocks it: its
	// message points at them (held removals).
	rep.Notes = append(rep.Notes, pl.NoteTexts()...)
	rep.Planned = pl.Summary
	if s.opts.Planned != nil {
		s.opts.Planned(pl)
	}
	if saved != nil {
		if s.hashPending { // a streamed plan: its hash before anything is applied
			done = s.timings.start("plan summary")
			pl.Hash, err = s.hashStreamed(ctx, pl)
			done()
			if err != nil {
				return fmt.Errorf("hash the plan: %w", err)
			}
			s.hashPending = false
		}
		if reasons := staleReasons(saved, pl); len(reasons) > 0 {
			return &StaleError{Reasons: reasons}
		}
	}
	if pl.Blocked() {
		return &BlockedError{Guards: pl.Guards}
	}
	rep.Notes = append(rep.Notes, overrideNotes(saved, pl)...)
	rep.PlanHash = pl.Hash // "" while a streamed plan's hash is pending: known once the apply read every change
	if err := s.store.BeginRun(ctx, s.d.Conn(), state.Run{ID: rep.RunID, StartedAt: rep.StartedAt, PlanHash: pl.Hash}); err != nil {
		return err
	}
	s.runBegun = true
	if err := s.startEarly(ctx, pl); err != nil {
		return err
	}
	defer func() {
		// Unless the export took its file: it stops the writer, removes its files and puts
		// preserve_insertion_order back. A setting it could not put back only slows what the session runs
		// after (never wrong), so it is logged rather than made the run's error.
		if cerr := s.early.Close(); cerr != nil {
			s.logf("export: stop the records file written during the apply: %v", cerr)
		}
	}()
	done = s.timings.start("apply")
	err = s.applyChanges(ctx, ccs, seqs, pl, rep)
	done()
	rep.PlanHash = pl.Hash
	if err != nil {
		return err
	}
	if s.refreshed != nil {
		if err := s.adoptDrift(ctx, rep.RunID); err != nil {
			return err
		}
	}
	if err := s.dropDiff(ctx); err != nil {
		return err
	}
	done = s.timings.start("commit")
	err = s.commitSources(ctx, rep)
	done()
	if err != nil {
		return err
	}
	// The run's checkpoint (checkpointState), once: beside the export's merge of the records file, which
	// uses no engine (export.Input.Beside), or else here, after the export. A short-circuited run wrote only
	// its journal and an export stamp (the WAL keeps them): no checkpoint.
	var checkpoint func() error
	if s.shortcut == nil {
		checkpoint = sync.OnceValue(func() error {
			defer s.timings.start("checkpoint")()
			return checkpointState(ctx, s.d)
		})
	}
	done = s.timings.start("export")
	err = s.exportBeside(ctx, checkpoint)
	done()
	if err != nil {
		return err
	}
	if err := s.recordBasis(ctx, pl, rep); err != nil {
		return err
	}
	if pl.Shortcut != "" {
		rep.Notes = append(rep.Notes, "plan short-circuited: "+pl.Shortcut)
	}
	if checkpoint != nil {
		if err := checkpoint(); err != nil {
			return err
		}
	}
	s.notifyCommitted(ctx, rep)
	s.confirm(ctx, rep)
	rep.ExitReason, rep.ExitCode = ReasonOK, ExitOK
	if pl.Summary.Total() == 0 {
		rep.ExitReason = ReasonNoop
	}
	if len(rep.Rejected) > 0 {
		rep.ExitReason, rep.ExitCode = ReasonReject, ExitFailure
	}
	return nil
}

// staleReasons explains why a saved plan differs from the plan recomputed now; none means it is the same.
func staleReasons(saved, now *plan.Plan) []string {
	if saved.Hash == now.Hash {
		return nil
	}
	var r []string
	if saved.Pipeline.ConfigHash != now.Pipeline.ConfigHash {
		r = append(r, "the pipeline configuration changed")
	}
	if saved.State.Lineage != now.State.Lineage || saved.State.Serial != now.State.Serial {
		r = append(r, fmt.Sprintf("the state moved (serial %d then, %d now)", saved.State.Serial, now.State.Serial))
	}
	fps := map[string]string{}
	for _, in := range saved.Inputs {
		fps[in.Name] = in.Fingerprint
	}
	for _, in := range now.Inputs {
		if fps[in.Name] != in.Fingerprint {
			r = append(r, fmt.Sprintf("input %s changed (%d records now)", in.Name, in.Records))
		}
	}
	if len(r) == 0 {
		r = append(r, fmt.Sprintf("the planned changes differ (%d then, %d now)", saved.Summary.Total(), now.Summary.Total()))
	}
	return r
}

// applier is the apply stage of this session, for run runID.
func (s *session) applier(runID string) *apply.Applier {
	return &apply.Applier{DB: s.d, Store: s.store, Sink: s.sink, SinkType: s.p.Sink.Type, Key: s.p.Key, Schema: s.recordSchema(),
		RunID: runID, Commit: s.commit, Redact: s.p.Secrets.Redact, Timer: s.timings.start, Log: s.logf, Alloc: s.alloc,
		Progress: s.applyProgress, NewKeys: s.refreshed == nil}
}

// applyChanges sends the changes in batches (apply.Applier). With ccs nil the plan was streamed (planMode
// streamed): its changes are read from the diff a batch at a time (applyStreamed), so an apply of millions
// of changes holds one batch in memory, and a plan whose hash is pending gets it there.
//
// DuckDB runs the apply's statements on one thread (oneThread).
func (s *session) applyChanges(ctx context.Context, ccs []connectors.Change, seqs []int64, pl *plan.Plan, rep *Report) error {
	a := s.applier(rep.RunID)
	t := apply.Tally{Applied: &rep.Applied, Rejected: &rep.Rejected}
	return s.oneThread(ctx, func() error {
		if ccs == nil && s.ds != nil {
			return s.applyStreamed(ctx, a, pl, t)
		}
		return a.All(ctx, ccs, seqs, pl.Summary.Total(), t)
	})
}

// oneThread runs fn with DuckDB limited to one thread, then restores its thread count. An apply's
// statements are many and small (per batch: a range of the diff read, the intents inserted, a commit that
// writes the batch's rows to the state file); with more threads, the client thread that runs a statement
// polls DuckDB's task queue while a worker runs the statement's tasks, a busy wait that cost a third of the
// commits' processor time (perf, 1M-change first sync), and the worker's parallelism bought no time on
// the 2 cores the benchmarks run on (a 1M first sync's commits: 2.1-2.2 cpu s and 6.4-8.2 s with one
// thread, 3.2-3.3 cpu s and 9.6-9.7 s with two; issue #15).
func (s *session) oneThread(ctx context.Context, fn func() error) error {
	return s.d.WithSetting(ctx, "threads", "1", fn)
}

// commit commits c to the state. For a sink with a records file (connectors.Exporter) that the last export
// wrote from the state this run started from, the keys of the snapshot records it changes are kept
// (export.Touched), so that the file can be brought up to date by those records alone. Without such an
// export (a first sync, an interrupted run) the file is written in full, and nothing is kept: a first
// sync's commits would otherwise copy every key.
func (s *session) commit(ctx context.Context, c *state.Commit) error {
	if _, exports := s.sink.(connectors.Exporter); exports && c.Changes != "" && s.exportBase && s.meta.ExportStamp != "" {
		if s.touched == nil {
			s.touched = export.NewTouched(s.d, s.p.Key)
		}
		if err := s.touched.Add(ctx, c.Changes); err != nil {
			return err
		}
	}
	before := s.meta.Records
	meta, err := s.store.Commit(ctx, s.d.Conn(), c)
	if err != nil {
		return err
	}
	if s.meta.Merchant == "" && meta.Merchant != "" {
		s.logf("state: recorded merchant %s in the state, which recorded none (written before possync recorded merchants)", meta.Merchant)
	}
	s.meta = meta
	if c.Changes != "" {
		s.early.Committed(s.store.Snapshot(), before, meta.Records, c.Acked) // its records written as the next part
	}
	return nil
}

// commitSources stores what the sources need next time (checkpoints, incremental records), once the run's
// changes are settled.
func (s *session) commitSources(ctx context.Context, rep *Report) error {
	c := &state.Commit{RunID: rep.RunID, Checkpoints: map[string][]byte{}, Sources: map[string]state.SourceDelta{}}
	for name, st := range s.staged {
		if st.Result.Checkpoint != nil {
			c.Checkpoints[name] = st.Result.Checkpoint
		}
		if st.Delta != "" {
			c.Sources[name] = state.SourceDelta{Relation: engine.Ident(st.Delta), Key: st.Result.Key}
		}
	}
	if len(c.Checkpoints) == 0 && len(c.Sources) == 0 {
		return nil
	}
	return s.commit(ctx, c)
}

// notifyCommitted calls Committed on every source implementing connectors.Committer whose read returned a
// checkpoint, once the run's changes and the checkpoints are committed and checkpointed. A failure is a note
// of the report, never a failure of the run: the state is already right and the next run may retry.
func (s *session) notifyCommitted(ctx context.Context, rep *Report) {
	for _, src := range s.sources {
		c, ok := src.src.(connectors.Committer)
		st := s.staged[src.comp.Name]
		if !ok || st == nil || st.Result.Checkpoint == nil {
			continue
		}
		done := s.timings.start("committed " + src.comp.Name)
		err := c.Committed(ctx, st.Result.Checkpoint)
		done()
		if err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("source %s: after the commit: %s (the run is applied and its state "+
				"committed; the next run tries again)", src.comp.Name, s.p.Secrets.Redact(err.Error())))
		}
	}
}
