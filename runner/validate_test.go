package runner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/spec"
)

// TestValidateFindings covers what `possync validate` must find before `plan` trips on it, one row per
// diagnostic: each is reported with its code at its own line and column, and no other finding comes with it
// (beyond the ones a row lists). The input files do not exist: validate reads no data.
func TestValidateFindings(t *testing.T) {
	head := `version: 1
name: val
merchant: m
key: sku
source:
  type: file
  path: products.csv
  columns:
    - {name: sku, type: string}
    - {name: price, type: float}
    - {name: status, type: string}
transforms:
  - type: map
    fields:
      sku: sku
      price: price
      status: status
      enabled: status == "active"
`
	sink := "sink:\n  type: file\n  path: out/products.csv\n"
	type finding struct {
		code      string
		line, col int
		says      string
	}
	cases := []struct {
		name string
		file string
		want []finding
	}{
		{"active_field names a missing field", head + sink + "diff:\n  active_field: enabld\n",
			[]finding{{spec.CodeDiffField, 23, 17, `active_field "enabld" is not a field`}}},
		{"active_field names a string field", head + sink + "diff:\n  active_field: status\n",
			[]finding{{spec.CodeDiffField, 23, 17, `"status" is a string field; it must be a boolean`}}},
		{"ignore names an unknown field", head + sink + "diff:\n  ignore: [price, update_at]\n",
			[]finding{{spec.CodeDiffField, 23, 19, `ignore names "update_at"`}}},
		{"max_delete_percent above 100", head + sink + "guards:\n  max_delete_percent: 150\n",
			[]finding{{spec.CodeBadValue, 23, 23, "150 is not a percentage"}}},
		{"max_delete_percent not a number", head + sink + "guards:\n  max_delete_percent: .nan\n",
			[]finding{{spec.CodeBadValue, 23, 23, "NaN is not a percentage"}}},
		{"key not delivered to the sink", strings.Replace(head, "key: sku", "key: id", 1) + sink,
			[]finding{{spec.CodeKeyNotFound, 4, 6, `key field "id"`}}},
		{"a structural error does not hide an expression error",
			strings.Replace(head, `status == "active"`, `staus == "active"`, 1) + sink + "  batch_sise: 10\n",
			[]finding{
				{spec.CodeExprUnknownField, 18, 16, `unknown field "staus"`},
				{spec.CodeUnknownField, 22, 3, "unknown field `batch_sise`"},
			}},
		{"a structural error does not hide a diff error", head + sink + "diff:\n  active_field: status\n  on_misssing: keep\n",
			[]finding{
				{spec.CodeDiffField, 23, 17, `"status" is a string field`},
				{spec.CodeUnknownField, 24, 3, "unknown field `on_misssing`"},
			}},
		{"a filter's expression under another name: the missing field, nothing about an empty expression",
			strings.Replace(head, "transforms:\n", "transforms:\n  - type: filter\n    where: price > 0\n", 1) + sink,
			[]finding{
				{spec.CodeMissingField, 13, 5, "missing required field `expr`"},
				{spec.CodeUnknownField, 14, 5, "unknown field `where`"},
			}},
		{"non-UTF-8 byte", strings.Replace(head, "merchant: m", "merchant: caf\xe9", 1) + sink,
			[]finding{{spec.CodeBadEncoding, 3, 14, "byte 0xE9 at line 3, column 14"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "pipeline.yaml")
			if err := os.WriteFile(path, []byte(c.file), 0o644); err != nil {
				t.Fatal(err)
			}
			diags := runner.Validate(context.Background(), path, pipelines.Options{})
			diags.Sort()
			var got []string
			for _, d := range diags {
				got = append(got, fmt.Sprintf("%s %d:%d %s", d.Code, d.Line, d.Col, d.Message))
				if d.Line < 1 || d.Col < 1 || d.File != path {
					t.Errorf("finding without its place in the file: %v", d)
				}
			}
			if len(diags) != len(c.want) {
				t.Fatalf("got %d findings, want %d:\n%s", len(diags), len(c.want), strings.Join(got, "\n"))
			}
			for i, w := range c.want {
				d := diags[i]
				if d.Code != w.code || d.Line != w.line || d.Col != w.col || !strings.Contains(d.Message, w.says) {
					t.Errorf("finding %d: %s\nwant %s %d:%d ...%s...", i, got[i], w.code, w.line, w.col, w.says)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("validate wrote into the pipeline's folder: %v", entries)
			}
		})
	}
}

// TestPlanReportsDiffFields: plan reports a misnamed diff field as the finding validate gives, at its line,
// not as a DuckDB error quoting internal SQL.
func TestPlanReportsDiffFields(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,a,1\n")
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), csvPipeline+"diff:\n  active_field: title\n  ignore: [prize]\n")
	_, err := runner.Plan(context.Background(), loadAt(t, dir), runner.Options{})
	var diags spec.Diagnostics
	if !errors.As(err, &diags) || len(diags) != 2 {
		t.Fatalf("plan: %v, want two findings", err)
	}
	diags.Sort()
	if d := diags[0]; d.Code != spec.CodeDiffField || d.Line != 22 || !strings.Contains(d.Message, `"title" is a string field`) {
		t.Errorf("first finding %v, want the non-boolean active_field at line 22", d)
	}
	if d := diags[1]; d.Code != spec.CodeDiffField || d.Line != 23 || !strings.Contains(d.Hint, "did you mean `price`?") {
		t.Errorf("second finding %v, want the unknown ignored field at line 23, suggesting price", d)
	}
	if strings.Contains(err.Error(), "Binder") || strings.Contains(err.Error(), "SELECT") {
		t.Errorf("plan error quotes DuckDB: %v", err)
	}
}
