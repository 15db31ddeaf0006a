package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
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
//  1. miss: the input rows whose hash is not in the cache files, with their hash (__h) as a last column;
//  2. the transform over miss, in Go (runBatch through hashedBatch, which hides __h from it and, for a map,
//     gives each output row its input's hash), into out;
//  3. fresh: the misses' outputs (distinct hashes; a filter's: whether it kept them);
//  4. the cached output of every other input row is added to out (a filter's: the input rows it kept),
//     then fresh to the cache: to its delta file, or the cache is compacted into a new base of the rows of
//     this input (tcache.Set); out (without __h) becomes the step's table.
//
// A map's output row is a function of the columns it reads (Reads), so those are hashed; a filter's output
// is its whole input row, so all input columns are, and the rows it kept are told apart from the rows it
// dropped by their hash (the same as their input's: the output has the input's columns and types).
//
// A failing row runs the step again uncached, so that the error reads as it would without the cache;
// anything else unexpected (an unreadable cache file) also does, and removes the cache.

// Table names a cached step uses while it runs (regular tables: runBatch's workers read miss on their own
// connections); they are dropped when it ends.
const (
	tcMiss  = "__tcache_miss"
	tcOut   = "__tcache_out"
	tcFresh = "__tcache_fresh"
)

// compactDelta and compactStale say when a run compacts the cache: when its delta would hold more than
// 1/compactDelta of its base's rows, or more than 1/compactStale of the cached rows are no longer inputs.
const (
	compactDelta = 5
	compactStale = 2
)

// runGo runs a row transform in Go: through its cache when it has one (cacheStep), else over every row.
func (r *runner) runGo(ctx context.Context, sp *step, tr transforms.Batch) error {
	if set, ok := r.cacheStep(sp); ok {
		return r.runCached(ctx, sp, tr, set)
	}
	return r.runBatch(ctx, sp, tr)
}

// cacheStep says whether the step runs through the cache (Input.Cache is set, tcache.Eligible, no input or
// output column has a name the cache uses, and the folder's path is no glob pattern), and with which files.
func (r *runner) cacheStep(sp *step) (tcache.Set, bool) {
	c := r.in.Cache
	if c == nil || c.Dir == "" || strings.ContainsAny(c.Dir, "*?[{") { // read_parquet would expand a pattern
		return tcache.Set{}, false
	}
	if ok, _ := tcache.Eligible(sp.st); !ok {
		return tcache.Set{}, false
	}
	index := slices.Index(r.in.Steps, sp.st)
	sch := r.in.Schemas[sp.input]
	if index < 0 || sch == nil || sch.NumFields() == 0 {
		return tcache.Set{}, false
	}
	for _, s := range []*arrow.Schema{sch, sp.tr.Schema()} {
		if s.HasField(tcache.HashColumn) || s.HasField(tcache.KeepColumn) {
			return tcache.Set{}, false
		}
	}
	return c.Set(index, sp.st, tcache.Fingerprint(c.Build, index, sp.st, sch, r.in.Location)), true
}

// hashKey is the DuckDB expression of a row's cache key over the columns the step reads, prefixed by alias
// (e.g. "i.") or not: the fields a transforms.RowPushdown reads (its one output row per input row is a
// function of them: a map), else every input column (a filter's output is its input row; any other
// transform says nothing about what it reads).
func (r *runner) hashKey(sp *step, alias string) string {
	var cols []string
	if rp, ok := sp.tr.(transforms.RowPushdown); ok {
		cols = rp.Reads()
	}
	if len(cols) == 0 { // a map of constants reads nothing
		cols = engine.FieldNames(r.in.Schemas[sp.input])
	}
	return "hash(" + engine.IdentList(cols, alias) + ")"
}

// runCached runs a row transform through its cache. It falls back to runBatch over every row when the
// cached run fails for any reason but the context's.
func (r *runner) runCached(ctx context.Context, sp *step, tr transforms.Batch, set tcache.Set) error {
	defer r.dropTemp()
	err := r.cachedRun(ctx, sp, tr, set)
	if err == nil || ctx.Err() != nil {
		return err
	}
	var rf rowFailed
	if !errors.As(err, &rf) { // a failing row is named by the run over every row
		r.logf("transform %s: the transform cache was not used and is removed (%v); every row is transformed", Name(sp.st), err)
		set.Remove()
	}
	r.dropTemp()
	return r.runBatch(ctx, sp, tr)
}

// dropTemp drops the tables of a cached run.
func (r *runner) dropTemp() {
	for _, t := range []string{tcMiss, tcOut, tcFresh} {
		_ = r.db.Exec(context.Background(), "DROP TABLE IF EXISTS "+engine.Ident(t))
	}
}

// rowFailed is the transform's failure in a cached run: the step is rerun uncached, which names the row
// as an uncached run does.
type rowFailed struct{ error }

func (r *runner) cachedRun(ctx context.Context, sp *step, tr transforms.Batch, set tcache.Set) error {
	isMap := sp.st.Type == "map"
	outSch := tr.Schema()
	names := engine.FieldNames(outSch)
	want := []string{tcache.HashColumn}
	if isMap {
		want = append(want, names...)
	} else {
		want = append(want, tcache.KeepColumn)
	}
	in, h, out, miss := engine.Ident(sp.input), engine.Ident(tcache.HashColumn), engine.Ident(tcOut), engine.Ident(tcMiss)
	key := r.hashKey(sp, "i.")
	cached := r.cacheSource(ctx, sp, &set, want) // "" without a (usable) cache

	// 1-2. The misses, through the transform in Go.
	q := fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT i.*, %s AS %s FROM %s i", miss, key, h, in)
	if cached != "" {
		q = fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT * FROM (SELECT i.*, %s AS %s FROM %s i) ANTI JOIN (SELECT %s FROM %s) USING (%s)",
			miss, key, h, in, h, cached, h)
	}
	if err := r.db.Exec(ctx, q); err != nil {
		return err
	}
	misses, err := r.db.Count(ctx, "SELECT count(*) FROM "+miss)
	if err != nil {
		return err
	}
	total, err := r.db.Count(ctx, "SELECT count(*) FROM "+in)
	if err != nil {
		return err
	}
	r.logf("transform %s: %d of %d rows ran in Go, the others' output came from the transform cache", Name(sp.st), misses, total)
	hb := newHashedBatch(tr, isMap)
	if err := r.runBatch(ctx, &step{st: sp.st, table: tcOut, input: tcMiss, tr: hb}, hb); err != nil {
		return rowFailed{err}
	}
	if !isMap {
		if same, err := r.sameTypes(ctx, sp.input, tcOut); err != nil || !same {
			if err == nil {
				err = errors.New("the filter's output types differ from its input's")
			}
			return err
		}
	}

	// 3. What the transform computed, for the cache (written once out has every row, since rewriting the
	// cache files changes what cached reads). A map's rows of equal hashes (equal input rows) are kept once;
	// finding them by the hash alone first is cheaper than a DISTINCT ON over every output column.
	cols := engine.IdentList(names, "")
	fresh := fmt.Sprintf("SELECT %s, %s FROM %s ANTI JOIN (SELECT %s FROM %s GROUP BY %s HAVING count(*) > 1) USING (%s) "+
		"UNION ALL SELECT DISTINCT ON (%s) %s, %s FROM %s SEMI JOIN (SELECT %s FROM %s GROUP BY %s HAVING count(*) > 1) USING (%s)",
		h, cols, out, h, out, h, h, h, h, cols, out, h, out, h, h)
	if !isMap {
		fresh = fmt.Sprintf("SELECT DISTINCT %s, %s IN (SELECT %s FROM %s o) AS %s FROM %s",
			h, h, r.hashKey(sp, "o."), out, engine.Ident(tcache.KeepColumn), miss)
	}
	if cached != "" { // out is about to take the cached rows
		if err := r.db.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS %s", engine.Ident(tcFresh), fresh)); err != nil {
			return err
		}
		fresh = "SELECT * FROM " + engine.Ident(tcFresh)
	}

	// 4. The cached rows.
	if cached != "" {
		q := fmt.Sprintf("INSERT INTO %s (%s, %s) SELECT %s, %s FROM (SELECT %s AS %s FROM %s i) JOIN %s c USING (%s)",
			out, engine.IdentList(names, ""), h, engine.IdentList(names, "c."), h, key, h, in, cached, h)
		if !isMap {
			q = fmt.Sprintf("INSERT INTO %s SELECT i.* FROM %s i WHERE %s IN (SELECT %s FROM %s WHERE %s)",
				out, in, key, h, cached, engine.Ident(tcache.KeepColumn))
		}
		if err := r.db.Exec(ctx, q); err != nil {
			return err
		}
	}
	if err := r.writeCache(ctx, sp, set, cached, fresh, misses, total); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.logf("transform %s: the transform cache was not written: %v", Name(sp.st), err)
	}

	// 5. out becomes the step's table.
	if isMap {
		if err := r.db.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", out, h)); err != nil {
			return err
		}
	}
	if err := r.db.Exec(ctx, "DROP TABLE IF EXISTS "+engine.Ident(sp.table)); err != nil {
		return err
	}
	return r.db.Exec(ctx, fmt.Sprintf("ALTER TABLE %s RENAME TO %s", out, engine.Ident(sp.table)))
}

// cacheSource returns the FROM expression reading the step's cache files, after checking they can be read
// and have the columns want; "" when there are none or they cannot be used (they are then removed, with a
// log line).
func (r *runner) cacheSource(ctx context.Context, sp *step, set *tcache.Set, want []string) string {
	files := set.Files()
	if len(files) == 0 {
		return ""
	}
	lits := make([]string, len(files))
	for i, f := range files {
		lits[i] = engine.Lit(f)
	}
	src := "read_parquet([" + strings.Join(lits, ", ") + "], hive_partitioning = false)"
	sch, err := r.db.SchemaOf(ctx, src)
	if err == nil {
		got := engine.FieldNames(sch)
		if !slices.Equal(got, want) || !arrow.TypeEqual(sch.Field(0).Type, arrow.PrimitiveTypes.Uint64) {
			err = fmt.Errorf("columns %s, want %s", strings.Join(got, ", "), strings.Join(want, ", "))
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			r.logf("transform %s: ignoring the transform cache in %s, which cannot be used (%v); every row is transformed", Name(sp.st), set.Dir(), err)
			set.Remove()
		}
		*set = set.Emptied()
		return ""
	}
	return src
}

// writeCache adds the misses' outputs (the query fresh) to the cache: to the delta file, or into a new base that holds the
// input's rows only (when there is no base, or compactDelta or compactStale says so). A run with no misses
// and little stale writes nothing.
func (r *runner) writeCache(ctx context.Context, sp *step, set tcache.Set, cached, fresh string, misses, total int64) error {
	h := engine.Ident(tcache.HashColumn)
	count := func(f string) (int64, error) {
		if f == "" {
			return 0, nil
		}
		return r.db.Count(ctx, fmt.Sprintf("SELECT count(*) FROM read_parquet(%s, hive_partitioning = false)", engine.Lit(f)))
	}
	base, err := count(set.Base)
	if err != nil {
		return err
	}
	delta, err := count(set.Delta)
	if err != nil {
		return err
	}
	stale := base + delta - (total - misses) // about: duplicate input rows share a cached row
	compact := cached == "" || (delta+misses)*compactDelta > base || stale*compactStale > base+delta
	if !compact && misses == 0 {
		return nil
	}
	tmp, err := set.Temp()
	if err != nil {
		return err
	}
	var q string
	switch {
	case compact && cached != "":
		q = fmt.Sprintf("SELECT * FROM %s SEMI JOIN (SELECT %s AS %s FROM %s i) USING (%s) UNION ALL %s",
			cached, r.hashKey(sp, "i."), h, engine.Ident(sp.input), h, fresh)
	case !compact && set.Delta != "":
		q = fmt.Sprintf("SELECT * FROM read_parquet(%s, hive_partitioning = false) UNION ALL %s", engine.Lit(set.Delta), fresh)
	default:
		q = fresh
	}
	if err := r.db.Exec(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet)", q, engine.Lit(tmp))); err != nil {
		os.Remove(tmp)
		return err
	}
	if compact {
		return set.CommitBase(tmp)
	}
	return set.CommitDelta(tmp)
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
