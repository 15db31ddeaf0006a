package runner_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
)

// TestStreamedApplyHashesAsItApplies: an apply streamed without a saved plan computes its plan's hash from
// the batches it reads to apply (no pass of its own over the diff first): the report and the run's journal
// entry carry the hash of the plan that `possync plan` makes of the same inputs and state. When the sink
// fails part way, the changes not yet read are read for the hash alone, so the failed run still names its
// plan; the next run applies the rest under the hash of its own plan.
func TestStreamedApplyHashesAsItApplies(t *testing.T) {
	defer runner.SetStreamAbove(5)()
	defer runner.SetQueryRows(64)()
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

// TestStreamedApplyHashCoversAnnotations: a streamed apply of changes with annotations (the promotion that
// won each price) hashes them as the held plan does: the hash the apply computes as it applies, and the hash
// pass of an apply of a saved plan (read back from its file, which checks its IDs), both equal the plan's.
func TestStreamedApplyHashCoversAnnotations(t *testing.T) {
	defer runner.SetStreamAbove(5)()
	defer runner.SetQueryRows(3)()
	var items strings.Builder
	items.WriteString("sku,name,price,enabled\n")
	var promos []promo
	for i := range 8 {
		sku := fmt.Sprintf("S%d", i)
		fmt.Fprintf(&items, "%s,item %d,%d.5,true\n", sku, i, 90+i)
		promos = append(promos, promo{fmt.Sprint(20 + i), "Black Friday", "2026-10-01 09:00:00", "2026-11-27", "2026-11-30", "Y", sku, fmt.Sprint(70 + i)})
	}
	for _, saved := range []bool{false, true} {
		dir := promoCase(t, items.String(), promos...)
		pl := planAt(t, loadAt(t, dir), blackFriday)
		annotated := 0
		for _, c := range pl.Changes {
			if len(c.Annotations) > 0 {
				annotated++
			}
		}
		if pl.Summary.Create != 8 || annotated != 8 {
			t.Fatalf("plan: %+v, %d changes with annotations; want 8 creates, each annotated", pl.Summary, annotated)
		}
		var read *plan.Plan
		if saved {
			path := filepath.Join(dir, "plan.json")
			if err := plan.Write(path, pl); err != nil {
				t.Fatal(err)
			}
			var err error
			if read, err = plan.Read(path); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := runner.Apply(context.Background(), loadAt(t, dir), runner.Options{Now: at(t, blackFriday)}, read)
		if err != nil || rep.Applied.Create != 8 || rep.PlanHash != pl.Hash {
			t.Errorf("saved plan %v: apply %v, applied %+v, plan hash %s; want 8 creates under the plan's %s", saved, err, rep.Applied, rep.PlanHash, pl.Hash)
		}
	}
}

// TestStreamedFileApplyIDsFromColumns: a streamed apply without a saved plan to the file sink (the first
// sync's path: batches read as entries, each change's ID computed straight from the diff's columns) logs
// every change under the ID the plan gives it, in the plan's order, and reports the plan's hash: for a
// first sync (every change a create), then for updates (integral and fractional prices), creates and
// deletes.
func TestStreamedFileApplyIDsFromColumns(t *testing.T) {
	defer runner.SetStreamAbove(5)()
	var before, after strings.Builder
	before.WriteString("sku,name,price\n")
	after.WriteString("sku,name,price\n")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&before, "S%02d,item %d,%d\n", i, i, i)
		switch {
		case i%10 == 0: // deleted
		case i%3 == 0:
			fmt.Fprintf(&after, "S%02d,item %d!,%d.5\n", i, i, i+1) // updated: title and price
		case i%4 == 0:
			fmt.Fprintf(&after, "S%02d,item %d,%d\n", i, i, i+1) // updated: an integral price
		default:
			fmt.Fprintf(&after, "S%02d,item %d,%d\n", i, i, i)
		}
	}
	for i := 30; i < 37; i++ {
		fmt.Fprintf(&after, "S%02d,new %d,%d.25\n", i, i, i)
	}
	dir := batchedCSVCase(t, before.String(), 4)
	logged := 0 // change log lines so far
	apply := func(what string) {
		t.Helper()
		pl := mustPlan(t, loadAt(t, dir))
		rep := mustApply(t, loadAt(t, dir), runner.Options{})
		if rep.PlanHash != pl.Hash || rep.Applied.Total() != pl.Summary.Total() {
			t.Fatalf("%s: plan hash %s, applied %+v; want the plan's %s, %+v", what, rep.PlanHash, rep.Applied, pl.Hash, pl.Summary)
		}
		logged = checkChangeLog(t, what, dir, logged, pl)
		if what == "first sync" && pl.Summary.Create != 30 {
			t.Fatalf("first sync: plan summary %+v", pl.Summary)
		}
		if what == "update" && (pl.Summary.Create != 7 || pl.Summary.Update < 10 || pl.Summary.Delete != 3) {
			t.Fatalf("update: plan summary %+v", pl.Summary)
		}
	}
	apply("first sync")
	writeFile(t, filepath.Join(dir, "input.csv"), after.String())
	apply("update")
}
