package export

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/state"
)

// linesOf are the lines of inOrderSnaps[i]'s records numbered lo to hi in format f, as the batch reader
// hands a batch's over (Early.Lines): each the bytes of a COPY of its record alone (what the batch reader's
// encoder writes, diff.CSVFormat), with the key order tokens of the first and last.
func linesOf(t *testing.T, db *engine.DB, i int, f *diff.CSVFormat, lo, hi int) *diff.CSVLines {
	t.Helper()
	s := inOrderSnaps[i]
	path := filepath.Join(t.TempDir(), "line.csv")
	l := &diff.CSVLines{Format: f}
	for n := lo; n <= hi; n++ {
		exec(t, db, fmt.Sprintf("COPY (%s WHERE n = %d) TO %s (FORMAT csv, HEADER false)", s.records, n, engine.Lit(path)))
		l.Lines = append(l.Lines, read(t, path))
	}
	token := func(n int) []byte {
		key := make([]any, len(s.key))
		ptrs := make([]any, len(s.key))
		for j := range key {
			ptrs[j] = &key[j]
		}
		q := fmt.Sprintf("SELECT %s FROM keys WHERE n = %d", engine.IdentList(s.key, ""), n)
		if err := db.QueryRow(context.Background(), q).Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		tok, ok := diff.KeyToken(key...)
		if !ok {
			t.Fatalf("key %v: no token", key)
		}
		return tok
	}
	l.First, l.Last = token(lo), token(hi)
	return l
}

// startStaged starts the early export of inOrderSnaps[i]'s records to the CSV file out/records.csv of a
// new folder (path) over the empty snapshot earlyCommits creates (commit), with its staging file; the test's
// cleanup closes it.
func startStaged(t *testing.T, db *engine.DB, i int) (e *Early, in Input, path string, commit func(*Early, int, int)) {
	t.Helper()
	s := inOrderSnaps[i]
	commit = earlyCommits(t, db, i)
	path = filepath.Join(t.TempDir(), "out", "records.csv")
	in = Input{Export: connectors.Export{Path: path, Format: "csv"}, SinkType: "test", Key: s.key, Schema: s.schema}
	e, why, err := StartEarly(context.Background(), db, in)
	if err != nil || e == nil || e.CSVFormat() == nil || e.stage == nil {
		t.Fatalf("StartEarly: %v, %q (%v)", e, why, err)
	}
	t.Cleanup(func() { e.Close() })
	return e, in, path, commit
}

// TestEarlyExportLines: the parts of a first sync's records file written from the batches' lines hold the
// bytes of one COPY of the snapshot sorted by key; a commit that is not exactly its batch's (fewer changes
// acknowledged), lines of another format, lines that do not continue the last part in key order, or a
// snapshot without row ids (a view, whose parts finish could not check) are not written: the part is a COPY (before any part of lines), or the early export gives up (after) and the
// file is written after the commits. Whichever way, the file is the sorted COPY's bytes, with the lines
// staged in the (unlinked) staging file or in memory, and nothing else is left in the folder.
func TestEarlyExportLines(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// run commits the records (numbered 1 to 300) through commit, handing lines over to e first.
		run  func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int))
		log  string
		snap int // inOrderSnaps' index
	}{
		{name: "every part lines", log: `in 8 parts written while the apply committed \(8 from the batches' lines\)`,
			run: func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int)) {
				for lo := 1; lo <= 300; lo += 40 {
					e.Lines(e.Stage(linesOf(t, db, 0, e.CSVFormat(), lo, min(lo+39, 300))))
					commit(e, lo, min(lo+39, 300))
					e.Lines(nil)
				}
			}},
		{name: "a batch out of key order", log: `not from the parts written during the apply: records 200 to 300: lines not in key order after the part before, after 2 part`,
			run: func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int)) {
				for _, r := range [][2]int{{1, 100}, {201, 300}, {101, 200}} {
					e.Lines(e.Stage(linesOf(t, db, 0, e.CSVFormat(), r[0], r[1])))
					commit(e, r[0], r[1])
				}
			}},
		{name: "a commit of part of its batch", log: `not from the parts written during the apply: records 100 to 150: no lines of the commit's batch, after 1 part`,
			run: func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int)) {
				e.Lines(e.Stage(linesOf(t, db, 0, e.CSVFormat(), 1, 100)))
				commit(e, 1, 100)
				e.Lines(e.Stage(linesOf(t, db, 0, e.CSVFormat(), 101, 200)))
				commit(e, 101, 150) // the batch's other changes not acknowledged
				commit(e, 151, 300)
			}},
		{name: "a first part without lines", log: `in 3 parts written while the apply committed \(0 from the batches' lines\)`,
			run: func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int)) {
				commit(e, 1, 100)
				for lo := 101; lo <= 300; lo += 100 {
					e.Lines(e.Stage(linesOf(t, db, 0, e.CSVFormat(), lo, lo+99)))
					commit(e, lo, lo+99)
				}
			}},
		{name: "a snapshot that is a view", snap: 1, log: `not from the parts written during the apply: records 0 to 150: `,
			run: func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int)) {
				for lo := 1; lo <= 300; lo += 150 {
					e.Lines(e.Stage(linesOf(t, db, 1, e.CSVFormat(), lo, lo+149)))
					commit(e, lo, lo+149)
				}
			}},
		// Lines that are not the commit's records, though as many and in key order (the lines of another
		// batch, were a caller to offer them): the part is a COPY, or the early export gives up.
		{name: "another batch's lines, the only part", log: `in 1 parts written while the apply committed \(0 from the batches' lines\)`,
			run: func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int)) {
				e.Lines(e.Stage(linesOf(t, db, 0, e.CSVFormat(), 151, 300)))
				commit(e, 1, 150) // the snapshot's only commit
			}},
		{name: "another batch's lines, later part", log: `not from the parts written during the apply: records 100 to 200: the lines' first and last keys are not the commit's records', after 1 part`,
			run: func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int)) {
				e.Lines(e.Stage(linesOf(t, db, 0, e.CSVFormat(), 1, 100)))
				commit(e, 1, 100)
				e.Lines(e.Stage(linesOf(t, db, 0, e.CSVFormat(), 201, 300)))
				commit(e, 101, 200)
				commit(e, 201, 300)
			}},
		{name: "lines of another format", log: `in 2 parts written while the apply committed \(0 from the batches' lines\)`,
			run: func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int)) {
				f := *e.CSVFormat()
				f.Delim = '\t'
				for lo := 1; lo <= 300; lo += 150 {
					e.Lines(e.Stage(linesOf(t, db, 0, &f, lo, lo+149)))
					commit(e, lo, lo+149)
				}
			}},
	} {
		for _, staged := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, staged %v", tc.name, staged), func(t *testing.T) {
				db := openDB(t)
				s := inOrderSnaps[tc.snap]
				e, in, path, commit := startStaged(t, db, tc.snap)
				if !staged {
					e.closeStage() // the lines wait in memory
				}
				tc.run(t, db, e, commit)
				var l logs
				in.Snapshot, in.Meta, in.Early, in.Log = "snap", state.Meta{Serial: 9}, e, l.logf
				n, err := db.Count(ctx, "SELECT count(*) FROM snap")
				if err != nil {
					t.Fatal(err)
				}
				in.Meta.Records = n
				out, err := Run(ctx, db, in)
				if err != nil {
					t.Fatal(err)
				}
				if !out.Written || !regexp.MustCompile(tc.log).MatchString(l.String()) {
					t.Fatalf("export: %+v, log %q: want %q", out, l, tc.log)
				}
				want := sortedRef(t, db, filepath.Join(t.TempDir(), "ref.csv"), "csv", s.key, s.schema)
				if got := read(t, path); !bytes.Equal(got, want) {
					t.Fatalf("export differs from one COPY sorted by key:\ngot:\n%.2000s\nwant:\n%.2000s", got, want)
				}
				if entries, err := os.ReadDir(filepath.Dir(path)); err != nil || len(entries) != 1 {
					t.Errorf("the export's folder holds %v (%v), want the records file alone", entries, err)
				}
			})
		}
	}
}

// TestEarlyExportStageWriteFails: when the staging file cannot be written (a full disk: /dev/full), Stage
// keeps no lines and each batch's part is DuckDB's COPY; the records file is the sorted COPY's bytes, never a
// part of short lines.
func TestEarlyExportStageWriteFails(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	ctx := context.Background()
	db := openDB(t)
	s := inOrderSnaps[0]
	e, in, path, commit := startStaged(t, db, 0)
	e.stage.Close()
	e.stage = full // every write fails with ENOSPC; Close closes it
	for lo := 1; lo <= 300; lo += 100 {
		st := e.Stage(linesOf(t, db, 0, e.CSVFormat(), lo, lo+99))
		if st != nil {
			t.Fatalf("records %d to %d staged in a full file: %+v", lo, lo+99, st)
		}
		e.Lines(st)
		commit(e, lo, lo+99)
		e.Lines(nil)
	}
	var l logs
	in.Snapshot, in.Meta, in.Early, in.Log = "snap", state.Meta{Serial: 9, Records: 300}, e, l.logf
	out, err := Run(ctx, db, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `in 3 parts written while the apply committed (0 from the batches' lines)`; !out.Written || !bytes.Contains([]byte(l.String()), []byte(want)) {
		t.Fatalf("export: %+v, log %q: want %q", out, l, want)
	}
	want := sortedRef(t, db, filepath.Join(t.TempDir(), "ref.csv"), "csv", s.key, s.schema)
	if got := read(t, path); !bytes.Equal(got, want) {
		t.Fatalf("export differs from one COPY sorted by key:\ngot:\n%.2000s\nwant:\n%.2000s", got, want)
	}
}

// TestEarlyCSVFormatEndsWithTheEarlyExport: once the early export has given up, no part takes lines, so
// CSVFormat is nil and the apply's batch reader (which asks it for each batch) stops encoding them.
func TestEarlyCSVFormatEndsWithTheEarlyExport(t *testing.T) {
	db := openDB(t)
	s := inOrderSnaps[0]
	in := Input{Export: connectors.Export{Path: filepath.Join(t.TempDir(), "records.csv"), Format: "csv"}, SinkType: "test",
		Key: s.key, Schema: s.schema}
	e, why, err := StartEarly(context.Background(), db, in)
	if err != nil || e == nil || e.CSVFormat() == nil {
		t.Fatalf("StartEarly: %v, %q (%v)", e, why, err)
	}
	defer e.Close()
	e.giveUp("a test gives it up")
	if f := e.CSVFormat(); f != nil {
		t.Errorf("CSVFormat after a give-up = %+v, want nil", f)
	}
}
