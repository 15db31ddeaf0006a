package export

import (
	"context"
	"testing"
	"time"

	"github.com/possync/possync/runner/diff"
)

// TestEarlyStageWaitEnds: a Stage that finds stageRegions regions of the staging file held waits, and its
// wait ends on every path that frees one: the part of a batch written by the writer, lines offered that no
// commit takes (the apply failed), a commit that gives the early export up, and Close (the lines then wait
// in memory). A wait that does not end fails the test at its deadline instead of hanging it.
func TestEarlyStageWaitEnds(t *testing.T) {
	const size = 10
	for _, tc := range []struct {
		name string
		// free frees a region of the held ones (staged: the three batches' lines, records 1 to 30).
		free     func(e *Early, staged []*Staged, commit func(*Early, int, int))
		inMemory bool // the waiting Stage's lines end in memory
	}{
		{"a part written", func(e *Early, staged []*Staged, commit func(*Early, int, int)) {
			e.Lines(staged[0])
			commit(e, 1, size)
			e.Lines(nil)
		}, false},
		{"lines no commit takes", func(e *Early, staged []*Staged, _ func(*Early, int, int)) {
			e.Lines(staged[0])
			e.Lines(nil)
		}, false},
		{"the early export gives up", func(e *Early, staged []*Staged, _ func(*Early, int, int)) {
			e.Lines(staged[0])
			e.Committed("snap", 0, 0, size) // acknowledged changes that did not grow the snapshot
			e.Lines(nil)
		}, false},
		{"closed", func(e *Early, _ []*Staged, _ func(*Early, int, int)) {
			e.Close()
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			e, _, _, commit := startStaged(t, db, 0)
			var batches []*diff.CSVLines
			for lo := 1; lo <= (stageRegions+1)*size; lo += size {
				batches = append(batches, linesOf(t, db, 0, e.CSVFormat(), lo, lo+size-1))
			}
			var staged []*Staged
			for _, l := range batches[:stageRegions] {
				st := e.Stage(l)
				if st == nil || st.InMemory() {
					t.Fatalf("lines not staged in the file: %+v", st)
				}
				staged = append(staged, st)
			}
			got := make(chan *Staged, 1)
			go func() { got <- e.Stage(batches[stageRegions]) }()
			tc.free(e, staged, commit)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			select {
			case st := <-got:
				if st == nil || st.InMemory() != tc.inMemory {
					t.Errorf("staged %+v, want in memory %v", st, tc.inMemory)
				}
			case <-ctx.Done():
				t.Fatalf("Stage still waits for a region after %s", tc.name)
			}
		})
	}
}
