package apply

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/internal/proctime"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// BenchmarkCommit compares the two ways acknowledged changes reach the snapshot, for a first sync of 100k
// records (8 fields) in batches of 20,000: selected from the diff table by sequence number, or rebuilt in Go
// from the sink's changes and loaded back through Arrow. Each iteration commits into a fresh state; the
// timer covers the commits only (state.Store.Commit included, which both ways share).
func BenchmarkCommit(b *testing.B) {
	const rows, batch = 100_000, 20_000
	for _, fromDiff := range []bool{true, false} {
		name := "go-records"
		if fromDiff {
			name = "diff-table"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				db, a, ccs, seqs := newCommitBench(ctx, b, rows)
				b.StartTimer()
				commitBatches(ctx, b, a, fromDiff, ccs, seqs, batch)
				b.StopTimer()
				db.Close()
			}
		})
	}
}

// BenchmarkCommitFloor puts a first sync's commits against their floor: DuckDB alone inserting the same
// records into a table of a database file, in the same batches (one row group, 122,880, as the file sink
// sends them), each in a transaction of its own, on one thread (as the apply runs). "store" commits each batch
// as the apply does (commitSeqs: a view of the batch's range of the diff, and state.DuckStore.Commit with its
// meta, journal and intents statements); "floor" is INSERT ... SELECT of the range and COMMIT into a table
// whose compression DuckDB chooses, "floor-declared" the same into a table whose compressions are declared
// as the store declares them (state.DuckStore: FSST for the text columns of distinct values, sku and title,
// a dictionary for the one of few values, vendor), so that the store's statements beyond the INSERT are the
// difference between "store" and "floor-declared". Each reports
// its processor time (cpu-s, the process's user + system: DuckDB's threads included). The records are 8
// fields, COMMIT_BENCH_ROWS of them (default 368,640: three batches).
func BenchmarkCommitFloor(b *testing.B) {
	const batch = 122_880
	rows := 368_640
	if v, err := strconv.Atoi(os.Getenv("COMMIT_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	declared := map[string]string{"sku": "fsst", "title": "fsst", "vendor": "dictionary"}
	for _, name := range []string{"store", "floor", "floor-declared"} {
		floor := name != "store"
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			var cpu float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				db, a, _, seqs := newCommitBench(ctx, b, rows)
				a.NewKeys = true
				sch := a.Schema
				var err error
				var cols, defs []string
				for _, f := range engine.Canonical(sch).Fields() {
					cols = append(cols, engine.Ident(f.Name))
					def := engine.Ident(f.Name) + " " + engine.Type(f.Type)
					if m := declared[f.Name]; m != "" && name == "floor-declared" {
						def += " USING COMPRESSION " + m
					}
					defs = append(defs, def)
				}
				if err := db.Exec(ctx, "SET threads = 1"); err != nil {
					b.Fatal(err)
				}
				if floor {
					if err := db.Exec(ctx, "CREATE TABLE st.floor ("+strings.Join(defs, ", ")+")"); err != nil {
						b.Fatal(err)
					}
				}
				c0 := proctime.Seconds()
				b.StartTimer()
				for lo := 0; lo < len(seqs); lo += batch {
					hi := min(lo+batch, len(seqs))
					if floor {
						q := fmt.Sprintf("INSERT INTO st.floor SELECT %s FROM %s WHERE __seq BETWEEN %d AND %d", strings.Join(cols, ", "), diff.Table, seqs[lo], seqs[hi-1])
						err = db.Exec(ctx, "BEGIN TRANSACTION; "+q+"; COMMIT")
					} else {
						err = a.commitSeqs(ctx, seqs[lo:hi], true, nil, 0, false)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				cpu += proctime.Seconds() - c0
				db.Close()
			}
			b.ReportMetric(cpu/float64(b.N), "cpu-s")
		})
	}
}

// BenchmarkStageAcked isolates what the two ways differ in: laying the acknowledged records out as the
// commit reads them (state.Commit.Changes), for 100k creates of 8 fields in batches of 20,000, without the
// store's commit (which both share). The database is set up once; each iteration stages every batch.
func BenchmarkStageAcked(b *testing.B) {
	const rows, batch = 100_000, 20_000
	ctx := context.Background()
	dir := b.TempDir()
	db, err := engine.Open(ctx, engine.Options{TempDir: dir + "/tmp"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	sch, ccs, seqs := firstSyncChanges(ctx, b, db, rows)
	a := &Applier{DB: db, Key: []string{"sku"}, Schema: sch, RunID: "run",
		Commit: func(context.Context, *state.Commit) error { return nil }}
	for _, fromDiff := range []bool{true, false} {
		name := "go-records"
		if fromDiff {
			name = "diff-table"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				commitBatches(ctx, b, a, fromDiff, ccs, seqs, batch)
			}
		})
	}
}

// firstSyncChanges creates the table desired of rows generated records (8 fields) in db, diffs it against an
// empty state (a first sync: every record a create) and returns its schema, the sink's changes and their
// diff sequence numbers, in apply order.
func firstSyncChanges(ctx context.Context, b *testing.B, db *engine.DB, rows int) (*arrow.Schema, []connectors.Change, []int64) {
	b.Helper()
	q := fmt.Sprintf(`CREATE TABLE desired AS SELECT 'sku-' || i AS sku, 'Product ' || i AS title, i %% 1000 AS qty,
		(i %% 997) / 7.0::DOUBLE AS price, i %% 2 = 0 AS active, DATE '2026-01-01' + (i %% 365)::INTEGER AS since,
		TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i) AS seen, 'vendor ' || (i %% 50) AS vendor
		FROM range(%d) t(i)`, rows)
	if err := db.Exec(ctx, q); err != nil {
		b.Fatal(err)
	}
	sch, err := db.SchemaOf(ctx, "desired")
	if err != nil {
		b.Fatal(err)
	}
	l, err := diff.Run(ctx, db, diff.Input{Desired: "desired", Key: []string{"sku"}, Diff: pipelines.Diff{OnMissing: pipelines.MissingDelete}})
	if err != nil {
		b.Fatal(err)
	}
	chs, err := diff.Read(ctx, db, l, 0, -1)
	if err != nil {
		b.Fatal(err)
	}
	ccs := make([]connectors.Change, len(chs))
	seqs := make([]int64, len(chs))
	for j := range chs {
		ccs[j], seqs[j] = l.SinkChange(&chs[j], l.PlanChange(&chs[j], plan.State{}).ID), chs[j].Seq
	}
	return sch, ccs, seqs
}

// commitBatches commits the changes in batches of batch, by sequence number from the diff table (fromDiff)
// or as the sink's changes rebuilt in Go; it fails b on the first error.
func commitBatches(ctx context.Context, b *testing.B, a *Applier, fromDiff bool, ccs []connectors.Change, seqs []int64, batch int) {
	b.Helper()
	for lo := 0; lo < len(ccs); lo += batch {
		hi := min(lo+batch, len(ccs))
		var err error
		if fromDiff {
			err = a.commitSeqs(ctx, seqs[lo:hi], true, nil, 0, false)
		} else {
			err = a.CommitChanges(ctx, "run", ccs[lo:hi], nil, 0)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// newCommitBench opens a fresh engine and local state in a temporary folder, fills the diff table with a
// first sync of rows records (firstSyncChanges) and returns an Applier that commits into that state, with
// the changes and their sequence numbers. The caller closes db.
func newCommitBench(ctx context.Context, b *testing.B, rows int) (*engine.DB, *Applier, []connectors.Change, []int64) {
	b.Helper()
	dir := b.TempDir()
	db, err := engine.Open(ctx, engine.Options{TempDir: dir + "/tmp"})
	if err != nil {
		b.Fatal(err)
	}
	store := state.NewDuckStore(dir, "p")
	if _, err := store.Open(ctx, db.Conn(), false); err != nil {
		b.Fatal(err)
	}
	sch, ccs, seqs := firstSyncChanges(ctx, b, db, rows)
	a := &Applier{DB: db, Store: store, Key: []string{"sku"}, Schema: sch, RunID: "run",
		Commit: func(ctx context.Context, c *state.Commit) error {
			_, err := store.Commit(ctx, db.Conn(), c)
			return err
		}}
	return db, a, ccs, seqs
}
