package runner_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
	"github.com/possync/possync/spec"
)

// The no-change rerun (issue 15): a plan whose inputs, pipeline and state are those of the last successful
// apply is the empty plan without transforms or diff; anything else plans in full.

// planStages plans p with opts and returns the plan and the stages it ran.
func planStages(t *testing.T, p *pipelines.Pipeline, opts runner.Options) (*plan.Plan, []runner.Stage) {
	t.Helper()
	var stages []runner.Stage
	opts.Stats = &stages
	pl, err := runner.Plan(context.Background(), p, opts)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return pl, stages
}

// ranTransforms says whether a transform or the diff ran, by the stages the runner reported.
func ranTransforms(stages []runner.Stage) bool {
	for _, st := range stages {
		if strings.HasPrefix(st.Name, "transform ") || st.Name == "diff" {
			return true
		}
	}
	return false
}

// wantShortcut fails unless pl is the short-circuited empty plan and no transform or diff ran.
func wantShortcut(t *testing.T, pl *plan.Plan, stages []runner.Stage) {
	t.Helper()
	if pl.Shortcut == "" || pl.Summary.Total() != 0 || ranTransforms(stages) {
		t.Fatalf("want a short-circuited empty plan; shortcut %q, summary %+v, stages %v", pl.Shortcut, pl.Summary, stages)
	}
}

// wantFull fails unless pl was computed in full (transforms and diff ran).
func wantFull(t *testing.T, pl *plan.Plan, stages []runner.Stage) {
	t.Helper()
	if pl.Shortcut != "" || !ranTransforms(stages) {
		t.Fatalf("want a full plan; shortcut %q, stages %v", pl.Shortcut, stages)
	}
}

// appliedTwoRows is a csv case of two records (A at 3, B at 2.5), applied once: its basis is recorded.
func appliedTwoRows(t *testing.T) string {
	t.Helper()
	dir := csvCase(t, "sku,name,price\nA,anchor,3\nB,bottle,2.5\n")
	mustApply(t, loadAt(t, dir), runner.Options{})
	return dir
}

// wantFullUpdates plans the pipeline in dir and fails unless it was planned in full with updates updates
// (what names the case in the failure).
func wantFullUpdates(t *testing.T, dir string, updates int, what string) {
	t.Helper()
	pl, stages := planStages(t, loadAt(t, dir), runner.Options{})
	wantFull(t, pl, stages)
	if pl.Summary.Update != updates {
		t.Errorf("%s: %+v, want %d updates", what, pl.Summary, updates)
	}
}

func TestRerunUnchangedSkipsTransforms(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,anchor,3\nB,bottle,2.5\n")
	rep := mustApply(t, loadAt(t, dir), runner.Options{})
	if rep.Applied.Create != 2 {
		t.Fatalf("first apply: %+v", rep.Applied)
	}
	pl, stages := planStages(t, loadAt(t, dir), runner.Options{})
	wantShortcut(t, pl, stages)
	if pl.Summary.Unchanged != 2 || !strings.Contains(pl.Shortcut, rep.RunID) {
		t.Errorf("shortcut plan: %d unchanged (want 2), reason %q (want the run %s)", pl.Summary.Unchanged, pl.Shortcut, rep.RunID)
	}
	var text strings.Builder
	if err := plan.WriteText(&text, pl, plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "unchanged since run "+rep.RunID) {
		t.Errorf("the rendered plan does not say why it is empty:\n%s", text.String())
	}

	// The full computation gives the same plan (same hash), so a plan saved either way applies.
	full, fullStages := planStages(t, loadAt(t, dir), runner.Options{FullPlan: true})
	wantFull(t, full, fullStages)
	if full.Hash != pl.Hash || full.Summary != pl.Summary {
		t.Errorf("full plan %s %+v, shortcut plan %s %+v: want the same", full.Hash, full.Summary, pl.Hash, pl.Summary)
	}
	if _, err := runner.Apply(context.Background(), loadAt(t, dir), runner.Options{}, full); err != nil {
		t.Errorf("apply of the saved full plan, short-circuited: %v", err)
	}

	// An apply short-circuits too, says so, and keeps the basis (the next plan still short-circuits).
	var applyStages []runner.Stage
	rep = mustApply(t, loadAt(t, dir), runner.Options{Stats: &applyStages})
	if rep.ExitReason != runner.ReasonNoop || ranTransforms(applyStages) || !strings.Contains(strings.Join(rep.Notes, "\n"), "short-circuited") {
		t.Errorf("short-circuited apply: %s, notes %q, stages %v", rep.ExitReason, rep.Notes, applyStages)
	}
	pl, stages = planStages(t, loadAt(t, dir), runner.Options{})
	wantShortcut(t, pl, stages)

	// The records file is written again when it went missing, also by a short-circuited apply.
	out := filepath.Join(dir, "out/records.csv")
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	mustApply(t, loadAt(t, dir), runner.Options{})
	if b, err := os.ReadFile(out); err != nil || string(b) != "sku,title,price\nA,ANCHOR,3.0\nB,BOTTLE,2.5\n" {
		t.Errorf("records file after a short-circuited apply: %q, %v", b, err)
	}
}

func TestRerunChangedInputPlansInFull(t *testing.T) {
	dir := appliedTwoRows(t)
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,3\nB,bottle,2.7\n")
	wantFullUpdates(t, dir, 1, "changed row")
}

// An apply of a changed file with as many rows and the same header as the last: the file source's review
// commits no new checkpoint (the state keeps the last), and the basis still holds, so the next plan of the
// same file short-circuits. (Before, the basis recorded no checkpoint then, and every rerun planned in
// full: "a source's checkpoint moved".)
func TestRerunAfterChangedInputShortCircuits(t *testing.T) {
	dir := appliedTwoRows(t)
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,3\nB,bottle,2.7\n")
	if rep := mustApply(t, loadAt(t, dir), runner.Options{}); rep.Applied.Update != 1 {
		t.Fatalf("apply of the changed file: %+v", rep.Applied)
	}
	pl, stages := planStages(t, loadAt(t, dir), runner.Options{})
	wantShortcut(t, pl, stages)
	// The file as it was at the first apply is another input again.
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,3\nB,bottle,2.5\n")
	wantFullUpdates(t, dir, 1, "the first file again")
}

// A file of the same size and modification time but other bytes is another input.
func TestRerunSameSizeOtherContentPlansInFull(t *testing.T) {
	dir := appliedTwoRows(t)
	in := filepath.Join(dir, "input.csv")
	fi, err := os.Stat(in)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, in, "sku,name,price\nA,anchor,3\nB,bottle,2.6\n")
	if err := os.Chtimes(in, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if fi2, _ := os.Stat(in); fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatalf("the test needs the same size and mtime")
	}
	wantFullUpdates(t, dir, 1, "same size, other content")
}

func TestRerunChangedPipelinePlansInFull(t *testing.T) {
	dir := appliedTwoRows(t)
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), strings.Replace(csvPipeline, "upper(name)", "lower(name)", 1))
	wantFullUpdates(t, dir, 2, "changed pipeline")
}

// Another run moved the state (without recording a basis of its own): the inputs are those of the basis
// again, but the state is not, so the plan must put the records back.
func TestRerunStateMovedByAnotherRunPlansInFull(t *testing.T) {
	dir := appliedTwoRows(t)
	in := filepath.Join(dir, "input.csv")
	writeFile(t, in, "sku,name,price\nA,anchor,4\nB,bottle,2.5\n")
	if rep := mustApply(t, loadAt(t, dir), runner.Options{FullRefresh: true}); rep.Applied.Update != 1 {
		t.Fatalf("the other run: %+v", rep.Applied)
	}
	writeFile(t, in, "sku,name,price\nA,anchor,3\nB,bottle,2.5\n")
	wantFullUpdates(t, dir, 1, "after another run")
}

func TestRerunFullPlanFlag(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,anchor,3\n")
	mustApply(t, loadAt(t, dir), runner.Options{})
	pl, stages := planStages(t, loadAt(t, dir), runner.Options{FullPlan: true})
	wantFull(t, pl, stages)
}

// now() in an expression depends on the clock with no boundary possync can know: never short-circuited.
func TestRerunClockExpressionPlansInFull(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), strings.Replace(csvPipeline, "price: price\n", "price: price\n      year: now().Year()\n", 1))
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,3\n")
	mustApply(t, loadAt(t, dir), runner.Options{})
	pl, stages := planStages(t, loadAt(t, dir), runner.Options{})
	wantFull(t, pl, stages)
}

// A launch date compared with now() written with a space before its parentheses (expr-lang allows it): the
// rerun after the launch plans the product going live. (It read the text for "now(", missed `now ()` and
// answered "No changes" from the basis, so the product never went live.)
func TestRerunSpacedClockCallPlansLaunch(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), `version: 1
name: launch
merchant: test-shop
key: sku
source:
  type: file
  path: input.csv
  columns:
    - {name: sku, type: string}
    - {name: launch, type: timestamp}
transforms:
  - type: map
    fields:
      sku: sku
      enabled: "now ()  >= launch"
sink:
  type: file
  path: out/records.csv
`)
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,launch\nL1,2026-12-07 00:00:00\nL2,2026-12-09 00:00:00\n")
	if rep := applyAt(t, loadAt(t, dir), "2026-12-08T00:00:00Z"); rep.Applied.Create != 2 {
		t.Fatalf("first apply: %+v", rep.Applied)
	}
	pl, stages := planStages(t, loadAt(t, dir), runner.Options{Now: at(t, "2026-12-10T00:00:00Z")})
	wantFull(t, pl, stages)
	if pl.Summary.Update != 1 || pl.Summary.Total() != 1 {
		t.Fatalf("after the launch: %+v, want the one update of L2", pl.Summary)
	}
	c := changeOf(t, pl, "L2")
	if len(c.Fields) != 1 || c.Fields[0].Name != "enabled" || c.Fields[0].Before != false || c.Fields[0].After != true {
		t.Errorf("L2's change: %+v, want enabled false -> true", c)
	}
}

// A promotion that starts after the last run: the same day short-circuits, the day it starts plans the sale.
func TestRerunPromotionBoundaryPlansInFull(t *testing.T) {
	dir := promoCase(t, "sku,name,price,enabled\nA,anchor,100,true\n",
		promo{"7", "Winter", "2026-10-01 09:00:00", "2026-12-02", "2026-12-31", "Y", "A", "80"})
	p := loadAt(t, dir)
	applyAt(t, p, "2026-12-01T08:00:00-08:00")
	var stages []runner.Stage
	pl, err := runner.Plan(context.Background(), loadAt(t, dir), runner.Options{Now: at(t, "2026-12-01T20:00:00-08:00"), Stats: &stages})
	if err != nil {
		t.Fatal(err)
	}
	wantShortcut(t, pl, stages)
	stages = nil
	pl, err = runner.Plan(context.Background(), loadAt(t, dir), runner.Options{Now: at(t, "2026-12-02T06:00:00-08:00"), Stats: &stages})
	if err != nil {
		t.Fatal(err)
	}
	wantFull(t, pl, stages)
	if pl.Summary.Update != 1 {
		t.Errorf("the promotion started: %+v, want 1 update", pl.Summary)
	}
	// An evaluation time before the basis's is never vouched for either.
	stages = nil
	pl, err = runner.Plan(context.Background(), loadAt(t, dir), runner.Options{Now: at(t, "2026-12-01T07:00:00-08:00"), Stats: &stages})
	if err != nil {
		t.Fatal(err)
	}
	wantFull(t, pl, stages)
}

// An sql step is vouched for by its text: a plain query short-circuits, one that reads the clock does not.
func TestRerunSQLStep(t *testing.T) {
	for _, c := range []struct {
		query string
		short bool
	}{
		{"SELECT sku, upper(name) AS title, price FROM source", true},
		{"SELECT sku, upper(name) AS title, price, current_date AS day FROM source", false},
		{"SELECT sku, name AS title, price FROM read_csv('INPUT')", false},
		{"SELECT s.sku, upper(s.name) AS title, s.price FROM source s LEFT JOIN _applied a USING (sku)", false},
	} {
		dir := t.TempDir()
		y := strings.Replace(csvPipeline, "  - type: map\n    fields:\n      sku: sku\n      title: upper(name)\n      price: price\n",
			"  - type: sql\n    name: shaped\n    query: \""+strings.Replace(c.query, "INPUT", filepath.Join(dir, "input.csv"), 1)+"\"\n", 1)
		writeFile(t, filepath.Join(dir, "pipeline.yaml"), y)
		writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,3\n")
		mustApply(t, loadAt(t, dir), runner.Options{})
		pl, stages := planStages(t, loadAt(t, dir), runner.Options{})
		if c.short {
			wantShortcut(t, pl, stages)
		} else {
			wantFull(t, pl, stages)
		}
	}
}

// The match step's mappings file is an input too: the same file short-circuits, an edited one plans in full.
func TestRerunMappingsFile(t *testing.T) {
	dir := matchCase(t, matchMappings)
	mustApply(t, loadAt(t, dir), runner.Options{})
	pl, stages := planStages(t, loadAt(t, dir), runner.Options{})
	wantShortcut(t, pl, stages)
	if len(pl.NoteTexts()) == 0 {
		t.Errorf("the short-circuited plan lost the match step's notes (the pending list)")
	}
	full, _ := planStages(t, loadAt(t, dir), runner.Options{FullPlan: true})
	if full.Hash != pl.Hash || strings.Join(full.NoteTexts(), "\n") != strings.Join(pl.NoteTexts(), "\n") {
		t.Errorf("short-circuited and full plans differ: notes\n%q\nand\n%q", pl.NoteTexts(), full.NoteTexts())
	}
	writeFile(t, filepath.Join(dir, "decisions", "mappings.csv"), strings.Replace(matchMappings, "HAND,W-HAND", "HAND,", 1))
	wantFullUpdates(t, dir, 1, "edited mappings")
}

// A run killed after recording its intents (and maybe sending them) leaves the serial as it was: the
// unsettled intents alone say the store may have moved, so the plan is computed in full.
func TestRerunPendingIntentsPlanInFull(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,anchor,3\n")
	p := loadAt(t, dir)
	mustApply(t, p, runner.Options{})
	ctx := context.Background()
	d, err := engine.Open(ctx, engine.Options{TempDir: filepath.Join(t.TempDir(), "tmp")})
	if err != nil {
		t.Fatal(err)
	}
	st := state.NewDuckStore(p.State.Dir, p.Name)
	if _, err := st.Open(ctx, d.Conn(), false); err != nil {
		t.Fatal(err)
	}
	if err := d.Exec(ctx, `CREATE TABLE ints AS SELECT 'i1' AS id, 'killed-run' AS run_id, '{}' AS change`); err != nil {
		t.Fatal(err)
	}
	if err := st.AddIntents(ctx, d.Conn(), "ints"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	pl, stages := planStages(t, loadAt(t, dir), runner.Options{})
	wantFull(t, pl, stages)
}

// The export lags behind the state (a run committed and stopped before its export, or the export failed):
// the state is not as the basis's run left it, so the plan is computed in full, and the apply brings the
// records file up to date; after it, the next plan short-circuits again.
func TestRerunExportLagsPlansInFull(t *testing.T) {
	dir := appliedTwoRows(t)
	in, out := filepath.Join(dir, "input.csv"), filepath.Join(dir, "out/records.csv")
	stale, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, in, "sku,name,price\nA,anchor,3\nB,bottle,2.7\n")
	if rep := mustApply(t, loadAt(t, dir), runner.Options{}); rep.Applied.Update != 1 {
		t.Fatalf("second apply: %+v", rep.Applied)
	}
	pl, stages := planStages(t, loadAt(t, dir), runner.Options{})
	wantShortcut(t, pl, stages) // the basis of the second apply holds

	// The records file and the state's export mark as the second run would have left them had it stopped
	// after its commit: the file of the first run, marked exported at an earlier serial than the state's.
	p := loadAt(t, dir)
	ctx := context.Background()
	d, err := engine.Open(ctx, engine.Options{TempDir: filepath.Join(t.TempDir(), "tmp")})
	if err != nil {
		t.Fatal(err)
	}
	st := state.NewDuckStore(p.State.Dir, p.Name)
	meta, err := st.Open(ctx, d.Conn(), false)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Serial < 2 || meta.Exported != meta.Serial {
		t.Fatalf("state after two applies: serial %d, exported %d", meta.Serial, meta.Exported)
	}
	if err := st.MarkExported(ctx, d.Conn(), meta.Serial-1, "v1|stale"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	writeFile(t, out, string(stale))

	pl, stages = planStages(t, loadAt(t, dir), runner.Options{})
	wantFull(t, pl, stages)
	if pl.Summary.Total() != 0 {
		t.Errorf("plan with a lagging export: %+v, want no change", pl.Summary)
	}
	mustApply(t, loadAt(t, dir), runner.Options{})
	if b, err := os.ReadFile(out); err != nil || string(b) != "sku,title,price\nA,ANCHOR,3.0\nB,BOTTLE,2.7\n" {
		t.Errorf("records file after the apply that caught up: %q, %v", b, err)
	}
	pl, stages = planStages(t, loadAt(t, dir), runner.Options{})
	wantShortcut(t, pl, stages)
}

// rejecting is a test source (test_rejecting): a snapshot of the records and rejects of rejectingRead, read
// whole on every run (no files to hash), so its fingerprint is that of its records alone.
type rejecting struct{}

var rejectingRead struct {
	sync.Mutex
	skus    []string
	rejects []connectors.Reject
}

func init() {
	connectors.Sources.MustRegister(spec.Component{Kind: spec.KindSource, Name: "test_rejecting", Summary: "test only"},
		func(spec.Config, connectors.Env) (connectors.Source, error) { return rejecting{}, nil })
}

func (rejecting) Schema() *arrow.Schema { return committingSchema }

func (rejecting) Read(_ context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	rejectingRead.Lock()
	defer rejectingRead.Unlock()
	return skuReader(req, rejectingRead.skus, connectors.ReadResult{Key: []string{"sku"}, Rejects: slices.Clone(rejectingRead.rejects)})
}

// setRejecting sets what the test_rejecting source reads; the test's end clears it.
func setRejecting(t *testing.T, skus []string, rejects ...connectors.Reject) {
	t.Helper()
	rejectingRead.Lock()
	defer rejectingRead.Unlock()
	rejectingRead.skus, rejectingRead.rejects = skus, rejects
	t.Cleanup(func() {
		rejectingRead.Lock()
		defer rejectingRead.Unlock()
		rejectingRead.skus, rejectingRead.rejects = nil, nil
	})
}

// rejectingCase writes a pipeline reading the test_rejecting source; removals are not guarded.
func rejectingCase(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), "version: 1\nname: rejecting\nmerchant: m\nkey: sku\n"+
		"source:\n  type: test_rejecting\ntransforms:\n  - type: map\n    fields:\n      sku: sku\n"+
		"sink:\n  type: file\n  path: out/records.csv\nguards:\n  max_delete_percent: -1\n")
	return dir
}

// rejectC is the row of record C, rejected with its key read.
var rejectC = connectors.Reject{Where: "item 3", Key: map[string]any{"sku": "C"}, Reason: `price "abc" is not a number`}

// A source read whole (not a file) has the same records as at the basis's run, and a row it now rejects:
// the records' fingerprint is the basis's, but the plan must be computed to report the reject.
func TestRerunSourceRejectsNowPlansInFull(t *testing.T) {
	dir := rejectingCase(t)
	setRejecting(t, []string{"A", "B"})
	mustApply(t, loadAt(t, dir), runner.Options{})
	pl, stages := planStages(t, loadAt(t, dir), runner.Options{})
	wantShortcut(t, pl, stages)

	setRejecting(t, []string{"A", "B"}, rejectC)
	pl, stages = planStages(t, loadAt(t, dir), runner.Options{})
	wantFull(t, pl, stages)
	if len(pl.Rejects) != 1 || pl.Rejects[0].Where != "item 3" {
		t.Errorf("rejects %+v, want the row the source rejected", pl.Rejects)
	}
}

// The last run's input had a rejected row, which protected its record (C): that run records no basis, so
// when a later read has the same records without the row, the plan is computed and removes C, rather than
// short-circuit on the run that protected it.
func TestRerunAfterRejectedRowsPlansInFull(t *testing.T) {
	dir := rejectingCase(t)
	setRejecting(t, []string{"A", "B", "C"})
	mustApply(t, loadAt(t, dir), runner.Options{})

	setRejecting(t, []string{"A", "B"}, rejectC)
	rep := mustApply(t, loadAt(t, dir), runner.Options{})
	if len(rep.InputRejects) != 1 || rep.Applied.Total() != 0 {
		t.Fatalf("apply with C rejected: applied %+v, input rejects %+v; want nothing applied and C's reject", rep.Applied, rep.InputRejects)
	}

	setRejecting(t, []string{"A", "B"})
	pl, stages := planStages(t, loadAt(t, dir), runner.Options{})
	wantFull(t, pl, stages)
	if pl.Summary.Delete != 1 || pl.Changes[0].Key["sku"] != "C" {
		t.Errorf("C is gone without a reject: %+v, want its deletion", pl.Summary)
	}
}
