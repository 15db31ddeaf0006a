package pipelines

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/spec"
)

func docsOf(t *testing.T, c *spec.Component) string {
	t.Helper()
	var b strings.Builder
	if err := WriteDocs(&b, c); err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(b.String(), "\n") {
		if n := len([]rune(line)); n > docWidth {
			t.Errorf("line %d has %d columns: %q", i+1, n, line)
		}
	}
	return b.String()
}

func TestWriteDocs(t *testing.T) {
	cat := newTestCatalog(t)
	file, _ := cat.Component(spec.KindSource, "file")
	want := `file (source)
  Reads records from a delimited file.

  The file is read whole on every run.

  Paths are relative to the pipeline file.

FIELDS
  NAME     TYPE            REQUIRED/DEFAULT  DESCRIPTION
  type     string          required          Must be ` + "`file`" + `.
  path     string          required          Path of the file.
  format   string          default csv       Format of the file. One of: csv, tsv, jsonl.
  timeout  duration        default 30s       How long a read may take.
  columns  list of object  optional          Declared columns.
    name   string          required          Column name.
    type   string          default string    Column type.
  extra    any             optional          Anything.
  options  map of string   optional          (advanced) Reader options.

EXAMPLE
  type: file
  path: data/products.csv
`
	if got := docsOf(t, file); got != want {
		t.Errorf("docs:\n%s\nwant:\n%s", got, want)
	}

	shop, _ := cat.Component(spec.KindSink, "shop")
	if got := docsOf(t, shop); !strings.Contains(got,
		"  api_key     string  required          API key. Secret: never shown; read it from the environment\n"+
			"                                        with ${VAR}.\n") {
		t.Errorf("secret field row missing or not wrapped:\n%s", got)
	}

	// Transforms document their reserved keys; sql steps have no `input`.
	mapDocs := docsOf(t, cat["transform"]["map"])
	sqlDocs := docsOf(t, cat["transform"]["sql"])
	if !strings.Contains(mapDocs, "\n  input ") || !strings.Contains(mapDocs, "\n  name ") {
		t.Errorf("map docs lack name or input:\n%s", mapDocs)
	}
	if strings.Contains(sqlDocs, "\n  input ") || !strings.Contains(sqlDocs, "\n  name ") {
		t.Errorf("sql docs must show name and not input:\n%s", sqlDocs)
	}
}

func TestWriteDocsNarrowDescription(t *testing.T) {
	long := strings.Repeat("x", 60)
	c := &spec.Component{Kind: spec.KindSink, Name: "wide", Summary: "Wide.", Fields: []spec.Field{
		{Name: long, Type: spec.TypeString, Description: strings.Repeat("word ", 40)},
	}}
	got := docsOf(t, c)
	if !strings.Contains(got, "  "+long+"  string  optional\n        word word") {
		t.Errorf("description not moved below a wide row:\n%s", got)
	}
}

func TestWriteIndex(t *testing.T) {
	var b strings.Builder
	if err := WriteIndex(&b, newTestCatalog(t)); err != nil {
		t.Fatal(err)
	}
	want := `SOURCES
  file    Reads records from a delimited file.
  http    Reads records from an HTTP API.

SINKS
  file    Writes records to a file.
  shop    Applies changes to a web shop.

TRANSFORMS
  filter  Keeps the rows matching a condition.
  map     Computes fields with expressions.
  sql     Runs a SQL query.
`
	if b.String() != want {
		t.Errorf("index:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteIndex(&b, testCatalog{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "SINKS\n  (none registered)\n") {
		t.Errorf("empty index:\n%s", b.String())
	}
}

func TestWrapAndFormatValue(t *testing.T) {
	if got := wrap("aa "+strings.Repeat("b", 12)+" cc", 5); !slices.Equal(got, []string{"aa", "bbbbb", "bbbbb", "bb cc"}) {
		t.Errorf("wrap = %q", got)
	}
	cases := map[string]any{
		`{a: "x y", b: 1}`:            map[string]any{"b": 1, "a": "x y"},
		`[{name: sku, type: string}]`: []any{map[string]any{"name": "sku", "type": "string"}},
		`{qty: int}`:                  map[string]string{"qty": "int"},
		`30s`:                         30 * time.Second,
		`""`:                          "",
		`"price > 0 && active"`:       "price > 0 && active",
		`[internal_note, "a, b"]`:     []string{"internal_note", "a, b"},
	}
	for want, v := range cases {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%#v) = %s, want %s", v, got, want)
		}
	}
}
