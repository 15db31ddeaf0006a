package runner_test

import (
	"context"
	"errors"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner"
)

// TestStreamedApplyHashesAsItApplies: an apply streamed without a saved plan computes its plan's hash from
// the batches it reads to apply (no pass of its own over the diff first): the report and the run's journal
// entry carry the hash of the plan that `possync plan` makes of the same inputs and state. When the sink
// fails part way, the changes not yet read are read for the hash alone, so the failed run still names its
// plan; the next run applies the rest under the hash of its own plan.
func TestStreamedApplyHashesAsItApplies(t *testing.T) {
	defer runner.SetStreamAbove(5)()
	defer runner.SetHashChunk(64)()
	ctx := context.Background()
	p, tgt := memoryCase(t, "")
	setDataset(t, records(1200, 1), connectors.Snapshot) // three batches of the memory sink (500)
	first := mustPlan(t, p)
	if first.Summary.Create != 1200 || first.Hash == "" {
		t.Fatalf("plan: %+v, hash %q", first.Summary, first.Hash)
	}
	tgt.FailAfter(600, errors.New("gateway down")) // in the second batch: the third is never read to apply
	rep, err := runner.Apply(ctx, p, runner.Options{}, nil)
	if err == nil || rep.Applied.Create >= 1200 {
		t.Fatalf("apply: %v, applied %+v; want the sink's failure part way", err, rep.Applied)
	}
	if rep.PlanHash != first.Hash {
		t.Errorf("failed run: plan hash %q, want the plan's %q", rep.PlanHash, first.Hash)
	}
	tgt.FailAfter(0, nil)
	rest := mustPlan(t, p)
	if rest.Summary.Create != 1200-rep.Applied.Create || rest.Hash == first.Hash {
		t.Fatalf("plan of the rest: %+v (applied %d), hash %s", rest.Summary, rep.Applied.Create, rest.Hash)
	}
	rep2 := mustApply(t, p, runner.Options{})
	if rep2.PlanHash != rest.Hash || rep2.Applied.Create != rest.Summary.Create {
		t.Errorf("second run: plan hash %q, applied %+v; want %q, %d created", rep2.PlanHash, rep2.Applied, rest.Hash, rest.Summary.Create)
	}
	v, err := runner.ReadState(ctx, p.State, p.Name, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[string]string{}
	for _, r := range v.Runs {
		hashes[r.RunID] = r.PlanHash
	}
	if hashes[rep.RunID] != first.Hash || hashes[rep2.RunID] != rest.Hash {
		t.Errorf("journal: plan hashes %v, want %s for the failed run %s and %s for run %s", hashes, first.Hash, rep.RunID, rest.Hash, rep2.RunID)
	}
}
