package runner

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/tcache"
)

// BenchmarkTransformCache times the transform cache (runner/tcache, issue #15: "when only a few rows
// changed, only those rows pay for the transforms") on the plan benchmark's catalog: its map with one field
// that cannot be pushed down to DuckDB (replace()), so the map runs in Go. `make bench-tcache` runs it at
// 1M. It plans new.csv (2% of the rows changed from old.csv) against the seeded state:
//
//   - Go map, uncached: --no-transform-cache, every row through the Go map (before);
//   - Go map, cold cache: the first run (of old.csv), every row through the Go map, writing the cache;
//   - Go map, 2% changed: new.csv against the cache of old.csv: only the changed rows run in Go (after);
//   - Go map, unchanged: the same plan again, every row from the cache;
//   - pushed-down map: the plan benchmark's map, which DuckDB computes (no cache: compare it with the
//     cached Go map to see whether caching a pushed-down map would pay).
//
// It compares the "transform products" stage's processor time (cpu s); a pushed-down filter before the map
// reads the CSV file in every variant, so that the stage times the map alone.
func BenchmarkTransformCache(b *testing.B) {
	benchEachSize(b, func(b *testing.B, n int, set benchSet) {
		work := b.TempDir()
		stateDir := filepath.Join(work, "state")
		goOld, err := benchTCachePipeline(work, set.Old(), stateDir, true)
		if err != nil {
			b.Fatal(err)
		}
		goNew, err := benchTCachePipeline(work, set.New(), stateDir, true)
		if err != nil {
			b.Fatal(err)
		}
		pdNew, err := benchTCachePipeline(work, set.New(), stateDir, false)
		if err != nil {
			b.Fatal(err)
		}
		if err := benchSeed(b.Context(), goOld); err != nil {
			b.Fatal(err)
		}
		cacheDir := tcache.PipelineDir(stateDir, goNew.Name)
		type result struct {
			name     string
			secs, cp float64
			changes  int
			inGo     int // rows the map ran in Go through the cache, -1 when it did not use it
		}
		var results []result
		plan := func(name string, p *pipelines.Pipeline, opts Options, record bool) {
			benchQuiesce()
			var stages []Stage
			var log bytes.Buffer
			opts.Stats, opts.Log = &stages, &log
			pl, err := Plan(b.Context(), p, opts)
			if err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			if os.Getenv("BENCH_TCACHE_LOG") != "" {
				fmt.Print(log.String())
			}
			inGo := -1
			for _, l := range strings.Split(log.String(), "\n") {
				var m, of int
				if i := strings.Index(l, "transform products: "); i >= 0 {
					if _, err := fmt.Sscanf(l[i:], "transform products: %d of %d rows ran in Go", &m, &of); err == nil {
						inGo = m
					}
				}
			}
			for _, st := range stages {
				if st.Name == "transform products" && record {
					results = append(results, result{name, st.Seconds, st.CPU, pl.Summary.Total(), inGo})
				}
			}
		}
		plan("Go map, uncached (before)", goNew, Options{NoTransformCache: true}, true)
		if err := os.RemoveAll(cacheDir); err != nil {
			b.Fatal(err)
		}
		plan("Go map, cold cache (old.csv)", goOld, Options{}, true) // the cache now holds old.csv's rows
		plan("Go map, 2% changed (after)", goNew, Options{}, true)
		plan("Go map, unchanged rerun", goNew, Options{}, true)
		plan("pushed-down map (DuckDB)", pdNew, Options{}, true)

		fmt.Printf("\npossync transform cache: %s rows, new.csv has %d inserted, %d deleted, %d updated rows\n",
			benchGroup(int64(n)), set.Truth.Inserted, set.Truth.Deleted, set.Truth.Updated)
		fmt.Printf("  %-32s %9s %9s %9s %10s %9s\n", "transform products", "seconds", "cpu s", "x before", "rows in Go", "changes")
		for _, r := range results {
			fmt.Printf("  %-32s %9.3f %9.3f %9.2f %10d %9d\n", r.name, r.secs, r.cp, r.cp/results[0].cp, r.inGo, r.changes)
		}
		if len(results) != 5 {
			b.Fatalf("%d transform stages timed, want 5", len(results))
		}
		if want := set.Truth.Inserted + set.Truth.Updated; results[2].inGo < want || results[2].inGo > want+want/10 {
			b.Errorf("2%% changed: %d rows ran in Go, want about the %d inserted and updated ones", results[2].inGo, want)
		}
		for i, r := range results {
			if cached := i >= 1 && i <= 3; cached != (r.inGo >= 0) {
				b.Errorf("%s: ran %d rows in Go through the cache; want the cache used: %v", r.name, r.inGo, cached)
			}
			if i != 1 && r.changes != results[0].changes {
				b.Errorf("%s: %d changes, want %d as uncached", r.name, r.changes, results[0].changes)
			}
		}
		b.ReportMetric(results[2].cp/results[0].cp, "x-uncached-cpu")
		b.ReportMetric(results[1].cp/results[0].cp, "x-cold-cpu")
		b.ReportMetric(results[2].cp/results[4].cp, "x-pushdown-cpu")
	})
}

// benchTCachePipeline is the plan benchmark's pipeline (benchPipeline) with a pushed-down filter before the
// map, whose title field, when goPath, uses replace() (which has no DuckDB form, so the map runs in Go).
func benchTCachePipeline(work, csvPath, stateDir string, goPath bool) (*pipelines.Pipeline, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nname: bench-tcache\nmerchant: bench\nkey: sku\n")
	fmt.Fprintf(&b, "source:\n  type: file\n  path: %s\n  columns:\n", benchYAMLQuote(csvPath))
	for _, c := range benchColumns {
		fmt.Fprintf(&b, "    - {name: %s, type: %s}\n", c.name, c.typ)
	}
	fmt.Fprintf(&b, "transforms:\n  - type: filter\n    name: all\n    expr: sku != nil\n")
	fmt.Fprintf(&b, "  - type: map\n    name: products\n    fields:\n      sku: sku\n")
	for _, m := range benchMapping {
		expr := m.expr
		if goPath && m.name == "title" {
			expr = `replace(trim(name), "  ", " ") + " | " + brand`
		}
		fmt.Fprintf(&b, "      %s: %s\n", m.name, benchYAMLQuote(expr))
	}
	fmt.Fprintf(&b, "sink:\n  type: file\n  path: out/products.csv\n")
	fmt.Fprintf(&b, "state:\n  dir: %s\n", benchYAMLQuote(stateDir))
	if ml := os.Getenv("BENCH_MEMORY_LIMIT"); ml != "" {
		fmt.Fprintf(&b, "  memory_limit: %s\n", benchYAMLQuote(ml))
	}
	noEnv := func(string) (string, bool) { return "", false }
	q, diags := pipelines.Parse(filepath.Join(work, "bench-tcache.yaml"), []byte(b.String()), pipelines.Options{LookupEnv: noEnv})
	if diags.HasErrors() {
		return nil, fmt.Errorf("benchmark pipeline: %w", diags.Err())
	}
	return q, nil
}
