package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestStateCommandsReadTheJournal runs a pipeline three times (a first sync, a price change, a mass
// deletion the guard blocks) and reads the journal back with state list, show and history, as tables (stdout
// is not a terminal here) and as JSON.
func TestStateCommandsReadTheJournal(t *testing.T) {
	rows := genRows(0, 40)
	f := newFixture(t, rows)
	if r := f.run(t, nil, "state", "list"); r.code != 0 || !strings.Contains(r.stdout, "No pipeline state in "+f.state) {
		t.Fatalf("empty state dir: %s", r)
	}
	if r := f.run(t, nil, "state", "show", "pipeline.yaml"); r.code != 0 || !strings.Contains(r.stdout, "Serial:    0 (no state yet") {
		t.Fatalf("show before any run: %s", r)
	}
	if r := f.run(t, nil, "state", "history", "pipeline.yaml"); r.code != 0 || !strings.Contains(r.stdout, "No runs of proc-test yet.") {
		t.Fatalf("history before any run: %s", r)
	}
	if r := f.run(t, nil, "run", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("first run: %s", r)
	}
	rows[0].Price += 1
	rows[1].Price += 1
	f.writeRows(t, rows)
	if r := f.run(t, nil, "run", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("second run: %s", r)
	}
	f.writeRows(t, rows[:30]) // 25% deleted: the guard blocks it
	if r := f.run(t, nil, "run", "pipeline.yaml"); r.code != 3 {
		t.Fatalf("blocked run: %s", r)
	}

	r := f.run(t, nil, "state", "history", "pipeline.yaml", "--json")
	var runs []struct {
		RunID            string `json:"run_id"`
		Status, Outcome  string
		Serial, Acked    int64
		Planned, Applied map[string]int
	}
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil || r.code != 0 {
		t.Fatalf("history --json: %v\n%s", err, r)
	}
	var got []string
	for _, x := range runs {
		got = append(got, x.Status+"/"+x.Outcome)
	}
	// Newest first. The blocked run never started an apply: the journal (and the state) do not move.
	if len(runs) != 2 || runs[1].Serial != 2 || runs[1].Acked != 40 || runs[1].Applied["create"] != 40 || runs[1].Outcome != "applied" ||
		runs[0].Serial != 3 || runs[0].Acked != 2 || runs[0].Applied["update"] != 2 || runs[0].Planned["update"] != 2 || runs[0].Status != "done" {
		t.Fatalf("history: %v\n%s", got, r.stdout)
	}
	if r := f.run(t, nil, "state", "history", "pipeline.yaml", "--limit", "1", "--json"); !strings.Contains(r.stdout, runs[0].RunID) ||
		strings.Contains(r.stdout, runs[1].RunID) {
		t.Fatalf("--limit 1: %s", r)
	}
	r = f.run(t, nil, "state", "history", "pipeline.yaml")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^RUN\s+STARTED\s+SECONDS\s+OUTCOME\s+SERIAL\s+PLANNED\s+APPLIED\s+REJECTED$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^`+runs[0].RunID+`\s+\S+Z\s+[0-9.]+\s+applied\s+3\s+2 \(2 update\)\s+2 \(2 update\)\s+0$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^`+runs[1].RunID+`\s+\S+Z\s+[0-9.]+\s+applied\s+2\s+40 \(40 create\)\s+40 \(40 create\)\s+0$`).MatchString(lines[2]) {
		t.Fatalf("history table:\n%s", r.stdout)
	}

	r = f.run(t, nil, "state", "list")
	if r.code != 0 || !regexp.MustCompile(`(?m)^PIPELINE\s+MERCHANT\s+SERIAL\s+RECORDS\s+LAST RUN\s+OUTCOME\n`+pipelineName+`\s+test-merchant\s+3\s+40\s+\S+Z\s+applied$`).MatchString(r.stdout) {
		t.Fatalf("state list:\n%s", r)
	}
	r = f.run(t, nil, "state", "list", f.state, "--json")
	var views []struct {
		Pipeline string
		Meta     struct{ Serial, Records int64 }
		Runs     []struct {
			RunID string `json:"run_id"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &views); err != nil || len(views) != 1 || views[0].Pipeline != pipelineName ||
		views[0].Meta.Serial != 3 || views[0].Meta.Records != 40 || len(views[0].Runs) != 1 || views[0].Runs[0].RunID != runs[0].RunID {
		t.Fatalf("state list --json: %v\n%s", err, r)
	}

	r = f.run(t, nil, "state", "show", "pipeline.yaml")
	for _, want := range []string{"Pipeline:         proc-test", "Merchant:         test-merchant", "Serial:           3", "Records:          40",
		"Columns:          sku VARCHAR, title VARCHAR, price DOUBLE, stock BIGINT", "Pending intents:  0", "Last run:         " + runs[0].RunID} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("state show lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := f.run(t, nil, "state", "frob"); r.code != 2 || !strings.Contains(r.stderr, "history, list, migrate, set-merchant, show") {
		t.Fatalf("unknown subcommand: %s", r)
	}
	if r := f.run(t, nil, "state", "-h"); r.code != 0 || !strings.Contains(r.stdout, "history") {
		t.Fatalf("state -h: %s", r)
	}
}

// TestStateHistoryNoChangeRunShowsSerial: a run that had nothing to change committed nothing; history shows
// the serial it left the state at (that of the run before it), not 0.
func TestStateHistoryNoChangeRunShowsSerial(t *testing.T) {
	f := newFixture(t, genRows(0, 10))
	for i := range 2 {
		if r := f.run(t, nil, "run", "pipeline.yaml"); r.code != 0 {
			t.Fatalf("run %d: %s", i+1, r)
		}
	}
	r := f.run(t, nil, "state", "history", "pipeline.yaml", "--json")
	var runs []struct {
		RunID   string `json:"run_id"`
		Outcome string
		Serial  int64
		Commits int
	}
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil || r.code != 0 {
		t.Fatalf("history --json: %v\n%s", err, r)
	}
	if len(runs) != 2 || runs[1].Serial < 1 || runs[0].Outcome != "no_changes" || runs[0].Commits != 0 || runs[0].Serial != runs[1].Serial {
		t.Fatalf("history: %+v; want the no_changes run at the serial of the run before it", runs)
	}
	r = f.run(t, nil, "state", "history", "pipeline.yaml")
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^%s\s+\S+Z\s+[0-9.]+\s+no_changes\s+%d\s+0\s+0\s+0$`, runs[0].RunID, runs[1].Serial)).MatchString(r.stdout) {
		t.Errorf("history table: want the no_changes run's SERIAL %d:\n%s", runs[1].Serial, r.stdout)
	}
}

// TestStateWhileARunHoldsIt: while a run holds the state open (held after recording its intents), state
// list shows the pipeline as running with the run's process in --json, and history says a run is in progress
// instead of DuckDB's lock error; once the run ends both read it.
func TestStateWhileARunHoldsIt(t *testing.T) {
	f := newFixture(t, genRows(0, 10))
	release := filepath.Join(t.TempDir(), "release")
	a := f.command([]string{"POSSYNC_FAILPOINT=after-intents", "POSSYNC_FAILPOINT_RELEASE=" + release}, "run", "pipeline.yaml")
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Process.Kill() })
	done := make(chan error, 1)
	go func() { done <- a.Wait() }()
	waitForHolder(t, filepath.Join(f.state, pipelineName+".lock"), a.Process.Pid, done)
	pid := fmt.Sprintf("pid %d", a.Process.Pid)
	// The lock is taken before the state is opened: poll until the run has it open (or fail on a hang).
	deadline := time.Now().Add(30 * time.Second)
	var r result
	for {
		r = f.run(t, nil, "state", "list")
		if strings.Contains(r.stdout, "running") || time.Now().After(deadline) {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the held run ended: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if r.code != 0 || !regexp.MustCompile(`(?m)^`+pipelineName+`\s+-\s+-\s+-\s+-\s+running$`).MatchString(r.stdout) {
		t.Fatalf("state list during a run: %s", r)
	}
	if r := f.run(t, nil, "state", "list", "--json"); r.code != 0 || !strings.Contains(r.stdout, pid) {
		t.Errorf("state list --json does not name the running run (%s): %s", pid, r)
	}
	if r := f.run(t, nil, "state", "history", "pipeline.yaml"); r.code != 1 || !strings.Contains(r.stderr, "a run is in progress") ||
		!strings.Contains(r.stderr, pid) {
		t.Errorf("history during a run: %s", r)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the run after its release: %v", err)
	}
	if r := f.run(t, nil, "state", "list"); r.code != 0 || !regexp.MustCompile(`(?m)^`+pipelineName+`\s+test-merchant\s+2\s+10\s+\S+Z\s+applied$`).MatchString(r.stdout) {
		t.Errorf("state list after the run: %s", r)
	}
}
