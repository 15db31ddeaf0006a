package pipelines

import (
	"sort"
	"strings"
	"testing"

	"github.com/possync/possync/spec"
)

// testCatalog is a Catalog of components declared by the tests.
type testCatalog map[spec.Kind]map[string]*spec.Component

func (c testCatalog) Component(kind spec.Kind, typ string) (*spec.Component, bool) {
	comp, ok := c[kind][typ]
	return comp, ok
}

func (c testCatalog) Types(kind spec.Kind) []string {
	var out []string
	for name := range c[kind] {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// newTestCatalog returns a catalog of the test components, checked like a registry checks them.
func newTestCatalog(t testing.TB) testCatalog {
	t.Helper()
	cat := testCatalog{}
	for _, c := range testComponents() {
		if err := c.Check(); err != nil {
			t.Fatalf("test component %s: %v", c.Name, err)
		}
		if cat[c.Kind] == nil {
			cat[c.Kind] = map[string]*spec.Component{}
		}
		cat[c.Kind][c.Name] = &c
	}
	return cat
}

func testComponents() []spec.Component {
	return []spec.Component{
		{
			Kind: spec.KindSource, Name: "file", Summary: "Reads records from a delimited file.",
			Description: "The file is read whole on every run.\n\nPaths are relative to the pipeline file.",
			Example:     "type: file\npath: data/products.csv\n",
			Fields: []spec.Field{
				{Name: "path", Type: spec.TypeString, Required: true, Description: "Path of the file."},
				{Name: "format", Type: spec.TypeString, Default: "csv", Enum: []string{"csv", "tsv", "jsonl"},
					Description: "Format of the file."},
				{Name: "timeout", Type: spec.TypeDuration, Default: "30s", Description: "How long a read may take."},
				{Name: "columns", Type: spec.TypeList, Description: "Declared columns.",
					Items: &spec.Field{Type: spec.TypeObject, Fields: []spec.Field{
						{Name: "name", Type: spec.TypeString, Required: true, Description: "Column name."},
						{Name: "type", Type: spec.TypeString, Default: "string", Description: "Column type."},
					}}},
				{Name: "options", Type: spec.TypeMap, Items: &spec.Field{Type: spec.TypeString},
					Description: "Reader options.", Advanced: true},
				{Name: "extra", Type: spec.TypeAny, Description: "Anything."},
			},
		},
		{
			Kind: spec.KindSource, Name: "http", Summary: "Reads records from an HTTP API.",
			Fields: []spec.Field{
				{Name: "url", Type: spec.TypeString, Required: true, HTTPURL: true, Description: "Endpoint."},
				{Name: "token", Type: spec.TypeString, Secret: true, Description: "Bearer token."},
			},
		},
		{
			Kind: spec.KindSink, Name: "file", Summary: "Writes records to a file.",
			Fields: []spec.Field{
				{Name: "path", Type: spec.TypeString, Required: true, Description: "Path of the file."},
			},
		},
		{
			Kind: spec.KindSink, Name: "shop", Summary: "Applies changes to a web shop.",
			Fields: []spec.Field{
				{Name: "store", Type: spec.TypeString, Required: true, Description: "Store domain."},
				{Name: "api_key", Type: spec.TypeString, Required: true, Secret: true, Description: "API key."},
				{Name: "batch_size", Type: spec.TypeInt, Default: 100, Description: "Changes per request."},
				{Name: "dry", Type: spec.TypeBool, Default: false, Description: "Do not write."},
				{Name: "rate", Type: spec.TypeFloat, Default: 1.5, Description: "Requests per second."},
				{Name: "mode", Type: spec.TypeString, Enum: []string{"fast", "safe"}, Description: "Mode."},
			},
		},
		{
			Kind: spec.KindTransform, Name: "map", Summary: "Computes fields with expressions.",
			Fields: []spec.Field{
				{Name: "fields", Type: spec.TypeMap, Required: true, Items: &spec.Field{Type: spec.TypeExpr},
					Description: "Output fields and their expressions."},
				{Name: "keep", Type: spec.TypeStringOrList, Description: "Input fields to keep."},
			},
		},
		{
			Kind: spec.KindTransform, Name: "filter", Summary: "Keeps the rows matching a condition.",
			Fields: []spec.Field{
				{Name: "where", Type: spec.TypeExpr, Required: true, Description: "Condition."},
			},
		},
		{
			Kind: spec.KindTransform, Name: "sql", Summary: "Runs a SQL query.",
			Fields: []spec.Field{
				{Name: "query", Type: spec.TypeSQL, Required: true, Description: "The query."},
			},
		},
	}
}

// env returns a LookupEnv over vars.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// parse parses src as the file "p.yaml" with the test catalog and vars.
func parse(t testing.TB, src string, vars map[string]string) (*Pipeline, spec.Diagnostics) {
	t.Helper()
	return Parse("p.yaml", []byte(src), Options{Catalog: newTestCatalog(t), LookupEnv: env(vars)})
}

// mustParse parses src and fails the test on any diagnostic.
func mustParse(t testing.TB, src string, vars map[string]string) *Pipeline {
	t.Helper()
	p, diags := parse(t, src, vars)
	if len(diags) > 0 || p == nil {
		t.Fatalf("unexpected diagnostics:\n%v", diags)
	}
	return p
}

// yamlDoc joins lines with newlines (tests count lines from the slice).
func yamlDoc(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
