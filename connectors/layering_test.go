package connectors_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering enforces the architecture: only the runner talks to DuckDB and owns state. Connectors,
// transforms, the pipeline loader, spec and record must build without DuckDB and must not reach into the runner, so a
// connector can never bypass the plan/apply contract.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}",
		"github.com/possync/possync/connectors/...",
		"github.com/possync/possync/transforms/...",
		"github.com/possync/possync/pipelines/...",
		"github.com/possync/possync/spec/...",
		"github.com/possync/possync/record/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"github.com/duckdb/", "github.com/possync/possync/runner", "github.com/possync/possync/cmd"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(pkg, "github.com/possync/possync/") {
			continue
		}
		for _, imp := range strings.Fields(imports) {
			for _, f := range forbidden {
				if strings.HasPrefix(imp, f) {
					t.Errorf("%s imports %s: connectors, transforms and pipelines must not depend on DuckDB or the runner", pkg, imp)
				}
			}
		}
	}
}

// TestFoundationLayering keeps the two packages every other one shares at the bottom of the graph: spec (the
// component contract and the diagnostic codes) and record (the value model and its JSON) import no other
// package of the project, so any package may import them without a cycle or a hidden dependency.
func TestFoundationLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}",
		"github.com/possync/possync/spec", "github.com/possync/possync/record").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("go list listed %d packages, want spec and record:\n%s", len(lines), out)
	}
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, " ")
		for _, imp := range strings.Fields(imports) {
			if strings.HasPrefix(imp, "github.com/possync/possync/") {
				t.Errorf("%s imports %s: spec and record sit below every other package", pkg, imp)
			}
		}
	}
}

// TestRunnerLayering enforces the runner's shape: runner/engine is the only package of the project that
// imports DuckDB, and no package under runner/ imports the runner itself (the orchestration sits on top of
// its stage packages, never the other way round).
func TestRunnerLayering(t *testing.T) {
	const root = "github.com/possync/possync/runner"
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "github.com/possync/possync/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seenEngine := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if pkg == root+"/engine" {
			seenEngine = true
		}
		for _, imp := range strings.Fields(imports) {
			if strings.HasPrefix(imp, "github.com/duckdb/") && pkg != root+"/engine" {
				t.Errorf("%s imports %s: only runner/engine talks to DuckDB", pkg, imp)
			}
			if imp == root && strings.HasPrefix(pkg, root+"/") {
				t.Errorf("%s imports %s: a runner stage package never imports the runner", pkg, imp)
			}
		}
	}
	if !seenEngine {
		t.Errorf("go list did not list %s/engine", root)
	}
}
