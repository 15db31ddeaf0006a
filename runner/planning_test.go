package runner_test

import (
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
)

// TestApplyStreamsUnlessPlanAsked: an apply of a few changes streams them (read from the diff a batch at a
// time, each change's ID computed as it is read) unless its caller asked for the plan (Options.Planned, the
// HTML report of an apply), which then gets the plan's changes. Either way the sink receives exactly the
// plan's changes, in the plan's order, under the plan's IDs, and the report names the plan's hash: for a
// first sync and for a run of updates, creates and deletes.
func TestApplyStreamsUnlessPlanAsked(t *testing.T) {
	second := records(40, 1)
	for i := range second {
		if i%3 == 0 {
			second[i] = record.Record{"sku": second[i]["sku"], "qty": int64(i + 7)}
		}
	}
	second = append(second[5:], record.Record{"sku": "N0001", "qty": int64(2)}, record.Record{"sku": "N0002", "qty": nil})
	for _, asked := range []bool{false, true} {
		name := "streamed"
		if asked {
			name = "plan asked"
		}
		t.Run(name, func(t *testing.T) {
			p, tgt := memoryCase(t, "guards: {max_delete_percent: -1}")
			for run, recs := range [][]record.Record{records(40, 1), second} {
				setDataset(t, recs, connectors.Snapshot)
				pl := mustPlan(t, p)
				var got *plan.Plan
				opts := runner.Options{}
				if asked {
					opts.Planned = func(pl *plan.Plan) { got = pl }
				}
				before := len(tgt.Applied())
				rep := mustApply(t, p, opts)
				if rep.PlanHash != pl.Hash || rep.Applied.Total() != pl.Summary.Total() || rep.Applied.Update != pl.Summary.Update {
					t.Fatalf("run %d: plan hash %s, applied %+v; want the plan's %s, %+v", run, rep.PlanHash, rep.Applied, pl.Hash, pl.Summary)
				}
				if run == 1 && (pl.Summary.Create != 2 || pl.Summary.Update == 0 || pl.Summary.Delete != 5) {
					t.Fatalf("run 1: plan summary %+v; want 2 creates, updates and 5 deletes", pl.Summary)
				}
				if asked && (got == nil || got.Hash != pl.Hash || len(got.Changes) != pl.Summary.Total()) {
					t.Fatalf("run %d: the plan asked for: %v; want the plan's %d changes under hash %s", run, got, pl.Summary.Total(), pl.Hash)
				}
				applied := tgt.Applied()[before:]
				if len(applied) != len(pl.Changes) {
					t.Fatalf("run %d: the sink received %d changes, the plan has %d", run, len(applied), len(pl.Changes))
				}
				for i, c := range applied {
					want := pl.Changes[i]
					if c.ID != want.ID || c.Action != want.Action || c.Key["sku"] != want.Key["sku"] {
						t.Fatalf("run %d: change %d received as %s %s %v; the plan's is %s %s %v", run, i, c.ID, c.Action, c.Key, want.ID, want.Action, want.Key)
					}
				}
			}
		})
	}
}
