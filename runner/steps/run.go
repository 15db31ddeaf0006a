package steps

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/transforms"
)

// step is a built transform.
type step struct {
	st    *pipelines.Step
	table string // the relation the step writes
	input string // the relation a batch step reads
	tr    transforms.Transform
	last  bool // the pipeline's last step: its table is the desired one (Input.OrderBy)
}

// ChunkRows is how many rows one worker reads from DuckDB at a time; it bounds the memory a step holds
// outside DuckDB to a few chunks.
const ChunkRows = 122880

// runStep executes one transform, writing its output table.
func (r *runner) runStep(ctx context.Context, sp *step) error {
	if d, ok := r.in.Deferred[sp.input]; ok {
		// A query that gives one row per record and reads every field may read the source's files itself.
		if tr, ok := sp.tr.(transforms.RowPushdown); ok && r.readsAll(tr, sp.input) {
			if q, ok := tr.PushdownSQL(engine.Ident(sp.input)); ok {
				delete(r.in.Deferred, sp.input)
				return r.runDeferred(ctx, sp, tr, q, d)
			}
		}
	}
	if err := r.loadDeferred(ctx); err != nil { // a step that does not read its input in one query
		return err
	}
	switch tr := sp.tr.(type) {
	case transforms.SQL:
		q := tr.Query()
		if err := r.db.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS %s", engine.Ident(sp.table), q.Text)); err != nil {
			return SQLError(q, err)
		}
		return nil
	case transforms.Batch:
		if pd, ok := tr.(transforms.Pushdown); ok {
			if q, ok := pd.PushdownSQL(engine.Ident(sp.input)); ok {
				return r.runPushdown(ctx, sp, tr, q)
			}
		}
		return r.runGo(ctx, sp, tr)
	}
	return fmt.Errorf("transform %s: unsupported kind %T", sp.st.Type, sp.tr)
}

// runPushdown runs a row transform as the one DuckDB query it states itself as (vectorised, on every core,
// no row crossing into Go). The query is run by itself over all rows, so every row is evaluated: its error()
// guards fail exactly where the row function would. When it fails, the Go path runs instead, to name the row
// and field that fail (or, were the two ever to disagree, to give the row function's result).
func (r *runner) runPushdown(ctx context.Context, sp *step, tr transforms.Batch, q string) error {
	err := r.createAs(ctx, sp, tr, q)
	if err == nil {
		r.out.Pushed = append(r.out.Pushed, Name(sp.st))
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if gerr := r.runBatch(ctx, sp, tr); gerr != nil {
		return gerr
	}
	r.logf("transform %s: the DuckDB form failed (%v); the row function succeeded and was used", Name(sp.st), err)
	return nil
}

// createAs writes the step's table from q, a row transform's query. For the last step with Input.OrderBy,
// when tr's output has every column of it, the table is stored in that order (Output.Ordered): DuckDB
// promises that a CREATE TABLE AS of a sorted query stores the rows in the sort's order while
// preserve_insertion_order is on, so it is turned on for the statement and put back after (the engine runs
// with it off; nothing else runs on the database while a step runs). The rows' values are the query's
// either way, and a failing row fails the sorted query as it fails the plain one (every row is evaluated
// before the sort). At 1M rows under a 256 MiB cap, the sorted statement cost 0.8 cpu s less than the plain
// one and the diff's sorted copy of it together; it spills part of the table it writes, which the apply
// reads back for about half of that (BENCHMARKS.md, #15 first sync).
func (r *runner) createAs(ctx context.Context, sp *step, tr transforms.Batch, q string) error {
	create := fmt.Sprintf("CREATE OR REPLACE TABLE %s AS %s", engine.Ident(sp.table), q)
	if !sp.last || len(r.in.OrderBy) == 0 || !hasFields(tr.Schema(), r.in.OrderBy) {
		return r.db.Exec(ctx, create)
	}
	create = fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT * FROM (%s) ORDER BY %s", engine.Ident(sp.table), q,
		engine.IdentList(r.in.OrderBy, ""))
	err := r.db.WithSetting(ctx, "preserve_insertion_order", "true", func() error { return r.db.Exec(ctx, create) })
	r.out.Ordered = err == nil
	return err
}

// hasFields says whether sch has a field of each name.
func hasFields(sch *arrow.Schema, names []string) bool {
	for _, n := range names {
		if sch == nil || len(sch.FieldIndices(n)) == 0 {
			return false
		}
	}
	return true
}

// readsAll says whether tr's query reads every field of its input: DuckDB's file readers convert only the
// columns a query reads, so a query over a view of files that skips one would not find a malformed value
// in it (loading the files into a table reads them all).
func (r *runner) readsAll(tr transforms.RowPushdown, input string) bool {
	sch := r.in.Schemas[input]
	if sch == nil {
		return false
	}
	reads := map[string]bool{}
	for _, f := range tr.Reads() {
		reads[f] = true
	}
	for _, f := range sch.Fields() {
		if !reads[f.Name] {
			return false
		}
	}
	return true
}

// runDeferred runs a map's pushdown query over a view of its source's files (Input.Deferred), so the files
// are parsed straight into the step's table. When the query fails, the source is loaded as a table (which
// reports what is wrong with the files, as loading it first would have) and the step runs over it as usual.
func (r *runner) runDeferred(ctx context.Context, sp *step, tr transforms.Batch, q string, d DeferredInput) error {
	if err := d.Scanned(ctx); err != nil {
		return err
	}
	err := r.createAs(ctx, sp, tr, q)
	if err == nil {
		n, err := r.db.Count(ctx, "SELECT count(*) FROM "+engine.Ident(sp.table))
		if err != nil {
			return err
		}
		if err := d.Finish(ctx, n); err != nil {
			return err
		}
		r.out.Pushed = append(r.out.Pushed, Name(sp.st))
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := d.Load(ctx); err != nil {
		return err
	}
	return r.runPushdown(ctx, sp, tr, q)
}

// runBatch runs a row transform over its input table with one worker per core. Each worker claims row
// ranges, reads them through its own connection (a DuckDB Arrow reader frees a batch's memory on the next
// Next, so batches are never shared), transforms them with its own Clone, and hands Go-owned output batches
// to DuckDB's Arrow scan, which writes the output table.
func (r *runner) runBatch(parent context.Context, sp *step, tr transforms.Batch) error {
	n, err := r.db.Count(parent, "SELECT count(*) FROM "+engine.Ident(sp.input))
	if err != nil {
		return err
	}
	chunk, cleanup, err := r.chunks(parent, sp)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	out := make(chan arrow.RecordBatch, 4)
	var (
		next     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, int((n+ChunkRows-1)/ChunkRows)))
	for w := 0; w < workers; w++ {
		worker := tr
		if w > 0 {
			worker = tr.Clone()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.batchWorker(ctx, sp, worker, n, chunk, &next, out); err != nil {
				fail(err)
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()

	rr := engine.NewChanReader(ctx, tr.Schema(), out)
	err = r.db.Load(ctx, sp.table, rr)
	cancel()
	drain(out)
	wg.Wait()
	if firstErr != nil && !errors.Is(firstErr, context.Canceled) {
		return firstErr
	}
	if err != nil {
		return err
	}
	return parent.Err()
}

func drain(ch chan arrow.RecordBatch) {
	for b := range ch {
		b.Release()
	}
}

func (r *runner) batchWorker(ctx context.Context, sp *step, tr transforms.Batch, n int64, chunk func(lo, hi int64) string, next *atomic.Int64, out chan<- arrow.RecordBatch) error {
	w, err := r.db.Worker(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	for {
		lo := next.Add(ChunkRows) - ChunkRows
		if lo >= n {
			return nil
		}
		q := chunk(lo, lo+ChunkRows)
		row := lo
		err := w.Query(ctx, q, func(b arrow.RecordBatch) error {
			res, err := tr.Apply(ctx, b)
			if err != nil {
				return r.rowError(sp, b, row, err)
			}
			row += b.NumRows()
			select {
			case out <- res:
				return nil
			case <-ctx.Done():
				res.Release()
				return ctx.Err()
			}
		})
		if err != nil {
			return err
		}
	}
}

// rowNumber is the column chunks numbers the rows of an input that has a column named rowid.
const rowNumber = "__possync_row"

// chunks returns the query of the input's rows numbered lo up to hi (from 0, each row in exactly one range
// of 0..count), for runBatch's workers, and what frees what it made. The rows are numbered by DuckDB's
// rowid (the input is a table its step or source created whole, numbered 0..n-1), unless the input has a
// column named rowid (in any case): DuckDB then reads that column in place of its row number, and a range
// of it would select by the column's values (a source whose rowid values lie outside 0..n-1 lost every such
// row). Such an input is numbered into a copy first, whose rows the ranges select by that number, without
// it.
func (r *runner) chunks(ctx context.Context, sp *step) (func(lo, hi int64) string, func(), error) {
	in := engine.Ident(sp.input)
	sch, err := r.db.SchemaOf(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	if !engine.ShadowsRowid(engine.FieldNames(sch)) {
		return func(lo, hi int64) string {
			return fmt.Sprintf("SELECT * FROM %s WHERE rowid >= %d AND rowid < %d", in, lo, hi)
		}, func() {}, nil
	}
	numbered := engine.Ident(sp.table + "__rows")
	if err := r.db.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT row_number() OVER () - 1 AS %s, * FROM %s",
		numbered, rowNumber, in)); err != nil {
		return nil, nil, fmt.Errorf("transform %s: number the rows of %s: %w", Name(sp.st), sp.input, err)
	}
	return func(lo, hi int64) string {
			return fmt.Sprintf("SELECT * EXCLUDE (%s) FROM %s WHERE %s >= %d AND %s < %d", rowNumber, numbered, rowNumber, lo, rowNumber, hi)
		}, func() {
			_ = r.db.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+numbered)
		}, nil
}

// rowError names the record a transform failed on by its key when the input has the key fields.
func (r *runner) rowError(sp *step, b arrow.RecordBatch, base int64, err error) error {
	var re *transforms.RowError
	if !errors.As(err, &re) {
		return fmt.Errorf("transform %s: %w", Name(sp.st), err)
	}
	rec := record.RowRecord(b, re.Row)
	who := fmt.Sprintf("row %d of %s", base+int64(re.Row)+1, sp.input)
	if hasAll(rec, r.in.Key) {
		who = connectors.FormatKey(r.in.Key, rec)
	}
	return fmt.Errorf("transform %s (%s): %s: %w", Name(sp.st), sp.st.Pos, who, re)
}

// Name is how errors and timings name a step: its name, or its type.
func Name(st *pipelines.Step) string {
	if st.Name != "" {
		return st.Name
	}
	return st.Type
}

// Table is the name of the table the step at index i of the pipeline's steps writes: its name, or
// __step_<i> for an unnamed step. Later steps read it by that name (their input defaults to it).
func Table(i int, st *pipelines.Step) string {
	if st.Name != "" {
		return st.Name
	}
	return fmt.Sprintf("__step_%d", i)
}

func hasAll(r record.Record, keys []string) bool {
	for _, k := range keys {
		if _, ok := r[k]; !ok {
			return false
		}
	}
	return true
}
