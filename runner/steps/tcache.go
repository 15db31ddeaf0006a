package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/tcache"
	"github.com/possync/possync/transforms"
)

// The transform cache (package tcache) for row transforms that run in Go. A cached step runs as:
//
//  1. old: the step's cache file, loaded into a table (none, or unreadable: every row is a miss);
//  2. miss: the input rows whose hash is not in old, with their hash (__h) as a last column;
//  3. the transform over miss, in Go (runBatch through hashedBatch, which hides __h from it and, for a map,
//     gives each output row its input's hash);
//  4. the output table: the misses' output, plus the cached output of every other input row (a filter's:
//     the input rows it kept);
//  5. the new cache file: old's rows whose hash is still an input's, plus the misses' (distinct hashes).
//
// A map's output row is a function of the columns it reads (Reads), so those are hashed; a filter's output
// is its whole input row, so all input columns are, and the rows it kept are told apart from the rows it
// dropped by their hash (the same as their input's: the output has the input's columns and types).
//
// Anything unexpected (a failing row, an output of other types than the input's) runs the step uncached,
// so errors read as they would without the cache.

// Table names a cached step uses while it runs (regular tables: runBatch's workers read miss on their own
// connections); they are dropped when it ends.
const (
	tcOld  = "__tcache_old"
	tcMiss = "__tcache_miss"
	tcOut  = "__tcache_out"
)

// runGo runs a row transform in Go: through its cache when it has one (cacheStep), else over every row.
func (r *runner) runGo(ctx context.Context, sp *step, tr transforms.Batch) error {
	if f, ok := r.cacheStep(sp); ok {
		return r.runCached(ctx, sp, tr, f)
	}
	return r.runBatch(ctx, sp, tr)
}

// cacheStep says whether the step runs through the cache (Input.Cache is set, tcache.Eligible, and no
// input or output column has a name the cache uses, and the file's path is no glob pattern), and with which
// file.
func (r *runner) cacheStep(sp *step) (tcache.File, bool) {
	c := r.in.Cache
	if c == nil || c.Dir == "" {
		return tcache.File{}, false
	}
	if ok, _ := tcache.Eligible(sp.st); !ok {
		return tcache.File{}, false
	}
	index := slices.Index(r.in.Steps, sp.st)
	sch := r.in.Schemas[sp.input]
	if index < 0 || sch == nil || sch.NumFields() == 0 {
		return tcache.File{}, false
	}
	for _, s := range []*arrow.Schema{sch, sp.tr.Schema()} {
		if s.HasField(tcache.HashColumn) || s.HasField(tcache.KeepColumn) {
			return tcache.File{}, false
		}
	}
	fp := tcache.Fingerprint(c.Build, index, sp.st, sch, r.in.Location)
	f := c.File(index, sp.st, fp)
	if strings.ContainsAny(f.Path(), "*?[{") { // read_parquet would take it for a glob pattern
		return tcache.File{}, false
	}
	return f, true
}

// hashKey is the DuckDB expression of a row's cache key over the columns the step reads, prefixed by alias
// (e.g. "i.") or not.
func (r *runner) hashKey(sp *step, alias string) string {
	var cols []string
	if rd, ok := sp.tr.(interface{ Reads() []string }); ok && sp.st.Type == "map" {
		cols = rd.Reads()
	}
	if len(cols) == 0 { // a filter's output is its input row; a map of constants reads nothing
		cols = engine.FieldNames(r.in.Schemas[sp.input])
	}
	return "hash(" + engine.IdentList(cols, alias) + ")"
}

// runCached runs a row transform through its cache file f. It falls back to runBatch over every row when the
// cached run fails for any reason but the context's.
func (r *runner) runCached(ctx context.Context, sp *step, tr transforms.Batch, f tcache.File) error {
	defer r.dropTemp()
	err := r.cachedRun(ctx, sp, tr, f)
	if err == nil || ctx.Err() != nil {
		return err
	}
	var rf rowFailed
	if !errors.As(err, &rf) { // a failing row is named by the run over every row
		r.logf("transform %s: the transform cache was not used (%v)", Name(sp.st), err)
	}
	r.dropTemp()
	return r.runBatch(ctx, sp, tr)
}

// dropTemp drops the tables of a cached run.
func (r *runner) dropTemp() {
	for _, t := range []string{tcOld, tcMiss, tcOut} {
		_ = r.db.Exec(context.Background(), "DROP TABLE IF EXISTS "+engine.Ident(t))
	}
}

// rowFailed is the transform's failure in a cached run: the step is rerun uncached, which names the row
// as an uncached run does.
type rowFailed struct{ error }

func (r *runner) cachedRun(ctx context.Context, sp *step, tr transforms.Batch, f tcache.File) error {
	isMap := sp.st.Type == "map"
	outSch := tr.Schema()
	want := []string{tcache.HashColumn}
	if isMap {
		want = append(want, engine.FieldNames(outSch)...)
	} else {
		want = append(want, tcache.KeepColumn)
	}
	haveOld := r.loadOld(ctx, sp, f, want)
	if !haveOld { // an empty cache of the right columns
		cols := []string{engine.Ident(tcache.HashColumn) + " UBIGINT"}
		if isMap {
			for _, fl := range outSch.Fields() {
				cols = append(cols, engine.Ident(fl.Name)+" "+engine.Type(fl.Type))
			}
		} else {
			cols = append(cols, engine.Ident(tcache.KeepColumn)+" BOOLEAN")
		}
		if err := r.db.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s (%s)", engine.Ident(tcOld), strings.Join(cols, ", "))); err != nil {
			return err
		}
	}
	in, h := engine.Ident(sp.input), engine.Ident(tcache.HashColumn)
	key := r.hashKey(sp, "i.")
	if err := r.db.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT * FROM (SELECT i.*, %s AS %s FROM %s i) ANTI JOIN %s USING (%s)",
		engine.Ident(tcMiss), key, h, in, engine.Ident(tcOld), h)); err != nil {
		return err
	}
	misses, err := r.db.Count(ctx, "SELECT count(*) FROM "+engine.Ident(tcMiss))
	if err != nil {
		return err
	}
	total, err := r.db.Count(ctx, "SELECT count(*) FROM "+in)
	if err != nil {
		return err
	}
	r.logf("transform %s: %d of %d rows ran in Go, the others' output came from the transform cache", Name(sp.st), misses, total)

	// The misses, through the transform in Go.
	hb := newHashedBatch(tr, isMap)
	if err := r.runBatch(ctx, &step{st: sp.st, table: tcOut, input: tcMiss, tr: hb}, hb); err != nil {
		return rowFailed{err}
	}

	// The output table: the misses' output and the cached rows.
	out := engine.Ident(sp.table)
	if isMap {
		names := engine.FieldNames(outSch)
		if err := r.db.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT %s FROM %s", out, engine.IdentList(names, ""), engine.Ident(tcOut))); err != nil {
			return err
		}
		if err := r.db.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT %s FROM (SELECT %s AS %s FROM %s i) JOIN %s c USING (%s)",
			out, engine.IdentList(names, "c."), key, h, in, engine.Ident(tcOld), h)); err != nil {
			return err
		}
	} else {
		if same, err := r.sameTypes(ctx, sp.input, tcOut); err != nil || !same {
			if err == nil {
				err = errors.New("the filter's output types differ from its input's")
			}
			return err
		}
		if err := r.db.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT * FROM %s", out, engine.Ident(tcOut))); err != nil {
			return err
		}
		if err := r.db.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT i.* FROM %s i WHERE %s IN (SELECT %s FROM %s WHERE %s)",
			out, in, key, h, engine.Ident(tcOld), engine.Ident(tcache.KeepColumn))); err != nil {
			return err
		}
	}

	// The new cache file, unless it would hold the same rows as the old one.
	if haveOld && misses == 0 {
		stale, err := r.db.Count(ctx, fmt.Sprintf("SELECT count(*) FROM %s ANTI JOIN (SELECT %s AS %s FROM %s i) USING (%s)",
			engine.Ident(tcOld), key, h, in, h))
		if err != nil {
			return err
		}
		if stale == 0 {
			return nil
		}
	}
	var fresh string
	if isMap {
		fresh = fmt.Sprintf("SELECT DISTINCT ON (%s) %s, %s FROM %s", h, h, engine.IdentList(engine.FieldNames(outSch), ""), engine.Ident(tcOut))
	} else {
		fresh = fmt.Sprintf("SELECT DISTINCT %s, %s IN (SELECT %s FROM %s o) AS %s FROM %s",
			h, h, r.hashKey(sp, "o."), engine.Ident(tcOut), engine.Ident(tcache.KeepColumn), engine.Ident(tcMiss))
	}
	tmp, err := f.Temp()
	if err != nil {
		r.logf("transform %s: %v", Name(sp.st), err)
		return nil
	}
	q := fmt.Sprintf("COPY (SELECT * FROM %s SEMI JOIN (SELECT %s AS %s FROM %s i) USING (%s) UNION ALL %s) TO %s (FORMAT parquet)",
		engine.Ident(tcOld), key, h, in, h, fresh, engine.Lit(tmp))
	if err := r.db.Exec(ctx, q); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.logf("transform %s: the transform cache was not written: %v", Name(sp.st), err)
		return nil
	}
	if err := f.Commit(tmp); err != nil {
		r.logf("transform %s: %v", Name(sp.st), err)
	}
	return nil
}

// loadOld loads the step's cache file into tcOld; false when there is none, or it cannot be read or has
// other columns than want (it is then removed, with a log line).
func (r *runner) loadOld(ctx context.Context, sp *step, f tcache.File, want []string) bool {
	if !f.Exists() {
		return false
	}
	err := r.db.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT * FROM read_parquet(%s, hive_partitioning = false)", engine.Ident(tcOld), engine.Lit(f.Path())))
	if err == nil {
		var sch *arrow.Schema
		if sch, err = r.db.SchemaOf(ctx, engine.Ident(tcOld)); err == nil && strings.Join(engine.FieldNames(sch), "\x00") != strings.Join(want, "\x00") {
			err = fmt.Errorf("columns %s, want %s", strings.Join(engine.FieldNames(sch), ", "), strings.Join(want, ", "))
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			r.logf("transform %s: ignoring the transform cache %s, which cannot be used (%v); every row is transformed", Name(sp.st), f.Path(), err)
			f.Remove()
		}
		_ = r.db.Exec(context.Background(), "DROP TABLE IF EXISTS "+engine.Ident(tcOld))
		return false
	}
	return true
}

// sameTypes says whether two relations have the same column names and DuckDB types, in order.
func (r *runner) sameTypes(ctx context.Context, a, b string) (bool, error) {
	desc := func(rel string) (string, error) {
		rows, err := r.db.Rows(ctx, "SELECT column_name, column_type FROM (DESCRIBE "+engine.Ident(rel)+")")
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var sb strings.Builder
		for rows.Next() {
			var n, t string
			if err := rows.Scan(&n, &t); err != nil {
				return "", err
			}
			sb.WriteString(n + " " + t + "\x00")
		}
		return sb.String(), rows.Err()
	}
	da, err := desc(a)
	if err != nil {
		return false, err
	}
	db, err := desc(b)
	if err != nil {
		return false, err
	}
	return da == db, nil
}

// hashedBatch runs a row transform over batches whose last column is the input row's hash: it hides that
// column from the transform and, for a map (one output row per input row, in order), appends it to the
// output.
type hashedBatch struct {
	tr     transforms.Batch
	isMap  bool
	schema *arrow.Schema
}

func newHashedBatch(tr transforms.Batch, isMap bool) *hashedBatch {
	sch := tr.Schema()
	if isMap {
		fields := append(append([]arrow.Field(nil), sch.Fields()...), arrow.Field{Name: tcache.HashColumn, Type: arrow.PrimitiveTypes.Uint64})
		sch = arrow.NewSchema(fields, nil)
	}
	return &hashedBatch{tr: tr, isMap: isMap, schema: sch}
}

func (b *hashedBatch) Schema() *arrow.Schema { return b.schema }

func (b *hashedBatch) Clone() transforms.Batch {
	return &hashedBatch{tr: b.tr.Clone(), isMap: b.isMap, schema: b.schema}
}

func (b *hashedBatch) Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	n := int(in.NumCols()) - 1
	if n < 0 || in.ColumnName(n) != tcache.HashColumn {
		return nil, errors.New("transform cache: the input batch has no hash column")
	}
	inner := array.NewRecordBatch(arrow.NewSchema(in.Schema().Fields()[:n], nil), in.Columns()[:n], in.NumRows())
	defer inner.Release()
	res, err := b.tr.Apply(ctx, inner)
	if err != nil || !b.isMap {
		return res, err
	}
	defer res.Release()
	if res.NumRows() != in.NumRows() {
		return nil, fmt.Errorf("transform cache: the map gave %d rows for %d", res.NumRows(), in.NumRows())
	}
	cols := append(append([]arrow.Array(nil), res.Columns()...), in.Column(n))
	return array.NewRecordBatch(b.schema, cols, in.NumRows()), nil
}
