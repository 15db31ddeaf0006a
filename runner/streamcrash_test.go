package runner_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/apply"
)

// streamCrashEnv names the pipeline folder for TestStreamedApplyCrashHelper, which applies it in a child
// process that a failpoint kills.
const streamCrashEnv = "POSSYNC_TEST_STREAM_CRASH_DIR"

// TestStreamedApplyCrashHelper is not a test: it applies the pipeline in $POSSYNC_TEST_STREAM_CRASH_DIR with
// the plan streamed (as an apply of more than 100,000 changes is), for TestStreamedApplyCrash.
func TestStreamedApplyCrashHelper(t *testing.T) {
	dir := os.Getenv(streamCrashEnv)
	if dir == "" {
		t.Skip("run by TestStreamedApplyCrash")
	}
	defer runner.SetStreamAbove(5)()
	defer runner.SetParallelEncodeRows(1)() // the batches encoded in several goroutines
	defer func(n int) { apply.IntentRows = n }(apply.IntentRows)
	apply.IntentRows = 3 // a batch's intents recorded in two parts (of 3 and 1)
	if _, err := runner.Apply(t.Context(), loadAt(t, dir), runner.Options{}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestStreamedApplyCrash kills a streamed apply to the file sink (batches read as entries straight from the
// diff, intents holding change IDs only and recorded in two parts, commits straight from the diff) with
// SIGKILL at each point of a batch, then reruns it (streamed too): every change reaches the change log exactly once, the rerun commits
// from the change log's entries exactly the changes of the killed run that landed, the records file holds
// every record, and a plan afterwards has nothing to do. Round two updates, deletes and creates.
func TestStreamedApplyCrash(t *testing.T) {
	defer runner.SetStreamAbove(5)()
	for _, tc := range []struct {
		point     string
		recovered int // changes of the killed run the rerun finds in the change log (batches of 4); -1: any
	}{
		{"between-intents:2", 0}, // the second batch's first intents recorded, the others not, nothing sent
		{"after-intents:2", 0},
		{"after-sink:2", 4},
		{"after-commit:2", 0},
		// The third batch read ahead (runner.pipeBatches) while the second is applied, at whichever point of
		// it: a batch read ahead leaves nothing to recover.
		{"batch-read-ahead:3", -1},
		// Two batches ahead (runner.pipeDepth 2): the fourth batch read while the third's intents are recorded
		// or sent, the second being committed or done.
		{"batch-read-ahead:4", -1},
	} {
		t.Run(tc.point, func(t *testing.T) {
			var in, in2 strings.Builder
			in.WriteString("sku,name,price\n")
			in2.WriteString("sku,name,price\n")
			for i := range 30 {
				fmt.Fprintf(&in, "S%02d,item \"%d\",%d.25\n", i, i, i)
				switch {
				case i%15 == 3: // deleted in round two
				case i%4 == 1:
					fmt.Fprintf(&in2, "S%02d,item \"%d\",%d.75\n", i, i, i)
				default:
					fmt.Fprintf(&in2, "S%02d,item \"%d\",%d.25\n", i, i, i)
				}
			}
			for i := 30; i < 36; i++ {
				fmt.Fprintf(&in2, "S%02d,new,%d\n", i, i)
			}
			dir := batchedCSVCase(t, in.String(), 4)
			logPath := filepath.Join(dir, "out", "records.changes.jsonl")
			done := 0 // lines in the change log before the round
			round := func(input string) {
				t.Helper()
				writeFile(t, filepath.Join(dir, "input.csv"), input)
				want := mustPlan(t, loadAt(t, dir))
				cmd := exec.Command(os.Args[0], "-test.run=^TestStreamedApplyCrashHelper$", "-test.count=1")
				cmd.Env = append(os.Environ(), streamCrashEnv+"="+dir, "POSSYNC_FAILPOINT="+tc.point)
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("child apply with failpoint %s: %v, want death by SIGKILL; output:\n%s", tc.point, err, out)
				}
				rep := mustApply(t, loadAt(t, dir), runner.Options{})
				if tc.recovered >= 0 && rep.Recovered != tc.recovered {
					t.Errorf("rerun recovered %d change(s), want %d; notes %q", rep.Recovered, tc.recovered, rep.Notes)
				}
				if pl := mustPlan(t, loadAt(t, dir)); pl.Summary.Total() != 0 {
					t.Errorf("after the rerun, %d changes planned, want none", pl.Summary.Total())
				}
				// Every planned change is in the log once, by action and key (a change planned again after the
				// kill has another ID: IDs name the state a change was planned against, which the kill moved).
				logged, err := os.ReadFile(logPath)
				if err != nil {
					t.Fatal(err)
				}
				lines := strings.Split(strings.TrimSpace(string(logged)), "\n")
				count := map[string]int{}
				for _, line := range lines[done:] {
					var l struct {
						Action string
						Key    map[string]any
					}
					if err := json.Unmarshal([]byte(line), &l); err != nil {
						t.Fatalf("change log line %q: %v", line, err)
					}
					count[fmt.Sprint(l.Action, " ", l.Key["sku"])]++
				}
				for _, c := range want.Changes {
					if k := fmt.Sprint(c.Action, " ", c.Key["sku"]); count[k] != 1 {
						t.Errorf("%s is %d time(s) in the change log, want once", k, count[k])
					}
				}
				if len(lines)-done != len(want.Changes) {
					t.Errorf("the change log has %d new lines, %d changes planned", len(lines)-done, len(want.Changes))
				}
				done = len(lines)
			}
			round(in.String())
			round(in2.String())
			records, err := os.ReadFile(filepath.Join(dir, "out", "records.csv"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(string(records), "\n"); got != 1+30-2+6 {
				t.Errorf("records file has %d lines, want a header and %d records:\n%s", got, 30-2+6, records)
			}
			if !strings.Contains(string(records), `S05,"ITEM ""5""",5.75`) || strings.Contains(string(records), "S03,") {
				t.Errorf("records file lacks an update or keeps a deleted record:\n%s", records)
			}
		})
	}
}
