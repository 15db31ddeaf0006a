package diff

import (
	"context"
	"slices"
	"testing"
	"unsafe"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
)

// TestEntriesCSVReuse: batches read by EntriesCSV into one Reuse, its memory given back between them
// (Release, ReleaseLines, poisoned as it is given back), are each, byte for byte, what a read into fresh
// memory gives (light changes, entries, numbers, records-file lines and their first and last keys), with
// one worker and with three, batches of unequal sizes included; and the reads after the first do reuse the
// memory given back: the changes' slice, and buffers of the entries and of the lines (at least half of the
// batch's: a read of 80 changes after reads of at most 40 needs more than were given back). Lines left to
// the caller instead (DisownLines) stay as they are through the reads after.
func TestEntriesCSVReuse(t *testing.T) {
	defer SetPoisonFreed(true)()
	defer func(n int) { EncodeRows = n }(EncodeRows)
	EncodeRows = 8
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 1})
	exec(`CREATE TABLE desired AS SELECT printf('S%03d', i) AS sku, 'item "' || i || '"' AS title, i / 4.0 AS price FROM range(100) t(i)`)
	l, err := Run(ctx, db, Input{Desired: "desired", Key: []string{"sku"}})
	if err != nil {
		t.Fatal(err)
	}
	f := &CSVFormat{Names: []string{"sku", "title", "price"}, Types: []string{"VARCHAR", "VARCHAR", "DOUBLE"}, Key: []string{"sku"}, Delim: ','}
	planned := plan.State{Lineage: "L", Serial: 0}
	id := func(_ int64, r *Row) (string, error) { return r.ID(planned, r.Form()), nil }
	type batch struct {
		changes     []connectors.Change
		entries     [][]byte
		seqs        []int64
		lines       [][]byte
		first, last string
	}
	// read reads lo..hi, a deep copy of the results (nil reuse: fresh memory).
	read := func(lo, hi int64, workers int, reuse *Reuse) batch {
		t.Helper()
		cs, es, seqs, lines, err := EntriesCSV(ctx, db, l, lo, hi, workers, id, f, reuse)
		if err != nil {
			t.Fatal(err)
		}
		if lines == nil {
			t.Fatalf("%d..%d: no lines", lo, hi)
		}
		b := batch{changes: slices.Clone(cs), seqs: slices.Clone(seqs), first: string(lines.First), last: string(lines.Last)}
		for _, e := range es {
			b.entries = append(b.entries, slices.Clone(e))
		}
		for _, line := range lines.Lines {
			b.lines = append(b.lines, slices.Clone(line))
		}
		return b
	}
	ranges := [][2]int64{{0, 40}, {40, 80}, {80, 100}, {0, 40}, {10, 90}}
	const disowned = 2 // the read whose lines are left to the caller
	for _, workers := range []int{1, 3} {
		r := &Reuse{Entries: &Buffers{}, Text: &Buffers{}}
		var lastChanges *connectors.Change
		var kept, keptWant [][]byte // lines disowned, and what they must stay
		for i, rg := range ranges {
			want := read(rg[0], rg[1], workers, nil)
			given := append(slices.Clone(r.Entries.free), r.Text.free...) // the buffers free before the read
			cs, es, seqs, lines, err := EntriesCSV(ctx, db, l, rg[0], rg[1], workers, id, f, r)
			if err != nil {
				t.Fatal(err)
			}
			if i > 0 {
				// The changes' slice is the one before's when it has room (the first read's 40); the entries
				// and lines are in buffers given back.
				if rg[1]-rg[0] <= 40 && &cs[0] != lastChanges {
					t.Errorf("%d workers, read %d: the changes are not in the slice given back", workers, i)
				}
				if e, n := inBuffers(es, given), inBuffers(lines.Lines, given); e < len(es)/2 || (n < len(es)/2 && i-1 != disowned) {
					t.Errorf("%d workers, read %d: %d entries and %d lines of %d in buffers given back, want half at least", workers, i, e, n, len(es))
				}
			}
			got := batch{changes: slices.Clone(cs), seqs: slices.Clone(seqs)}
			for _, e := range es {
				got.entries = append(got.entries, slices.Clone(e))
			}
			for _, line := range lines.Lines {
				got.lines = append(got.lines, slices.Clone(line))
			}
			got.first, got.last = string(lines.First), string(lines.Last)
			// Given back, and poisoned: the copies taken above must still be what a fresh read gives. The
			// lines of one read are kept instead (DisownLines): the reads after must leave them.
			lastChanges = &cs[0]
			r.Release()
			if i == disowned {
				r.DisownLines()
				kept, keptWant = lines.Lines, want.lines
			} else {
				r.ReleaseLines()
			}
			if lines.First == nil || string(lines.First) != want.first || string(lines.Last) != want.last {
				t.Errorf("%d workers, read %d: first and last keys changed when the lines were given back", workers, i)
			}
			if !slices.EqualFunc(got.changes, want.changes, func(a, b connectors.Change) bool { return a.ID == b.ID && a.Action == b.Action }) ||
				!slices.Equal(got.seqs, want.seqs) ||
				!slices.EqualFunc(got.entries, want.entries, slices.Equal) ||
				!slices.EqualFunc(got.lines, want.lines, slices.Equal) ||
				got.first != want.first || got.last != want.last {
				t.Errorf("%d workers, read %d (%d..%d): the results read into reused memory differ from a fresh read's", workers, i, rg[0], rg[1])
			}
		}
		if !slices.EqualFunc(kept, keptWant, slices.Equal) {
			t.Errorf("%d workers: the lines left to the caller (DisownLines) changed in the reads after", workers)
		}
	}
}

// inBuffers counts the slices of bs that start inside the memory of one of bufs.
func inBuffers(bs, bufs [][]byte) int {
	n := 0
	for _, b := range bs {
		p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		for _, buf := range bufs {
			if start := uintptr(unsafe.Pointer(unsafe.SliceData(buf))); p >= start && p < start+uintptr(cap(buf)) {
				n++
				break
			}
		}
	}
	return n
}
