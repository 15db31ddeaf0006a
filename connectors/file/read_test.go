package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// readAll reads a source to the end with a leak-checking allocator and returns its records and the row
// count of each batch (that every batch has the declared schema is checked by TestConformance).
func readAll(t *testing.T, s *Source) ([]record.Record, []int) {
	t.Helper()
	recs, sizes, err := tryReadAll(t, s)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return recs, sizes
}

func tryReadAll(t *testing.T, s *Source) ([]record.Record, []int, error) {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	r, err := s.Read(context.Background(), connectors.ReadRequest{Alloc: alloc})
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var recs []record.Record
	var sizes []int
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		sizes = append(sizes, int(b.NumRows()))
		for i := 0; i < int(b.NumRows()); i++ {
			recs = append(recs, record.RowRecord(b, i))
		}
		b.Release()
	}
	if res := r.Result(); res.Mode != connectors.Snapshot {
		t.Errorf("mode = %v, want snapshot", res.Mode)
	}
	return recs, sizes, nil
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func checkRecords(t *testing.T, got, want []record.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("record %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

func TestReadCSV(t *testing.T) {
	dir := t.TempDir()
	// Columns in another order than declared, an extra column, a BOM, quoting, nulls and every type.
	s := newSource(t, dir, map[string]any{
		"path":    "products.csv",
		"columns": cols("sku", "string", "price", "float", "stock", "int", "active", "bool", "day", "date", "at", "timestamp"),
	})
	writeFile(t, filepath.Join(dir, "products.csv"), "\ufeffprice,extra,sku,stock,active,day,at\n"+
		"12.5,x,A1,3,true,2025-01-15,2025-01-15T14:00:00Z\n"+
		"\"1000.5\",y,\"B \"\"2\"\"\",,no,,2025-01-15 14:00:00.25\n"+
		",z,\"C\n3\",-7,1,2024-02-29,2025-01-15T15:00:00+01:00\n")
	got, _ := readAll(t, s)
	checkRecords(t, got, []record.Record{
		{"sku": "A1", "price": 12.5, "stock": int64(3), "active": true, "day": utc("2025-01-15T00:00:00Z"), "at": utc("2025-01-15T14:00:00Z")},
		{"sku": `B "2"`, "price": 1000.5, "stock": nil, "active": false, "day": nil, "at": utc("2025-01-15T14:00:00.25Z")},
		{"sku": "C\n3", "price": nil, "stock": int64(-7), "active": true, "day": utc("2024-02-29T00:00:00Z"), "at": utc("2025-01-15T14:00:00Z")},
	})
}

func TestReadDelimitedOptions(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		values  map[string]any
		want    []record.Record
	}{
		{
			name:    "tsv without header, lazy quotes",
			file:    "Downtown_inv.txt",
			content: "A1\t12\" pizza\t3\nB2\t\t\n",
			values:  map[string]any{"header": false},
			want: []record.Record{
				{"sku": "A1", "title": `12" pizza`, "stock": int64(3)},
				{"sku": "B2", "title": nil, "stock": nil},
			},
		},
		{
			name:    "csv delimiter and null string",
			file:    "eu.csv",
			content: "sku;title;stock\nA1;;NULL\nB2;NULL;4\n",
			values:  map[string]any{"delimiter": ";", "null_string": "NULL"},
			want: []record.Record{
				{"sku": "A1", "title": "", "stock": nil},
				{"sku": "B2", "title": nil, "stock": int64(4)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, tt.file), tt.content)
			tt.values["path"] = tt.file
			tt.values["columns"] = cols("sku", "string", "title", "string", "stock", "int")
			got, _ := readAll(t, newSource(t, dir, tt.values))
			checkRecords(t, got, tt.want)
		})
	}
}

func TestReadGlobInOrderAndBatches(t *testing.T) {
	dir := t.TempDir()
	var big strings.Builder
	big.WriteString("sku\n")
	for i := range batchRows + 10 {
		fmt.Fprintf(&big, "b%05d\n", i)
	}
	writeFile(t, filepath.Join(dir, "in", "2_big.csv"), big.String())
	writeFile(t, filepath.Join(dir, "in", "1_small.csv"), "sku\na\nb\n")
	writeFile(t, filepath.Join(dir, "in", "3_empty.csv"), "sku\n")
	s := newSource(t, dir, map[string]any{"path": "in/*.csv", "columns": cols("sku", "string")})
	got, sizes := readAll(t, s)
	if want := []int{2, batchRows, 10}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("batch sizes = %v, want %v", sizes, want)
	}
	if len(got) != batchRows+12 || got[0]["sku"] != "a" || got[2]["sku"] != "b00000" || got[len(got)-1]["sku"] != fmt.Sprintf("b%05d", batchRows+9) {
		t.Errorf("records out of order: first %v, third %v, last %v", got[0], got[2], got[len(got)-1])
	}
}

func TestReadJSONL(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.ndjson"), `{"sku":"A1","price":12.5,"stock":3,"active":true,"at":"2025-01-15T14:00:00Z","extra":{"x":1}}`+"\n"+
		"\n"+
		`{"sku":1234,"price":"7","stock":"8","active":"no","at":null,"note":null}`+"\n"+
		`  {"sku":"C3"}  `) // no final newline
	// A key missing from some lines is null there; a key only ever null ("note") is held by the file.
	s := newSource(t, dir, map[string]any{
		"path":    "p.ndjson",
		"columns": cols("sku", "string", "price", "float", "stock", "int", "active", "bool", "at", "timestamp", "note", "string"),
	})
	got, _ := readAll(t, s)
	checkRecords(t, got, []record.Record{
		{"sku": "A1", "price": 12.5, "stock": int64(3), "active": true, "at": utc("2025-01-15T14:00:00Z"), "note": nil},
		{"sku": "1234", "price": 7.0, "stock": int64(8), "active": false, "at": nil, "note": nil},
		{"sku": "C3", "price": nil, "stock": nil, "active": nil, "at": nil, "note": nil},
	})
}

// Every file of a glob must hold each declared key in one of its lines; a file without objects holds none
// and is no error.
func TestReadJSONLKeysPerFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in", "1.jsonl"), `{"sku":"A1","price":1}`+"\n"+`{"sku":"A2"}`+"\n")
	writeFile(t, filepath.Join(dir, "in", "2.jsonl"), "\n  \n")
	writeFile(t, filepath.Join(dir, "in", "3.jsonl"), `{"sku":"B1","cost":1}`+"\n"+`{"sku":"B2","nested":{"price":2},"note":"price"}`+"\n")
	s := newSource(t, dir, map[string]any{"path": "in/*.jsonl", "columns": cols("sku", "string", "price", "float")})
	_, _, err := tryReadAll(t, s)
	want := filepath.Join(dir, "in", "3.jsonl") + `: no line has the key "price", declared in columns (the first line has sku, cost)`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error = %v, want one starting %q", err, want)
	}
	writeFile(t, filepath.Join(dir, "in", "3.jsonl"), `{"sku":"B1"}`+"\n"+`{"sku":"B2","price":null}`)
	recs, _ := readAll(t, s)
	checkRecords(t, recs, []record.Record{
		{"sku": "A1", "price": 1.0}, {"sku": "A2", "price": nil}, {"sku": "B1", "price": nil}, {"sku": "B2", "price": nil},
	})
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		values  map[string]any
		wantErr string // after "<dir>/<file>"
	}{
		{
			name:    "bad number",
			file:    "p.csv",
			content: "sku,price\nA1,1\nB2,abc\n",
			wantErr: `p.csv:3: column price: "abc" is not a number`,
		},
		{
			name:    "line after a multi-line field",
			file:    "p.csv",
			content: "sku,price\n\"A\n1\",1\nB2,1.5.1\n",
			wantErr: `p.csv:4: column price: "1.5.1" is not a number`,
		},
		{
			name:    "wrong field count",
			file:    "p.csv",
			content: "sku,price\nA1,1\nB2,2,3\n",
			wantErr: "p.csv:3: row has 3 field(s), the header has 2",
		},
		{
			name:    "missing header column",
			file:    "p.csv",
			content: "sku,cost\nA1,1\n",
			wantErr: `p.csv:1: no column "price" in the header (it has sku, cost)`,
		},
		{
			name:    "empty file with header",
			file:    "p.csv",
			content: "",
			wantErr: "p.csv: empty file, want a header row",
		},
		{
			name:    "no header, too few fields",
			file:    "p.tsv",
			content: "A1\n",
			values:  map[string]any{"header": false},
			wantErr: "p.tsv:1: row has 1 fields, want 2",
		},
		{
			name:    "bad quote",
			file:    "p.csv",
			content: "sku,price\n\"A1\"x,1\n",
			wantErr: `p.csv:2:4: a quoted field is not closed properly: a " inside it is not doubled (""), text follows its closing ", or the file is cut short here`,
		},
		{
			name:    "cut short",
			file:    "p.csv",
			content: "sku,price\nA1,1\nB2",
			wantErr: "p.csv:3: row has 1 field(s), the header has 2 (if this is the last line, the file may be cut short)",
		},
		{
			name:    "semicolons",
			file:    "p.csv",
			content: "sku;price\nA1;1\n",
			wantErr: `p.csv:1: no column "sku" in the header (it has sku;price); with delimiter ';' the header has every declared column: set delimiter: ';' on the source`,
		},
		{
			name:    "commas in a tsv",
			file:    "p.tsv",
			content: "sku,price\nA1,1\n",
			wantErr: `p.tsv:1: no column "sku" in the header (it has sku,price); the file is delimited by ',', not tabs: set format: csv and delimiter: ',' on the source`,
		},
		{
			name:    "invalid json",
			file:    "p.jsonl",
			content: "{\"sku\":\"A1\",\"price\":1}\n{\"sku\":\"B2\",\n",
			wantErr: "p.jsonl:2: not a JSON object",
		},
		{
			name:    "json cut short",
			file:    "p.jsonl",
			content: "{\"sku\":\"A1\",\"price\":1}\n{\"sku\":\"B2\",\"pri",
			wantErr: "p.jsonl:2: not a JSON object: unexpected EOF (the last line ends inside the object: the file may be cut short)",
		},
		{
			name:    "json array",
			file:    "p.jsonl",
			content: "[1,2]\n",
			wantErr: "p.jsonl:1: not a JSON object",
		},
		{
			name:    "two json objects on a line",
			file:    "p.jsonl",
			content: "{\"sku\":\"A1\"} {\"sku\":\"B2\"}\n",
			wantErr: "p.jsonl:1: not a single JSON object",
		},
		{
			name:    "json wrong type",
			file:    "p.jsonl",
			content: "{\"sku\":\"A1\",\"price\":1}\n\n{\"sku\":\"B2\",\"price\":[1]}\n",
			wantErr: "p.jsonl:3: column price: a JSON array is not a float",
		},
		{
			name:    "json key in no line",
			file:    "p.jsonl",
			content: "{\"sku\":\"A1\",\"retail_price\":1}\n\n{\"sku\":\"B2\",\"retail_price\":2}\n",
			wantErr: `p.jsonl: no line has the key "price", declared in columns (the first line has sku, retail_price): ` +
				"a renamed or dropped key would read as null in every record; fix the export, or the column's name in the source's columns",
		},
		{
			name:    "json keys in no line",
			file:    "p.jsonl",
			content: "{\"SKU\":\"A1\",\"Price\":1}\n",
			wantErr: `p.jsonl: no line has the keys "sku", "price", declared in columns (the first line has SKU, Price)`,
		},
		{
			name:    "json bad value",
			file:    "p.jsonl",
			content: "{\"sku\":{\"a\":1},\"price\":1}\n",
			wantErr: "p.jsonl:1: column sku: a JSON object is not a string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, tt.file), tt.content)
			values := map[string]any{"path": tt.file, "columns": cols("sku", "string", "price", "float")}
			for k, v := range tt.values {
				values[k] = v
			}
			_, _, err := tryReadAll(t, newSource(t, dir, values))
			want := filepath.Join(dir, tt.wantErr)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %v, want one containing %q", err, want)
			}
		})
	}
}

func TestReadCancelled(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.csv"), "sku\nA1\n")
	s := newSource(t, dir, map[string]any{"path": "p.csv", "columns": cols("sku", "string")})
	r, err := s.Read(context.Background(), connectors.ReadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next after cancel = %v, want context.Canceled", err)
	}
	// The error ends the read.
	if _, err := r.Next(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("Next after a failed Next = %v, want the same error", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// The encoding option decodes Windows-1252 and Latin-1 files (issue 16).
func TestReadEncodings(t *testing.T) {
	for _, tc := range []struct {
		encoding, file, content, want string
	}{
		{"windows-1252", "p.csv", "sku,name\nA1,Caf\xe9 \x93Ol\xe9\x94 \x80\n", "Café “Olé” €"},
		{"latin-1", "p.csv", "sku,name\nA1,Caf\xe9 \xbd\n", "Café ½"},
		{"cp1252", "p.jsonl", "{\"sku\":\"A1\",\"name\":\"Caf\xe9\"}\n", "Café"},
		{"utf-8", "p.csv", "\xef\xbb\xbfsku,name\nA1,Café\n", "Café"},
	} {
		t.Run(tc.encoding, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, tc.file), tc.content)
			s := newSource(t, dir, map[string]any{"path": tc.file, "encoding": tc.encoding, "columns": cols("sku", "string", "name", "string")})
			recs, _ := readAll(t, s)
			if len(recs) != 1 || recs[0]["name"] != tc.want {
				t.Errorf("records %v, want name %q", recs, tc.want)
			}
		})
	}
	if _, err := NewSource(spec.Config{Values: map[string]any{"path": "a.csv", "encoding": "utf-16", "columns": cols("sku", "string")}},
		connectors.Env{Dir: t.TempDir()}); err == nil || err.Error() != `encoding "utf-16": want one of utf-8, windows-1252, latin-1` {
		t.Errorf("utf-16: %v", err)
	}
	// A file that is not UTF-8 is read by Read, which decodes it: the registered source offers no DuckDB scan.
	src, err := registeredSource(spec.Config{Values: map[string]any{"path": "a.csv", "encoding": "latin-1", "columns": cols("sku", "string")}},
		connectors.Env{Dir: t.TempDir()})
	if _, scans := src.(connectors.Scanner); err != nil || scans {
		t.Errorf("latin-1 source: %v, scanner %v", err, scans)
	}
}

// Diagnose names the first line of a file that is not UTF-8 text, and otherwise the Go reader's error.
func TestDiagnose(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"NUL byte", "sku,price\nA1,1\nB\x00,2\n", "p.csv:3: a NUL byte: the file holds binary data, not text"},
		{"not UTF-8", "sku,price\nA1,1\n\n\"Caf\xe9\",2\n", "p.csv:4: byte 0xE9 is not UTF-8 text: the file is in another encoding (or holds binary data); " +
			"for a POS or spreadsheet export set encoding: windows-1252 (or latin-1) on the source"},
		{"a bad row", "sku,price\nA1,x\n", `p.csv:2: column price: "x" is not a number`},
		{"nothing wrong", "sku,price\nA1,1\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "p.csv")
			writeFile(t, path, tc.content)
			s := newSource(t, dir, map[string]any{"path": "p.csv", "columns": cols("sku", "string", "price", "float")})
			err := s.Diagnose(context.Background(), &connectors.Scan{Paths: []string{path}})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, tc.want))):
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// A character split across the reader's chunks is whole text.
	dir := t.TempDir()
	path := filepath.Join(dir, "p.csv")
	writeFile(t, path, "sku,price\n"+strings.Repeat("é", 40000)+",1\n")
	if err := checkText(path); err != nil {
		t.Errorf("long UTF-8 line: %v", err)
	}
}
