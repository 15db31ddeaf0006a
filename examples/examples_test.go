package examples

import (
	"bufio"
	"database/sql"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb", to read Parquet records files

	"github.com/possync/possync/connectors"
	_ "github.com/possync/possync/connectors/all"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	_ "github.com/possync/possync/transforms/all"
)

// examples returns the example pipeline files, examples/*/*.yaml.
func examples(t *testing.T) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join("*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range all {
		if !IsTestFile(f) {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		t.Fatal("no example pipelines (examples/*/*.yaml)")
	}
	return files
}

// start brings up the servers the example of a pipeline file needs, stopped when the test ends.
func start(t *testing.T, pipelineFile string) *Env {
	t.Helper()
	env, err := Start(filepath.Base(filepath.Dir(pipelineFile)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	return env
}

// load loads a pipeline with the example's environment, failing the test on any error diagnostic, and points
// its state at a fresh temporary folder so that the test never touches a state the example's folder may hold.
func load(t *testing.T, path string, env *Env) *pipelines.Pipeline {
	t.Helper()
	p, diags := pipelines.Load(path, pipelines.Options{LookupEnv: env.Lookup})
	for _, d := range diags {
		t.Logf("%s", d)
	}
	if diags.HasErrors() || p == nil {
		t.Fatalf("%s does not load: %v", path, diags.Err())
	}
	p.State.Dir = t.TempDir()
	return p
}

// TestExamplesValidate checks that every example loads and type-checks, as `possync validate` does.
func TestExamplesValidate(t *testing.T) {
	for _, f := range examples(t) {
		t.Run(f, func(t *testing.T) {
			p := load(t, f, start(t, f))
			diags := runner.Check(t.Context(), p)
			for _, d := range diags {
				t.Logf("%s", d)
			}
			if diags.HasErrors() {
				t.Fatalf("%s does not check: %v", f, diags.Err())
			}
		})
	}
}

// prerequisite names, per example pipeline that reads what another one makes, that pipeline (in the same
// folder): statuses.yaml reads the POS sales orders.yaml creates. The full story of the statuses, with the
// POS working the sales, is TestOrdersExampleStatuses.
var prerequisite = map[string]string{"orders/statuses.yaml": "orders.yaml"}

// TestExamplesConverge runs each example end to end in a copy of its folder: the first plan has changes,
// apply applies all of them, and a second plan finds nothing to change. The sink's records file then holds
// the whole desired set.
func TestExamplesConverge(t *testing.T) {
	for _, f := range examples(t) {
		t.Run(f, func(t *testing.T) {
			ctx := t.Context()
			dir := t.TempDir()
			if err := Extract(filepath.Dir(f), dir); err != nil { // what `possync demo` runs, without state or outputs
				t.Fatal(err)
			}
			env := start(t, f)
			if pre, ok := prerequisite[filepath.ToSlash(f)]; ok {
				// The pipeline reads what another example pipeline made (the POS sales of the orders): apply that
				// one first, as the demo does.
				rep, err := runner.Apply(ctx, load(t, filepath.Join(dir, pre), env), runner.Options{}, nil)
				if err != nil {
					t.Fatalf("apply %s first: %v", pre, err)
				}
				if rep.ExitCode != runner.ExitOK || rep.Applied.Total() == 0 {
					t.Fatalf("apply %s first: exit %d, applied %+v", pre, rep.ExitCode, rep.Applied)
				}
			}
			p := load(t, filepath.Join(dir, filepath.Base(f)), env)

			first, err := runner.Plan(ctx, p, runner.Options{})
			if err != nil {
				t.Fatalf("first plan: %v", err)
			}
			if first.Summary.Total() == 0 {
				t.Fatal("first plan (empty state) has no changes")
			}
			// Against an empty state, every desired record is a create.
			desired := int64(first.Summary.Create)

			rep, err := runner.Apply(ctx, p, runner.Options{}, nil)
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if rep.ExitCode != runner.ExitOK || len(rep.Rejected) > 0 {
				t.Fatalf("apply: exit %d (%s), %d change(s) rejected: %+v", rep.ExitCode, rep.ExitReason, len(rep.Rejected), rep.Rejected)
			}
			if pl, ap := rep.Planned, rep.Applied; pl.Create != ap.Create || pl.Update != ap.Update ||
				pl.Deactivate != ap.Deactivate || pl.Delete != ap.Delete {
				t.Fatalf("apply: applied %+v, planned %+v", ap, pl)
			}
			if rep.Planned.Total() != first.Summary.Total() {
				t.Fatalf("apply planned %d changes, the plan before it %d", rep.Planned.Total(), first.Summary.Total())
			}

			again, err := runner.Plan(ctx, p, runner.Options{})
			if err != nil {
				t.Fatalf("second plan: %v", err)
			}
			if n := again.Summary.Total(); n != 0 {
				t.Fatalf("second plan has %d change(s) (%+v), want none", n, again.Summary)
			}
			// An import-once flow (orders) reads only what its source has not confirmed yet: nothing now.
			if again.Summary.Unchanged != desired && p.Diff.OnChange != pipelines.ChangeKeep {
				t.Fatalf("second plan: %d records unchanged, want the %d desired", again.Summary.Unchanged, desired)
			}

			ex, ok := sinkExport(t, p)
			if !ok {
				return // the sink keeps no records file
			}
			if n := countRows(t, ex); n != desired {
				t.Fatalf("records file %s holds %d rows, want the %d desired", ex.Path, n, desired)
			}
		})
	}
}

// sinkExport builds the pipeline's sink and returns its records file, if it keeps one.
func sinkExport(t *testing.T, p *pipelines.Pipeline) (connectors.Export, bool) {
	t.Helper()
	_, ctor, ok := connectors.Sinks.Lookup(p.Sink.Type)
	if !ok {
		t.Fatalf("unknown sink type %q", p.Sink.Type)
	}
	sink, err := ctor(p.Sink.Config, connectors.Env{Pipeline: p.Name, Dir: p.Dir, Key: p.Key})
	if err != nil {
		t.Fatalf("build sink: %v", err)
	}
	defer sink.Close()
	ex, ok := sink.(connectors.Exporter)
	if !ok {
		return connectors.Export{}, false
	}
	return ex.Export(), true
}

// countRows counts the records of a records file.
func countRows(t *testing.T, ex connectors.Export) int64 {
	t.Helper()
	switch ex.Format {
	case "parquet":
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int64
		if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM read_parquet(?)", ex.Path).Scan(&n); err != nil {
			t.Fatalf("read %s: %v", ex.Path, err)
		}
		return n
	case "jsonl":
		return countLines(t, ex.Path)
	case "csv", "tsv":
		f, err := os.Open(ex.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r := csv.NewReader(f)
		if ex.Format == "tsv" {
			r.Comma = '\t'
		}
		var n int64
		for {
			_, err := r.Read()
			if errors.Is(err, io.EOF) {
				return n - 1 // the header
			}
			if err != nil {
				t.Fatalf("read %s: %v", ex.Path, err)
			}
			n++
		}
	}
	t.Fatalf("records file %s: unknown format %q", ex.Path, ex.Format)
	return 0
}

// countLines counts the non-empty lines of a file.
func countLines(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	var n int64
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return n
}

// TestEmbedded checks that the binary carries every example folder with its pipelines and data.
func TestEmbedded(t *testing.T) {
	dirs, _ := filepath.Glob("*/*.yaml")
	seen := map[string]bool{}
	for _, f := range dirs {
		seen[filepath.Dir(f)] = true
	}
	if got := Names(); len(got) != len(seen) {
		t.Fatalf("embedded examples %v, folders with pipelines %v", got, seen)
	}
	dir := t.TempDir()
	if err := Extract("acme-outdoor", dir); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join("acme-outdoor", "data", "products.csv"))
	got, err := os.ReadFile(filepath.Join(dir, "data", "products.csv"))
	if err != nil || string(got) != string(want) {
		t.Fatalf("extracted data differs: %v", err)
	}
}
