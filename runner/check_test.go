package runner_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/runner"
)

// TestCheckDiagnostics covers the diagnostics that need data schemas: each is reported at its own line and
// column, before any data is read (the input files do not even exist).
func TestCheckDiagnostics(t *testing.T) {
	head := `version: 1
name: chk
merchant: m
key: sku
source:
  type: file
  path: missing-is-fine-for-validate.csv
  columns:
    - {name: sku, type: string}
    - {name: name, type: string}
    - {name: price, type: float}
`
	cases := []struct {
		name, body      string
		code, path      string
		line, col       int
		messageContains string
	}{
		{"unknown field in an expression", `transforms:
  - type: map
    fields:
      sku: sku
      title: trim(nmae)
sink: {type: file, path: out.csv}
`, "expr_unknown_field", "/transforms/0/fields/title", 16, 19, "nmae"},
		{"unknown field on a later line of a block expression", `transforms:
  - type: map
    fields:
      sku: sku
      label: |
        name + " / " +
          brnd
sink: {type: file, path: out.csv}
`, "expr_unknown_field", "/transforms/0/fields/label", 18, 11, "brnd"},
		{"filter that is not a predicate", `transforms:
  - type: filter
    expr: price * 2
sink: {type: file, path: out.csv}
`, "expr_not_bool", "/transforms/0/expr", 14, 11, ""},
		{"SQL step naming an unknown column", `transforms:
  - type: sql
    name: joined
    query: |
      SELECT sku,
             nope
      FROM source
sink: {type: file, path: out.csv}
`, "sql_error", "/transforms/0/query", 17, 14, "nope"},
		{"key not delivered to the sink", `transforms:
  - type: map
    fields:
      id: sku
sink: {type: file, path: out.csv}
`, "key_not_found", "/key", 4, 6, `"sku"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "pipeline.yaml"), head+c.body)
			diags := runner.Check(context.Background(), loadAt(t, dir))
			if len(diags) != 1 {
				t.Fatalf("want 1 diagnostic, got %d: %v", len(diags), diags)
			}
			d := diags[0]
			if d.Code != c.code || d.Path != c.path || d.Line != c.line || d.Col != c.col {
				t.Fatalf("got %s at %s %d:%d (%s), want %s at %s %d:%d", d.Code, d.Path, d.Line, d.Col, d.Message, c.code, c.path, c.line, c.col)
			}
			if !strings.Contains(d.Message, c.messageContains) {
				t.Fatalf("message %q does not mention %q", d.Message, c.messageContains)
			}
		})
	}
}

// TestCheckConnections: `possync check` tests every connector that can be tested, without reading data, and
// says which could not be reached.
func TestCheckConnections(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,a,1\n")
	p := loadAt(t, dir)
	res := runner.CheckConnections(context.Background(), p)
	if len(res) != 2 || res[0].Kind != "source" || !res[0].Supported || res[0].Err != nil ||
		res[1].Kind != "sink" || !res[1].Supported || res[1].Err != nil {
		t.Fatalf("check of a readable file and a writable folder: %+v", res)
	}
	if err := os.Remove(filepath.Join(dir, "input.csv")); err != nil {
		t.Fatal(err)
	}
	res = runner.CheckConnections(context.Background(), p)
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "input.csv") {
		t.Fatalf("check with the input file gone: %+v", res[0])
	}
}
