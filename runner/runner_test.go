package runner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/memory"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

const csvPipeline = `version: 1
name: shop
merchant: test-shop
key: sku
source:
  type: file
  path: input.csv
  columns:
    - {name: sku, type: string}
    - {name: name, type: string}
    - {name: price, type: float}
transforms:
  - type: map
    fields:
      sku: sku
      title: upper(name)
      price: price
sink:
  type: file
  path: out/records.csv
`

// csvCase writes the CSV pipeline and its input into a temp folder.
func csvCase(t *testing.T, input string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), csvPipeline)
	writeFile(t, filepath.Join(dir, "input.csv"), input)
	return dir
}

// batchedCSVCase is csvCase with the file sink applying batch changes at a time.
func batchedCSVCase(t *testing.T, input string, batch int) string {
	t.Helper()
	dir := csvCase(t, input)
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), strings.Replace(csvPipeline, "  path: out/records.csv\n",
		fmt.Sprintf("  path: out/records.csv\n  batch_size: %d\n", batch), 1))
	return dir
}

// checkChangeLog checks that the file sink's change log in dir holds, past its first from lines, exactly
// the plan's changes in the plan's order (by ID and action); it returns the log's line count.
func checkChangeLog(t *testing.T, what, dir string, from int, pl *plan.Plan) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "out", "records.changes.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < from {
		t.Fatalf("%s: the change log has %d lines, fewer than the %d before", what, len(lines), from)
	}
	lines = lines[from:]
	if len(lines) != len(pl.Changes) {
		t.Fatalf("%s: the change log has %d new lines for %d planned changes", what, len(lines), len(pl.Changes))
	}
	for i, c := range pl.Changes {
		if !strings.HasPrefix(lines[i], `{"id":"`+c.ID+`","action":"`+string(c.Action)+`"`) {
			t.Errorf("%s, change %d: logged %.60s, planned %s %s", what, i, lines[i], c.Action, c.ID)
		}
	}
	return from + len(lines)
}

func mustApply(t *testing.T, p *pipelines.Pipeline, opts runner.Options) *runner.Report {
	t.Helper()
	rep, err := runner.Apply(context.Background(), p, opts, nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return rep
}

func mustPlan(t *testing.T, p *pipelines.Pipeline) *plan.Plan {
	t.Helper()
	pl, err := runner.Plan(context.Background(), p, runner.Options{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return pl
}

func TestApplyTwicePlansNothingAndExportsTheSet(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,anchor,3\nB,bottle,2.5\n")
	p := loadAt(t, dir)
	rep := mustApply(t, p, runner.Options{})
	if rep.Applied.Create != 2 || rep.ExitReason != runner.ReasonOK || rep.PlanHash == "" {
		t.Fatalf("first apply report: %+v", rep)
	}
	for _, stage := range []string{"read source", "check keys", "diff", "plan changes", "apply", "commit"} {
		if _, ok := rep.Durations[stage]; !ok {
			t.Errorf("report has no duration for stage %q: %v", stage, rep.Durations)
		}
	}
	rep = mustApply(t, loadAt(t, dir), runner.Options{})
	if rep.Planned.Total() != 0 || rep.ExitReason != runner.ReasonNoop {
		t.Fatalf("second apply planned %+v (%s), want nothing", rep.Planned, rep.ExitReason)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out/records.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "sku,title,price\nA,ANCHOR,3.0\nB,BOTTLE,2.5\n"; string(got) != want {
		t.Fatalf("records file:\n%s\nwant:\n%s", got, want)
	}
}

func TestBadInputPlansNothing(t *testing.T) {
	cases := []struct {
		name, input string
		want        []string
	}{
		{"duplicate keys", "sku,name,price\nA,a,1\nB,b,2\nA,a2,3\nB,b,2\nC,c,1\n",
			[]string{"2 key(s) appear more than once", "sku=A (2 records)", "sku=B (2 records)"}},
		{"empty key", "sku,name,price\n,a,1\nB,b,2\n", []string{"1 desired record(s) have an empty key field (sku)"}},
		{"malformed value", "sku,name,price\nA,a,1\nB,b,cheap\n",
			[]string{"1 malformed row(s)", "input.csv:3:3: column price", `"cheap"`}},
		{"missing column", "sku,name\nA,a\n", []string{`input.csv:1: no column "price" in the header (it has sku, name)`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := csvCase(t, c.input)
			_, err := runner.Plan(context.Background(), loadAt(t, dir), runner.Options{})
			if err == nil {
				t.Fatal("plan succeeded on bad input")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("bad input wrote output: %v", err)
			}
		})
	}
}

// TestBadKeysAgainstAState: with a snapshot, the diff checks the desired keys in its own first pass; it
// must refuse the same records with the same message as the check of a first sync, and plan nothing.
func TestBadKeysAgainstAState(t *testing.T) {
	cases := []struct{ name, input string }{
		{"duplicate keys", "sku,name,price\nA,a,1\nB,b,2\nA,a2,3\nB,b,2\nC,c,1\nD,d,1\nD,d,1\n"},
		{"duplicate key of a record in state, unchanged", "sku,name,price\nA,anchor,3\nA,anchor,3\nB,bottle,2.5\n"},
		{"duplicate key of a record in state, one copy changed", "sku,name,price\nA,anchor,3\nB,bottle,2.5\nA,anchor,4\n"},
		{"duplicate key of a record in state, both copies changed", "sku,name,price\nA,anchor,5\nB,bottle,2.5\nA,anchor,4\n"},
		{"empty key", "sku,name,price\n,a,1\n,b,2\nB,b,2\n"},
		{"empty and duplicate keys", "sku,name,price\n,a,1\nB,b,2\nB,b,3\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			first := csvCase(t, c.input)
			_, want := runner.Plan(context.Background(), loadAt(t, first), runner.Options{})
			if want == nil {
				t.Fatal("a first plan succeeded on bad keys")
			}
			dir := csvCase(t, "sku,name,price\nA,anchor,3\nB,bottle,2.5\nZ,zip,1\n")
			mustApply(t, loadAt(t, dir), runner.Options{})
			before, err := os.ReadFile(filepath.Join(dir, "out/records.csv"))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "input.csv"), c.input)
			_, err = runner.Plan(context.Background(), loadAt(t, dir), runner.Options{})
			if err == nil || err.Error() != want.Error() {
				t.Fatalf("plan against a state: %v\nwant the first plan's error: %v", err, want)
			}
			if _, err := runner.Apply(context.Background(), loadAt(t, dir), runner.Options{}, nil); err == nil || err.Error() != want.Error() {
				t.Fatalf("apply against a state: %v\nwant: %v", err, want)
			}
			after, err := os.ReadFile(filepath.Join(dir, "out/records.csv"))
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != string(before) {
				t.Errorf("the records file moved:\n%s\nwas:\n%s", after, before)
			}
		})
	}
}

func TestSavedPlan(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,anchor,3\nB,bottle,2.5\n")
	ctx := context.Background()
	mustApply(t, loadAt(t, dir), runner.Options{})
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,4\nB,bottle,2.5\n")
	saved := mustPlan(t, loadAt(t, dir))
	path := filepath.Join(dir, "plan.json")
	if err := plan.Write(path, saved); err != nil {
		t.Fatal(err)
	}
	read, err := plan.Read(path)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}

	// The input moves after the plan was made: refused, nothing written.
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,5\nB,bottle,2.5\n")
	log := filepath.Join(dir, "out/records.changes.jsonl")
	before, _ := os.ReadFile(log)
	_, err = runner.Apply(ctx, loadAt(t, dir), runner.Options{}, read)
	var stale *runner.StaleError
	if !errors.As(err, &stale) || !strings.Contains(err.Error(), "input source changed") {
		t.Fatalf("apply of a stale plan: %v, want a StaleError naming the input", err)
	}
	if after, _ := os.ReadFile(log); string(after) != string(before) {
		t.Fatal("a stale plan wrote to the sink")
	}

	// Back to the planned input: the saved plan applies, exactly its changes.
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,4\nB,bottle,2.5\n")
	rep, err := runner.Apply(ctx, loadAt(t, dir), runner.Options{}, read)
	if err != nil {
		t.Fatalf("apply saved plan: %v", err)
	}
	if rep.PlanHash != saved.Hash || rep.Applied.Update != 1 {
		t.Fatalf("applied %+v with hash %s, want the saved plan %s", rep.Applied, rep.PlanHash, saved.Hash)
	}
	// Now the state moved: the same saved plan is stale.
	if _, err := runner.Apply(ctx, loadAt(t, dir), runner.Options{}, read); !errors.As(err, &stale) || !strings.Contains(err.Error(), "state moved") {
		t.Fatalf("second apply of the saved plan: %v, want stale (state moved)", err)
	}
	// A tampered plan file is refused when read.
	b, _ := os.ReadFile(path)
	writeFile(t, path, strings.Replace(string(b), `"update"`, `"delete"`, 1))
	if _, err := plan.Read(path); err == nil || !strings.Contains(err.Error(), "hash does not match") {
		t.Fatalf("tampered plan: %v", err)
	}
}

// A plan saved before the state exists (the first run of a pipeline) must still apply: creating the
// store is not a change of state.
func TestSavedPlanOnEmptyState(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,anchor,3\n")
	saved := mustPlan(t, loadAt(t, dir))
	rep, err := runner.Apply(context.Background(), loadAt(t, dir), runner.Options{}, saved)
	if err != nil || rep.Applied.Create != 1 || rep.PlanHash != saved.Hash {
		t.Fatalf("apply of the first saved plan: %v, applied %+v", err, rep.Applied)
	}
}

func TestGuardBlocksMassDeletion(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,a,1\nB,b,1\nC,c,1\nD,d,1\n")
	mustApply(t, loadAt(t, dir), runner.Options{})
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\n") // an empty export
	rep, err := runner.Apply(context.Background(), loadAt(t, dir), runner.Options{}, nil)
	var blocked *runner.BlockedError
	if !errors.As(err, &blocked) || rep.ExitCode != runner.ExitBlocked {
		t.Fatalf("apply of an empty input: %v (exit %d), want blocked (exit 3)", err, rep.ExitCode)
	}
	// The empty file is also suspect (far fewer rows than the last one): its deletions are held, and the guard
	// counts them.
	if pl := mustPlan(t, loadAt(t, dir)); pl.Summary.Delete != 0 || pl.State.Records != 4 || pl.Guards[0].Verdict != plan.Blocked {
		t.Fatalf("state moved despite the guard: %+v %+v %+v", pl.State, pl.Summary, pl.Guards)
	}
	rep = mustApply(t, loadAt(t, dir), runner.Options{AllowMassChange: true})
	if rep.Applied.Delete != 4 {
		t.Fatalf("--allow-mass-change applied %+v", rep.Applied)
	}
}

// memoryCase registers a dataset and returns a pipeline over it with a memory sink.
func memoryCase(t *testing.T, extra string) (*pipelines.Pipeline, *memory.TargetState) {
	t.Helper()
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(`version: 1
name: mem
merchant: test-shop
key: sku
source: {type: memory, dataset: %s}
sink: {type: memory, target: %s}
%s`, name, name, extra))
	tgt := memory.Target(name)
	tgt.Reset()
	return loadAt(t, dir), tgt
}

var memSchema = arrow.NewSchema([]arrow.Field{
	{Name: "sku", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

func records(n int, qty int64) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = record.Record{"sku": fmt.Sprintf("K%04d", i), "qty": qty}
	}
	return out
}

func setDataset(t *testing.T, recs []record.Record, mode connectors.Mode) {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	memory.SetDataset(name, memSchema, recs, mode)
	memory.SetDatasetKey(name, "sku")
}

func TestSinkRejectsStayPlanned(t *testing.T) {
	p, tgt := memoryCase(t, "")
	setDataset(t, records(5, 1), connectors.Snapshot)
	tgt.FailKeys(map[string]string{"sku=K0001": "price must be positive", "sku=K0003": "duplicate UPC"})
	rep := mustApply(t, p, runner.Options{})
	if rep.Applied.Create != 3 || len(rep.Rejected) != 2 || rep.ExitCode != runner.ExitFailure || rep.ExitReason != runner.ReasonReject {
		t.Fatalf("report: applied %+v, rejected %+v, exit %d %s", rep.Applied, rep.Rejected, rep.ExitCode, rep.ExitReason)
	}
	if r := rep.Rejected[0]; r.Key["sku"] != "K0001" || r.Reason != "price must be positive" {
		t.Fatalf("first reject: %+v", r)
	}
	tgt.FailKeys(nil)
	pl := mustPlan(t, p)
	if pl.Summary.Create != 2 || pl.Changes[0].Key["sku"] != "K0001" || pl.Changes[1].Key["sku"] != "K0003" {
		t.Fatalf("after rejects, plan %+v, want the 2 rejected creates", pl.Summary)
	}
	mustApply(t, p, runner.Options{})
	if got := len(tgt.Records()); got != 5 {
		t.Fatalf("target has %d records, want 5", got)
	}
}

func TestSinkFailureMidRunCommitsOnlyAcknowledged(t *testing.T) {
	p, tgt := memoryCase(t, "")
	setDataset(t, records(1200, 1), connectors.Snapshot) // 3 batches of 500
	tgt.FailAfter(700, errors.New("connection reset"))
	rep, err := runner.Apply(context.Background(), p, runner.Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), "connection reset") || rep.Applied.Create != 700 {
		t.Fatalf("apply: %v, applied %+v", err, rep.Applied)
	}
	if pl := mustPlan(t, p); pl.Summary.Create != 500 || pl.State.Records != 700 {
		t.Fatalf("after the failure: plan %+v, state %+v; want 500 creates left over 700 committed", pl.Summary, pl.State)
	}
	tgt.FailAfter(0, nil)
	mustApply(t, p, runner.Options{})
	seen := map[string]int{}
	for _, c := range tgt.Applied() {
		seen[fmt.Sprint(c.Key["sku"])]++
	}
	if len(seen) != 1200 {
		t.Fatalf("target saw %d keys, want 1200", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%s applied %d times", k, n)
		}
	}
}

func TestIncrementalSourceMergesIntoStoredRecords(t *testing.T) {
	p, tgt := memoryCase(t, "")
	setDataset(t, records(4, 1), connectors.Changes)
	mustApply(t, p, runner.Options{})
	// The next read carries only what changed: K0001 updated, K0009 new. The others keep their values.
	setDataset(t, []record.Record{{"sku": "K0001", "qty": int64(7)}, {"sku": "K0009", "qty": int64(2)}}, connectors.Changes)
	pl := mustPlan(t, p)
	if pl.Summary.Create != 1 || pl.Summary.Update != 1 || pl.Summary.Delete != 0 || pl.Summary.Unchanged != 3 {
		t.Fatalf("incremental plan %+v, want 1 create, 1 update, nothing deleted", pl.Summary)
	}
	if pl.Inputs[0].Mode != "changes" || pl.Inputs[0].Records != 5 {
		t.Fatalf("input %+v, want 5 merged records in changes mode", pl.Inputs[0])
	}
	mustApply(t, p, runner.Options{})
	// The stored records now include the merge: an empty read changes nothing.
	setDataset(t, nil, connectors.Changes)
	if pl := mustPlan(t, p); pl.Summary.Total() != 0 {
		t.Fatalf("empty incremental read planned %+v", pl.Summary)
	}
	if r := tgt.Records()["sku=K0001"]; r["qty"] != int64(7) {
		t.Fatalf("target K0001 = %v", r)
	}
}

func TestLockedPipelineNamesTheHolder(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,a,1\n")
	p := loadAt(t, dir)
	lock, err := state.LockFile(filepath.Join(p.State.Dir, "shop.lock"), "shop", state.Holder{PID: 4242, Host: "cron-7", RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	_, err = runner.Apply(context.Background(), p, runner.Options{}, nil)
	var le *state.LockedError
	if !errors.As(err, &le) || le.Holder.PID != 4242 || !strings.Contains(err.Error(), "pid 4242 on host cron-7") {
		t.Fatalf("apply while locked: %v", err)
	}
}

func TestSchemaChangeAddsAndDropsColumns(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,anchor,3\nB,bottle,2.5\n")
	mustApply(t, loadAt(t, dir), runner.Options{})
	// The mapping gains a field and loses one.
	y := strings.Replace(csvPipeline, "      title: upper(name)\n", "      slug: lower(name) + '-' + sku\n", 1)
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), y)
	pl := mustPlan(t, loadAt(t, dir))
	if pl.Summary.Update != 2 || len(pl.Changes[0].Fields) != 1 || pl.Changes[0].Fields[0].Name != "slug" {
		t.Fatalf("after adding slug: %+v %+v", pl.Summary, pl.Changes)
	}
	mustApply(t, loadAt(t, dir), runner.Options{})
	if pl := mustPlan(t, loadAt(t, dir)); pl.Summary.Total() != 0 {
		t.Fatalf("after applying the new layout, plan %+v", pl.Summary)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out/records.csv"))
	if !strings.HasPrefix(string(got), "sku,slug,price\n") {
		t.Fatalf("records file header: %q", got)
	}
}

func TestTransformErrorNamesTheRecord(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,anchor,3\nB,,2.5\n")
	_, err := runner.Plan(context.Background(), loadAt(t, dir), runner.Options{})
	if err == nil || !strings.Contains(err.Error(), "sku=B") || !strings.Contains(err.Error(), "title") {
		t.Fatalf("plan with a null name: %v, want an error naming sku=B and field title", err)
	}
}

// TestApplyStreamsThePlansChangesInOrder applies, in batches of 3, a plan whose changes the runner reads a
// batch at a time from its database (more than the changes an apply holds, here 5, to a sink that does not
// order changes): the change log must carry exactly the plan's changes, in the plan's order, and a saved plan of the
// same changes must be accepted (the streamed hash equals the saved plan's). The hash pass reads the diff 4
// changes per query, so that its chunks (and a last, partial one) are covered too.
func TestApplyStreamsThePlansChangesInOrder(t *testing.T) {
	defer runner.SetStreamAbove(5)()
	defer runner.SetQueryRows(4)()
	var before, after strings.Builder
	before.WriteString("sku,name,price\n")
	after.WriteString("sku,name,price\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&before, "S%02d,item %d,%d\n", i, i, i)
		switch {
		case i%10 == 0: // deleted
		case i%3 == 0:
			fmt.Fprintf(&after, "S%02d,item %d,%d.5\n", i, i, i) // updated
		default:
			fmt.Fprintf(&after, "S%02d,item %d,%d\n", i, i, i)
		}
	}
	for i := 40; i < 47; i++ {
		fmt.Fprintf(&after, "S%02d,new %d,1\n", i, i)
	}
	dir := batchedCSVCase(t, before.String(), 3)
	mustApply(t, loadAt(t, dir), runner.Options{})
	logged, err := os.ReadFile(filepath.Join(dir, "out", "records.changes.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	firstLines := strings.Count(string(logged), "\n")

	writeFile(t, filepath.Join(dir, "input.csv"), after.String())
	pl := mustPlan(t, loadAt(t, dir))
	if pl.Summary.Create != 7 || pl.Summary.Update == 0 || pl.Summary.Delete != 4 {
		t.Fatalf("plan summary %+v", pl.Summary)
	}
	saved := filepath.Join(dir, "plan.json")
	if err := plan.Write(saved, pl); err != nil {
		t.Fatal(err)
	}
	read, err := plan.Read(saved)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runner.Apply(context.Background(), loadAt(t, dir), runner.Options{}, read)
	if err != nil {
		t.Fatalf("apply the saved plan: %v", err)
	}
	if rep.Applied.Total() != pl.Summary.Total() || rep.PlanHash != pl.Hash {
		t.Fatalf("applied %d of %d changes, plan hash %s (saved %s)", rep.Applied.Total(), pl.Summary.Total(), rep.PlanHash, pl.Hash)
	}
	checkChangeLog(t, "the saved plan", dir, firstLines, pl)
}

// TestReportMasksSecretsInTheRunError: a sink failing with a message that quotes a secret (an API echoing a
// token) leaves the secret out of the report, which is stored in the state and printed by `run`.
func TestReportMasksSecretsInTheRunError(t *testing.T) {
	p, tgt := memoryCase(t, "")
	p.Secrets.Add("tok-s3cr3t")
	setDataset(t, records(3, 1), connectors.Snapshot)
	tgt.FailAfter(0, errors.New("gateway refused token tok-s3cr3t"))
	rep, err := runner.Apply(context.Background(), p, runner.Options{}, nil)
	if err == nil || rep.ExitCode != runner.ExitFailure {
		t.Fatalf("apply: %v, exit %d; want the sink's failure", err, rep.ExitCode)
	}
	if strings.Contains(rep.Error, "tok-s3cr3t") || !strings.Contains(rep.Error, "gateway refused token") {
		t.Errorf("report error %q: want the message with the secret masked", rep.Error)
	}
}
