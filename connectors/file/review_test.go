package file

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
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

// A CSV or TSV file that ends without a line end where the last applied read's ended with one was probably
// cut short inside its last row's last field: the read fails, naming the file, the line and the row, so the
// cut value is never applied. A file that never ended with a line end is read.
func TestReviewScanLastRowCutShort(t *testing.T) {
	const (
		full = "sku,name,price\nA1,Alpha,10.0\nA2,Beta,129.95\n"
		cut  = "sku,name,price\nA1,Alpha,10.0\nA2,Beta,12"
		// advice ends the error of one file.
		advice = "; nothing was planned. Upload the file again; if it is complete, end it with a line end, or run once " +
			"with --allow-mass-change to read it as it is"
	)
	tests := []struct {
		name      string
		values    map[string]any // beside the columns; path p.csv unless set
		key       []string       // the pipeline's key (default sku)
		last, now map[string]string
		wantErr   string // "" when the read is accepted; DIR stands for the folder
	}{
		{
			name: "cut inside the last field",
			last: map[string]string{"p.csv": full}, now: map[string]string{"p.csv": cut},
			wantErr: `DIR/p.csv:3: the file ends inside its last row (sku "A2": "A2,Beta,12") without a line end, where the ` +
				"last applied read's ended with one: the upload or copy was probably cut short, and the row's last field with it" + advice,
		},
		{
			name: "never ended with a line end",
			last: map[string]string{"p.csv": strings.TrimSuffix(full, "\n")}, now: map[string]string{"p.csv": cut},
		},
		{
			name: "a line end again",
			last: map[string]string{"p.csv": strings.TrimSuffix(full, "\n")}, now: map[string]string{"p.csv": full},
		},
		{
			name:    "CRLF cut inside the last field",
			last:    map[string]string{"p.csv": strings.ReplaceAll(full, "\n", "\r\n")},
			now:     map[string]string{"p.csv": strings.ReplaceAll(cut, "\n", "\r\n")},
			wantErr: `DIR/p.csv:3: the file ends inside its last row (sku "A2": "A2,Beta,12") without a line end`,
		},
		{
			name: "CRLF cut between CR and LF",
			last: map[string]string{"p.csv": strings.ReplaceAll(full, "\n", "\r\n")},
			now:  map[string]string{"p.csv": strings.TrimSuffix(strings.ReplaceAll(full, "\n", "\r\n"), "\n")},
		},
		{
			name:    "the key in the cut field",
			last:    map[string]string{"p.csv": "name,price,sku\nAlpha,10.0,A1\nBeta,129.95,A2\n"},
			now:     map[string]string{"p.csv": "name,price,sku\nAlpha,10.0,A1\nBeta,129.95,A"},
			wantErr: `DIR/p.csv:3: the file ends inside its last row ("Beta,129.95,A") without a line end`,
		},
		{
			name: "a key that is no column of the source",
			key:  []string{"id"},
			last: map[string]string{"p.csv": full}, now: map[string]string{"p.csv": cut},
			wantErr: `DIR/p.csv:3: the file ends inside its last row ("A2,Beta,12") without a line end`,
		},
		{
			name:    "no header",
			values:  map[string]any{"header": false},
			last:    map[string]string{"p.csv": "A1,Alpha,10.0\nA2,Beta,129.95\n"},
			now:     map[string]string{"p.csv": "A1,Alpha,10.0\nA2,Beta,12"},
			wantErr: `DIR/p.csv:2: the file ends inside its last row (sku "A2": "A2,Beta,12") without a line end`,
		},
		{
			name:    "tsv, quoted, after a multi-line field",
			values:  map[string]any{"path": "p.tsv"},
			last:    map[string]string{"p.tsv": "sku\tname\tprice\n\"A\n1\"\tAlpha\t10.0\n\"A2\"\tBeta\t129.95\n"},
			now:     map[string]string{"p.tsv": "sku\tname\tprice\n\"A\n1\"\tAlpha\t10.0\n\"A2\"\tBeta\t12"},
			wantErr: `DIR/p.tsv:4: the file ends inside its last row (sku "A2": "\"A2\"\tBeta\t12") without a line end`,
		},
		{
			name:    "cut inside the header",
			last:    map[string]string{"p.csv": "sku,name,price\n"},
			now:     map[string]string{"p.csv": "sku,name,price"},
			wantErr: "DIR/p.csv:1: the file ends inside its header row without a line end",
		},
		{
			name:    "glob: one file cut",
			values:  map[string]any{"path": "in/*.csv"},
			last:    map[string]string{"in/a.csv": full, "in/b.csv": full},
			now:     map[string]string{"in/a.csv": full, "in/b.csv": cut},
			wantErr: `DIR/in/b.csv:3: the file ends inside its last row (sku "A2": "A2,Beta,12") without a line end, where the last applied read's ended with one`,
		},
		{
			name:   "glob: a new file without a line end",
			values: map[string]any{"path": "in/*.csv"},
			last:   map[string]string{"in/a.csv": full},
			now:    map[string]string{"in/a.csv": full, "in/b.csv": cut},
			wantErr: `DIR/in/b.csv:3: the file ends inside its last row (sku "A2": "A2,Beta,12") without a line end, where every ` +
				"file of the last applied read ended with one: the upload or copy was probably cut short, and the row's last field with it" + advice,
		},
		{
			name:   "glob: a new file without a line end when the last read had one",
			values: map[string]any{"path": "in/*.csv"},
			last:   map[string]string{"in/a.csv": full, "in/b.csv": cut},
			now:    map[string]string{"in/a.csv": full, "in/b.csv": cut, "in/c.csv": cut},
		},
		{
			name:   "glob: two files cut",
			values: map[string]any{"path": "in/*.csv"},
			last:   map[string]string{"in/a.csv": full, "in/b.csv": full},
			now:    map[string]string{"in/a.csv": cut, "in/b.csv": cut},
			wantErr: "2 files end without a line end; nothing was planned. Upload the file again; if it is complete, end it with " +
				"a line end, or run once with --allow-mass-change to read it as it is:\n" +
				`  DIR/in/a.csv:3: the file ends inside its last row (sku "A2": "A2,Beta,12") without a line end, where the last applied read's ended with one: the upload or copy was probably cut short, and the row's last field with it` + "\n" +
				`  DIR/in/b.csv:3: the file ends inside its last row (sku "A2": "A2,Beta,12") without a line end, where the last applied read's ended with one: the upload or copy was probably cut short, and the row's last field with it`,
		},
		{
			name:   "JSON lines: a cut object is invalid JSON, a whole one is whole",
			values: map[string]any{"path": "p.jsonl"},
			last:   map[string]string{"p.jsonl": `{"sku":"A1","name":"Alpha","price":1}` + "\n"},
			now:    map[string]string{"p.jsonl": `{"sku":"A1","name":"Alpha","price":1}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			values := map[string]any{"path": "p.csv"}
			for k, v := range tt.values {
				values[k] = v
			}
			s := reviewSource(t, dir, values, tt.key...)
			putFiles(t, dir, tt.last)
			holds, cp, err := review(t, s, nil, false)
			if err != nil || len(holds) > 0 || cp == nil {
				t.Fatalf("last applied read: holds %q, checkpoint %s, error %v", holds, cp, err)
			}
			putFiles(t, dir, tt.now)
			holds, _, err = review(t, s, cp, false)
			if tt.wantErr == "" {
				if err != nil || len(holds) > 0 {
					t.Fatalf("error %v, holds %q; want the read accepted", err, holds)
				}
				return
			}
			if err == nil {
				t.Fatalf("read accepted (holds %q), want an error starting %q", holds, tt.wantErr)
			}
			if got := strings.ReplaceAll(err.Error(), dir, "DIR"); !strings.HasPrefix(got, tt.wantErr) {
				t.Errorf("error\n%s\nwant it to start with\n%s", got, tt.wantErr)
			}
		})
	}
}

// --allow-mass-change reads a file that may be cut short as it is, says so in a hold, and takes it as the
// baseline: the next read of a file without a line end is accepted. The first read, and a checkpoint from
// before line ends were recorded, compare with nothing.
func TestReviewScanLastRowCutShortBaseline(t *testing.T) {
	dir := t.TempDir()
	s := reviewSource(t, dir, map[string]any{"path": "p.csv"})
	path := filepath.Join(dir, "p.csv")
	writeFile(t, path, "sku,name,price\nA1,Alpha,10.0\n")
	_, applied, err := review(t, s, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "sku,name,price\nA1,Alpha,1")
	holds, cp, err := review(t, s, applied, true)
	if err != nil {
		t.Fatalf("with --allow-mass-change: %v", err)
	}
	want := path + " ends without a line end, where the last applied read's ended with one: its last row may be cut short; " +
		"read as it is, as --allow-mass-change asks"
	if !reflect.DeepEqual(holds, []string{want}) {
		t.Errorf("holds %q, want %q", holds, want)
	}
	if holds, _, err := review(t, s, cp, false); err != nil || len(holds) > 0 {
		t.Errorf("after the allowed read: holds %q, error %v; want the file accepted", holds, err)
	}

	// The first read records the line ends it compares with next time.
	holds, first, err := review(t, s, nil, false)
	var c checkpoint
	if err != nil || len(holds) > 0 || json.Unmarshal(first, &c) != nil || !reflect.DeepEqual(c.LineEnds, map[string]bool{path: false}) {
		t.Errorf("first read: holds %q, checkpoint %s, error %v; want line ends {%s: false}", holds, first, err, path)
	}
	old := []byte(`{"version":1,"rows":1,"header":["sku","name","price"]}`)
	holds, next, err := review(t, s, old, false)
	if err != nil || len(holds) > 0 || !strings.Contains(string(next), `"line_ends":{`) {
		t.Errorf("after a checkpoint without line ends: holds %q, checkpoint %s, error %v; want it accepted and line ends recorded", holds, next, err)
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
