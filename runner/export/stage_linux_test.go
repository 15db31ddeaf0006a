package export

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/state"
)

// TestEarlyStageBounded: across a first sync of 30 batches, each staged as the apply's batch reader stages
// it (batch N+2 once batch N is committed; the two first before any commit), the staging file's disk (its
// allocated blocks, which the lines of every batch staged would fill without release) never holds more
// than stageRegions batches' lines, nor does StagedPeak count more; the records file is the sorted COPY's
// bytes, every part written from the lines.
func TestEarlyStageBounded(t *testing.T) {
	const wide = 3 // inOrderSnaps' index: records of about 2 KB
	ctx := context.Background()
	db := openDB(t)
	s := inOrderSnaps[wide]
	e, in, path, commit := startStaged(t, db, wide)
	const size = 10
	var batches []*diff.CSVLines
	var total, most int64 // the lines' bytes: all batches', one batch's at most
	for lo := 1; lo <= 300; lo += size {
		l := linesOf(t, db, wide, e.CSVFormat(), lo, lo+size-1)
		n := int64(0)
		for _, line := range l.Lines {
			n += int64(len(line))
		}
		total, most = total+n, max(most, n)
		batches = append(batches, l)
	}
	stage := e.stage
	allocated := func() int64 {
		var st syscall.Stat_t
		if err := syscall.Fstat(int(stage.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		return st.Blocks * 512
	}
	bound := stageRegions * alignUp(most)
	if total <= bound {
		t.Fatalf("the batches' lines take %d bytes in all: not more than the bound %d, nothing to show", total, bound)
	}
	var staged []*Staged
	peak := int64(0)
	stageNext := func() {
		k := len(staged)
		if k == len(batches) {
			return
		}
		if staged = append(staged, e.Stage(batches[k])); staged[k] == nil {
			t.Fatalf("batch %d not staged", k)
		}
		peak = max(peak, allocated())
	}
	stageNext()
	stageNext()
	for k := range batches {
		e.Lines(staged[k])
		commit(e, k*size+1, (k+1)*size)
		e.Lines(nil)
		stageNext()
	}
	if peak > bound {
		t.Errorf("the staging file took up to %d bytes of disk, want at most %d (%d batches of at most %d bytes of lines; %d in all)",
			peak, bound, stageRegions, most, total)
	}
	if got := e.StagedPeak(); got > stageRegions*most {
		t.Errorf("StagedPeak %d, want at most %d", got, stageRegions*most)
	}
	var l logs
	in.Snapshot, in.Meta, in.Early, in.Log = "snap", state.Meta{Serial: 9, Records: 300}, e, l.logf
	out, err := Run(ctx, db, in)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("in 30 parts written while the apply committed (30 from the batches' lines), in key order (no sort); "+
		"the lines' staging file held at most %.1f MiB at once", float64(e.StagedPeak())/(1<<20))
	if !out.Written || !strings.Contains(l.String(), want) {
		t.Fatalf("export: %+v, log %q: want %q", out, l, want)
	}
	ref := sortedRef(t, db, filepath.Join(t.TempDir(), "ref.csv"), "csv", s.key, s.schema)
	if got := read(t, path); !bytes.Equal(got, ref) {
		t.Fatalf("export differs from one COPY sorted by key:\ngot:\n%.2000s\nwant:\n%.2000s", got, ref)
	}
}
