package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// reviewSource builds a source of the columns sku, name, price (unless values declares others) at path in
// dir, for a pipeline keyed by key.
func reviewSource(t *testing.T, dir string, values map[string]any, key ...string) *Source {
	t.Helper()
	v := map[string]any{"columns": cols("sku", "string", "name", "string", "price", "float")}
	for k, x := range values {
		v[k] = x
	}
	if len(key) == 0 {
		key = []string{"sku"}
	}
	s, err := NewSource(spec.Config{Values: v}, connectors.Env{Dir: dir, Key: key})
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	return s
}

// review scans the source's files as they are and reviews them as the runner does after reading them,
// against the checkpoint of the last applied read (nil: the first read).
func review(t *testing.T, s *Source, checkpoint []byte, allow bool) ([]string, []byte, error) {
	t.Helper()
	req := connectors.ReadRequest{Checkpoint: checkpoint, AllowMassChange: allow}
	scan, err := s.Scan(context.Background(), req)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return s.ReviewScan(context.Background(), req, scan, 2)
}

// putFiles makes the files under dir exactly files (contents by relative path), removing the others of in/
// and the single files the tests use.
func putFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	old, _ := filepath.Glob(filepath.Join(dir, "in", "*"))
	for _, name := range append(old, filepath.Join(dir, "p.csv"), filepath.Join(dir, "p.tsv"), filepath.Join(dir, "p.jsonl")) {
		if err := os.Remove(name); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
}

// A JSON-lines file whose objects all lack the key of a declared column fails the review (the runner's
// DuckDB read gives null for it); a key in some lines only, or only ever null, is held.
func TestReviewScanJSONLKeys(t *testing.T) {
	long := `{"sku":"A1","name":"` + strings.Repeat("x", 100<<10) + `","price":1}` + "\n"
	tests := []struct {
		name    string
		columns []any
		files   map[string]string
		wantErr string // "" when the file holds every key; DIR stands for the folder
	}{
		{
			name:  "every key on the first line",
			files: map[string]string{"in/a.jsonl": `{"sku":"A1","name":"Alpha","price":1}` + "\n" + `{"sku":"A2"}` + "\n"},
		},
		{
			name: "renamed in every line",
			files: map[string]string{"in/a.jsonl": `{"sku":"A1","name":"Alpha","retail_price":1}` + "\n" +
				`{"sku":"A2","name":"Beta","retail_price":2}` + "\n"},
			wantErr: `DIR/in/a.jsonl: no line has the key "price", declared in columns (the first line has sku, name, retail_price): ` +
				"a renamed or dropped key would read as null in every record; fix the export, or the column's name in the source's columns",
		},
		{
			name:    "only as a value or in a nested object",
			files:   map[string]string{"in/a.jsonl": `{"sku":"A1","name":"price","x":{"price":1},"y":["price",{"price":2}]}` + "\n"},
			wantErr: `DIR/in/a.jsonl: no line has the key "price", declared in columns (the first line has sku, name, x, y)`,
		},
		{
			name:    "several keys",
			files:   map[string]string{"in/a.jsonl": `{"SKU":"A1"}` + "\n"},
			wantErr: `DIR/in/a.jsonl: no line has the keys "sku", "name", "price", declared in columns (the first line has SKU)`,
		},
		{
			name:  "only on the last line, without a line end",
			files: map[string]string{"in/a.jsonl": strings.Repeat(`{"sku":"A1","name":"Alpha"}`+"\n", 5000) + `{"price":null}`},
		},
		{
			name:  "only null",
			files: map[string]string{"in/a.jsonl": `{"sku":"A1","name":"Alpha","price":null}` + "\n"},
		},
		{
			name:  "escaped",
			files: map[string]string{"in/a.jsonl": `{"sku":"A1","na\u006de":"Alpha", "pri\u0063e" : 1}` + "\n"},
		},
		{
			name:    "a name written escaped",
			columns: cols("sku", "string", "prix_é", "float"),
			files:   map[string]string{"in/a.jsonl": `{"sku":"A1","prix_\u00e9":1}` + "\n"},
		},
		{
			name:    "a name written as it is",
			columns: cols("sku", "string", "prix_é", "float", "a<b", "string"),
			files:   map[string]string{"in/a.jsonl": `{"sku":"A1","prix_é":1,"a<b":"x"}` + "\n"},
		},
		{
			name:  "a byte order mark and CRLF",
			files: map[string]string{"in/a.jsonl": "\ufeff" + `{"sku":"A1","name":"Alpha","price":1}` + "\r\n"},
		},
		{
			name:  "a line longer than the read buffer",
			files: map[string]string{"in/a.jsonl": long},
		},
		{
			name:  "no object",
			files: map[string]string{"in/a.jsonl": "\n \n"},
		},
		{
			name: "glob: the second file lacks a key",
			files: map[string]string{"in/a.jsonl": `{"sku":"A1","name":"Alpha","price":1}` + "\n",
				"in/b.jsonl": `{"sku":"B1","name":"Beta","cost":1}` + "\n"},
			wantErr: `DIR/in/b.jsonl: no line has the key "price", declared in columns (the first line has sku, name, cost)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			values := map[string]any{"path": "in/*.jsonl"}
			if tt.columns != nil {
				values["columns"] = tt.columns
			}
			s := reviewSource(t, dir, values)
			putFiles(t, dir, tt.files)
			_, _, err := review(t, s, nil, false)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("error %v, want the files accepted", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("files accepted, want an error starting %q", tt.wantErr)
			}
			if got := strings.ReplaceAll(err.Error(), dir, "DIR"); !strings.HasPrefix(got, tt.wantErr) {
				t.Errorf("error\n%s\nwant it to start with\n%s", got, tt.wantErr)
			}
		})
	}
}
