package schemas

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/possync/possync/connectors/all"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/pipetest"
	_ "github.com/possync/possync/transforms/all"
)

// schemaFile is the committed schema, relative to this folder (the test's working directory); testSchemaFile
// the committed schema of test files (`possync test`).
const (
	schemaFile     = "pipeline.schema.json"
	testSchemaFile = "pipeline-test.schema.json"
)

// editorComment starts the first line of every example pipeline: it points yaml-language-server at the schema.
const editorComment = "# yaml-language-server: $schema="

// TestSchemaUpToDate fails when the committed schema differs from what the component declarations generate.
func TestSchemaUpToDate(t *testing.T) {
	want, err := pipelines.JSONSchema(pipelines.DefaultCatalog())
	if err != nil {
		t.Fatalf("generate schema: %v", err)
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("schemas/%s: %v: run make generate", schemaFile, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("schemas/%s is stale: run make generate\n%s", schemaFile, firstDifference(got, want))
	}
}

// TestTestSchemaUpToDate fails when the committed schema of test files differs from pipetest.JSONSchema.
func TestTestSchemaUpToDate(t *testing.T) {
	want, err := pipetest.JSONSchema()
	if err != nil {
		t.Fatalf("generate test file schema: %v", err)
	}
	got, err := os.ReadFile(testSchemaFile)
	if err != nil {
		t.Fatalf("schemas/%s: %v: run make generate", testSchemaFile, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("schemas/%s is stale: run make generate\n%s", testSchemaFile, firstDifference(got, want))
	}
}

// firstDifference describes the first line where the committed and the generated schema differ.
func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("first difference at line %d:\n  committed: %s\n  generated: %s", i+1, gl, wl)
		}
	}
	return "the files differ"
}

// TestExamplesPointAtSchema checks that each example pipeline's first line is the yaml-language-server
// comment, naming a path that resolves to the committed schema (the test file schema for NAME_test.yaml).
func TestExamplesPointAtSchema(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "examples", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no example pipelines found under examples/*/*.yaml")
	}
	for _, file := range files {
		schemaFile := schemaFile
		if strings.HasSuffix(file, "_test.yaml") { // a pipeline's test cases (possync test)
			schemaFile = testSchemaFile
		}
		schema, err := os.Stat(schemaFile)
		if err != nil {
			t.Fatalf("schemas/%s: %v", schemaFile, err)
		}
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			line := firstLine(t, file)
			ref, ok := strings.CutPrefix(line, editorComment)
			if !ok {
				t.Fatalf("%s: first line is %q, want %q followed by the schema's path", file, line, editorComment)
			}
			target := filepath.Join(filepath.Dir(file), filepath.FromSlash(strings.TrimSpace(ref)))
			fi, err := os.Stat(target)
			if err != nil {
				t.Fatalf("%s: the schema comment names %q, which does not resolve: %v", file, ref, err)
			}
			if !os.SameFile(fi, schema) {
				t.Fatalf("%s: the schema comment names %q (%s), not schemas/%s", file, ref, target, schemaFile)
			}
		})
	}
}

func firstLine(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		t.Fatalf("%s: empty file (%v)", file, sc.Err())
	}
	return strings.TrimSuffix(sc.Text(), "\r")
}
