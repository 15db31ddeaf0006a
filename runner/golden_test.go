package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/possync/possync/connectors/all"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
	_ "github.com/possync/possync/transforms/all"
)

var update = flag.Bool("update", false, "rewrite the golden plan files")

// evalTime is the fixed evaluation time of golden plans.
var evalTime = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// TestGoldenPlans runs each case under testdata/plan: pipeline.yaml over input.csv, after applying
// before.csv first when the case has one, and compares the plan with want.plan.json and want.plan.txt.
// Values that differ per run (state lineage, change IDs, hash, creation time, fingerprints) are normalised.
func TestGoldenPlans(t *testing.T) {
	cases, err := filepath.Glob("testdata/plan/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			work := t.TempDir()
			for _, f := range []string{"pipeline.yaml", "before.csv", "input.csv"} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					writeFile(t, filepath.Join(work, f), string(b))
				}
			}
			ctx := context.Background()
			if _, err := os.Stat(filepath.Join(work, "before.csv")); err == nil {
				input, _ := os.ReadFile(filepath.Join(work, "input.csv"))
				copyFile(t, filepath.Join(work, "before.csv"), filepath.Join(work, "input.csv"))
				if rep, err := runner.Apply(ctx, loadAt(t, work), runner.Options{Now: evalTime}, nil); err != nil {
					t.Fatalf("apply before.csv: %v (%+v)", err, rep)
				}
				writeFile(t, filepath.Join(work, "input.csv"), string(input))
			}
			pl, err := runner.Plan(ctx, loadAt(t, work), runner.Options{Now: evalTime})
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			normalise(pl)
			got, _ := json.MarshalIndent(pl, "", "  ")
			got = append(got, '\n')
			var txt bytes.Buffer
			if err := plan.WriteText(&txt, pl, plan.TextOptions{}); err != nil {
				t.Fatal(err)
			}
			compareGolden(t, filepath.Join(dir, "want.plan.json"), got)
			compareGolden(t, filepath.Join(dir, "want.plan.txt"), txt.Bytes())
		})
	}
}

func normalise(pl *plan.Plan) {
	pl.CreatedAt = time.Time{}
	pl.Pipeline.File = "pipeline.yaml"
	pl.Pipeline.ConfigHash = "CONFIG-HASH"
	if pl.State.Lineage != "" {
		pl.State.Lineage = "LINEAGE"
	}
	for i := range pl.Inputs {
		pl.Inputs[i].Fingerprint = "FINGERPRINT"
	}
	for i := range pl.Changes {
		pl.Changes[i].ID = "ID"
	}
	pl.Hash = "HASH"
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -tags duckdb_arrow ./runner -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (rerun with -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// loadAt loads dir/pipeline.yaml with its state under dir/.state.
func loadAt(t *testing.T, dir string) *pipelines.Pipeline {
	t.Helper()
	p, diags := pipelines.Load(filepath.Join(dir, "pipeline.yaml"), pipelines.Options{})
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	p.State.Dir = filepath.Join(dir, ".state")
	return p
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b))
}
