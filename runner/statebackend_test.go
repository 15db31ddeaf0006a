package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/possync/possync/runner/engine"
)

// TestCheckpointStateCompactsPastThreshold holds the run's checkpoint to its contract: the WAL is empty
// afterwards and no committed row is lost; a run's few deleted rows stay as delete markers (no vacuum: it
// would rewrite whole row groups to reclaim them), and once a table's deleted rows pass compactAbove of
// its live rows the checkpoint vacuums them away.
func TestCheckpointStateCompactsPastThreshold(t *testing.T) {
	ctx := context.Background()
	d, dir, exec := openCheckpointTest(t)
	file := filepath.Join(dir, "state.duckdb")
	count := func(q string) int64 {
		t.Helper()
		n, err := d.Count(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	stored := func() int64 {
		return count(`SELECT estimated_size FROM duckdb_tables() WHERE database_name = 'st' AND table_name = 'snapshot'`)
	}
	layout := func() string {
		t.Helper()
		var s string
		if err := d.QueryRow(ctx, `SELECT list(n ORDER BY g)::VARCHAR FROM (SELECT row_group_id g, max(start + count) - min(start) n
			FROM pragma_storage_info('st.snapshot') WHERE column_id = 0 GROUP BY g)`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	checkpoint := func() {
		t.Helper()
		if err := checkpointState(ctx, d); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(file + ".wal"); err == nil && fi.Size() > 0 {
			t.Fatalf("the WAL holds %d bytes after the checkpoint", fi.Size())
		}
	}
	exec("ATTACH " + engine.Lit(file) + " AS st")
	// Row groups of 624, 122,880 and 122,880 rows, as a parallel insert may leave them: a vacuum would merge
	// the small one with its neighbour once a run thinned that out, rewriting the whole row group. Built on
	// one thread, the small one first, so that the layout does not depend on how the threads were scheduled
	// (a parallel CREATE TABLE AS left [122880, 624, 122880] under load).
	exec("SET threads = 1")
	exec("CREATE TABLE src AS SELECT i AS k, 'record ' || i AS v FROM range(246384) r(i)")
	exec("CREATE TABLE st.snapshot AS SELECT * FROM src WHERE k < 624")
	checkpoint()
	exec("INSERT INTO st.snapshot SELECT * FROM src WHERE k >= 624 ORDER BY k")
	checkpoint()
	exec("SET threads = 4")
	if got := layout(); got != "[624, 122880, 122880]" {
		t.Fatalf("the snapshot's row groups are %s, want [624, 122880, 122880] (the case this test is about)", got)
	}
	// A run: its intents recorded, then settled; 5% of the records replaced (deleted where they were,
	// appended anew).
	exec("CREATE TABLE st.intents AS SELECT 'intent ' || i AS id FROM range(30000) r(i)")
	exec("DELETE FROM st.intents")
	exec("BEGIN")
	exec("DELETE FROM st.snapshot WHERE k % 20 = 0")
	exec("INSERT INTO st.snapshot SELECT i, 'changed ' || i FROM range(0, 246384, 20) r(i)")
	exec("COMMIT")
	checkpoint()
	if got := layout(); got != "[624, 122880, 122880, 12320]" {
		t.Fatalf("after a 5%% run the row groups are %s, want [624, 122880, 122880, 12320] (no row group rewritten)", got)
	}
	if got, live := stored(), count("SELECT count(*) FROM st.snapshot"); live != 246384 || got != 258704 {
		t.Fatalf("after a 5%% run: %d rows stored, %d live; want 258704 stored (the deleted rows kept as markers), 246384 live", got, live)
	}
	if n := count(`SELECT estimated_size FROM duckdb_tables() WHERE database_name = 'st' AND table_name = 'intents'`); n != 0 {
		t.Fatalf("%d settled intents stored after the checkpoint, want 0", n)
	}
	if n := count("SELECT count(*) FROM st.snapshot WHERE k % 20 = 0 AND v LIKE 'changed %'"); n != 12320 {
		t.Fatalf("%d changed records after the checkpoint, want 12320", n)
	}

	// Nor does the checkpoint DuckDB runs itself when the state is detached (the run's journal written
	// after its checkpoint).
	exec("DELETE FROM st.snapshot WHERE k = 1")
	exec("DETACH st")
	exec("ATTACH " + engine.Lit(file) + " AS st")
	if got := layout(); got != "[624, 122880, 122880, 12320]" {
		t.Fatalf("after detaching the row groups are %s, want [624, 122880, 122880, 12320] (no row group rewritten)", got)
	}

	// Half the records deleted: past compactAbove, the checkpoint vacuums them.
	exec("DELETE FROM st.snapshot WHERE k % 2 = 1 AND k <> 1")
	checkpoint()
	if got, live := stored(), count("SELECT count(*) FROM st.snapshot"); live != 123192 || got-live > 135512/2 {
		t.Fatalf("after deleting half: %d rows stored, %d live; want most of the 135,512 deleted rows vacuumed", got, live)
	}

	// The state reopens with every committed row.
	exec("DETACH st")
	exec("ATTACH " + engine.Lit(file) + " AS st")
	if n := count("SELECT count(*) FROM st.snapshot WHERE v LIKE 'changed %'"); n != 12320 {
		t.Fatalf("%d changed records after reopening, want 12320", n)
	}
}

// TestCheckpointStateMergesAppendedRowGroups: runs that only add records append a row group each, which no
// checkpoint merges until they are more than compactRowGroups beyond the fewest that hold the table.
func TestCheckpointStateMergesAppendedRowGroups(t *testing.T) {
	ctx := context.Background()
	d, dir, exec := openCheckpointTest(t)
	exec("ATTACH " + engine.Lit(filepath.Join(dir, "state.duckdb")) + " AS st")
	exec("CREATE TABLE st.snapshot AS SELECT i AS k, 'record ' || i AS v FROM range(20000) r(i)")
	var most int64
	for run := 0; run < 2*compactRowGroups; run++ {
		exec(fmt.Sprintf("INSERT INTO st.snapshot SELECT i, 'record ' || i FROM range(%d, %d) r(i)", 20000+run*1500, 20000+(run+1)*1500))
		if err := checkpointState(ctx, d); err != nil {
			t.Fatal(err)
		}
		groups, err := d.Count(ctx, "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('st.snapshot')")
		if err != nil {
			t.Fatal(err)
		}
		most = max(most, groups)
	}
	if most > 1+compactRowGroups+1 {
		t.Fatalf("the snapshot reached %d row groups, want at most %d (its rows fit in one)", most, 1+compactRowGroups+1)
	}
	if n, err := d.Count(ctx, "SELECT count(DISTINCT k) FROM st.snapshot"); err != nil || n != 20000+2*compactRowGroups*1500 {
		t.Fatalf("%d records (%v), want %d", n, err, 20000+2*compactRowGroups*1500)
	}
}

// openCheckpointTest opens an engine in a temporary folder (closed with the test) and returns it, the
// folder, and exec, which runs a statement on it and fails the test on an error.
func openCheckpointTest(t *testing.T) (*engine.DB, string, func(q string)) {
	t.Helper()
	dir := t.TempDir()
	d, err := engine.Open(context.Background(), engine.Options{TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, dir, func(q string) {
		t.Helper()
		if err := d.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
