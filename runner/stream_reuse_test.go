package runner_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/diff"
)

// TestRecycledBatchesWriteTheSameBytes: a streamed first sync to the file sink in many small batches, read
// ahead and encoded in several goroutines, each batch read into the memory of a batch sent before
// (runner.SetRecycleBatches), writes the same change log (but for its "at" times) and records file as one
// reading every batch into fresh memory, twice, and reports its plan's hash. The memory given back is
// poisoned at once (diff.SetPoisonFreed): a batch's entries, light changes or records-file lines read after
// they were given back (by the sink, the intents, the plan's hash or the records file's parts) would show
// in the bytes; and the batches are counted as they reuse memory, so that the comparison cannot pass with the
// recycling off. Run it with -race too: a buffer written by the reader while the apply still reads it is a race.
func TestRecycledBatchesWriteTheSameBytes(t *testing.T) {
	defer runner.SetParallelEncodeRows(1)()
	defer runner.SetStreamAbove(5)()
	defer diff.SetPoisonFreed(true)()
	var in strings.Builder
	in.WriteString("sku,name,price\n")
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&in, "S%04d,\"item %d, \"\"%s\"\"\",%d.%02d\n", i, i, strings.Repeat("x", i%37), i, i%100)
	}
	at := regexp.MustCompile(`,"at":"[^"]*"}`)
	run := func(recycle bool) (log, records string) {
		t.Helper()
		defer runner.SetRecycleBatches(recycle)()
		dir := batchedCSVCase(t, in.String(), 9) // 45 batches
		pl := mustPlan(t, loadAt(t, dir))
		before := runner.RecycledReads()
		rep := mustApply(t, loadAt(t, dir), runner.Options{})
		if rep.Applied.Create != 400 || rep.PlanHash != pl.Hash {
			t.Fatalf("recycle %v: applied %+v, plan hash %s; want 400 creates, the plan's %s", recycle, rep.Applied, rep.PlanHash, pl.Hash)
		}
		// The comparison means something only if the batches did reuse memory: all but the first few
		// (pipeBatches holds up to three before the first is sent).
		if n := runner.RecycledReads() - before; recycle && n < 40 || !recycle && n != 0 {
			t.Fatalf("recycle %v: %d of 45 batches read into a sent batch's memory", recycle, n)
		}
		checkChangeLog(t, fmt.Sprintf("recycle %v", recycle), dir, 0, pl)
		data, err := os.ReadFile(filepath.Join(dir, "out", "records.changes.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := os.ReadFile(filepath.Join(dir, "out", "records.csv"))
		if err != nil {
			t.Fatal(err)
		}
		return at.ReplaceAllString(string(data), `}`), string(recs)
	}
	wantLog, wantRecs := run(false)
	for i := range 2 {
		if log, recs := run(true); log != wantLog || recs != wantRecs {
			t.Errorf("run %d with recycled batches: the same change log %v, the same records file %v; want both", i, log == wantLog, recs == wantRecs)
		}
	}
}
