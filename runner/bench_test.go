package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	_ "github.com/possync/possync/connectors/all"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/internal/proctime"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
	_ "github.com/possync/possync/transforms/all"
)

// The plan benchmark: seed the state with old.csv's mapped records, then time `plan` of new.csv (file source
// → map → file sink) stage by stage, and compare it with the DuckDB-only floor: one hand-written DuckDB query
// doing the same job. Run it with `make bench` (BENCH_SIZES=100000,1000000 by default):
//
//	BENCH_SIZES=100000,1000000 go test -tags duckdb_arrow -run '^$' -bench '^BenchmarkPlan$' -benchtime 1x ./runner

// benchMapping is the benchmark's map step, field by field: the possync expression, and the same value in
// DuckDB SQL for the floor query. The key (sku) passes through unchanged.
var benchMapping = []struct{ name, expr, sql string }{
	{"upc", `upc`, `upc`},
	{"title", `trim(name) + " | " + brand`, `trim(name) || ' | ' || brand`},
	{"brand", `upper(brand)`, `upper(brand)`},
	{"department", `split(category, " > ")[0]`, `split_part(category, ' > ', 1)`},
	{"price", `price`, `price`},
	{"effective_price", `sale_price != nil && sale_price < price ? sale_price : price`,
		`CASE WHEN sale_price IS NOT NULL AND sale_price < price THEN sale_price ELSE price END`},
	{"qty", `qty`, `qty`},
	{"availability", `!active ? "discontinued" : (qty > 0 ? "in_stock" : "out_of_stock")`,
		`CASE WHEN NOT active THEN 'discontinued' WHEN qty > 0 THEN 'in_stock' ELSE 'out_of_stock' END`},
	{"online", `active && channel_online`, `active AND channel_online`},
	{"updated_at", `updated_at`, `updated_at`},
}

// benchPipeline loads the benchmark's pipeline over the CSV file csvPath, with its state under stateDir.
func benchPipeline(work, csvPath, stateDir string) (*pipelines.Pipeline, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nname: bench-catalog\nmerchant: bench\nkey: sku\n")
	fmt.Fprintf(&b, "source:\n  type: file\n  path: %s\n  columns:\n", benchYAMLQuote(csvPath))
	for _, c := range benchColumns {
		fmt.Fprintf(&b, "    - {name: %s, type: %s}\n", c.name, c.typ)
	}
	fmt.Fprintf(&b, "transforms:\n  - type: map\n    name: products\n    fields:\n      sku: sku\n")
	for _, m := range benchMapping {
		fmt.Fprintf(&b, "      %s: %s\n", m.name, benchYAMLQuote(m.expr))
	}
	fmt.Fprintf(&b, "sink:\n  type: file\n  path: out/products.csv\n")
	fmt.Fprintf(&b, "state:\n  dir: %s\n", benchYAMLQuote(stateDir))
	if ml := os.Getenv("BENCH_MEMORY_LIMIT"); ml != "" { // e.g. 256MB: the plan must then spill, not die
		fmt.Fprintf(&b, "  memory_limit: %s\n", benchYAMLQuote(ml))
	}
	noEnv := func(string) (string, bool) { return "", false }
	p, diags := pipelines.Parse(filepath.Join(work, "bench.yaml"), []byte(b.String()), pipelines.Options{LookupEnv: noEnv})
	if diags.HasErrors() {
		return nil, fmt.Errorf("benchmark pipeline: %w", diags.Err())
	}
	return p, nil
}

// benchYAMLQuote writes s as a single-quoted YAML scalar.
func benchYAMLQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// benchSeed makes the state hold p's desired records as applied, without sending a million creates through
// a sink: it stages and transforms p's source, commits the desired table as one snapshot, and writes the
// sink's records file from it, as the apply that made that state would have.
func benchSeed(ctx context.Context, p *pipelines.Pipeline) error {
	s := newSession(p, Options{})
	defer s.close()
	unlock, err := s.store.Lock(state.Holder{PID: os.Getpid(), RunID: "seed", StartedAt: time.Now()}) // a shared store commits only under its lock
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer unlock()
	if err := s.prepare(ctx, false); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	c := &state.Commit{RunID: "seed", Key: p.Key,
		Changes: fmt.Sprintf("(SELECT 'create' AS __op, * FROM %s)", engine.Ident(s.desired))}
	for _, f := range engine.Canonical(s.schemas[s.desired]).Fields() {
		c.Columns = append(c.Columns, state.Column{Name: f.Name, Type: engine.Type(f.Type)})
	}
	meta, err := s.store.Commit(ctx, s.d.Conn(), c)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	n, err := s.d.Count(ctx, "SELECT count(*) FROM "+engine.Ident(s.desired))
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if meta.Records != n {
		return fmt.Errorf("seed: the snapshot holds %d records, want %d", meta.Records, n)
	}
	s.meta = meta
	if err := s.export(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
}

// benchCounts are changes per action.
type benchCounts struct{ create, update, delete int }

// benchFloorQuery is the floor: one DuckDB query that reads new.csv (column types pinned as the file source
// pins them), computes the mapped fields in SQL, and diffs them against the state's snapshot with the
// diff-cols shape of the team's DuckDB measurements (perf notes, diff_queries.sql): one FULL OUTER JOIN on
// the key, OR-ed IS DISTINCT FROM, a changed-field bitmask and the new values.
func benchFloorQuery(csvPath string) string {
	cols := make([]string, len(benchColumns))
	for i, c := range benchColumns {
		cols[i] = fmt.Sprintf("%s: %s", engine.Lit(c.name), engine.Lit(benchDuckType(c.typ)))
	}
	sel := []string{"sku"}
	var mask, changed, after []string
	for i, m := range benchMapping {
		sel = append(sel, fmt.Sprintf("%s AS %s", m.sql, engine.Ident(m.name)))
		d := fmt.Sprintf("o.%s IS DISTINCT FROM n.%s", engine.Ident(m.name), engine.Ident(m.name))
		mask = append(mask, fmt.Sprintf("(CASE WHEN %s THEN %d ELSE 0 END)", d, 1<<i))
		changed = append(changed, d)
		after = append(after, "n."+engine.Ident(m.name))
	}
	return fmt.Sprintf(`SELECT CASE WHEN o.sku IS NULL THEN 'I' WHEN n.sku IS NULL THEN 'D' ELSE 'U' END AS op,
 coalesce(n.sku, o.sku) AS sku,
 CASE WHEN o.sku IS NOT NULL AND n.sku IS NOT NULL THEN %s END AS changed_mask, %s
FROM st.snapshot o FULL OUTER JOIN (
 SELECT %s FROM read_csv(%s, header = true, delim = ',', quote = '"', escape = '"', nullstr = '', columns = {%s})
) n ON o.sku = n.sku
WHERE o.sku IS NULL OR n.sku IS NULL OR %s`,
		strings.Join(mask, " + "), strings.Join(after, ", "), strings.Join(sel, ", "), engine.Lit(csvPath),
		strings.Join(cols, ", "), strings.Join(changed, " OR "))
}

// benchDuckType is the DuckDB type the file source reads a possync field type as.
func benchDuckType(typ string) string {
	return map[string]string{"string": "VARCHAR", "float": "DOUBLE", "int": "BIGINT", "bool": "BOOLEAN",
		"timestamp": "TIMESTAMPTZ"}[typ]
}

// benchFloor runs the floor query in a fresh DuckDB (the planner's settings) with the state file attached
// read-only, consuming the result through the Arrow interface. The time runs from the query to the last batch.
func benchFloor(ctx context.Context, stateFile, csvPath, tmp string) (benchCounts, time.Duration, string, error) {
	var counts benchCounts
	// The floor is DuckDB alone at its own memory default (80% of RAM), as it was measured before the
	// runner's default cap (engine.DefaultMemoryLimit): at 256 MiB this one-query FULL OUTER JOIN of 1M rows
	// runs out of memory, which the planner's staged diff does not.
	d, err := openEngine(ctx, pipelines.State{Dir: tmp, MemoryLimit: engine.DuckDBDefaultMemoryLimit()})
	if err != nil {
		return counts, 0, "", err
	}
	defer d.Close()
	var version string
	if err := d.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return counts, 0, "", err
	}
	if err := d.Exec(ctx, "ATTACH "+engine.Lit(stateFile)+" AS st (READ_ONLY)"); err != nil {
		return counts, 0, "", err
	}
	t0 := time.Now()
	err = d.Query(ctx, benchFloorQuery(csvPath), func(b arrow.RecordBatch) error {
		ops, ok := b.Column(0).(interface{ Value(int) string })
		if !ok {
			return fmt.Errorf("floor: op column is %s", b.Column(0).DataType())
		}
		for i := 0; i < int(b.NumRows()); i++ {
			switch ops.Value(i) {
			case "I":
				counts.create++
			case "U":
				counts.update++
			case "D":
				counts.delete++
			}
		}
		return nil
	})
	return counts, time.Since(t0), version, err
}

// benchResult is one measured plan.
type benchResult struct {
	set  benchSet
	work string
	// p is the pipeline over the new rows.
	p        *pipelines.Pipeline
	seed     time.Duration
	stages   []Stage
	planWall time.Duration
	// planCPU and floorCPU are the processor time (user + system, DuckDB's threads included) of the plan with
	// its write and of the floor query: on a shared machine they move far less than the wall times.
	planCPU, floorCPU float64
	// peak is the process's peak RSS during the plan (all stages and the time between them), in bytes.
	peak       int64
	write      Stage
	summary    plan.Summary
	floor      time.Duration
	floorPeak  int64
	floorCount benchCounts
	duckdb     string
}

// total is the plan's wall time including writing the plan document (what `possync plan --out` costs).
func (r *benchResult) total() time.Duration {
	return r.planWall + time.Duration(r.write.Seconds*float64(time.Second))
}

// benchRun measures one plan of set's new rows against a state seeded with its old rows, under work.
func benchRun(ctx context.Context, set benchSet, work string) (*benchResult, error) {
	r, err := newBenchCase(ctx, set, work)
	if err != nil {
		return nil, err
	}
	if err := r.runPlan(ctx); err != nil {
		return nil, err
	}
	if err := r.runFloor(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// newBenchCase loads the benchmark's pipelines under work and seeds their state with set's old rows.
func newBenchCase(ctx context.Context, set benchSet, work string) (*benchResult, error) {
	r := &benchResult{set: set, work: work}
	stateDir := filepath.Join(work, "state")
	pOld, err := benchPipeline(work, set.Old(), stateDir)
	if err != nil {
		return nil, err
	}
	if r.p, err = benchPipeline(work, set.New(), stateDir); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := benchSeed(ctx, pOld); err != nil {
		return nil, err
	}
	r.seed = time.Since(t0)
	return r, nil
}

// runPlan times the plan of the new rows, stage by stage, and writing the plan document.
func (r *benchResult) runPlan(ctx context.Context) error {
	benchQuiesce()
	t0, c0 := time.Now(), proctime.Seconds()
	defer func() { r.planCPU = proctime.Seconds() - c0 }()
	pl, err := Plan(ctx, r.p, Options{Stats: &r.stages})
	r.planWall = time.Since(t0)
	r.peak = stagesPeak(r.stages)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	r.summary = pl.Summary

	resetPeakRSS()
	t0, c1 := time.Now(), proctime.Seconds()
	if err := plan.Write(filepath.Join(r.work, "plan.json"), pl); err != nil {
		return err
	}
	r.write = Stage{Name: "plan write", Seconds: time.Since(t0).Seconds(), PeakRSS: peakRSS(), CPU: proctime.Seconds() - c1}
	r.peak = max(r.peak, r.write.PeakRSS)
	return nil
}

// runFloor times the floor query against the seeded state.
func (r *benchResult) runFloor(ctx context.Context) error {
	benchQuiesce()
	stateFile := state.NewDuckStore(r.p.State.Dir, r.p.Name).Path()
	var err error
	c0 := proctime.Seconds()
	r.floorCount, r.floor, r.duckdb, err = benchFloor(ctx, stateFile, r.set.New(), filepath.Join(r.work, "floor"))
	r.floorCPU = proctime.Seconds() - c0
	r.floorPeak = peakRSS()
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	return nil
}

// benchQuiesce returns the Go heap's free memory to the OS and resets the peak-RSS mark, so that what an
// earlier phase left behind does not count towards the next one.
func benchQuiesce() {
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
}

// check compares the plan and the floor with the generator's ground truth. Every updated row changes
// updated_at, a mapped field, so each one is an update of the mapped records too.
func (r *benchResult) check() error {
	t, s, f := r.set.Truth, r.summary, r.floorCount
	var errs []error
	if s.Create != t.Inserted || s.Delete != t.Deleted || s.Update != t.Updated || s.Deactivate != 0 {
		errs = append(errs, fmt.Errorf("plan: %d create, %d update, %d deactivate, %d delete; the generator inserted %d, updated %d, deleted %d",
			s.Create, s.Update, s.Deactivate, s.Delete, t.Inserted, t.Updated, t.Deleted))
	}
	if want := int64(t.Rows - t.Deleted - t.Updated); s.Unchanged != want {
		errs = append(errs, fmt.Errorf("plan: %d unchanged, want %d", s.Unchanged, want))
	}
	if f.create != s.Create || f.update != s.Update || f.delete != s.Delete {
		errs = append(errs, fmt.Errorf("floor query: %d create, %d update, %d delete; the plan has %d, %d, %d",
			f.create, f.update, f.delete, s.Create, s.Update, s.Delete))
	}
	return errors.Join(errs...)
}

// print writes the result as a table.
func (r *benchResult) print(w io.Writer) {
	n := float64(r.set.Truth.Rows)
	mib := func(b int64) string {
		if b == 0 {
			return "-"
		}
		return strconv.FormatInt(b>>20, 10)
	}
	row := func(name string, secs, cpu float64, peak string) {
		fmt.Fprintf(w, "  %-28s %9.3f %9.3f %13s %12s\n", name, secs, cpu, benchGroup(int64(n/secs)), peak)
	}
	t := r.set.Truth
	fmt.Fprintf(w, "\npossync plan: %s rows (new.csv %.1f MB, %.1f bytes/row) | %s | DuckDB %s | %d CPUs\n",
		benchGroup(int64(t.Rows)), float64(t.NewBytes)/1e6, float64(t.NewBytes)/float64(t.NewRows), runtime.Version(), r.duckdb, runtime.NumCPU())
	fmt.Fprintf(w, "  (state seeded with old.csv's mapped records in %.2f s, not timed)\n\n", r.seed.Seconds())
	fmt.Fprintf(w, "  %-28s %9s %9s %13s %12s\n", "stage", "seconds", "cpu s", "records/s", "peak RSS MiB")
	for _, st := range r.stages {
		row(st.Name, st.Seconds, st.CPU, mib(st.PeakRSS))
	}
	row(r.write.Name, r.write.Seconds, r.write.CPU, mib(r.write.PeakRSS))
	row("total (plan + write)", r.total().Seconds(), r.planCPU, mib(r.peak))
	s := r.summary
	fmt.Fprintf(w, "\n  changes: %d create (generator: %d), %d update (%d), %d delete (%d), %d unchanged\n",
		s.Create, t.Inserted, s.Update, t.Updated, s.Delete, t.Deleted, s.Unchanged)
	fmt.Fprintf(w, "  process peak RSS during the plan: %s MiB\n", mib(r.peak))
	fmt.Fprintf(w, "  DuckDB-only floor (one query: read_csv new.csv + the map in SQL + diff-cols against the snapshot, Arrow): %.3f s, %.3f cpu s, peak RSS %s MiB\n",
		r.floor.Seconds(), r.floorCPU, mib(r.floorPeak))
	fmt.Fprintf(w, "  possync / floor: %.2fx (total) | %.2fx (plan alone) | %.2fx (processor time)\n",
		r.total().Seconds()/r.floor.Seconds(), r.planWall.Seconds()/r.floor.Seconds(), r.planCPU/r.floorCPU)
}

// benchGroup formats n with thousands separators.
func benchGroup(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// benchSizes parses BENCH_SIZES ("100000,1000000"); empty means 100000.
func benchSizes(env string) ([]int, error) {
	if strings.TrimSpace(env) == "" {
		return []int{100_000}, nil
	}
	var out []int
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(f), "_", ""))
		if err != nil || n < 1000 {
			return nil, fmt.Errorf("BENCH_SIZES: %q is not a row count of at least 1000", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// BenchmarkPlan times `plan` of a catalog of BENCH_SIZES rows (see the top of this file), printing a table
// per size to stdout. Run it with -benchtime 1x: each iteration seeds a fresh state first.
func BenchmarkPlan(b *testing.B) {
	benchEachSize(b, func(b *testing.B, n int, set benchSet) {
		var res *benchResult
		var err error
		for i := 0; i < b.N; i++ {
			// The timer covers the plan and its write; seeding and the floor query run outside it.
			if res, err = newBenchCase(b.Context(), set, b.TempDir()); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			err = res.runPlan(b.Context())
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if err := res.runFloor(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		res.print(os.Stdout)
		if err := res.check(); err != nil {
			b.Error(err)
		}
		b.ReportMetric(float64(n)/res.total().Seconds(), "records/s")
		b.ReportMetric(res.total().Seconds()/res.floor.Seconds(), "x-floor")
		b.ReportMetric(res.planCPU/res.floorCPU, "x-floor-cpu")
		b.ReportMetric(float64(res.peak>>20), "peak-MiB")
	})
}

// benchEachSize runs bench once per BENCH_SIZES size, with the timer stopped and that size's data generated
// (or reused from the cache).
func benchEachSize(b *testing.B, bench func(b *testing.B, n int, set benchSet)) {
	sizes, err := benchSizes(os.Getenv("BENCH_SIZES"))
	if err != nil {
		b.Fatal(err)
	}
	root, err := benchDataDir()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			b.StopTimer()
			set, err := benchData(root, n)
			if err != nil {
				b.Fatal(err)
			}
			bench(b, n, set)
		})
	}
}

// stagesPeak is the largest of the process's current peak RSS and the stages' peaks.
func stagesPeak(stages []Stage) int64 {
	peak := peakRSS()
	for _, st := range stages {
		peak = max(peak, st.PeakRSS)
	}
	return peak
}

// TestBenchHarness runs the benchmark's whole path on a small catalog: the plan must find exactly the
// generator's changes, and the floor query the same ones.
func TestBenchHarness(t *testing.T) {
	set, err := benchData(t.TempDir(), 4000)
	if err != nil {
		t.Fatal(err)
	}
	if set.Truth.Inserted == 0 || set.Truth.Deleted == 0 || set.Truth.Updated == 0 {
		t.Fatalf("the generator changed too little to test: %+v", set.Truth)
	}
	res, err := benchRun(t.Context(), set, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := res.check(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res.print(&out)
	for _, want := range []string{"read source", "transform products", "diff", "plan write", "possync / floor"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestBenchGenerator checks the data set's shape: deterministic, unique keys, the documented change rates
// and row size, and names that need CSV quoting.
func TestBenchGenerator(t *testing.T) {
	const n = 20000
	a, err := benchData(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	b, err := benchData(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(benchSet) string{benchSet.Old, benchSet.New} {
		x, _ := os.ReadFile(f(a))
		y, _ := os.ReadFile(f(b))
		if !bytes.Equal(x, y) {
			t.Fatalf("%s: two generations differ", filepath.Base(f(a)))
		}
	}
	tr := a.Truth
	rate := func(k int) float64 { return float64(k) / n }
	if r := rate(tr.Updated); r < 0.015 || r > 0.025 {
		t.Errorf("updated %.3f of rows, want about 0.02", r)
	}
	if r := rate(tr.Deleted); r < 0.003 || r > 0.007 {
		t.Errorf("deleted %.3f of rows, want about 0.005", r)
	}
	if r := rate(tr.Inserted); r < 0.003 || r > 0.007 {
		t.Errorf("inserted %.3f of rows, want about 0.005", r)
	}
	if bpr := float64(tr.OldBytes) / n; bpr < 135 || bpr > 160 {
		t.Errorf("%.1f bytes per row, want about 147", bpr)
	}
	oldRows := benchReadCSV(t, a.Old())
	newRows := benchReadCSV(t, a.New())
	if len(oldRows) != n || len(newRows) != tr.NewRows {
		t.Fatalf("old.csv has %d rows, new.csv %d; want %d and %d", len(oldRows), len(newRows), n, tr.NewRows)
	}
	old := map[string][]string{}
	quoted := 0
	for _, r := range oldRows {
		if _, dup := old[r[0]]; dup {
			t.Fatalf("sku %s appears twice", r[0])
		}
		old[r[0]] = r
		if strings.ContainsAny(r[2], `,"`) {
			quoted++
		}
	}
	if r := rate(quoted); r < 0.08 || r > 0.18 {
		t.Errorf("%.3f of names need CSV quoting, want about 0.13", r)
	}
	var ins, upd int
	for _, r := range newRows {
		o, ok := old[r[0]]
		switch {
		case !ok:
			ins++
		case strings.Join(o, "\x00") != strings.Join(r, "\x00"):
			upd++
			if o[10] == r[10] {
				t.Errorf("sku %s changed without a new updated_at", r[0])
			}
		}
	}
	if ins != tr.Inserted || upd != tr.Updated || n+ins-len(newRows) != tr.Deleted {
		t.Errorf("files show %d inserted, %d updated, %d deleted; truth says %+v", ins, upd, n+ins-len(newRows), tr)
	}
}

func benchReadCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(bufio.NewReader(f)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows[1:]
}

// BenchmarkCycle times the full cycle of the large-catalogs issue at BENCH_SIZES: plan + apply of the new
// catalog's changes to the file sink (change log, records file, state update), then a no-change rerun.
func BenchmarkCycle(b *testing.B) {
	benchEachSize(b, func(b *testing.B, n int, set benchSet) {
		r, err := newBenchCase(b.Context(), set, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		rep, stages, cycle, cyclePeak := benchApply(b, r.p, true)
		rep2, _, rerun, rerunPeak := benchApply(b, r.p, false)
		fmt.Printf("\npossync apply (full cycle): %s rows, %d changes applied\n", benchGroup(int64(n)), rep.Applied.Total())
		printStages(stages, cycle, cyclePeak)
		fmt.Printf("  no-change rerun (apply):   %9.3f %12d   (%d changes)\n", rerun.Seconds(), rerunPeak>>20, rep2.Planned.Total())
		if rep.Applied.Total() != set.Truth.Inserted+set.Truth.Updated+set.Truth.Deleted || rep2.Planned.Total() != 0 {
			b.Errorf("applied %d changes (want %d), rerun planned %d (want 0)", rep.Applied.Total(),
				set.Truth.Inserted+set.Truth.Updated+set.Truth.Deleted, rep2.Planned.Total())
		}
		benchCycleWall[n] = cycle // for the ratios BenchmarkFirstSync prints (bench_sync_test.go)
		b.ReportMetric(cycle.Seconds(), "cycle-s")
		b.ReportMetric(rerun.Seconds(), "rerun-s")
	})
}

// benchApply runs one Apply of p and returns its report, stages, wall time and peak RSS; with timed, the
// benchmark's timer (ns/op) counts it.
func benchApply(b *testing.B, p *pipelines.Pipeline, timed bool) (*Report, []Stage, time.Duration, int64) {
	b.Helper()
	benchQuiesce()
	var stages []Stage
	if timed {
		b.StartTimer()
	}
	t0 := time.Now()
	rep, err := Apply(b.Context(), p, Options{Stats: &stages}, nil)
	wall := time.Since(t0)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	return rep, stages, wall, stagesPeak(stages)
}

// printStages prints an apply's stages and its total, with the processor time of each (the process's
// user + system seconds, DuckDB's threads included: steadier than the wall time on a shared machine).
func printStages(stages []Stage, wall time.Duration, peak int64) {
	fmt.Printf("  %-26s %9s %9s %12s\n", "stage", "seconds", "cpu s", "peak RSS MiB")
	for _, st := range stages {
		fmt.Printf("  %-26s %9.3f %9.3f %12d\n", st.Name, st.Seconds, st.CPU, st.PeakRSS>>20)
	}
	fmt.Printf("  %-26s %9.3f %9s %12d\n", "total (wall)", wall.Seconds(), "", peak>>20)
}

// BenchmarkFirstSync times the first apply of the catalog into an empty state (every record a create, sent
// to the file sink) and reports its peak RSS: the one run whose changes are the whole catalog.
func BenchmarkFirstSync(b *testing.B) {
	benchEachSize(b, func(b *testing.B, n int, set benchSet) {
		work := b.TempDir()
		p, err := benchPipeline(work, set.New(), filepath.Join(work, "state"))
		if err != nil {
			b.Fatal(err)
		}
		c0 := proctime.Seconds()
		rep, stages, wall, peak := benchApply(b, p, true)
		cpu := proctime.Seconds() - c0
		fmt.Printf("\npossync apply (first sync into an empty state): %s rows, %d creates applied\n", benchGroup(int64(n)), rep.Applied.Create)
		printStages(stages, wall, peak)
		if rep.Applied.Create != set.Truth.NewRows {
			b.Errorf("applied %d creates, want %d", rep.Applied.Create, set.Truth.NewRows)
		}
		fmt.Printf("  %-26s %9s %9.3f\n", "total (cpu)", "", cpu)
		benchSyncRatios(b, set, wall, cpu)
		b.ReportMetric(float64(n)/wall.Seconds(), "records/s")
		b.ReportMetric(float64(peak>>20), "peak-MiB")
	})
}
