package runner_test

import (
	"context"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner"
)

// TestRefreshShowsDriftAndPutsItBack: records edited or removed directly on the target are drift; the plan
// against the live target puts them back, never touches target-only records, and afterwards a plan without
// --refresh has nothing to do.
func TestRefreshShowsDriftAndPutsItBack(t *testing.T) {
	p, tgt := memoryCase(t, "")
	setDataset(t, records(4, 5), connectors.Snapshot)
	mustApply(t, p, runner.Options{})

	tgt.Edit("sku=K0001", record.Record{"sku": "K0001", "qty": int64(99)})  // edited in the store
	tgt.Edit("sku=K0002", nil)                                              // deleted in the store
	tgt.Edit("sku=X-ONLY", record.Record{"sku": "X-ONLY", "qty": int64(1)}) // created in the store only

	if pl := mustPlan(t, p); pl.Summary.Total() != 0 {
		t.Fatalf("without --refresh the plan sees no drift, got %+v", pl.Summary)
	}
	pl, err := runner.Plan(context.Background(), p, runner.Options{Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Drift) != 2 || pl.Drift[0].Key["sku"] != "K0001" || pl.Drift[0].Fields[0].Name != "qty" ||
		pl.Drift[0].Fields[0].Before != int64(5) || pl.Drift[0].Fields[0].After != int64(99) ||
		pl.Drift[1].Key["sku"] != "K0002" || !pl.Drift[1].Missing {
		t.Fatalf("drift = %+v", pl.Drift)
	}
	if pl.Summary.Update != 1 || pl.Summary.Create != 1 || pl.Summary.Delete != 0 {
		t.Fatalf("refresh plan %+v, want the edit put back (update) and the deleted record recreated (create)", pl.Summary)
	}
	if in := pl.Inputs[len(pl.Inputs)-1]; in.Name != "sink" || in.Mode != "refresh" || in.Records != 4 {
		t.Fatalf("refresh input %+v", in)
	}
	rep, err := runner.Apply(context.Background(), p, runner.Options{Refresh: true}, nil)
	if err != nil || rep.Applied.Total() != 2 {
		t.Fatalf("refresh apply: %v %+v", err, rep.Applied)
	}
	got := tgt.Records()
	if got["sku=K0001"]["qty"] != int64(5) || got["sku=K0002"]["qty"] != int64(5) || got["sku=X-ONLY"]["qty"] != int64(1) {
		t.Fatalf("target after refresh apply: %v", got)
	}
	if pl, _ := runner.Plan(context.Background(), p, runner.Options{Refresh: true}); len(pl.Drift) != 0 || pl.Summary.Total() != 0 {
		t.Fatalf("after putting drift back: drift %+v, plan %+v", pl.Drift, pl.Summary)
	}
}

// A drifted record the pipeline no longer changes (the store already holds the desired value) is adopted
// into the state, so a later plan without --refresh does not push a stale value.
func TestRefreshAdoptsConvergedDrift(t *testing.T) {
	p, tgt := memoryCase(t, "")
	setDataset(t, records(3, 5), connectors.Snapshot)
	mustApply(t, p, runner.Options{})
	// The merchant sets qty 7 in the store, and the POS later says 7 too.
	tgt.Edit("sku=K0000", record.Record{"sku": "K0000", "qty": int64(7)})
	recs := records(3, 5)
	recs[0]["qty"] = int64(7)
	setDataset(t, recs, connectors.Snapshot)
	rep, err := runner.Apply(context.Background(), p, runner.Options{Refresh: true}, nil)
	if err != nil || rep.Planned.Total() != 0 {
		t.Fatalf("refresh apply: %v, planned %+v", err, rep.Planned)
	}
	if pl := mustPlan(t, p); pl.Summary.Total() != 0 {
		t.Fatalf("plan without --refresh after adoption: %+v %+v", pl.Summary, pl.Changes)
	}
}
