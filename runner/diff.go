package runner

import (
	"context"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/refresh"
	"github.com/possync/possync/runner/state"
)

// diff compares the desired table with the state snapshot (or, with --refresh, with the base built from the
// target's records) and fills diff.Table.
func (s *session) diff(ctx context.Context, rf *refresh.Result, checkKeys bool) (*diff.Layout, error) {
	in := diff.Input{Desired: s.desired, Key: s.p.Key, Annotations: s.annotations, Diff: s.p.Diff, Protected: s.protected,
		Snapshot: s.store.Snapshot(), Columns: s.meta.Columns, CheckKeys: checkKeys, Sorted: s.ordered,
		Consume: true}
	if rf != nil {
		in.Snapshot, in.Columns = refresh.BaseTable, rf.Columns
	}
	if r, ok := s.sink.(connectors.Ranker); ok {
		rank := r.Rank()
		in.Rank = &rank
	}
	return diff.Run(ctx, s.d, in)
}

// refreshInput is what the --refresh stage (runner/refresh) reads: the sink, the desired table and the
// state's snapshot.
func (s *session) refreshInput() refresh.Input {
	return refresh.Input{Sink: s.sink, SinkType: s.p.Sink.Type, Key: s.p.Key, Desired: s.desired,
		DesiredSchema: s.schemas[s.desired], RecordSchema: s.recordSchema(), Snapshot: s.store.Snapshot(),
		Columns: s.meta.Columns, Ignore: s.p.Diff.Ignore, Now: s.now, Alloc: s.alloc}
}

// adoptDrift commits to the state the drift of a --refresh apply that the plan did not change
// (refresh.Result.Adopt), so later plans without --refresh do not act on stale values.
func (s *session) adoptDrift(ctx context.Context, runID string) error {
	n, err := s.refreshed.Adopt(ctx, s.d, diff.Table)
	if err != nil || n == 0 {
		return err
	}
	return s.commit(ctx, &state.Commit{RunID: runID, Changes: refresh.AdoptTable, Key: s.p.Key, Columns: s.refreshed.Columns})
}

// changes reads the diff into plan changes and, with sink, the sink's changes and their diff sequence
// numbers (in apply order), each with its ID. A plan that is only shown or saved needs no sink changes. n is
// how many changes the diff holds (its summary's total), to size the lists once.
func (s *session) changes(ctx context.Context, ds *diff.Layout, sink bool, n int) ([]plan.Change, []connectors.Change, []int64, error) {
	return s.changeRange(ctx, ds, sink, 0, -1, n)
}

// changeRange reads the changes numbered lo (from 0) up to hi (exclusive; -1: to the end): each is decoded
// once (diff.Each), and its plan and sink forms derived from it; without sink, straight into its plan form
// (diff.EachPlan, which decodes only the values that form holds).
func (s *session) changeRange(ctx context.Context, ds *diff.Layout, sink bool, lo, hi int64, n int) ([]plan.Change, []connectors.Change, []int64, error) {
	pcs := make([]plan.Change, 0, n)
	if !sink { // the plan's form alone, decoded straight from the diff's columns
		err := diff.EachPlan(ctx, s.d, ds, lo, hi, s.planned, func(pc plan.Change) error {
			pcs = append(pcs, pc)
			return nil
		})
		if err != nil {
			return nil, nil, nil, err
		}
		return pcs, nil, nil, nil
	}
	ccs, seqs := make([]connectors.Change, 0, n), make([]int64, 0, n)
	err := diff.Each(ctx, s.d, ds, lo, hi, func(c *diff.Change) error {
		pc := ds.PlanChange(c, s.planned)
		pcs = append(pcs, pc)
		if sink {
			ccs, seqs = append(ccs, ds.SinkChange(c, pc.ID)), append(seqs, c.Seq)
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return pcs, ccs, seqs, nil
}

func isIn(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
