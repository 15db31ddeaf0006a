package steps_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/steps"
	"github.com/possync/possync/runner/tcache"
)

// goMap and goFilter are steps whose expressions cannot be pushed down to DuckDB (replace() has no exact
// translation), so they run in Go and through the transform cache.
const goMap = `  - type: map
    name: mapped
    passthrough: true
    fields:
      sku: sku
      title: 'replace(name ?? "", "o", "0") + "|" + string(qty ?? -1)'
      double: "price == nil ? -1.0 : price * 2"
`

const goFilter = `  - type: filter
    name: kept
    expr: 'len(replace(name ?? "", "o", "")) > 3 || qty == nil'
`

// cacheRun parses a pipeline of the given steps (env gives ${VAR}s), loads recs as its source "items" into
// a new engine and runs the steps, with the transform cache under dir when dir is not "". It returns the
// last step's rows, sorted, and the log lines.
func cacheRun(t *testing.T, stepsYAML string, env map[string]string, recs []record.Record, dir string, now time.Time) ([]string, []string) {
	t.Helper()
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	p, diags := pipelines.Parse("p.yaml", []byte(pipelineHead+stepsYAML), pipelines.Options{LookupEnv: lookup})
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{TempDir: t.TempDir() + "/tmp", Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.LoadRecords(ctx, "items", itemSchema, recs); err != nil {
		t.Fatal(err)
	}
	var logs []string
	in := steps.Input{
		Steps: p.Transforms, First: "items", Schemas: map[string]*arrow.Schema{"items": itemSchema}, Key: p.Key,
		Now: now, Location: time.UTC, Dir: t.TempDir(),
		Log: func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) },
	}
	if dir != "" {
		in.Cache = &tcache.Cache{Dir: dir, Build: "test"}
	}
	out, diags, err := steps.Run(ctx, db, in)
	if err != nil || len(diags) > 0 {
		t.Fatalf("Run: %v %v", diags, err)
	}
	if len(out.Pushed) > 0 {
		t.Fatalf("steps %v were pushed down; the test needs them in Go", out.Pushed)
	}
	return tableRows(t, db, out.Desired), logs
}

// tableRows returns every row of table as text (columns and types included), sorted.
func tableRows(t *testing.T, db *engine.DB, table string) []string {
	t.Helper()
	var types []string
	rs, err := db.Rows(context.Background(), "SELECT column_name || ' ' || column_type FROM (DESCRIBE "+engine.Ident(table)+")")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			t.Fatal(err)
		}
		types = append(types, s)
	}
	rs.Close()
	got := rows(t, db, "SELECT CAST(t AS VARCHAR) FROM "+engine.Ident(table)+" t")
	slices.Sort(got)
	return append([]string{"columns: " + strings.Join(types, ", ")}, got...)
}

// transformed returns how many rows the cached step ran in Go by its log line, or -1 without one.
func transformed(logs []string) int {
	for _, l := range logs {
		var n, of int
		var step string
		if _, err := fmt.Sscanf(l, "transform %s %d of %d rows", &step, &n, &of); err == nil {
			return n
		}
	}
	return -1
}

// randomItems returns n items with NULLs and duplicate rows.
func randomItems(r *rand.Rand, n int) []record.Record {
	out := make([]record.Record, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, randomItem(r, i))
	}
	return out
}

func randomItem(r *rand.Rand, i int) record.Record {
	names := []string{"helmet", "bell", "lock", "pump", "tube", "", "öl", "go"}
	rec := record.Record{"sku": fmt.Sprintf("S%d", i), "name": names[r.IntN(len(names))], "qty": int64(r.IntN(5) - 1), "price": float64(r.IntN(100)) / 4}
	switch r.IntN(8) {
	case 0:
		rec["name"] = nil
	case 1:
		rec["qty"] = nil
	case 2:
		rec["price"] = nil
	case 3:
		rec["sku"] = nil
	}
	return rec
}

// edit changes recs at random: edits, deletes, inserts and duplicates.
func edit(r *rand.Rand, recs []record.Record, next *int) []record.Record {
	out := make([]record.Record, 0, len(recs)+8)
	for _, rec := range recs {
		switch r.IntN(20) {
		case 0: // deleted
			continue
		case 1: // edited
			c := record.Record{}
			for k, v := range rec {
				c[k] = v
			}
			switch r.IntN(3) {
			case 0:
				c["qty"] = int64(r.IntN(9))
			case 1:
				c["name"] = nil
			default:
				c["price"] = float64(r.IntN(50))
			}
			out = append(out, c)
		case 2: // duplicated
			out = append(out, rec, rec)
		default:
			out = append(out, rec)
		}
	}
	for k := r.IntN(6); k > 0; k-- { // inserted
		*next++
		out = append(out, randomItem(r, *next))
	}
	return out
}

// TestCacheMatchesUncached is the differential test: over runs of random edits, deletes, inserts,
// duplicates and NULLs, a map and a filter running through their cache give the output tables an uncached
// run gives (same rows, columns and types), and the cache runs only the rows whose input changed.
func TestCacheMatchesUncached(t *testing.T) {
	for name, stepsYAML := range map[string]string{"map": goMap, "filter": goFilter, "filter then map": goFilter + goMap} {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(len(name))))
			dir := t.TempDir()
			recs := randomItems(r, 300)
			next := len(recs)
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			sawDelta, sawCompaction := false, false
			for run := 0; run < 12; run++ {
				want, _ := cacheRun(t, stepsYAML, nil, recs, "", now)
				got, logs := cacheRun(t, stepsYAML, nil, recs, dir, now)
				if !slices.Equal(got, want) {
					t.Fatalf("run %d: cached output differs from uncached: %s", run, rowsDiff(got, want))
				}
				if n := transformed(logs); run > 0 && (n < 0 || n >= len(recs)/2) {
					t.Errorf("run %d: %d of %d rows ran in Go (logs %q), want only the changed ones", run, n, len(recs), logs)
				}
				for _, f := range cacheFiles(t, dir) {
					sawDelta = sawDelta || strings.HasSuffix(f, ".delta.parquet")
					sawCompaction = sawCompaction || strings.HasSuffix(f, ".base.parquet") && !strings.HasSuffix(f, ".1.base.parquet")
				}
				recs = edit(r, recs, &next)
			}
			if !sawDelta || !sawCompaction {
				t.Errorf("the runs wrote a delta file: %v, compacted the cache: %v; want both exercised", sawDelta, sawCompaction)
			}
		})
	}
}

// TestCacheUnchangedRerunRunsNoRow: a rerun over the same rows takes every row from the cache and keeps
// the file as it is. (The folder's name looks like a Hive partition, which DuckDB's Parquet reader would
// otherwise read as a column.)
func TestCacheUnchangedRerunRunsNoRow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rows=4")
	now := time.Now()
	want, logs := cacheRun(t, goMap, nil, items, dir, now)
	if n := transformed(logs); n != len(items) {
		t.Fatalf("first run: %d rows in Go (logs %q), want all %d", n, logs, len(items))
	}
	files := cacheFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one", files)
	}
	fi, _ := os.Stat(files[0])
	got, logs := cacheRun(t, goMap, nil, items, dir, now.Add(time.Hour))
	if n := transformed(logs); n != 0 || !slices.Equal(got, want) {
		t.Fatalf("rerun: %d rows in Go (logs %q), output %q, want none and %q", n, logs, got, want)
	}
	if fi2, err := os.Stat(files[0]); err != nil || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Errorf("the unchanged cache file was rewritten or removed (%v)", err)
	}
}

func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// TestCacheInvalidation: a changed expression, or a changed environment value the expression interpolates,
// runs every row again (and leaves one file for the step); the same pipeline reads its cache.
func TestCacheInvalidation(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	withEnv := `  - type: map
    name: mapped
    fields:
      sku: sku
      title: 'replace(name ?? "", "o", "${SUFFIX}")'
`
	cases := []struct {
		name  string
		steps string
		env   map[string]string
		all   bool // every row runs
	}{
		{"first run", withEnv, map[string]string{"SUFFIX": "0"}, true},
		{"same pipeline", withEnv, map[string]string{"SUFFIX": "0"}, false},
		{"changed env value", withEnv, map[string]string{"SUFFIX": "O"}, true},
		{"changed expression", strings.Replace(withEnv, `"o"`, `"l"`, 1), map[string]string{"SUFFIX": "O"}, true},
		{"changed again, same as before", strings.Replace(withEnv, `"o"`, `"l"`, 1), map[string]string{"SUFFIX": "O"}, false},
	}
	for _, c := range cases {
		want, _ := cacheRun(t, c.steps, c.env, items, "", now)
		got, logs := cacheRun(t, c.steps, c.env, items, dir, now)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: output %q, want %q", c.name, got, want)
		}
		n := transformed(logs)
		if c.all && n != len(items) || !c.all && n != 0 {
			t.Errorf("%s: %d rows ran in Go (logs %q), want all: %v", c.name, n, logs, c.all)
		}
		if files := cacheFiles(t, dir); len(files) != 1 {
			t.Errorf("%s: cache files %v, want the step's one", c.name, files)
		}
	}
}

// TestCacheNotForTimeDependentSteps: a map that reads now() is never cached (a rerun at another time must
// see the new time), and writes no cache file.
func TestCacheNotForTimeDependentSteps(t *testing.T) {
	dir := t.TempDir()
	stepsYAML := `  - type: map
    name: stamped
    fields:
      sku: sku
      title: 'replace(name ?? "", "o", "0") + string(now().Year())'
`
	first, _ := cacheRun(t, stepsYAML, nil, items, dir, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	second, logs := cacheRun(t, stepsYAML, nil, items, dir, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if slices.Equal(first, second) || !strings.Contains(strings.Join(second, ","), "2027") {
		t.Errorf("the rerun a year later gave %q, as the first run %q", second, first)
	}
	if files := cacheFiles(t, dir); len(files) != 0 || transformed(logs) != -1 {
		t.Errorf("a step reading now() left cache files %v (logs %q)", files, logs)
	}
}

// TestCorruptCacheIsIgnored: a cache file that is not Parquet, or Parquet of other columns, is ignored with
// a log line, every row runs, the output is right and a good file replaces it.
func TestCorruptCacheIsIgnored(t *testing.T) {
	for name, corrupt := range map[string]func(t *testing.T, path string){
		"garbage": func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("PAR1 not parquet at all"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"truncated": func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"other columns": func(t *testing.T, path string) {
			db, err := engine.Open(context.Background(), engine.Options{TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Exec(context.Background(), "COPY (SELECT 1::UBIGINT AS __h, 'x' AS sku) TO "+engine.Lit(path)+" (FORMAT parquet)"); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			now := time.Now()
			want, _ := cacheRun(t, goMap, nil, items, dir, now)
			files := cacheFiles(t, dir)
			if len(files) != 1 {
				t.Fatalf("cache files %v, want one", files)
			}
			corrupt(t, files[0])
			got, logs := cacheRun(t, goMap, nil, items, dir, now)
			if !slices.Equal(got, want) {
				t.Fatalf("output %q, want %q", got, want)
			}
			if n := transformed(logs); n != len(items) || !strings.Contains(strings.Join(logs, "\n"), "ignoring the transform cache") {
				t.Errorf("%d rows ran in Go, logs %q; want all, and a line saying the cache was ignored", n, logs)
			}
			_, logs = cacheRun(t, goMap, nil, items, dir, now)
			if n := transformed(logs); n != 0 {
				t.Errorf("after the rebuild %d rows ran in Go (logs %q), want none", n, logs)
			}
		})
	}
}

// TestCachedRowErrorIsNamed: a row that fails in a cached run fails the run as it would uncached, naming
// the record, and writes no cache.
func TestCachedRowErrorIsNamed(t *testing.T) {
	stepsYAML := `  - type: map
    name: mapped
    fields:
      sku: sku
      title: 'replace(name, "o", "0")'
`
	dir := t.TempDir()
	recs := []record.Record{{"sku": "A", "name": "x"}, {"sku": "B", "name": nil}}
	for _, d := range []string{"", dir} {
		p, diags := pipelines.Parse("p.yaml", []byte(pipelineHead+stepsYAML), pipelines.Options{LookupEnv: func(string) (string, bool) { return "", false }})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		db, err := engine.Open(context.Background(), engine.Options{TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.LoadRecords(context.Background(), "items", itemSchema, recs); err != nil {
			t.Fatal(err)
		}
		in := steps.Input{Steps: p.Transforms, First: "items", Schemas: map[string]*arrow.Schema{"items": itemSchema}, Key: p.Key, Location: time.UTC}
		if d != "" {
			in.Cache = &tcache.Cache{Dir: d, Build: "test"}
		}
		_, _, err = steps.Run(context.Background(), db, in)
		if err == nil || !strings.Contains(err.Error(), "sku=B") || !strings.Contains(err.Error(), "field title") {
			t.Errorf("cache %q: error %v, want one naming sku=B and field title", d, err)
		}
	}
	if files := cacheFiles(t, dir); len(files) != 0 {
		t.Errorf("a failed step left cache files %v", files)
	}
}

// rowsDiff describes how two sorted row lists differ: the rows only one of them has (as many times as it
// has them more).
func rowsDiff(got, want []string) string {
	n := map[string]int{}
	for _, g := range got {
		n[g]++
	}
	for _, w := range want {
		n[w]--
	}
	var b strings.Builder
	for _, r := range slices.Sorted(maps.Keys(n)) {
		if n[r] > 0 {
			fmt.Fprintf(&b, "\n  extra %dx: %s", n[r], r)
		} else if n[r] < 0 {
			fmt.Fprintf(&b, "\n  missing %dx: %s", -n[r], r)
		}
	}
	return b.String()
}
