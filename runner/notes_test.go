package runner_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/spec"
)

// noting is a test source (test_noting): a snapshot of notingRead's records, with its notes and holds.
type noting struct{}

var notingRead struct {
	sync.Mutex
	skus         []string
	notes, holds []string
}

func init() {
	connectors.Sources.MustRegister(spec.Component{Kind: spec.KindSource, Name: "test_noting", Summary: "test only"},
		func(spec.Config, connectors.Env) (connectors.Source, error) { return noting{}, nil })
}

func (noting) Schema() *arrow.Schema { return committingSchema }

func (noting) Read(_ context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	notingRead.Lock()
	defer notingRead.Unlock()
	return skuReader(req, notingRead.skus, connectors.ReadResult{Key: []string{"sku"},
		Notes: slices.Clone(notingRead.notes), Holds: slices.Clone(notingRead.holds)})
}

// setNoting sets what the test_noting source reads; the test's end clears it.
func setNoting(t *testing.T, skus, notes, holds []string) {
	t.Helper()
	notingRead.Lock()
	defer notingRead.Unlock()
	notingRead.skus, notingRead.notes, notingRead.holds = skus, notes, holds
	t.Cleanup(func() {
		notingRead.Lock()
		defer notingRead.Unlock()
		notingRead.skus, notingRead.notes, notingRead.holds = nil, nil, nil
	})
}

// skus returns n keys S00, S01, ...
func skus(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("S%02d", i)
	}
	return out
}

// notingCase writes a pipeline reading the test_noting source, with the default guard (10%).
func notingCase(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), "version: 1\nname: noting\nmerchant: m\nkey: sku\n"+
		"source:\n  type: test_noting\ntransforms:\n  - type: map\n    fields:\n      sku: sku\n"+
		"sink:\n  type: file\n  path: out/records.csv\n")
	return dir
}

// An apply reports the plan's notes as `plan` lists them (Note.String), each once: the source's own notes
// with the source as subject, and the held removals, which plan alone showed before (the report had the
// source's notes as written and no held removal: "Applied: 0 created", no_changes, and nothing said the
// missing record was kept). A blocked apply reports them too, as its guard message points at them.
func TestApplyReportsPlanNotes(t *testing.T) {
	dir := notingCase(t)
	setNoting(t, skus(20), []string{"read 20 rows"}, nil)
	rep := mustApply(t, loadAt(t, dir), runner.Options{})
	if want := []string{"source source: read 20 rows"}; !slices.Equal(rep.Notes, want) {
		t.Errorf("first apply's notes %q, want %q", rep.Notes, want)
	}

	// One record missing from a suspect read: its removal is held (1 of 20, under the guard's 10%).
	setNoting(t, skus(19), []string{"read 19 rows"}, []string{"the export has another header"})
	pl := mustPlan(t, loadAt(t, dir))
	if pl.Summary.Total() != 0 || pl.Blocked() || len(pl.Notes) != 2 || pl.Notes[1].Kind != spec.NoteHeldRemoval {
		t.Fatalf("plan of the suspect read: %+v, blocked %v, notes %q; want no change, a held removal", pl.Summary, pl.Blocked(), pl.NoteTexts())
	}
	rep = mustApply(t, loadAt(t, dir), runner.Options{})
	if !slices.Equal(rep.Notes, pl.NoteTexts()) || rep.ExitCode != runner.ExitOK || rep.ExitReason != runner.ReasonNoop {
		t.Errorf("apply of the suspect read: %s (exit %d), notes %q; want no_changes (exit 0) with the plan's notes %q",
			rep.ExitReason, rep.ExitCode, rep.Notes, pl.NoteTexts())
	}

	// Every record missing: the guard counts the held removals and blocks the apply.
	setNoting(t, nil, nil, []string{"the export is empty"})
	pl = mustPlan(t, loadAt(t, dir))
	if pl.Summary.Total() != 0 || !pl.Blocked() {
		t.Fatalf("plan of the empty read: %+v, blocked %v; want no change, blocked", pl.Summary, pl.Blocked())
	}
	rep, err := runner.Apply(context.Background(), loadAt(t, dir), runner.Options{}, nil)
	var blocked *runner.BlockedError
	if !errors.As(err, &blocked) || rep.ExitCode != runner.ExitBlocked || !strings.Contains(err.Error(), "see the notes") {
		t.Fatalf("apply of the empty read: %v (exit %d), want blocked pointing at the notes", err, rep.ExitCode)
	}
	if !slices.Equal(rep.Notes, pl.NoteTexts()) || len(pl.Notes) != 1 || pl.Notes[0].Kind != spec.NoteHeldRemoval ||
		!strings.Contains(rep.Notes[0], "20 deletion(s) or deactivation(s)") {
		t.Errorf("blocked apply's notes %q, want the plan's %q: the 20 held removals (the one held before is still in state)", rep.Notes, pl.NoteTexts())
	}
}

// The guard counts held removals: the plan that has nothing else is blocked, with a summary that does not
// say "No changes" beside the verdict, and the apply refuses it (exit 3); --allow-mass-change plans and
// applies the removals.
func TestHeldRemovalsBlockPlanAndApplyAlike(t *testing.T) {
	dir := notingCase(t)
	setNoting(t, skus(4), nil, nil)
	mustApply(t, loadAt(t, dir), runner.Options{})
	setNoting(t, nil, nil, []string{"the export is empty"})

	pl := mustPlan(t, loadAt(t, dir))
	var text strings.Builder
	if err := plan.WriteText(&text, pl, plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !pl.Blocked() || pl.Summary.Total() != 0 || strings.Contains(text.String(), "No changes.") ||
		!strings.Contains(text.String(), "No changes planned; 0 records up to date, but a guard blocks the apply.") ||
		!strings.Contains(text.String(), "4 of them held") {
		t.Errorf("plan: blocked %v, %+v; want blocked by the 4 held removals, not \"No changes.\":\n%s", pl.Blocked(), pl.Summary, text.String())
	}
	rep, err := runner.Apply(context.Background(), loadAt(t, dir), runner.Options{}, nil)
	if !errors.As(err, new(*runner.BlockedError)) || rep.ExitCode != runner.ExitBlocked {
		t.Errorf("apply: %v (exit %d), want blocked (exit 3) as the plan is", err, rep.ExitCode)
	}
	rep = mustApply(t, loadAt(t, dir), runner.Options{AllowMassChange: true})
	if rep.Applied.Delete != 4 {
		t.Errorf("--allow-mass-change applied %+v, want the 4 deletions", rep.Applied)
	}
}
