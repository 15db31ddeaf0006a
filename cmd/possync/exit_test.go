package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// snapshot is what the sink had written before a step.
type snapshot struct {
	log             []logLine
	logRaw, records []byte
}

func (f *fixture) snapshot(t *testing.T) snapshot {
	t.Helper()
	logRaw, _ := os.ReadFile(f.path("out/products.changes.jsonl"))
	records, _ := os.ReadFile(f.path("out/products.csv"))
	return snapshot{log: f.changeLog(t), logRaw: logRaw, records: records}
}

// unchanged asserts that the sink's files are as in before.
func (f *fixture) unchanged(t *testing.T, before snapshot) {
	t.Helper()
	now := f.snapshot(t)
	if !bytes.Equal(now.logRaw, before.logRaw) {
		t.Errorf("the change log changed (%d lines before, %d now)", len(before.log), len(now.log))
	}
	if !bytes.Equal(now.records, before.records) {
		t.Errorf("the records file changed")
	}
}

// TestExitCodesAndReport runs the commands a scheduler or an operator runs, one after the other on one
// pipeline, and checks their exit codes, messages, run reports and what reached the sink.
func TestExitCodesAndReport(t *testing.T) {
	rows := genRows(0, 40)
	f := newFixture(t, rows)

	bad := strings.Replace(pipelineYAML, "\ntransforms:", "\ntransfroms:", 1)
	badLine := strings.Count(bad[:strings.Index(bad, "transfroms:")], "\n") + 1

	// After the guard step 8 of 40 records are gone; then three prices change (saved plan), then a quantity.
	kept := slices.Clone(rows[:32])
	repriced := slices.Clone(kept)
	for i := range 3 {
		repriced[i].Price += 10
	}
	restocked := slices.Clone(repriced)
	restocked[10].Qty += 100

	var saved struct {
		Changes []struct {
			ID string `json:"id"`
		} `json:"changes"`
	}

	steps := []struct {
		name   string
		input  []row // replaces the input CSV before the step when set
		args   []string
		code   int
		stdout []string // substrings
		stderr []string
		check  func(t *testing.T, r result, before snapshot)
	}{
		{
			name:   "validate valid file",
			args:   []string{"validate", "pipeline.yaml"},
			code:   0,
			stdout: []string{"1 pipeline file(s) valid"},
		},
		{
			name: "validate unknown key",
			args: []string{"validate", "bad.yaml"},
			code: 2,
			stderr: []string{
				fmt.Sprintf("bad.yaml:%d:1:", badLine),
				"unknown field `transfroms`",
				"did you mean `transforms`",
			},
		},
		{
			name:   "run of an invalid file still reports",
			args:   []string{"run", "bad.yaml"},
			code:   2,
			stderr: []string{"unknown field `transfroms`"},
			check: func(t *testing.T, r result, _ snapshot) {
				if rep := parseReport(t, r); rep.ExitReason != "invalid_config" || rep.ExitCode != 2 {
					t.Errorf("report: %+v, want invalid_config and exit code 2", rep)
				}
			},
		},
		{
			name:   "plan with changes",
			args:   []string{"plan", "pipeline.yaml"},
			code:   2,
			stdout: []string{"SKU-000039"},
			check: func(t *testing.T, _ result, before snapshot) {
				f.unchanged(t, before)
			},
		},
		{
			name: "run",
			args: []string{"run", "pipeline.yaml"},
			code: 0,
			check: func(t *testing.T, r result, _ snapshot) {
				rep := parseReport(t, r)
				if rep.RunID == "" || !strings.HasPrefix(rep.PlanHash, "sha256:") || rep.ExitReason != "applied" || rep.ExitCode != 0 {
					t.Errorf("report: run_id %q, plan_hash %q, exit_reason %q, exit_code %d", rep.RunID, rep.PlanHash, rep.ExitReason, rep.ExitCode)
				}
				if rep.Planned.Create != 40 || rep.Applied.Create != 40 || rep.Applied.Update+rep.Applied.Delete != 0 {
					t.Errorf("report: planned %+v, applied %+v; want 40 creates", rep.Planned, rep.Applied)
				}
				for _, stage := range []string{"read source", "transform products", "recover", "check keys", "diff", "plan changes", "plan summary", "apply", "commit", "export"} {
					if _, ok := rep.Durations[stage]; !ok {
						t.Errorf("durations_seconds has no %q: %v", stage, rep.Durations)
					}
				}
				f.checkRecords(t, want(rows))
			},
		},
		{
			name:   "plan without changes",
			args:   []string{"plan", "pipeline.yaml"},
			code:   0,
			stdout: []string{"No changes."},
		},
		{
			name:   "run deleting 20% is blocked",
			input:  kept,
			args:   []string{"run", "pipeline.yaml"},
			code:   3,
			stderr: []string{"max_delete_percent", "--allow-mass-change"},
			check: func(t *testing.T, r result, before snapshot) {
				if rep := parseReport(t, r); rep.ExitReason != "guard_blocked" || rep.ExitCode != 3 || rep.Planned.Delete != 8 {
					t.Errorf("report: exit_reason %q, exit_code %d, planned %+v; want guard_blocked, 3, 8 deletes", rep.ExitReason, rep.ExitCode, rep.Planned)
				}
				f.unchanged(t, before)
			},
		},
		{
			name: "run --allow-mass-change",
			args: []string{"run", "--allow-mass-change", "pipeline.yaml"},
			code: 0,
			check: func(t *testing.T, r result, before snapshot) {
				deletes := map[string]string{}
				for _, d := range rows[32:] {
					deletes[d.SKU] = "delete"
				}
				checkChanges(t, f.changeLog(t)[len(before.log):], deletes, nil)
				f.checkRecords(t, want(kept))
			},
		},
		{
			name:  "plan --out",
			input: repriced,
			args:  []string{"plan", "pipeline.yaml", "--out", "saved.json"},
			code:  2,
		},
		{
			name:   "apply a stale saved plan",
			input:  restocked,
			args:   []string{"apply", "pipeline.yaml", "--plan", "saved.json"},
			code:   1,
			stderr: []string{"stale"},
			check: func(t *testing.T, _ result, before snapshot) {
				f.unchanged(t, before)
			},
		},
		{
			name: "plan --out again",
			args: []string{"plan", "pipeline.yaml", "--out", "saved.json"},
			code: 2,
			check: func(t *testing.T, _ result, _ snapshot) {
				b, err := os.ReadFile(f.path("saved.json"))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, &saved); err != nil {
					t.Fatalf("saved plan: %v", err)
				}
			},
		},
		{
			name:   "apply the saved plan",
			args:   []string{"apply", "pipeline.yaml", "--plan", "saved.json"},
			code:   0,
			stdout: []string{"Applied: 0 created, 4 updated, 0 deactivated, 0 deleted."},
			check: func(t *testing.T, _ result, before snapshot) {
				var applied, planned []string
				for _, l := range f.changeLog(t)[len(before.log):] {
					applied = append(applied, l.ID)
				}
				for _, c := range saved.Changes {
					planned = append(planned, c.ID)
				}
				slices.Sort(applied)
				slices.Sort(planned)
				if len(planned) != 4 || !slices.Equal(applied, planned) {
					t.Errorf("applied change IDs %v, want the saved plan's %v", applied, planned)
				}
				f.checkRecords(t, want(restocked))
			},
		},
	}
	if err := os.WriteFile(f.path("bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		// The steps share one pipeline and its state, so each runs after the one before.
		ok := t.Run(st.name, func(t *testing.T) {
			if st.input != nil {
				f.writeRows(t, st.input)
			}
			before := f.snapshot(t)
			r := f.run(t, nil, st.args...)
			if r.code != st.code || r.killed {
				t.Fatalf("possync %s: want exit %d, got %s", strings.Join(st.args, " "), st.code, r)
			}
			for _, w := range st.stdout {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range st.stderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if st.check != nil {
				st.check(t, r, before)
			}
		})
		if !ok {
			t.FailNow()
		}
	}
}
