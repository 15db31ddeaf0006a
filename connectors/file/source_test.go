package file

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// cols declares columns as the list form of the configuration: name, type, name, type, ...
func cols(nameTypes ...string) []any {
	out := make([]any, 0, len(nameTypes)/2)
	for i := 0; i < len(nameTypes); i += 2 {
		out = append(out, map[string]any{"name": nameTypes[i], "type": nameTypes[i+1]})
	}
	return out
}

func newSource(t *testing.T, dir string, values map[string]any) *Source {
	t.Helper()
	s, err := NewSource(spec.Config{Values: values}, connectors.Env{Dir: dir})
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	return s
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

func TestSourceFormat(t *testing.T) {
	tests := []struct {
		path, format string
		want         string
		wantErr      string
	}{
		{path: "a.csv", want: "csv"},
		{path: "a.tsv", want: "tsv"},
		{path: "inv/Downtown.TXT", want: "tsv"},
		{path: "a.jsonl", want: "jsonl"},
		{path: "a.ndjson", want: "jsonl"},
		{path: "data/*.parquet", want: "parquet"},
		{path: "a.txt", format: "csv", want: "csv"},
		{path: "export.dat", format: "jsonl", want: "jsonl"},
		{path: "export.dat", wantErr: "cannot tell the format of export.dat"},
		{path: "data/*", wantErr: "set format to one of csv, tsv, jsonl, parquet"},
		{path: "a.csv", format: "xlsx", wantErr: `format "xlsx" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.path+"/"+tt.format, func(t *testing.T) {
			values := map[string]any{"path": tt.path, "columns": cols("sku", "string")}
			if tt.format != "" {
				values["format"] = tt.format
			}
			s, err := NewSource(spec.Config{Values: values}, connectors.Env{Dir: t.TempDir()})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.format != tt.want {
				t.Errorf("format = %q, want %q", s.format, tt.want)
			}
		})
	}
}

func TestNewSourceErrors(t *testing.T) {
	tests := []struct {
		name    string
		values  map[string]any
		wantErr string
	}{
		{"no path", map[string]any{"columns": cols("a", "string")}, "path is required"},
		{"no columns", map[string]any{"path": "a.csv"}, "declare at least one column"},
		{"unnamed column", map[string]any{"path": "a.csv", "columns": cols("", "string")}, "column 1 has no name"},
		{"repeated column", map[string]any{"path": "a.csv", "columns": cols("a", "string", "a", "int")}, `"a" is declared twice`},
		{"unknown type", map[string]any{"path": "a.csv", "columns": cols("a", "money")}, `column "a": unknown field type "money"`},
		{"delimiter on tsv", map[string]any{"path": "a.tsv", "delimiter": ";", "columns": cols("a", "string")}, "only to the csv format"},
		{"long delimiter", map[string]any{"path": "a.csv", "delimiter": ";;", "columns": cols("a", "string")}, "single character"},
		{"quote delimiter", map[string]any{"path": "a.csv", "delimiter": `"`, "columns": cols("a", "string")}, "cannot be a quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSource(spec.Config{Values: tt.values}, connectors.Env{Dir: t.TempDir()})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSourceSchema(t *testing.T) {
	s := newSource(t, t.TempDir(), map[string]any{
		"path":    "a.csv",
		"columns": cols("sku", "string", "price", "float", "stock", "int", "active", "bool", "day", "date", "at", "timestamp"),
	})
	want := arrow.NewSchema([]arrow.Field{
		{Name: "sku", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "stock", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "active", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	if !s.Schema().Equal(want) {
		t.Errorf("schema = %v, want %v", s.Schema(), want)
	}
}

func TestScan(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"data/b.csv", "data/a.csv", "data/c.txt", "other/d.csv"} {
		writeFile(t, filepath.Join(dir, name), "sku\nA\n")
	}
	if err := os.Mkdir(filepath.Join(dir, "data", "folder.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		values map[string]any
		want   connectors.Scan
	}{
		{
			name:   "glob",
			values: map[string]any{"path": "data/*.csv"},
			want: connectors.Scan{Format: "csv", Header: true, Paths: []string{
				filepath.Join(dir, "data", "a.csv"), filepath.Join(dir, "data", "b.csv"),
			}},
		},
		{
			name:   "single file with options",
			values: map[string]any{"path": "data/a.csv", "header": false, "delimiter": ";", "null_string": "NULL"},
			want: connectors.Scan{Format: "csv", Delimiter: ";", NullString: "NULL", Paths: []string{
				filepath.Join(dir, "data", "a.csv"),
			}},
		},
		{
			name:   "txt is tsv",
			values: map[string]any{"path": "data/c.txt"},
			want:   connectors.Scan{Format: "tsv", Header: true, Paths: []string{filepath.Join(dir, "data", "c.txt")}},
		},
		{
			name:   "jsonl has no header",
			values: map[string]any{"path": "data/?.csv", "format": "jsonl"},
			want: connectors.Scan{Format: "jsonl", Paths: []string{
				filepath.Join(dir, "data", "a.csv"), filepath.Join(dir, "data", "b.csv"),
			}},
		},
		{
			name:   "absolute path",
			values: map[string]any{"path": filepath.Join(dir, "other", "d.csv")},
			want:   connectors.Scan{Format: "csv", Header: true, Paths: []string{filepath.Join(dir, "other", "d.csv")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.values["columns"] = cols("sku", "string")
			s := newSource(t, dir, tt.values)
			got, err := s.Scan(context.Background(), connectors.ReadRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Scan = %+v, want %+v", *got, tt.want)
			}
			if err := s.Check(context.Background()); err != nil {
				t.Errorf("Check: %v", err)
			}
		})
	}
}

func TestScanErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "data", "a.csv"), "sku\n")
	tests := []struct {
		path    string
		wantErr string
	}{
		{"data/*.tsv", "no file matches " + filepath.Join(dir, "data", "*.tsv")},
		{"data/missing.csv", filepath.Join(dir, "data", "missing.csv") + ": no such file"},
		{"data/[.csv", "path pattern " + filepath.Join(dir, "data", "[.csv")},
		{"data", filepath.Join(dir, "data") + " is a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			s := newSource(t, dir, map[string]any{"path": tt.path, "format": "csv", "columns": cols("sku", "string")})
			for name, check := range map[string]func() error{
				"Scan":  func() error { _, err := s.Scan(context.Background(), connectors.ReadRequest{}); return err },
				"Read":  func() error { _, err := s.Read(context.Background(), connectors.ReadRequest{}); return err },
				"Check": func() error { return s.Check(context.Background()) },
			} {
				if err := check(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("%s error = %v, want one containing %q", name, err, tt.wantErr)
				}
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	comp, ctor, ok := connectors.Sources.Lookup("file")
	if !ok {
		t.Fatal("file source not registered")
	}
	if comp.Example == "" || comp.Summary == "" {
		t.Error("file source declaration lacks an example or a summary")
	}
	src, err := ctor(spec.Config{Values: map[string]any{"path": "a.csv", "columns": cols("sku", "string")}}, connectors.Env{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(connectors.Scanner); !ok {
		t.Errorf("registered file source is a %T, not a Scanner", src)
	}
	if _, err := ctor(spec.Config{Values: map[string]any{"path": "a.csv"}}, connectors.Env{}); err == nil {
		t.Error("registered constructor accepted a source without columns")
	}
	if _, _, ok := connectors.Sinks.Lookup("file"); !ok {
		t.Error("file sink not registered")
	}
}
