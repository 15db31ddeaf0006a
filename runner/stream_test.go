package runner_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
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
	v, err := runner.ReadState(ctx, p.State, p.Name, p.Merchant, nil, 0)
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
	defer runner.SetParallelEncodeRows(1)() // the batches encoded in several goroutines
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
	defer runner.SetParallelEncodeRows(1)() // the batches encoded in several goroutines
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

// TestPipelinedApplyFailsAsInTurn: a streamed apply reads each batch while the one before is applied
// (runner.SetPipeBatches); when the sink fails part way with the next batch already read, the run ends as
// the apply reading its batches in turn does: the same error, the same changes applied in the same order,
// the state moved by them alone (its serial, its records, no intent left), the failed run's journal entry
// naming the plan it applied, and the next run applying exactly the rest.
func TestPipelinedApplyFailsAsInTurn(t *testing.T) {
	defer runner.SetStreamAbove(5)()
	defer runner.SetQueryRows(128)()
	ctx := context.Background()
	type outcome struct {
		err              string
		applied, rest    plan.Summary
		serial, records  int64
		pending          int
		status           string
		sent, sentByRest []string // the keys the sink acknowledged, in order
	}
	keys := func(ccs []connectors.Change) []string {
		out := make([]string, len(ccs))
		for i, c := range ccs {
			out[i] = fmt.Sprint(c.Action, " ", c.Key["sku"])
		}
		return out
	}
	run := func(t *testing.T, pipelined bool) outcome {
		defer runner.SetPipeBatches(pipelined, true)()
		p, tgt := memoryCase(t, "")
		setDataset(t, records(2300, 1), connectors.Snapshot) // five batches of the memory sink's 500
		want := mustPlan(t, p)
		tgt.FailAfter(1100, errors.New("gateway down")) // in the third batch: the fourth is read by then
		rep, err := runner.Apply(ctx, p, runner.Options{}, nil)
		if err == nil {
			t.Fatalf("apply: no error, applied %+v; want the sink's failure", rep.Applied)
		}
		if rep.PlanHash != want.Hash {
			t.Errorf("failed run: plan hash %q, want the plan's %q", rep.PlanHash, want.Hash)
		}
		v, verr := runner.ReadState(ctx, p.State, p.Name, p.Merchant, nil, 0)
		if verr != nil {
			t.Fatal(verr)
		}
		o := outcome{err: err.Error(), applied: rep.Applied, serial: v.Meta.Serial, records: v.Meta.Records, pending: v.Pending}
		for _, r := range v.Runs {
			if r.RunID == rep.RunID {
				o.status = r.Status
			}
		}
		o.sent = keys(tgt.Applied())
		tgt.FailAfter(0, nil)
		rep2 := mustApply(t, p, runner.Options{})
		o.rest, o.sentByRest = rep2.Applied, keys(tgt.Applied()[len(o.sent):])
		if got := len(tgt.Applied()); got != 2300 || rep2.Applied.Create+rep.Applied.Create != 2300 {
			t.Errorf("the sink acknowledged %d changes over both runs (%d, then %d), want each of 2300 once", got, rep.Applied.Create, rep2.Applied.Create)
		}
		return o
	}
	inTurn := run(t, false)
	ahead := run(t, true)
	if inTurn.applied.Create != 1100 || inTurn.pending != 0 || inTurn.records != 1100 || inTurn.status != "failed" {
		t.Fatalf("in turn: %+v; want 1100 applied and recorded, no intent left, the run failed", inTurn)
	}
	if !reflect.DeepEqual(ahead, inTurn) {
		t.Errorf("reading ahead:\n%+v\nreading in turn:\n%+v", ahead, inTurn)
	}
}

// TestPipelinedFileApplyCancelled: a streamed apply to the file sink (batches read as entries) cancelled
// after its second batch, with the third batch being applied and the fourth read ahead, stops with the
// context's error, as the apply reading its batches in turn does: the change log holds the first two
// batches' changes, in the plan's order; the state holds them and no intent; and the next run applies the
// rest, each change once.
func TestPipelinedFileApplyCancelled(t *testing.T) {
	defer runner.SetParallelEncodeRows(1)() // the batches encoded in several goroutines
	defer runner.SetStreamAbove(5)()
	var in strings.Builder
	in.WriteString("sku,name,price\n")
	for i := range 30 {
		fmt.Fprintf(&in, "S%02d,item %d,%d.5\n", i, i, i)
	}
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprint("pipelined=", pipelined), func(t *testing.T) {
			defer runner.SetPipeBatches(pipelined, true)()
			dir := batchedCSVCase(t, in.String(), 4) // eight batches
			pl := mustPlan(t, loadAt(t, dir))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			observe := func(e runner.Event) {
				if e.Stage == "apply" && e.Kind == runner.StageRows && e.RowsOut >= 8 {
					cancel()
				}
			}
			rep, err := runner.Apply(ctx, loadAt(t, dir), runner.Options{Observe: observe}, nil)
			if !errors.Is(err, context.Canceled) || rep.Applied.Create != 8 {
				t.Fatalf("apply: %v, applied %+v; want the context's error after 8 creates", err, rep.Applied)
			}
			logged := checkChangeLog(t, "cancelled run", dir, 0, &plan.Plan{Changes: pl.Changes[:8]})
			v, err := runner.ReadState(context.Background(), loadAt(t, dir).State, loadAt(t, dir).Name, "", nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if v.Meta.Records != 8 || v.Pending != 0 {
				t.Errorf("state after the cancelled run: %d records, %d intents; want 8 and none", v.Meta.Records, v.Pending)
			}
			rest := mustPlan(t, loadAt(t, dir))
			rep = mustApply(t, loadAt(t, dir), runner.Options{})
			if rep.Applied.Create != 22 || rest.Summary.Create != 22 {
				t.Errorf("next run: planned %+v, applied %+v; want the other 22 creates", rest.Summary, rep.Applied)
			}
			checkChangeLog(t, "next run", dir, logged, rest)
		})
	}
}

// TestPipelinedApplyOnPostgres: a streamed first sync to the file sink with the state in PostgreSQL, its
// batches read ahead while the state commits run: every change is logged once under the plan's ID, in the
// plan's order, the run reports the plan's hash, and a plan afterwards has nothing to do.
func TestPipelinedApplyOnPostgres(t *testing.T) {
	defer runner.SetParallelEncodeRows(1)() // the batches encoded in several goroutines
	url, schema := testPG(t)
	defer runner.SetStreamAbove(5)()
	defer runner.SetPipeBatches(true, true)()
	var in strings.Builder
	in.WriteString("sku,name,price\n")
	for i := range 30 {
		fmt.Fprintf(&in, "S%02d,item %d,%d.5\n", i, i, i)
	}
	dir := batchedCSVCase(t, in.String(), 4)
	pl := mustPlan(t, onPG(t, loadAt(t, dir), url, schema))
	rep := mustApply(t, onPG(t, loadAt(t, dir), url, schema), runner.Options{})
	if rep.Applied.Create != 30 || rep.PlanHash != pl.Hash {
		t.Fatalf("apply: %+v under %s; want 30 creates under the plan's %s", rep.Applied, rep.PlanHash, pl.Hash)
	}
	checkChangeLog(t, "first sync", dir, 0, pl)
	if again := mustPlan(t, onPG(t, loadAt(t, dir), url, schema)); again.Summary.Total() != 0 {
		t.Errorf("after the first sync, %+v planned; want nothing", again.Summary)
	}
}
