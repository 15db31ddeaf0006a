package steps

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/tcache"
	"github.com/possync/possync/transforms"
	_ "github.com/possync/possync/transforms/all"
)

// counting is a row transform that counts the rows its Go row function (Apply) is given. It states no
// Reads, so the cache keys its rows by every input column.
type counting struct {
	transforms.Batch
	rows *atomic.Int64
}

func (c counting) Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	c.rows.Add(in.NumRows())
	return c.Batch.Apply(ctx, in)
}

func (c counting) Clone() transforms.Batch { return counting{c.Batch.Clone(), c.rows} }

// Reads is not transforms.RowPushdown's: a transform that does not state one row per input row, and that
// it reads those fields only, is not taken at its word.
func (c counting) Reads() []string { return c.Batch.(transforms.RowPushdown).Reads() }

// countingRow is counting for a map that states transforms.RowPushdown (so the cache keys its rows by the
// fields it reads) but whose query cannot be stated (PushdownSQL answers no, as for an expression DuckDB
// cannot run), so it runs in Go.
type countingRow struct {
	transforms.RowPushdown
	rows *atomic.Int64
}

func (c countingRow) Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	c.rows.Add(in.NumRows())
	return c.RowPushdown.Apply(ctx, in)
}

func (c countingRow) Clone() transforms.Batch {
	return countingRow{c.RowPushdown.Clone().(transforms.RowPushdown), c.rows}
}

func (c countingRow) PushdownSQL(string) (string, bool) { return "", false }

// TestCacheRunsOnlyChangedRows counts the rows the map's Go row function is given: all of them on the first
// run, then exactly the inserted and edited ones (a deleted row costs nothing, and the duplicate of an
// unchanged row is served from the cache). A change to a column the map does not read is a hit when the
// transform states what it reads (transforms.RowPushdown), and a miss otherwise.
func TestCacheRunsOnlyChangedRows(t *testing.T) {
	for _, c := range []struct {
		name string
		wrap func(transforms.Transform, *atomic.Int64) transforms.Batch
		want int64 // rows the second run transforms
	}{
		{"row pushdown", func(tr transforms.Transform, n *atomic.Int64) transforms.Batch {
			return countingRow{tr.(transforms.RowPushdown), n}
		}, 4},
		{"batch with a Reads method", func(tr transforms.Transform, n *atomic.Int64) transforms.Batch {
			return counting{tr.(transforms.Batch), n}
		}, 5},
	} {
		t.Run(c.name, func(t *testing.T) { testCacheRunsOnlyChangedRows(t, c.wrap, c.want) })
	}
}

func testCacheRunsOnlyChangedRows(t *testing.T, wrap func(transforms.Transform, *atomic.Int64) transforms.Batch, want int64) {
	ctx := context.Background()
	p, diags := pipelines.Parse("p.yaml", []byte(`version: 1
name: count
merchant: m
key: sku
source: {type: file, path: x.csv, columns: [{name: sku, type: string}, {name: n, type: int}, {name: note, type: string}]}
sink: {type: file, path: out.csv}
transforms:
  - type: map
    name: mapped
    fields:
      sku: sku
      label: 'replace(sku, "-", "_") + string(n ?? 0)'
`), pipelines.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "sku", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true}, // not read by the map
	}, nil)
	_, ctor, _ := transforms.Registry.Lookup("map")
	built, err := ctor(p.Transforms[0].Config, transforms.Env{Input: sch, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	run := func(recs []record.Record) int64 {
		t.Helper()
		db, err := engine.Open(ctx, engine.Options{TempDir: t.TempDir(), Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.LoadRecords(ctx, "src", sch, recs); err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		r := &runner{db: db, in: Input{Steps: p.Transforms, Schemas: map[string]*arrow.Schema{"src": sch}, Location: time.UTC,
			Cache: &tcache.Cache{Dir: dir, Build: "test"}}, out: &Output{}}
		sp := &step{st: p.Transforms[0], table: "mapped", input: "src", tr: wrap(built, &n)}
		if err := r.runStep(ctx, sp); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Count(ctx, "SELECT count(*) FROM mapped"); err != nil || got != int64(len(recs)) {
			t.Fatalf("the output has %d rows (%v), want %d", got, err, len(recs))
		}
		return n.Load()
	}

	var recs []record.Record
	for i := 0; i < 1000; i++ {
		recs = append(recs, record.Record{"sku": fmt.Sprintf("A-%d", i), "n": int64(i), "note": "x"})
	}
	if n := run(recs); n != 1000 {
		t.Fatalf("first run: the row function ran for %d rows, want 1000", n)
	}
	next := append([]record.Record(nil), recs[10:]...)                        // 10 deleted
	next[0] = record.Record{"sku": "A-10", "n": int64(-1)}                    // 1 edited (and note, unread, now NULL)
	next[1] = record.Record{"sku": "A-11", "n": nil}                          // 1 edited to NULL
	next[2] = record.Record{"sku": "A-12", "n": int64(12), "note": "changed"} // an unread column changed: a hit
	next = append(next, recs[500], record.Record{"sku": "new", "n": int64(1)}, record.Record{"sku": "new", "n": int64(1)})
	// The 2 edits and the inserted row twice (a duplicate within one run's misses), and the row whose
	// unread column changed unless the transform states what it reads.
	if n := run(next); n != want {
		t.Errorf("second run: the row function ran for %d rows, want %d", n, want)
	}
	if n := run(next); n != 0 {
		t.Errorf("unchanged rerun: the row function ran for %d rows, want 0", n)
	}
}
