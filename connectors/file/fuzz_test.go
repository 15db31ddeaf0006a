package file

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// fuzzColumns declares one column of every type, so that every value parser sees the fuzzed text.
var fuzzColumns = cols("sku", "string", "price", "float", "stock", "int", "active", "bool", "day", "date", "at", "timestamp")

// fuzzRead reads the file at name in dir (written with data) through the source's Read with a leak-checking
// allocator. It fails the test on a panic (by not recovering), on a leak, on an error that does not name the
// file, and on more records than the file has lines.
func fuzzRead(t *testing.T, dir, name string, data []byte, values map[string]any) {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	values["path"], values["columns"] = name, fuzzColumns
	s, err := NewSource(spec.Config{Values: values}, connectors.Env{Dir: dir})
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	r, err := s.Read(context.Background(), connectors.ReadRequest{Alloc: alloc})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	defer r.Close()
	rows := 0
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file %s", err, path)
			}
			return
		}
		if !b.Schema().Equal(s.Schema()) {
			t.Fatalf("batch schema %v, want %v", b.Schema(), s.Schema())
		}
		rows += int(b.NumRows())
		b.Release()
	}
	if lines := bytes.Count(data, []byte("\n")) + 1; rows > lines {
		t.Fatalf("%d records from %d lines", rows, lines)
	}
}

// FuzzReadDelimited feeds arbitrary bytes to the Go CSV/TSV reader of the file source (BOM, quoting,
// header matching, field counts, every value type), with and without a header row.
func FuzzReadDelimited(f *testing.F) {
	seeds := []string{
		"\ufeffprice,extra,sku,stock,active,day,at\n12.5,x,A1,3,true,2025-01-15,2025-01-15T14:00:00Z\n" +
			"\"1000.5\",y,\"B \"\"2\"\"\",,no,,2025-01-15 14:00:00.25\n,z,\"C\n3\",-7,1,2024-02-29,2025-01-15T15:00:00+01:00\n",
		"sku,price,stock,active,day,at\nA,1,2,y,2025-01-01,2025-01-01\n",
		"sku,price,stock,active,day,at\n\"A,1,2,y,2025-01-01,2025-01-01\n",
		"sku,price,stock,active,day,at\nA,1,2,y\n", "", "\n", "sku\x00,price\n",
		"A,1e309,99999999999999999999,maybe,2025-02-30,9999-99-99\n",
		"sku\tprice\tstock\tactive\tday\tat\nA\t1\t2\tn\t2025-01-01\t2025-01-01T00:00:00.123456789Z\n",
		"sku,price,stock,active,day,at\r\nA,NaN,0,1,0001-01-01,0001-01-01T00:00:00Z\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), true, false)
		f.Add([]byte(s), false, true)
	}
	if b, err := os.ReadFile(filepath.Join("..", "..", "examples", "acme-outdoor", "data", "products.csv")); err == nil {
		f.Add(b, true, false)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, header, tsv bool) {
		name := "p.csv"
		if tsv {
			name = "p.tsv"
		}
		fuzzRead(t, dir, name, data, map[string]any{"header": header})
	})
}

// FuzzReadJSONL feeds arbitrary bytes to the JSON-lines reader of the file source.
func FuzzReadJSONL(f *testing.F) {
	for _, s := range []string{
		`{"sku":"A1","price":12.5,"stock":3,"active":true,"at":"2025-01-15T14:00:00Z","extra":{"x":1}}` + "\n\n" +
			`{"sku":1234,"price":"7","stock":"8","active":"no","at":null}` + "\n" + `  {"sku":"C3"}  `,
		`{"sku":"A","sku":"B"}`, `[1,2]`, `null`, `{"sku":{"a":1}}`, `{"price":1e999}`, `{"stock":1.5}`,
		`{"day":"2025-13-01"}`, "{\"sku\":\"\x00\"}", `{"a":1}{"b":2}`, "\xef\xbb\xbf{\"sku\":\"A\"}", `{"sku":"A"`,
		`{"active":true,"stock":-9223372036854775809}`, "", "\n\n\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, dir, "p.jsonl", data, map[string]any{})
	})
}
