package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/possync/possync/runner/engine"
)

// TestPipeBatches: pipeBatches applies every batch once, in order, each read on a connection other than
// the session's; it reads batch N+pipeDepth only once batch N was sent and batch N+1 only once batch N was
// taken (so two batches' changes are held at a time: the one applied and the one read), and never after it
// returned. An apply error is returned as it is, with no batch applied after it; a read error is returned
// once the batch being applied is done, and the batch it was reading is never applied. An apply that does
// not call sent does not hold the reader up. So at depths 1 and 2.
func TestPipeBatches(t *testing.T) {
	for _, depth := range []int64{1, 2} {
		t.Run(fmt.Sprint("depth=", depth), func(t *testing.T) {
			defer func(d int64) { pipeDepth = d }(pipeDepth)
			pipeDepth = depth
			testPipeBatches(t, depth)
		})
	}
}

func testPipeBatches(t *testing.T, depth int64) {
	ctx := context.Background()
	d, err := engine.Open(ctx, engine.Options{TempDir: t.TempDir(), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s := &session{d: d, timings: newTimings()}
	applyErr, readErr := errors.New("sink down"), errors.New("diff unreadable")
	for _, tc := range []struct {
		name                  string
		failApply, failRead   int64 // the batch (by its first number) whose apply or read fails; -1: none
		noSent                bool  // apply never calls sent
		wantApplied, wantRead []int64
		wantErr               error
	}{
		{"all", -1, -1, false, []int64{0, 10, 20, 30, 40}, []int64{0, 10, 20, 30, 40}, nil},
		{"apply fails", 20, -1, false, []int64{0, 10, 20}, []int64{0, 10, 20, 30}, applyErr},
		{"read fails", -1, 30, false, []int64{0, 10, 20}, []int64{0, 10, 20, 30}, readErr},
		{"no sent", -1, -1, true, []int64{0, 10, 20, 30, 40}, []int64{0, 10, 20, 30, 40}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var events []string
			logf := func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				events = append(events, fmt.Sprintf(format, args...))
			}
			var returned atomic.Bool
			var applied, read []int64
			err := s.pipeBatches(ctx, 45, 10, func(ctx context.Context, db *engine.DB, lo, hi int64) (*readBatch, error) {
				if returned.Load() {
					t.Errorf("batch %d read after pipeBatches returned", lo)
				}
				if db == s.d {
					t.Errorf("batch %d read on the session connection", lo)
				}
				if n, err := db.Count(ctx, "SELECT 1"); (err != nil || n != 1) && ctx.Err() == nil { // cancelled: the apply failed
					t.Errorf("batch %d: the reader's connection: %d, %v", lo, n, err)
				}
				logf("read %d", lo)
				mu.Lock()
				read = append(read, lo)
				mu.Unlock()
				if lo == tc.failRead {
					return nil, readErr
				}
				seqs := make([]int64, hi-lo)
				for i := range seqs {
					seqs[i] = lo + int64(i)
				}
				return &readBatch{seqs: seqs}, nil
			}, func(b *readBatch, sent func()) error {
				lo := b.seqs[0]
				logf("apply %d", lo)
				if !tc.noSent {
					logf("sent %d", lo)
					sent()
				}
				applied = append(applied, lo)
				if lo == tc.failApply {
					return applyErr
				}
				logf("commit %d", lo)
				return nil
			})
			returned.Store(true)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("pipeBatches: %v, want %v", err, tc.wantErr)
			}
			if tc.failRead >= 0 && err.Error() != "changes 30 to 39: diff unreadable" {
				t.Errorf("read error %q: want it to name the changes it was reading", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(applied, tc.wantApplied) {
				t.Errorf("applied %v, want %v", applied, tc.wantApplied)
			}
			if !slices.Equal(read, tc.wantRead) && !(tc.failApply >= 0 && slices.Equal(read, tc.wantRead[:len(tc.wantRead)-1])) {
				t.Errorf("read %v, want %v (the batch after a failed apply may be read or not)", read, tc.wantRead)
			}
			at := func(e string) int { return slices.Index(events, e) }
			for _, lo := range read[1:] {
				// Batch lo is read once the batch before was taken, so after the batch two before was applied
				// (two batches held at a time), and once the batch depth before was sent (or, without sent, done).
				if lo >= 20 && at(fmt.Sprintf("read %d", lo)) < at(fmt.Sprintf("apply %d", lo-20)) {
					t.Errorf("batch %d read before batch %d was applied: %v", lo, lo-20, events)
				}
				if lo < depth*10 {
					continue
				}
				before := at(fmt.Sprintf("sent %d", lo-depth*10))
				if tc.noSent {
					before = at(fmt.Sprintf("commit %d", lo-depth*10))
				}
				if before < 0 || at(fmt.Sprintf("read %d", lo)) < before {
					t.Errorf("batch %d read before batch %d was sent: %v", lo, lo-depth*10, events)
				}
			}

			if tc.failRead >= 0 && at(fmt.Sprintf("commit %d", tc.failRead-10)) < 0 {
				t.Errorf("the read error was returned before the batch being applied was done: %v", events)
			}
		})
	}
}
