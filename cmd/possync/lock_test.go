package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLockTwoProcesses holds one run (A) inside the pipeline's lock and checks that a second run and a plan of
// the same pipeline are refused with exit 75 naming the holder, and that the second run, retried after A,
// finds nothing left to do.
func TestLockTwoProcesses(t *testing.T) {
	rows := genRows(0, 50)
	f := newFixture(t, rows)

	// A waits inside the lock until the release file exists, however long the checks below take.
	release := filepath.Join(t.TempDir(), "release")
	a := f.command([]string{"POSSYNC_FAILPOINT=after-lock", "POSSYNC_FAILPOINT_RELEASE=" + release}, "run", "pipeline.yaml")
	var aOut, aErr bytes.Buffer
	a.Stdout, a.Stderr = &aOut, &aErr
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Process.Kill() }) // after a failed assertion; a no-op once A has been waited for
	aDone := make(chan error, 1)
	go func() { aDone <- a.Wait() }()
	holder := waitForHolder(t, filepath.Join(f.state, pipelineName+".lock"), a.Process.Pid, aDone)

	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"run", "pipeline.yaml"}, {"plan", "pipeline.yaml"}} {
		r := f.run(t, nil, args...)
		if r.code != 75 {
			t.Fatalf("%s while A holds the lock: want exit 75, got %s", args[0], r)
		}
		for _, w := range []string{
			fmt.Sprintf("pid %d", a.Process.Pid),
			"host " + hostname,
			"started " + holder.StartedAt.UTC().Format(time.RFC3339),
		} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s while A holds the lock: stderr does not name %q:\n%s", args[0], w, r.stderr)
			}
		}
		if args[0] == "run" {
			if rep := parseReport(t, r); rep.ExitReason != "locked" || rep.ExitCode != 75 || rep.Applied.Create != 0 {
				t.Errorf("run while A holds the lock: report %+v, want exit_reason locked, exit_code 75, nothing applied", rep)
			}
		}
	}

	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ra := finish(t, <-aDone, a, &aOut, &aErr)
	if ra.code != 0 {
		t.Fatalf("A: %s", ra)
	}
	if rep := parseReport(t, ra); rep.Applied.Create != len(rows) {
		t.Errorf("A applied %d creates, want %d", rep.Applied.Create, len(rows))
	}
	rb := f.run(t, nil, "run", "pipeline.yaml")
	if rb.code != 0 {
		t.Fatalf("B after A: %s", rb)
	}
	if rep := parseReport(t, rb); rep.ExitReason != "no_changes" || rep.Applied.Create != 0 {
		t.Errorf("B after A: exit_reason %q, %d applied; want no_changes, 0", rep.ExitReason, rep.Applied.Create)
	}
	creates := map[string]string{}
	for _, r := range rows {
		creates[r.SKU] = "create"
	}
	checkChanges(t, f.changeLog(t), creates, want(rows))
	f.checkRecords(t, want(rows))
}

// lockHolder is the holder record possync writes into the lock file.
type lockHolder struct {
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	StartedAt time.Time `json:"started_at"`
}

// waitForHolder polls the lock file until it names pid, failing if the process ends first or after a generous
// deadline (a hung process, not a slow one).
func waitForHolder(t *testing.T, path string, pid int, done <-chan error) lockHolder {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var h lockHolder
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &h) == nil && h.PID == pid {
			return h
		}
		select {
		case err := <-done:
			t.Fatalf("A ended before it held the lock: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock file %s never named pid %d", path, pid)
		}
	}
}
