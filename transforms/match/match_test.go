package match

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// The rules themselves run in DuckDB: runner/match_test.go tests them end to end.

func TestNewConfigErrors(t *testing.T) {
	at := spec.Pos{File: "p.yaml", Line: 12, Col: 5, Path: "/transforms/1"}
	tests := []struct {
		name   string
		values map[string]any
		input  string
		want   []string // diagnostic paths
	}{
		{"no products", map[string]any{}, "inventory", []string{"/transforms/1/products"}},
		{"no items and no input", map[string]any{"products": "website"}, "", []string{"/transforms/1/items"}},
		{"blank keys", map[string]any{"products": "website", "columns": map[string]any{
			"items": map[string]any{"key": ""}, "products": map[string]any{"sku": " "}}}, "inventory",
			[]string{"/transforms/1/columns/items/key", "/transforms/1/columns/products/sku"}},
		{"key is an output field", map[string]any{"products": "website", "columns": map[string]any{
			"items": map[string]any{"key": "Website_SKU"}}}, "inventory", []string{"/transforms/1/columns/items/key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(spec.Config{Pos: at, Values: tt.values}, transforms.Env{InputName: tt.input})
			var ds spec.Diagnostics
			if !errors.As(err, &ds) {
				t.Fatalf("New: %v, want diagnostics", err)
			}
			var paths []string
			for _, d := range ds {
				if d.Code != spec.CodeMatchConfig || d.Line != 12 {
					t.Errorf("diagnostic %v: want code %s at line 12", d, spec.CodeMatchConfig)
				}
				paths = append(paths, d.Path)
			}
			if !reflect.DeepEqual(paths, tt.want) {
				t.Errorf("diagnostics at %v, want %v", paths, tt.want)
			}
		})
	}
}

func TestNewDefaultsAndMappings(t *testing.T) {
	dir := t.TempDir()
	content := "\uFEFFPOS_SKU, Website_SKU\r\n# a comment\r\n\r\n A-1 , W-1\r\nB-2,\r\n\"C,3\",W-3\r\n"
	if err := os.WriteFile(filepath.Join(dir, "m.csv"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := New(spec.Config{Values: map[string]any{"products": "website", "mappings": "m.csv"}},
		transforms.Env{InputName: "inventory", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s := tr.(*Step)
	if s.c.Items != "inventory" || s.c.Columns != defaultColumns {
		t.Errorf("items %q columns %+v, want the input and the default columns", s.c.Items, s.c.Columns)
	}
	want := []mapping{{"A-1", "W-1"}, {"B-2", ""}, {"C,3", "W-3"}}
	if !reflect.DeepEqual(s.mappings, want) {
		t.Errorf("mappings %v, want %v", s.mappings, want)
	}
	q := s.Query().Text
	if strings.Contains(q, "\n") || !strings.Contains(q, "('A-1', 'W-1'), ('B-2', NULL), ('C,3', 'W-3')") {
		t.Errorf("query is not one line or lacks the decisions: %s", q)
	}
	if got := s.Annotations(); !reflect.DeepEqual(got, []string{FieldMatch}) {
		t.Errorf("annotations %v, want [match]", got)
	}
}
