package pipelines

import (
	"fmt"
	"strings"
	"testing"

	"github.com/possync/possync/spec"
)

// want is an expected diagnostic: its hint and message must contain the given texts.
type want struct {
	sev       spec.Severity // "" means error
	code      string
	line, col int
	path      string
	hint, msg string
}

const (
	head = "version: 1\nname: acme\nmerchant: acme\nkey: sku\n" // lines 1-4
	src  = "source: {type: file, path: a.csv}\n"
	snk  = "sink: {type: file, path: b.csv}\n"
	two  = "sources:\n  a: {type: file, path: a.csv}\n  b: {type: file, path: b.csv}\n" // 3 lines
)

func TestDiagnostics(t *testing.T) {
	cases := []struct {
		name string
		src  string
		env  map[string]string
		want []want
	}{
		{"yaml_syntax", "version: 1\nname: acme\n\tkey: x\n", nil, []want{
			{code: spec.CodeYAMLSyntax, line: 3, col: 1, hint: "indentation", msg: "tab character"}}},
		{"yaml_syntax second document", head + src + snk + "---\nname: other\n", nil, []want{
			{code: spec.CodeYAMLSyntax, line: 7, col: 1, hint: "remove the `---`", msg: "one YAML document"}}},
		{"wrong_type version", "version: \"one\"\nname: acme\nmerchant: acme\nkey: sku\n" + src + snk, nil, []want{
			{code: spec.CodeWrongType, line: 1, col: 10, path: "/version", msg: "want an integer, have a string",
				hint: "write a whole number without quotes, e.g. 1"}}},
		{"wrong_type int without an example", head + src + "sink: {type: shop, store: s, api_key: k, batch_size: many}\n", nil, []want{
			{code: spec.CodeWrongType, line: 6, col: 54, path: "/sink/batch_size", hint: "write a whole number without quotes, e.g. 4"}}},
		{"bad_version", "version: 2\nname: acme\nmerchant: acme\nkey: sku\n" + src + snk, nil, []want{
			{code: spec.CodeBadVersion, line: 1, col: 10, path: "/version", hint: "reads version 1", msg: "version 2"}}},
		{"unknown_field near", head + src + snk + "transform:\n  - {type: filter, where: x}\n", nil, []want{
			{code: spec.CodeUnknownField, line: 7, col: 1, path: "/transform", hint: "did you mean `transforms`?"}}},
		{"unknown_field far", head + src + snk + "colour: red\n", nil, []want{
			{code: spec.CodeUnknownField, line: 7, col: 1, path: "/colour",
				hint: "valid keys: version, name, merchant, timezone, key, source, sources, transforms, sink, state, diff, guards"}}},
		{"unknown_field in component", head + "source: {type: file, pathh: a.csv}\n" + snk, nil, []want{
			{code: spec.CodeMissingField, line: 5, col: 9, path: "/source/path", hint: "add `path:`"},
			{code: spec.CodeUnknownField, line: 5, col: 22, path: "/source/pathh", hint: "did you mean `path`?"}}},
		{"unknown_field nested", head + "source:\n  type: file\n  path: a.csv\n  columns:\n    - {name: sku, typ: string}\n" + snk,
			nil, []want{
				{code: spec.CodeUnknownField, line: 9, col: 19, path: "/source/columns/0/typ", hint: "did you mean `type`?"}}},
		{"missing_field top", "version: 1\nname: acme\nkey: sku\n" + src + snk, nil, []want{
			{code: spec.CodeMissingField, line: 1, col: 1, path: "/merchant", hint: "add `merchant:`", msg: "missing required"}}},
		{"missing_field null", "version: 1\nname: acme\nmerchant:\nkey: sku\n" + src + snk, nil, []want{
			{code: spec.CodeMissingField, line: 3, col: 10, path: "/merchant", msg: "needs a value"}}},
		{"missing_field component", head + src + "sink: {type: file}\n", nil, []want{
			{code: spec.CodeMissingField, line: 6, col: 7, path: "/sink/path", hint: "Path of the file"}}},
		{"missing_field type", head + "source: {path: a.csv}\n" + snk, nil, []want{
			{code: spec.CodeMissingField, line: 5, col: 9, path: "/source/type", hint: "one of: file, http"}}},
		{"missing_field sink", head + src, nil, []want{
			{code: spec.CodeMissingField, line: 1, col: 1, path: "/sink", msg: "`sink`"}}},
		{"missing_field active_field", head + src + snk + "diff:\n  on_missing: deactivate\n", nil, []want{
			{code: spec.CodeMissingField, line: 8, col: 15, path: "/diff/active_field", hint: "add `active_field:`"}}},
		{"wrong_type list", head + src + snk + "diff:\n  ignore: updated_at\n", nil, []want{
			{code: spec.CodeWrongType, line: 8, col: 11, path: "/diff/ignore", msg: "want a list, have a string"}}},
		{"wrong_type quoted int", head + src + "sink: {type: shop, store: s, api_key: k, batch_size: \"100\"}\n", nil, []want{
			{code: spec.CodeWrongType, line: 6, col: 54, path: "/sink/batch_size", msg: "want an integer, have a string",
				hint: "without quotes"}}},
		{"wrong_type merge in component, once", head + "source: {type: file, path: a.csv, <<: 5}\n" + snk, nil, []want{
			{code: spec.CodeWrongType, line: 5, col: 39, path: "/source", msg: "want a mapping to merge, have an integer"}}},
		{"wrong_type key in component, once", head + "source: {type: file, path: a.csv, [a]: 1}\n" + snk, nil, []want{
			{code: spec.CodeWrongType, line: 5, col: 35, path: "/source", msg: "want a string key, have a list"}}},
		{"wrong_type component", head + "source: file\n" + snk, nil, []want{
			{code: spec.CodeWrongType, line: 5, col: 9, path: "/source", msg: "want a mapping, have a string"}}},
		{"bad_enum", head + src + snk + "diff: {on_missing: delet}\n", nil, []want{
			{code: spec.CodeBadEnum, line: 7, col: 20, path: "/diff/on_missing",
				hint: "did you mean `delete`? want one of: delete, deactivate, keep"}}},
		{"bad_duration", head + "source:\n  type: file\n  path: a.csv\n  timeout: 30\n" + snk, nil, []want{
			{code: spec.CodeBadDuration, line: 8, col: 12, path: "/source/timeout", hint: "30s"}}},
		{"bad_value name", "version: 1\nname: Acme\nmerchant: acme\nkey: sku\n" + src + snk, nil, []want{
			{code: spec.CodeBadValue, line: 2, col: 7, path: "/name", hint: "lowercase"}}},
		{"bad_value url scheme", head + "source: {type: http, url: \"ftp://files.example:21/api\"}\n" + snk, nil, []want{
			{code: spec.CodeBadValue, line: 5, col: 27, path: "/source/url", hint: "use https://",
				msg: "the scheme ftp is not supported, only http and https"}}},
		{"bad_value url relative", head + "source: {type: http, url: api.example/v3}\n" + snk, nil, []want{
			{code: spec.CodeBadValue, line: 5, col: 27, path: "/source/url", msg: "not an absolute http(s) URL"}}},
		{"bad_value url from a variable", head + "source: {type: http, url: \"${API}/v3\"}\n" + snk,
			map[string]string{"API": "ftp://files.example"}, []want{
				{code: spec.CodeBadValue, line: 5, col: 27, path: "/source/url", msg: "the scheme ftp"}}},
		{"bad_value memory_limit", head + src + snk + "state: {memory_limit: 512}\n", nil, []want{
			{code: spec.CodeBadValue, line: 7, col: 23, path: "/state/memory_limit", hint: "512MB"}}},
		{"bad_value threads", head + src + snk + "state: {threads: -1}\n", nil, []want{
			{code: spec.CodeBadValue, line: 7, col: 18, path: "/state/threads", msg: "negative"}}},
		{"bad_value timezone", head + src + snk + "timezone: Mars/Olympus\n", nil, []want{
			{code: spec.CodeBadValue, line: 7, col: 11, path: "/timezone", hint: "America/Los_Angeles"}}},
		{"bad_value source name", head + "sources:\n  Products: {type: file, path: a.csv}\n" + snk, nil, []want{
			{code: spec.CodeBadValue, line: 6, col: 3, path: "/sources/Products", hint: "lowercase"}}},
		{"bad_value interpolation", head + "source: {type: file, path: \"${DIR\"}\n" + snk, nil, []want{
			{code: spec.CodeBadValue, line: 5, col: 28, path: "/source/path", hint: "$${", msg: "unterminated"}}},
		{"unset_variable", head + "source: {type: file, path: '${DATA_DIR}/a.csv'}\n" + snk, nil, []want{
			{code: spec.CodeUnsetVariable, line: 5, col: 28, path: "/source/path", hint: "DATA_DIR", msg: "DATA_DIR"}}},
		{"unset_variable secret", head + src + "sink: {type: shop, store: s, api_key: \"${SHOP_KEY}\"}\n", nil, []want{
			{code: spec.CodeUnsetVariable, line: 6, col: 39, path: "/sink/api_key", msg: "SHOP_KEY is not set",
				hint: "set the environment variable SHOP_KEY; the field is a secret, so its value belongs in the environment, " +
					"not in the pipeline file"}}},
		{"unset_variable plain keeps the default hint", head + src + "sink: {type: shop, store: \"${STORE}\", api_key: k}\n", nil, []want{
			{code: spec.CodeUnsetVariable, line: 6, col: 27, path: "/sink/store", msg: "STORE is not set",
				hint: "set the environment variable STORE, or give a default: ${STORE:-value}"}}},
		{"missing_field set but empty", head + src + "sink: {type: shop, store: s, api_key: \"${SHOP_KEY}\"}\n",
			map[string]string{"SHOP_KEY": ""}, []want{
				{code: spec.CodeMissingField, line: 6, col: 39, path: "/sink/api_key",
					msg:  "field `api_key` is empty: environment variable SHOP_KEY is set but empty",
					hint: "set SHOP_KEY to the value of `api_key` in possync's environment"}}},
		{"missing_field set but empty, unquoted", "version: 1\nname: acme\nmerchant: ${M}\nkey: sku\n" + src + snk,
			map[string]string{"M": ""}, []want{
				{code: spec.CodeMissingField, line: 3, col: 11, path: "/merchant", msg: "environment variable M is set but empty"}}},
		{"unset_variable alone", "version: 1\nname: ${NAME}\nmerchant: acme\nkey: sku\n" +
			"source: {type: \"${SRC}\", path: a.csv}\n" + snk, nil, []want{
			{code: spec.CodeUnsetVariable, line: 2, col: 7, path: "/name", hint: "${NAME:-value}"},
			{code: spec.CodeUnsetVariable, line: 5, col: 16, path: "/source/type", hint: "SRC"}}},
		{"unknown_component near", head + "source: {type: fiel, path: a.csv}\n" + snk, nil, []want{
			{code: spec.CodeUnknownComponent, line: 5, col: 16, path: "/source/type", hint: "did you mean `file`?"}}},
		{"unknown_component far", head + src + "sink: {type: ftp, host: x}\n", nil, []want{
			{code: spec.CodeUnknownComponent, line: 6, col: 14, path: "/sink/type", hint: "registered sinks: file, shop"}}},
		{"duplicate_name", head + two + "transforms:\n  - {type: sql, name: a, query: select 1}\n" + snk, nil, []want{
			{code: spec.CodeDuplicateName, line: 9, col: 23, path: "/transforms/0/name", msg: "already names a source"}}},
		{"duplicate_name steps", head + src + "transforms:\n  - {type: filter, name: f, where: x}\n" +
			"  - {type: filter, name: f, where: y}\n" + snk, nil, []want{
			{code: spec.CodeDuplicateName, line: 8, col: 26, path: "/transforms/1/name", msg: "already names an earlier step"}}},
		{"unknown_input near", head + "sources:\n  products: {type: file, path: a.csv}\n  prices: {type: file, path: b.csv}\n" +
			"transforms:\n  - type: filter\n    input: prodcts\n    where: x\n" + snk, nil, []want{
			{code: spec.CodeUnknownInput, line: 10, col: 12, path: "/transforms/0/input", hint: "did you mean `products`?"}}},
		{"unknown_input later", head + src + "transforms:\n  - type: filter\n    input: later\n    where: x\n" +
			"  - type: filter\n    name: later\n    where: y\n" + snk, nil, []want{
			{code: spec.CodeUnknownInput, line: 8, col: 12, path: "/transforms/0/input", hint: "earlier steps",
				msg: "does not run before"}}},
		{"ambiguous_input step", head + two + "transforms:\n  - type: filter\n    where: x\n" + snk, nil, []want{
			{code: spec.CodeAmbiguousInput, line: 9, col: 5, path: "/transforms/0", hint: "set `input:` to one of: a, b"}}},
		{"ambiguous_input sink", head + two + snk, nil, []want{
			{code: spec.CodeAmbiguousInput, line: 8, col: 7, path: "/sink", hint: "sql"}}},
		{"source_conflict both", head + src + "sources:\n  b: {type: file, path: b.csv}\n" + snk, nil, []want{
			{code: spec.CodeSourceConflict, line: 7, col: 3, path: "/sources", msg: "both"}}},
		{"source_conflict neither", head + snk, nil, []want{
			{code: spec.CodeSourceConflict, line: 1, col: 1, path: "", hint: "add a `source:` block"}}},
		{"duplicate_key", head + src + snk + "name: other\n", nil, []want{
			{code: spec.CodeDuplicateKey, line: 7, col: 1, path: "/name", hint: "the first `name` is on line 2"}}},
		{"duplicate_key nested", head + "source:\n  type: file\n  path: a.csv\n  path: b.csv\n" + snk, nil, []want{
			{code: spec.CodeDuplicateKey, line: 8, col: 3, path: "/source/path", hint: "line 7"}}},
		{"ignored_input", head + src + "transforms:\n  - {type: sql, input: source, query: select 1}\n" + snk, nil, []want{
			{sev: spec.Warning, code: spec.CodeIgnoredInput, line: 7, col: 24, path: "/transforms/0/input",
				hint: "remove `input:`"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, diags := parse(t, tc.src, tc.env)
			if len(diags) != len(tc.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%v", len(diags), len(tc.want), diags)
			}
			errs := false
			for i, w := range tc.want {
				d := diags[i]
				sev := w.sev
				if sev == "" {
					sev, errs = spec.Error, true
				}
				if d.Severity != sev || d.Code != w.code || d.Line != w.line || d.Col != w.col || d.Path != w.path ||
					d.File != "p.yaml" {
					t.Errorf("diagnostic %d = %s %s %s:%d:%d %q; want %s %s p.yaml:%d:%d %q\n%v", i, d.Severity, d.Code,
						d.File, d.Line, d.Col, d.Path, sev, w.code, w.line, w.col, w.path, d)
				}
				if !strings.Contains(d.Hint, w.hint) || !strings.Contains(d.Message, w.msg) {
					t.Errorf("diagnostic %d: message %q hint %q; want them to contain %q and %q", i, d.Message, d.Hint,
						w.msg, w.hint)
				}
			}
			if (p == nil) != errs {
				t.Errorf("pipeline returned = %v, want it only without errors", p != nil)
			}
		})
	}
}

// TestDiagnosticsOnePass checks that independent mistakes are all reported at once, sorted by position.
func TestDiagnosticsOnePass(t *testing.T) {
	src := yamlDoc(
		"version: 3",
		"name: Bad Name",
		"merchant: acme",
		"key: [sku, sku]",
		"source: {type: fiel}",
		"transforms:",
		"  - {type: filter, where: x, input: nope}",
		"sink: {type: file}",
		"state: {threads: -2, colour: red}",
	)
	_, diags := parse(t, src, nil)
	var got []string
	for _, d := range diags {
		got = append(got, fmt.Sprintf("%d:%d %s", d.Line, d.Col, d.Code))
	}
	wantCodes := []string{
		"1:10 bad_version",
		"2:7 bad_value",
		"4:12 bad_value",
		"5:16 unknown_component",
		"7:37 unknown_input",
		"8:7 missing_field",
		"9:18 bad_value",
		"9:22 unknown_field",
	}
	if strings.Join(got, "\n") != strings.Join(wantCodes, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s\n\nfull:\n%v", strings.Join(got, "\n"), strings.Join(wantCodes, "\n"), diags)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	_, diags := Load(dir+"/missing.yaml", Options{Catalog: newTestCatalog(t)})
	if len(diags) != 1 || diags[0].Code != spec.CodeFileError || diags[0].File != dir+"/missing.yaml" {
		t.Fatalf("missing file: %v", diags)
	}
}
