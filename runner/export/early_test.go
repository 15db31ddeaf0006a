package export

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/state"
)

// earlyCommits creates the empty snapshot of inOrderSnaps[i] (its table, and its view if any) and returns
// a function that commits the records numbered lo to hi (n, in key order) as a first sync's commit does,
// appending them in that order, and tells e (which may be nil) what the commit did.
func earlyCommits(t *testing.T, db *engine.DB, i int) (commit func(e *Early, lo, hi int)) {
	t.Helper()
	s := inOrderSnaps[i]
	exec(t, db, s.keys)
	exec(t, db, fmt.Sprintf("CREATE TABLE %s AS %s WHERE false", s.table, s.records))
	if s.view != "" {
		exec(t, db, s.view)
	}
	return func(e *Early, lo, hi int) {
		t.Helper()
		before, err := db.Count(context.Background(), "SELECT count(*) FROM "+s.table)
		if err != nil {
			t.Fatal(err)
		}
		// The apply's commits run with preserve_insertion_order on, which StartEarly turned on.
		exec(t, db, fmt.Sprintf("INSERT INTO %s %s WHERE n BETWEEN %d AND %d ORDER BY n", s.table, s.records, lo, hi))
		after, err := db.Count(context.Background(), "SELECT count(*) FROM "+s.table)
		if err != nil {
			t.Fatal(err)
		}
		e.Committed("snap", before, after, hi-lo+1)
	}
}

// TestEarlyExport: a first sync's records file written as its commits append records in key order (Early),
// in every format whose files concatenate, holds exactly the bytes of one COPY of the snapshot sorted by
// key, with the header once; nothing but the records file is left, and preserve_insertion_order (off in the
// engine, on while the parts are written) is off again. A Parquet file is not written early (its footer
// does not concatenate), nor is a snapshot that is a view (no row ids): both are written in full after the
// commits, as before, with the same bytes.
func TestEarlyExport(t *testing.T) {
	ctx := context.Background()
	for i, s := range inOrderSnaps {
		for _, format := range []string{"csv", "tsv", "jsonl", "parquet"} {
			t.Run(s.name+" "+format, func(t *testing.T) {
				db := openDB(t)
				commit := earlyCommits(t, db, i)
				dir := t.TempDir()
				path := filepath.Join(dir, "out", "records."+format)
				in := Input{Export: connectors.Export{Path: path, Format: format}, SinkType: "test", Key: s.key, Schema: s.schema, Log: (&logs{}).logf}
				e, why, err := StartEarly(ctx, db, in)
				if err != nil {
					t.Fatal(err)
				}
				if (e == nil) != (format == "parquet") {
					t.Fatalf("StartEarly: %v (%q); want an early export of every format but parquet", e, why)
				}
				defer e.Close()
				for lo := 1; lo <= 300; lo += 40 {
					commit(e, lo, min(lo+39, 300))
				}
				var l logs
				in.Snapshot, in.Meta, in.Early, in.Log = "snap", state.Meta{Serial: 9}, e, l.logf
				in.Meta.Records, err = db.Count(ctx, "SELECT count(*) FROM snap")
				if err != nil {
					t.Fatal(err)
				}
				out, err := Run(ctx, db, in)
				if err != nil {
					t.Fatal(err)
				}
				wantLog := "in 8 parts written while the apply committed"
				switch {
				case format == "parquet":
					wantLog = "which is key order (no sort)"
				case s.view != "":
					wantLog = "which is key order (no sort) (not from the parts written during the apply: "
				}
				if !out.Written || !strings.Contains(l.String(), wantLog) {
					t.Fatalf("export: %+v, log %q: want %q", out, l, wantLog)
				}
				want := sortedRef(t, db, filepath.Join(dir, "ref."+format), format, s.key, s.schema)
				if got := read(t, path); !bytes.Equal(got, want) {
					t.Fatalf("early export differs from one COPY sorted by key:\ngot:\n%.2000s\nwant:\n%.2000s", got, want)
				}
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				if got := read(t, path); !bytes.Equal(got, want) {
					t.Fatalf("the records file changed on Close")
				}
				entries, err := os.ReadDir(filepath.Dir(path))
				if err != nil || len(entries) != 1 {
					t.Errorf("the export's folder holds %v (%v), want the records file alone", entries, err)
				}
				insertionOrderOff(t, db)
			})
		}
	}
}

// TestEarlyExportGivesUp: whatever makes the parts written during the apply differ from the sorted export
// of the snapshot (a batch committed out of key order, a commit that replaces records, a record changed
// after its part, a snapshot whose row ids do not start at 0, a repeated key) gives the early export up, and
// the records file is written in full after the commits, byte for byte the sorted COPY; and an export that
// finds a records file there (or is not asked for) leaves none of the early export's files behind.
func TestEarlyExportGivesUp(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// run commits the records (numbered 1 to 300) through commit, telling e; before runs before
		// StartEarly.
		run    func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int))
		before string
		why    string
	}{
		{name: "a batch out of key order", why: "not in key order", run: func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int)) {
			commit(e, 1, 100)
			commit(e, 201, 300)
			commit(e, 101, 200)
		}},
		// The deletion comes before the first part is written (a short part) or after (the commit's count).
		{name: "a commit replaces records", why: "took the snapshot from|written", run: func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int)) {
			commit(e, 1, 150)
			exec(t, db, "DELETE FROM snap WHERE sku = (SELECT min(sku) FROM snap)")
			commit(nil, 151, 300)
			e.Committed("snap", 150, 299, 151) // the deletion and the creates of one commit
		}},
		// Told before the parts are written or after: either a part is short, or the row ids run past it.
		{name: "a record updated after its part", why: "numbered|written", run: func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int)) {
			commit(e, 1, 150)
			commit(e, 151, 300)
			// Something outside the apply's commits (not told to e) replaces a record.
			exec(t, db, "CREATE TABLE chg AS SELECT * FROM snap WHERE qty = 40")
			exec(t, db, "DELETE FROM snap WHERE qty = 40")
			exec(t, db, "INSERT INTO snap SELECT sku, 'changed', qty, price FROM chg")
		}},
		{name: "row ids not from 0", why: "written", before: "INSERT INTO snap SELECT sku, 'gone', 0, 0 FROM keys; DELETE FROM snap",
			run: func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int)) {
				commit(e, 1, 300)
			}},
		{name: "a repeated key", why: "not in key order", run: func(t *testing.T, db *engine.DB, e *Early, commit func(*Early, int, int)) {
			commit(e, 1, 150)
			commit(e, 150, 300)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			s := inOrderSnaps[0]
			commit := earlyCommits(t, db, 0)
			if tc.before != "" {
				exec(t, db, tc.before)
			}
			setPartRows(t, 7)
			dir := t.TempDir()
			path := filepath.Join(dir, "out", "records.csv")
			in := Input{Export: connectors.Export{Path: path, Format: "csv"}, SinkType: "test", Key: s.key, Schema: s.schema}
			e, why, err := StartEarly(ctx, db, in)
			if err != nil || e == nil {
				t.Fatalf("StartEarly: %v, %q (%v)", e, why, err)
			}
			defer e.Close()
			tc.run(t, db, e, commit)
			var l logs
			in.Snapshot, in.Meta, in.Early, in.Log = "snap", state.Meta{Serial: 9}, e, l.logf
			if in.Meta.Records, err = db.Count(ctx, "SELECT count(*) FROM snap"); err != nil {
				t.Fatal(err)
			}
			out, err := Run(ctx, db, in)
			if err != nil {
				t.Fatal(err)
			}
			if !out.Written || !strings.Contains(l.String(), "(not from the parts written during the apply: ") || !regexp.MustCompile(tc.why).MatchString(l.String()) {
				t.Fatalf("export: %+v, log %q: want a full export, the early one given up (%q)", out, l, tc.why)
			}
			want := sortedRef(t, db, filepath.Join(dir, "ref.csv"), "csv", s.key, s.schema)
			if got := read(t, path); !bytes.Equal(got, want) {
				t.Fatalf("export differs from one COPY sorted by key:\ngot:\n%.2000s\nwant:\n%.2000s", got, want)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if entries, err := os.ReadDir(filepath.Dir(path)); err != nil || len(entries) != 1 {
				t.Errorf("the export's folder holds %v (%v), want the records file alone", entries, err)
			}
		})
	}

	t.Run("a records file there", func(t *testing.T) {
		db := openDB(t)
		s := inOrderSnaps[0]
		commit := earlyCommits(t, db, 0)
		path := filepath.Join(t.TempDir(), "out", "records.csv")
		in := Input{Export: connectors.Export{Path: path, Format: "csv"}, SinkType: "test", Key: s.key, Schema: s.schema}
		if e, why, err := func() (*Early, string, error) {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("sku\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(path)
			return StartEarly(ctx, db, in)
		}(); e != nil || err != nil || why != "the records file exists" {
			t.Fatalf("StartEarly with a records file there: %v, %q, %v", e, why, err)
		}
		e, _, err := StartEarly(ctx, db, in)
		if err != nil || e == nil {
			t.Fatalf("StartEarly: %v (%v)", e, err)
		}
		defer e.Close()
		commit(e, 1, 100)
		commit(e, 101, 300)
		// The file appears after the apply started, and was exported at this serial: nothing to write, and
		// the early export's files go.
		if err := os.WriteFile(path, []byte("sku\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		in.Snapshot, in.Meta, in.Early = "snap", state.Meta{Serial: 9, Exported: 9, Records: 300}, e
		if out, err := Run(ctx, db, in); err != nil || out.Written {
			t.Fatalf("export: %+v, %v; want nothing written", out, err)
		}
		if entries, err := os.ReadDir(filepath.Dir(path)); err != nil || len(entries) != 1 {
			t.Errorf("the export's folder holds %v (%v), want the records file alone", entries, err)
		}
		if got := string(read(t, path)); got != "sku\n" {
			t.Errorf("records file %q, want it untouched", got)
		}
	})

	t.Run("not a first sync", func(t *testing.T) {
		db := openDB(t)
		s := inOrderSnaps[0]
		in := Input{Export: connectors.Export{Path: filepath.Join(t.TempDir(), "records.csv"), Format: "csv"}, Key: s.key, Schema: s.schema,
			Meta: state.Meta{Records: 3}}
		if e, why, err := StartEarly(ctx, db, in); e != nil || err != nil || why == "" {
			t.Errorf("StartEarly of a snapshot with records: %v, %q, %v; want none", e, why, err)
		}
	})
}
