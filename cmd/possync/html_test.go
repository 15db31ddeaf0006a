package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/spec"
)

// htmlData is the part of the page's embedded data these tests read.
type htmlData struct {
	Actions []string       `json:"actions"`
	Changes [][]any        `json:"changes"`
	Outcome bool           `json:"outcome"`
	Counts  map[string]int `json:"counts"`
	Lists   map[string]any `json:"lists"`
	Meta    map[string]any `json:"meta"`
	Fields  []string       `json:"fields"`
}

func readPage(t *testing.T, path string) (string, htmlData) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the page was not written: %v", err)
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="plan-data">(.*?)</script>`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s has no embedded plan data", path)
	}
	var d htmlData
	if err := json.Unmarshal(m[1], &d); err != nil {
		t.Fatalf("%s: embedded data: %v", path, err)
	}
	return string(b), d
}

// statuses counts the changes of a page per status.
func statuses(d htmlData) map[string]int {
	n := map[string]int{}
	for _, c := range d.Changes {
		if len(c) > 4 {
			n[c[4].(string)]++
		}
	}
	return n
}

// TestHTMLPages: plan --html, show --html of the saved plan (the same page), apply --plan --html (every change
// applied), and a run that a guard blocks (its page shows the plan and the verdict).
func TestHTMLPages(t *testing.T) {
	f := newFixture(t, genRows(0, 40))
	r := f.run(t, nil, "plan", "pipeline.yaml", "--out", "plan.json", "--html", "plan.html")
	if r.code != 2 {
		t.Fatalf("plan: want exit 2 (changes planned), got %s", r)
	}
	page, d := readPage(t, f.path("plan.html"))
	if len(d.Changes) != 40 || d.Outcome || !strings.Contains(page, `id="sum-create" data-count="40"`) {
		t.Fatalf("plan page: %d changes, outcome %v; want 40 creates and no outcome", len(d.Changes), d.Outcome)
	}

	r = f.run(t, nil, "show", "plan.json", "--html", "show.html")
	if r.code != 0 {
		t.Fatalf("show --html: %s", r)
	}
	shown, _ := readPage(t, f.path("show.html"))
	if shown != page {
		t.Error("show --html of the saved plan differs from the page plan --html wrote")
	}
	r = f.run(t, nil, "show", "plan.json", "--json")
	saved, _ := os.ReadFile(f.path("plan.json"))
	var a, b any
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil || json.Unmarshal(saved, &b) != nil || !jsonEqual(a, b) {
		t.Errorf("show --json is not the saved plan document (%v):\n%s", err, r)
	}
	if r = f.run(t, nil, "show", "plan.json"); r.code != 0 || !strings.Contains(r.stdout, "40 to create") {
		t.Errorf("show (text): %s", r)
	}
	if r = f.run(t, nil, "show", "plan.json", "--json", "--html", "x.html"); r.code != 2 {
		t.Errorf("show --json --html: want exit 2, got %s", r)
	}
	if r = f.run(t, nil, "show", "pipeline.yaml"); r.code != 1 || !strings.Contains(r.stderr, "not a plan document") {
		t.Errorf("show of a non-plan: want exit 1 and why, got %s", r)
	}

	r = f.run(t, nil, "apply", "pipeline.yaml", "--plan", "plan.json", "--html", "applied.html")
	if r.code != 0 {
		t.Fatalf("apply --plan: %s", r)
	}
	page, d = readPage(t, f.path("applied.html"))
	if st := statuses(d); !d.Outcome || st["applied"] != 40 || len(st) != 1 {
		t.Errorf("apply page: outcome %v, statuses %v; want 40 applied", d.Outcome, st)
	}
	if !strings.Contains(page, "possync apply") || !strings.Contains(page, "<b>applied</b>") {
		t.Error("apply page does not show the outcome of possync apply")
	}

	// Half the records gone: the delete guard blocks the run; the page shows the plan and the verdict.
	f.writeRows(t, genRows(0, 20))
	r = f.run(t, nil, "run", "pipeline.yaml", "--html", "blocked.html")
	if r.code != 3 {
		t.Fatalf("run with half the records gone: want exit 3, got %s", r)
	}
	page, d = readPage(t, f.path("blocked.html"))
	if len(d.Changes) != 20 || !strings.Contains(page, `<span class="verdict blocked">blocked</span>`) || !strings.Contains(page, "possync run") {
		t.Errorf("blocked run page: %d changes (want the 20 planned deletions), blocked verdict shown %v", len(d.Changes),
			strings.Contains(page, "verdict blocked"))
	}
	if st := statuses(d); st["not known"] != 20 {
		t.Errorf("blocked run page: statuses %v; want the 20 changes not known to be applied", st)
	}
}

// TestHTMLNoSecrets: the page of a run whose secret shows in a diagnostic masks it, as the report does.
func TestHTMLNoSecrets(t *testing.T) {
	const secret = "s3cr3ttokenvalue"
	f := newFixture(t, genRows(0, 3))
	f.writeSecretPipeline(t)
	r := f.run(t, []string{"TOK=" + secret}, "run", "secret.yaml", "--html", "run.html")
	if r.code != 2 {
		t.Fatalf("run: want exit 2 (invalid), got %s", r)
	}
	page, d := readPage(t, f.path("run.html"))
	if strings.Contains(page, secret) {
		t.Fatal("the secret shows in the page")
	}
	if !d.Outcome || !strings.Contains(page, "invalid_config") || !strings.Contains(page, "key_not_found") {
		t.Errorf("the invalid run's page does not say why:\n%.2000s", page)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestHTMLReportNotesShownOnce: the run report repeats the plan's notes (a source's with the source as
// subject): the page shows them once, from the plan, and keeps the report's own notes (and a repeat the
// plan has fewer times).
func TestHTMLReportNotesShownOnce(t *testing.T) {
	pl := []plan.Note{
		{Kind: spec.NoteInput, Subject: "source pos", Message: "full read (first run): 12 products"},
		{Kind: spec.NotePendingMapping, Subject: "sku=A", Message: "pending mapping: decide"},
	}
	rep := []string{"source pos: full read (first run): 12 products", "settled 2 changes of an interrupted run", "sku=A: pending mapping: decide",
		"sku=A: pending mapping: decide"}
	got := notIn(rep, pl)
	if want := []string{"settled 2 changes of an interrupted run", "sku=A: pending mapping: decide"}; !slices.Equal(got, want) {
		t.Errorf("report notes shown: %q, want %q", got, want)
	}
}
