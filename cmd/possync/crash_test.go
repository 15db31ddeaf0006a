package main

import (
	"slices"
	"testing"
)

// TestCrashRecovery kills the real binary (SIGKILL, through a failpoint) at each point of an apply and checks
// that the next run converges: every change reaches the sink exactly once, the records file matches the
// desired records, and a plan afterwards has nothing to do. Round one creates 12,000 records (three batches of
// 5,000, 5,000 and 2,000); round two updates, deletes and creates some of them (one batch).
//
// during-export kills after the records file was written to its temporary name and before the rename: the
// rerun, with nothing left to apply, must still bring the records file up to date.
func TestCrashRecovery(t *testing.T) {
	cases := []struct {
		point, point2         string // failpoints of rounds one and two
		recovered, recovered2 int    // changes of the killed run the rerun finds in the change log
	}{
		{point: "after-intents:1", point2: "after-intents:1"},
		{point: "after-sink:1", point2: "after-sink:1", recovered: 5000, recovered2: 700},
		{point: "after-sink:2", point2: "after-sink:1", recovered: 5000, recovered2: 700},
		{point: "after-commit:1", point2: "after-commit:1"},
		{point: "after-commit:3", point2: "after-commit:1"},
		{point: "during-export", point2: "during-export"},
	}
	for _, tc := range cases {
		t.Run(tc.point, func(t *testing.T) {
			t.Parallel()
			rows := genRows(0, 12000)
			f := newFixture(t, rows)

			f.crashAndRerun(t, tc.point, tc.recovered)
			first := f.changeLog(t)
			creates := map[string]string{}
			for _, r := range rows {
				creates[r.SKU] = "create"
			}
			checkChanges(t, first, creates, want(rows))
			f.checkRecords(t, want(rows))

			rows2, actions := mutate(rows)
			f.writeRows(t, rows2)
			f.crashAndRerun(t, tc.point2, tc.recovered2)
			all := f.changeLog(t)
			if len(all) < len(first) || !slices.EqualFunc(all[:len(first)], first, func(a, b logLine) bool { return a.ID == b.ID }) {
				t.Fatalf("round two changed the change log's first %d lines", len(first))
			}
			second := all[len(first):]
			checkChanges(t, second, actions, want(rows2))
			for _, l := range second {
				if l.Action == "update" && !slices.Equal(l.Fields, []string{"price"}) {
					t.Errorf("update %s: fields %v, want [price]", l.sku(), l.Fields)
				}
			}
			f.checkRecords(t, want(rows2))
		})
	}
}

// crashAndRerun runs the pipeline with a failpoint, expects the process to die by SIGKILL, runs it again
// without, and expects success with recovered changes settled and a clean plan after.
func (f *fixture) crashAndRerun(t *testing.T, point string, recovered int) {
	t.Helper()
	if r := f.run(t, []string{"POSSYNC_FAILPOINT=" + point}, "run", "pipeline.yaml"); !r.killed {
		t.Fatalf("run with failpoint %s: want death by SIGKILL, got %s", point, r)
	}
	r := f.run(t, nil, "run", "pipeline.yaml")
	if r.code != 0 {
		t.Fatalf("rerun after kill at %s: %s", point, r)
	}
	if rep := parseReport(t, r); rep.Recovered != recovered || rep.ExitCode != 0 {
		t.Errorf("rerun after kill at %s: recovered %d, exit code %d in report; want %d, 0", point, rep.Recovered, rep.ExitCode, recovered)
	}
	if r := f.run(t, nil, "plan", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("plan after the rerun: want exit 0 (no changes), got %s", r)
	}
}

// mutate updates the price of 500 of the 12,000 rows, deletes 100 others and adds 100 new ones. It returns
// the new rows and the change expected per key.
func mutate(rows []row) ([]row, map[string]string) {
	actions := map[string]string{}
	var out []row
	for i, r := range rows {
		switch {
		case i%120 == 7:
			actions[r.SKU] = "delete"
			continue
		case i%24 == 0:
			r.Price++
			actions[r.SKU] = "update"
		}
		out = append(out, r)
	}
	for _, r := range genRows(500000, 100) {
		actions[r.SKU] = "create"
		out = append(out, r)
	}
	return out, actions
}
