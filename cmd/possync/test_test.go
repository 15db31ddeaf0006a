package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// examplePipelines lists the example pipeline files (examples/*/*.yaml without their test files).
func examplePipelines(t *testing.T) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join("..", "..", "examples", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range all {
		if !strings.HasSuffix(f, "_test.yaml") {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatal("no example pipelines under examples/*/*.yaml")
	}
	return out
}

// TestExamplesTests runs `possync test` over every example pipeline: each must ship a NAME_test.yaml, and
// every case must pass (CI runs this through make test).
func TestExamplesTests(t *testing.T) {
	for _, file := range examplePipelines(t) {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			testFile := strings.TrimSuffix(file, ".yaml") + "_test.yaml"
			if _, err := os.Stat(testFile); err != nil {
				t.Fatalf("%s has no test file: %v", file, err)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"test", file}, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("possync test %s: exit %d\n%s%s", file, code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "cases passed") || strings.Contains(stdout.String(), "FAIL") {
				t.Fatalf("possync test %s: unexpected output:\n%s", file, stdout.String())
			}
		})
	}
}

// testPipeline is a small file-sourced pipeline for the failure-output tests.
const testPipeline = `version: 1
name: t
merchant: m
timezone: UTC
key: sku
source:
  type: file
  path: products.csv
  columns:
    - {name: sku, type: string}
    - {name: price, type: float}
    - {name: active, type: bool}
transforms:
  - type: filter
    expr: price > 0
  - type: map
    fields:
      sku: sku
      price: price * 2
      enabled: active
sink:
  type: file
  path: out/products.csv
diff:
  active_field: enabled
`

// TestTestFailureOutput checks what a failing case prints and its exit code: the case, the record's key,
// the field, and the expected and produced values; and that passing cases, -run and --json behave.
func TestTestFailureOutput(t *testing.T) {
	const inputs = `
    inputs:
      source:
        - {sku: A1, price: 10, active: true}
        - {sku: B2, price: 0, active: true}
        - {sku: C3, price: 4, active: false}`
	const state = `
    state:
      - {sku: A1, price: 20.0, enabled: true}
      - {sku: C3, price: 8.0, enabled: true}
      - {sku: D4, price: 1.0, enabled: true}`
	cases := []struct {
		name     string
		caseYAML string
		args     []string
		code     int
		want     []string // lines (or parts of lines) of the output, in order
		not      []string
	}{
		{
			name: "pass",
			caseYAML: `
  - name: doubled` + inputs + `
    rows:
      - {sku: A1, price: 20.0, enabled: true}
      - {sku: C3, price: 8, enabled: false}` + state + `
    actions:
      - {action: deactivate, key: C3, fields: {enabled: false}}
      - {action: delete, key: D4}`,
			code: 0,
			want: []string{"--- PASS: doubled", "cases passed"},
			not:  []string{"FAIL"},
		},
		{
			name: "wrong field value",
			caseYAML: `
  - name: wrong-price` + inputs + `
    rows:
      - {sku: A1, price: 21.0}
      - {sku: C3}`,
			code: 1,
			want: []string{"--- FAIL: wrong-price", "rows: sku=A1: field price: expected 21, got 20", "FAIL", "1 of 1 cases failed"},
		},
		{
			name: "missing and unexpected rows",
			caseYAML: `
  - name: rows-differ` + inputs + `
    rows:
      - {sku: A1}
      - {sku: B2}`,
			code: 1,
			want: []string{"--- FAIL: rows-differ", "rows: sku=B2: expected a row with this key; the transforms produced none",
				"rows: sku=C3: the transforms produced a row the case does not expect", `got:      {enabled: false, price: 8, sku: "C3"}`},
		},
		{
			name: "wrong action",
			caseYAML: `
  - name: wrong-action` + inputs + state + `
    actions:
      - {action: update, key: C3, fields: {enabled: false}}
      - {action: delete, key: D4}`,
			code: 1,
			want: []string{"--- FAIL: wrong-action", "actions: sku=C3: expected an update, the plan has a deactivate (enabled: true → false)"},
		},
		{
			name: "wrong action field and unexpected change",
			caseYAML: `
  - name: action-fields` + inputs + state + `
    actions:
      - {action: deactivate, key: C3, fields: {enabled: false, price: 9}}`,
			code: 1,
			want: []string{"--- FAIL: action-fields", "actions: sku=C3: deactivate, field price: expected 9, the change leaves it alone",
				"actions: sku=D4: the plan has a delete the case does not expect"},
		},
		{
			name: "input field the source does not have",
			caseYAML: `
  - name: bad-input
    inputs:
      source:
        - {sku: A1, prize: 10}`,
			code: 1,
			want: []string{"--- FAIL: bad-input", `error: inputs of source: row 1: no field "prize" (the fields are: sku (string), price (float), active (bool))`},
		},
		{
			name: "-run selects cases",
			caseYAML: `
  - name: wrong-price` + inputs + `
    rows: [{sku: A1, price: 21.0}, {sku: C3}]
  - name: good` + inputs + `
    rows: [{sku: A1, price: 20.0}, {sku: C3}]`,
			args: []string{"-run", "^good$"},
			code: 0,
			want: []string{"--- PASS: good", "1 cases passed (1 skipped by -run)"},
			not:  []string{"wrong-price"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "p.yaml"), testPipeline)
			write(t, filepath.Join(dir, "products.csv"), "sku,price,active\n") // never read by a case
			write(t, filepath.Join(dir, "p_test.yaml"), "version: 1\ncases:"+tc.caseYAML+"\n")
			var stdout, stderr bytes.Buffer
			args := append([]string{"test", filepath.Join(dir, "p.yaml")}, tc.args...)
			code := run(context.Background(), args, &stdout, &stderr)
			out := stdout.String()
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, stderr.String())
			}
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (after the earlier expected lines):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Fatalf("output has %q:\n%s", n, out)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, ".possync")); err == nil {
				t.Fatal("possync test created a state folder beside the pipeline")
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
				t.Fatal("possync test wrote the sink's output")
			}
		})
	}
}

// TestTestJSON checks the --json document of a failing case: the case, section, key, field and values.
func TestTestJSON(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "p.yaml"), testPipeline)
	write(t, filepath.Join(dir, "p_test.yaml"), `version: 1
cases:
  - name: wrong
    inputs:
      source: [{sku: A1, price: 10, active: true}]
    rows: [{sku: A1, price: 3}]
`)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"test", "--json", filepath.Join(dir, "p.yaml")}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	var doc struct {
		OK    bool `json:"ok"`
		Files []struct {
			Failed int `json:"failed"`
			Cases  []struct {
				Name     string `json:"name"`
				Passed   bool   `json:"passed"`
				Failures []struct {
					Section, Key, Field, Expected, Got string
				} `json:"failures"`
			} `json:"cases"`
		} `json:"files"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	if doc.OK || len(doc.Files) != 1 || doc.Files[0].Failed != 1 || len(doc.Files[0].Cases) != 1 {
		t.Fatalf("document %+v: want one failed case", doc)
	}
	c := doc.Files[0].Cases[0]
	if c.Name != "wrong" || c.Passed || len(c.Failures) != 1 {
		t.Fatalf("case %+v: want one failure", c)
	}
	f := c.Failures[0]
	if f.Section != "rows" || f.Key != "sku=A1" || f.Field != "price" || f.Expected != "3" || f.Got != "20" {
		t.Fatalf("failure %+v: want rows sku=A1 price expected 3 got 20", f)
	}
}

// TestTestInvalidFiles checks that a test file that cannot be used exits 2 with the reason.
func TestTestInvalidFiles(t *testing.T) {
	for _, tc := range []struct{ name, test, want string }{
		{"no test file", "", "read test file"},
		{"unknown field", "version: 1\ncases:\n  - name: a\n    expect: []\n", "field expect not found"},
		{"wrong version", "version: 2\ncases:\n  - name: a\n", "version is 2, want 1"},
		{"duplicate case", "version: 1\ncases:\n  - name: a\n  - name: a\n", `two cases are named "a"`},
		{"bad action", "version: 1\ncases:\n  - name: a\n    actions: [{action: upsert, key: A1}]\n", `action is "upsert"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "p.yaml"), testPipeline)
			if tc.test != "" {
				write(t, filepath.Join(dir, "p_test.yaml"), tc.test)
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"test", filepath.Join(dir, "p.yaml")}, &stdout, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2\n%s%s", code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr %q lacks %q", stderr.String(), tc.want)
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
