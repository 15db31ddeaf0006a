package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/outcome"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/refresh"
	"github.com/possync/possync/runner/state"
	"github.com/possync/possync/spec"
)

// afterDiff counts what the summary needs, then frees the desired table: from here on only the diff is
// read, and for a catalog of millions the desired set is the largest thing DuckDB holds. A diff against a
// snapshot has counted and dropped it already (diff.Input.Consume). A desired table the diff took as its
// own (a first sync's, stored in the diff's order: diff.Layout.TookDesired) is the diff's now, one change
// per desired record: it is freed with the diff (dropDiff), not here. The engine's burst limit, if the
// plan took it (prepare), ends here, also when a count or the drop fails (stopBurst).
func (s *session) afterDiff(ctx context.Context, ds *diff.Layout) (err error) {
	defer s.stopBurst(ctx, &err)
	if s.presentCount, err = diff.CountPresent(ctx, s.d); err != nil {
		return err
	}
	switch {
	case ds.TookDesired():
		s.desiredCount = s.presentCount
		s.logf("diff: first sync: the desired records were stored in apply order; the diff numbers them as they are")
	case ds.Consumed:
		s.desiredCount = ds.DesiredRows
	default:
		if s.desiredCount, err = s.d.Count(ctx, "SELECT count(*) FROM "+engine.Ident(s.desired)); err != nil {
			return err
		}
		if err := s.d.Exec(ctx, "DROP TABLE "+engine.Ident(s.desired)); err != nil {
			return err
		}
	}
	return nil
}

// stopBurst puts the memory cap back if the plan raised it (prepare, s.endBurst) and nothing has yet: the
// one end of the span from the transform to the diff, deferred by every function a path out of it leaves
// through (prepare, apply and plan for their errors, afterDiff for its end), so that a caller keeping the
// database after an error never runs at the burst. *err is the path's error: a failure to put the cap back becomes it
// when it is nil, and is logged otherwise (the path's error stands, with its type: spec.Diagnostics).
func (s *session) stopBurst(ctx context.Context, err *error) {
	if s.endBurst == nil {
		return
	}
	end := s.endBurst
	s.endBurst = nil
	switch cerr := end(ctx); {
	case cerr == nil:
	case *err == nil:
		*err = cerr
	default:
		s.logf("plan: %v", cerr)
	}
}

// planMode says what the plan holds in memory.
type planMode int

const (
	// planHeld: the plan's changes (a plan shown or saved).
	planHeld planMode = iota
	// sinkHeld: the plan's and the sink's changes (an apply of few changes whose caller asked for the plan,
	// or through a connectors.Sequencer that states no rank, which orders the whole list: applyStreams).
	sinkHeld
	// streamed: neither; the summary is counted, and apply reads the changes a batch at a time
	// (applyStreamed), so memory does not grow with the changes. The plan's hash is left to the apply
	// (s.hashPending; see stream.go): computed as it reads the batches, or by a pass of its own before it
	// when a saved plan must be compared first. Only applyMode chooses it.
	streamed
	// applyMode: an apply's choice (applyStreams): streamed when the diff's order is the sink's
	// (diffOrdered), unless the caller asked for the plan itself (Options.Planned, which gets its changes)
	// and the changes are no more than streamAbove; else sinkHeld.
	applyMode
)

// diffOrdered says whether the diff numbers the changes in the order sink takes them, so that they can be
// streamed to it in batches: it does not order the whole list itself (connectors.Sequencer), or it states
// its order as data (connectors.Ranker), which the diff follows.
func diffOrdered(sink connectors.Sink) bool {
	if _, ranked := sink.(connectors.Ranker); ranked {
		return true
	}
	_, ordered := sink.(connectors.Sequencer)
	return !ordered
}

// streamAbove is how many changes an apply whose caller asked for the plan (Options.Planned) holds in
// memory (about 2 KB each) before it streams them.
var streamAbove = 100_000

// applyStreams says whether an apply of total changes streams them (planMode streamed) rather than holding
// them (sinkHeld). A held plan builds three forms of each change (the decoded row, the plan's form with its
// maps, the sink's form with three maps) before the first is applied; a streamed apply builds only what
// the sink takes, a batch at a time, and computes each change's ID for the plan's hash from the diff's
// columns as it goes (stream.go): a file sink's batches are its entries, encoded straight from the columns
// (diff.Entries). In the full cycle (1M rows, 30,000 changes, issue #15) holding cost 0.33-0.38 cpu s in
// "plan changes" and 0.2 in intents encoded from the sink form's maps; streaming's batch reads cost 0.15-0.4
// (see BENCHMARKS.md), and streaming needs no memory per change. So an apply streams whenever the sink takes
// the diff's order: it holds the plan only for a caller that asked for the plan's changes (Options.Planned,
// the HTML report of an apply) when they are few, and for a sink that orders the whole list itself.
func (s *session) applyStreams(total int) bool {
	if !diffOrdered(s.sink) {
		return false
	}
	return s.opts.Planned == nil || total > streamAbove
}

// plan computes the plan against the open state. With sinkHeld it also returns the sink's changes; with
// streamed the plan holds no changes (its summary is that of the full plan) and no hash yet (s.hashPending).
func (s *session) plan(ctx context.Context, mode planMode) (pl *plan.Plan, ccs []connectors.Change, seqs []int64, err error) {
	defer s.stopBurst(ctx, &err) // an error before afterDiff
	if s.shortcut != nil {
		return s.shortcutPlan(), nil, nil, nil
	}
	// Change IDs name the state planned against; a streamed apply computes them while its commits move it.
	s.planned = plan.State{Serial: s.meta.Serial}
	if s.meta.Serial > 0 { // an empty store has no identity yet: a plan made before it existed stays valid
		s.planned.Lineage = s.meta.Lineage
	}
	// With a snapshot to diff against, the diff checks the keys itself from the changed keys it finds
	// (diff.Input.CheckKeys), which saves a grouping of every desired key; a first sync, which finds no
	// changed keys, and a --refresh plan, which must not read the sink for records it cannot key, check
	// them first.
	checkInDiff := !s.opts.Refresh && s.store.Snapshot() != ""
	if !checkInDiff {
		done := s.timings.start("check keys")
		if s.ordered { // stored in the key's order (diff.FirstSyncOrder): its neighbours tell
			err = diff.CheckSortedDesired(ctx, s.d, s.desired, s.p.Key)
		} else {
			err = diff.CheckDesired(ctx, s.d, s.desired, s.p.Key)
		}
		done()
		if err != nil {
			return nil, nil, nil, err
		}
	}
	var rf *refresh.Result
	if s.opts.Refresh {
		done := s.timings.start("refresh")
		rf, err = refresh.Run(s.sinkCtx(ctx), s.d, s.refreshInput())
		done()
		if err != nil {
			return nil, nil, nil, err
		}
		s.refreshed = rf
	}
	done := s.timings.start("diff")
	ds, err := s.diff(ctx, rf, checkInDiff)
	if err == nil {
		err = s.holdRemovals(ctx)
	}
	if err == nil {
		err = s.afterDiff(ctx, ds)
	}
	done()
	if err != nil {
		return nil, nil, nil, err
	}
	done = s.timings.start("plan changes")
	pl = s.newPlan()
	for _, src := range s.sources {
		st := s.staged[src.comp.Name]
		pl.Inputs = append(pl.Inputs, st.Input)
		pl.Rejects = append(pl.Rejects, st.Result.Rejects...)
	}
	pl.Notes = s.sourceNotes()
	if rf != nil {
		pl.Inputs = append(pl.Inputs, rf.Input)
		pl.Drift = rf.Drift
	}
	pl.Notes = append(pl.Notes, s.notes...)
	pl.Upcoming = s.upcoming
	var pcs []plan.Change
	err = s.countChanges(ctx, &pl.Summary)
	if mode == applyMode {
		mode = sinkHeld
		if s.applyStreams(pl.Summary.Total()) {
			mode = streamed
		}
	}
	if mode == streamed {
		s.ds = ds
	} else if err == nil {
		pcs, ccs, seqs, err = s.changes(ctx, ds, mode == sinkHeld, pl.Summary.Total())
	}
	done()
	if err != nil {
		return nil, nil, nil, err
	}
	done = s.timings.start("plan summary")
	defer done()
	pl.Changes = pcs
	if pl.Changes == nil {
		pl.Changes = []plan.Change{}
	}
	pl.Summary.Unchanged = s.desiredCount - s.presentCount
	pl.Guards = s.guards(pl)
	if e, ok := s.sink.(connectors.Estimator); ok && pl.Summary.Total() > 0 {
		est := e.Estimate(map[connectors.Action]int{connectors.Create: pl.Summary.Create, connectors.Update: pl.Summary.Update,
			connectors.Deactivate: pl.Summary.Deactivate, connectors.Delete: pl.Summary.Delete})
		pl.Estimate = &est
	}
	if mode == streamed {
		s.hashPending = true // the caller hashes it: hashStreamed, or applyStreamed as it applies
		return pl, nil, nil, nil
	}
	if pl.Hash = pl.ComputeHash(); pl.Hash == "" {
		return nil, nil, nil, fmt.Errorf("plan: %d changes read for a summary of %d", len(pl.Changes), pl.Summary.Total())
	}
	return pl, ccs, seqs, nil
}

// sourceNotes are the staged sources' notes as the plan holds them, by source in order: of kind input,
// the source as their subject.
func (s *session) sourceNotes() []plan.Note {
	var out []plan.Note
	for _, src := range s.sources {
		st := s.staged[src.comp.Name]
		if st == nil {
			continue
		}
		for _, n := range st.Result.Notes {
			out = append(out, plan.Note{Kind: spec.NoteInput, Subject: "source " + src.comp.Name, Message: n})
		}
	}
	return out
}

// noteTexts returns notes as lines (plan.Note.String), as a report holds them.
func noteTexts(notes []plan.Note) []string {
	out := make([]string, len(notes))
	for i, n := range notes {
		out[i] = n.String()
	}
	return out
}

// countChanges counts the diff's changes per action.
func (s *session) countChanges(ctx context.Context, sum *plan.Summary) error {
	n, err := diff.Count(ctx, s.d)
	if err != nil {
		return err
	}
	sum.Create, sum.Update, sum.Deactivate, sum.Delete = n[connectors.Create], n[connectors.Update], n[connectors.Deactivate], n[connectors.Delete]
	return nil
}

// guards evaluates the plan's guards. max_delete_percent counts the planned deletions and deactivations and
// the removals held out of the plan (holdRemovals): a mass removal blocks, held or not, so that a suspect
// input that would remove many records stops the run (exit 3) for a person to look at instead of passing
// with a note. A plan it blocks is refused by apply and run, and plan exits 3 for it too, also when the held
// removals are all it has.
func (s *session) guards(pl *plan.Plan) []plan.Guard {
	limit := s.p.Guards.MaxDeletePercent
	g := plan.Guard{Name: "max_delete_percent", Limit: limit, Verdict: plan.Pass}
	removed := pl.Summary.Delete + pl.Summary.Deactivate + s.heldRemovals()
	if s.meta.Records > 0 {
		g.Value = float64(removed) * 100 / float64(s.meta.Records)
	}
	g.Message = fmt.Sprintf("%d of %d records in state deleted or deactivated (%.2f%%, limit %g%%)", removed, s.meta.Records, g.Value, limit)
	if held := s.heldRemovals(); held > 0 {
		g.Message += fmt.Sprintf(", %d of them held: not planned, but counted (see the notes)", held)
	}
	if limit < 0 {
		g.Message += "; guard disabled"
	} else if g.Value > limit {
		g.Verdict = plan.Blocked
		if s.opts.AllowMassChange {
			g.Verdict = plan.Overridden
		} else {
			g.Message += "; rerun with --allow-mass-change if this is intended"
		}
	}
	return []plan.Guard{g}
}

// Plan computes what applying the pipeline would change. It reads the sources and the state, and writes
// nothing (the state is opened read-only; the lock is held while planning so that a concurrent apply cannot
// move the state underneath).
func Plan(ctx context.Context, p *pipelines.Pipeline, opts Options) (pl *plan.Plan, err error) {
	defer func() {
		if err != nil && ctx.Err() != nil {
			err = &outcome.InterruptedError{Err: err} // stopped by a signal: the state was only read
		}
	}()
	s := newSession(p, opts)
	unlock, err := s.store.Lock(state.Holder{PID: pid(), Host: host(), RunID: "plan", StartedAt: time.Now().UTC()})
	if err != nil {
		s.close()
		return nil, err
	}
	// Deferred calls run last first: the state is closed before the lock is released, so the run that takes
	// the lock next never finds the state file still open by this plan.
	defer unlock()
	defer s.close()
	if err := s.prepare(ctx, true); err != nil {
		return nil, err
	}
	pl, _, _, err = s.plan(ctx, planHeld)
	return pl, err
}

// newPlan is the head of this run's plan: what it is of (pipeline, key, state) and when, the same for a
// computed and a short-circuited plan (their hashes must agree). An empty store has no lineage.
func (s *session) newPlan() *plan.Plan {
	pl := &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Pipeline:      plan.Pipeline{Name: s.p.Name, Merchant: s.p.Merchant, File: s.p.File, ConfigHash: s.p.Hash},
		CreatedAt:     time.Now().UTC(),
		EvaluatedAt:   s.now,
		Key:           s.p.Key,
		State:         plan.State{Serial: s.meta.Serial, Records: s.meta.Records},
	}
	if s.meta.Serial > 0 {
		pl.State.Lineage = s.meta.Lineage
	}
	return pl
}
