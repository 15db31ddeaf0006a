package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// noteLines returns the "Note: " lines of a command's output, without the prefix, in order.
func noteLines(out string) []string {
	var notes []string
	for _, l := range strings.Split(out, "\n") {
		if n, ok := strings.CutPrefix(l, "Note: "); ok {
			notes = append(notes, n)
		}
	}
	return notes
}

// readReport reads a run report written with --report.
func readReport(t *testing.T, path string) report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("run report %s is not JSON: %v\n%s", path, err, b)
	}
	return rep
}

// TestApplyShowsPlanNotes: the removals a suspect input holds are told by apply and run as by plan. A file
// with one row fewer and another header holds the missing record's deletion: apply prints the plan's notes
// after its summary and its report holds them, each once (before, "Applied: 0 created…", no_changes and no
// notes: only plan told). An empty file then holds every removal, which the guard counts: plan exits 3 as
// apply and run do, without saying "No changes.", and the blocked apply and run show the notes their error
// points at.
func TestApplyShowsPlanNotes(t *testing.T) {
	rows := genRows(0, 20)
	f := newFixture(t, rows)
	if r := f.run(t, nil, "apply", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("first apply: %s", r)
	}

	// The first 19 rows as they were, with an extra column.
	f.writeRows(t, rows[:19])
	b, err := os.ReadFile(f.path("data/products.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	lines[0] += ",extra"
	for i := 1; i < len(lines); i++ {
		lines[i] += ",x"
	}
	if err := os.WriteFile(f.path("data/products.csv"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pl := f.run(t, nil, "plan", "pipeline.yaml")
	held := noteLines(pl.stdout)
	if pl.code != 0 || len(held) != 1 || !strings.Contains(held[0], "1 deletion(s) or deactivation(s) of records missing from this run were held") ||
		!strings.Contains(held[0], "another header") {
		t.Fatalf("plan of the suspect file: want exit 0 and the held removal's note; %s", pl)
	}
	r := f.run(t, nil, "apply", "pipeline.yaml", "--report", "r.json", "--metrics-file", "m.prom")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Applied: 0 created, 0 updated, 0 deactivated, 0 deleted.\n") ||
		!slices.Equal(noteLines(r.stdout), held) {
		t.Errorf("apply of the suspect file: want exit 0, its summary and then the plan's notes %q; %s", held, r)
	}
	if rep := readReport(t, f.path("r.json")); rep.ExitReason != "no_changes" || !slices.Equal(rep.Notes, held) {
		t.Errorf("apply's report: %s, notes %q; want no_changes and the plan's notes %q", rep.ExitReason, rep.Notes, held)
	}

	// Header only: every record is missing, its removal held and counted by the guard.
	if err := os.WriteFile(f.path("data/products.csv"), []byte("sku,name,price,qty,category\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pl = f.run(t, nil, "plan", "pipeline.yaml", "--html", "plan.html")
	held = noteLines(pl.stdout)
	if pl.code != 3 || strings.Contains(pl.stdout, "No changes.") || !strings.Contains(pl.stdout, "BLOCKED") ||
		len(held) != 1 || !strings.Contains(held[0], "20 deletion(s) or deactivation(s)") {
		t.Fatalf("plan of the empty file: want exit 3 (as apply), not \"No changes.\", and the 20 held removals' note; %s", pl)
	}
	if page, err := os.ReadFile(f.path("plan.html")); err != nil || strings.Contains(string(page), "<b>No changes.</b>") ||
		!strings.Contains(string(page), "<b>No changes planned,</b> but a guard blocks the apply") {
		t.Errorf("plan page of the empty file (%v): want \"No changes planned, but a guard blocks the apply\", not \"No changes.\"", err)
	}
	r = f.run(t, nil, "apply", "pipeline.yaml")
	if r.code != 3 || !strings.Contains(r.stderr, "see the notes") || !slices.Equal(noteLines(r.stderr), held) {
		t.Errorf("apply of the empty file: want exit 3 and, after the error, the plan's notes %q; %s", held, r)
	}
	r = f.run(t, nil, "run", "pipeline.yaml")
	if rep := parseReport(t, r); r.code != 3 || rep.ExitReason != "guard_blocked" || !slices.Equal(rep.Notes, held) {
		t.Errorf("run of the empty file: exit %d, %s, notes %q; want 3, guard_blocked and the plan's notes %q", r.code, rep.ExitReason, rep.Notes, held)
	}
}
