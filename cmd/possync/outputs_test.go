package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportWhenTheSavedPlanCannotBeRead: `apply --plan` of a plan file that is missing or cut short runs
// nothing and exits 1, and still writes the run report and the metrics that say so (a scheduler's
// monitoring reads them), naming the plan file.
func TestReportWhenTheSavedPlanCannotBeRead(t *testing.T) {
	f := newFixture(t, genRows(0, 20))
	if err := os.WriteFile(f.path("cut.json"), []byte(`{"format_version": "1.1", "pipeline": {`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, planFile := range []string{"missing.json", "cut.json"} {
		t.Run(planFile, func(t *testing.T) {
			_ = os.Remove(f.path("r.json"))
			_ = os.Remove(f.path("m.prom"))
			r := f.run(t, nil, "apply", "pipeline.yaml", "--plan", planFile, "--report", "r.json", "--metrics-file", "m.prom")
			if r.code != 1 {
				t.Fatalf("apply --plan %s: want exit 1, got %s", planFile, r)
			}
			b, err := os.ReadFile(f.path("r.json"))
			if err != nil {
				t.Fatalf("apply --plan %s: no run report: %v", planFile, err)
			}
			var rep struct {
				ExitReason string `json:"exit_reason"`
				ExitCode   int    `json:"exit_code"`
				Error      string `json:"error"`
				Pipeline   string `json:"pipeline"`
			}
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.ExitReason != "error" || rep.ExitCode != 1 || !strings.Contains(rep.Error, planFile) || rep.Pipeline != pipelineName {
				t.Errorf("apply --plan %s: report %+v; want reason error, code 1, the plan file named, pipeline %s", planFile, rep, pipelineName)
			}
			m, err := os.ReadFile(f.path("m.prom"))
			if err != nil {
				t.Fatalf("apply --plan %s: no metrics file: %v", planFile, err)
			}
			if !strings.Contains(string(m), "possync_run_exit_code{") || !strings.Contains(string(m), `reason="error"`) {
				t.Errorf("apply --plan %s: the metrics do not give the failure:\n%s", planFile, m)
			}
		})
	}
}

// TestOutputFailureKeepsTheSummary: when a run's metrics file cannot be written, the apply still prints what
// it applied, says which outcome the run had, and exits 1 (the monitoring that reads the file is blind).
func TestOutputFailureKeepsTheSummary(t *testing.T) {
	f := newFixture(t, genRows(0, 20))
	r := f.run(t, nil, "apply", "pipeline.yaml", "--metrics-file", f.path("no/such/dir/m.prom"))
	if r.code != 1 {
		t.Fatalf("apply with an unwritable metrics file: want exit 1, got %s", r)
	}
	if !strings.Contains(r.stdout, "Applied: 20 created, 0 updated, 0 deactivated, 0 deleted.") {
		t.Errorf("apply with an unwritable metrics file: no summary of what was applied:\n%s", r)
	}
	if !strings.Contains(r.stderr, `the run ended "applied" (exit 0), but an output above could not be written`) {
		t.Errorf("apply with an unwritable metrics file: stderr does not say the run itself succeeded:\n%s", r.stderr)
	}
	if r := f.run(t, nil, "plan", "pipeline.yaml"); r.code != 0 {
		t.Errorf("plan after it: want no changes (the apply was recorded), got %s", r)
	}
}

// TestDemoRelativeDir: `possync demo acme-outdoor --dir DIR` with a relative DIR leaves its state in
// DIR/.possync, so that `possync plan catalog.yaml` run in DIR, as the demo's last line suggests, finds it
// and plans no change (it found none and planned every record again).
func TestDemoRelativeDir(t *testing.T) {
	root := t.TempDir()
	env := []string{"NO_COLOR=1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POSSYNC_") {
			env = append(env, kv)
		}
	}
	demo := exec.Command(binary, "demo", "acme-outdoor", "--dir", "work")
	demo.Dir, demo.Env = root, env
	if r := runCmd(t, demo); r.code != 0 {
		t.Fatalf("demo: %s", r)
	}
	if _, err := os.Stat(filepath.Join(root, "work", ".possync")); err != nil {
		t.Fatalf("the demo's state is not in work/.possync: %v", err)
	}
	plan := exec.Command(binary, "plan", "catalog.yaml")
	plan.Dir, plan.Env = filepath.Join(root, "work"), env
	if r := runCmd(t, plan); r.code != 0 || !strings.Contains(r.stdout, "No changes.") {
		t.Errorf("plan in the demo's folder: want no changes, got %s", r)
	}
}
