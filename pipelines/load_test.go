package pipelines

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// fullSrc is a complete pipeline; the tests assert positions by its line numbers (in the comments).
var fullSrc = yamlDoc(
	"# yaml-language-server: $schema=../../schemas/pipeline.schema.json", // 1
	"version: 1",                     // 2
	"name: acme-catalog",             // 3
	"merchant: acme",                 // 4
	"timezone: America/Los_Angeles",  // 5
	"key: [store, sku]",              // 6
	"sources:",                       // 7
	"  products:",                    // 8
	"    type: file",                 // 9
	"    path: ${DATA}/products.csv", // 10
	"    columns:",                   // 11
	"      - {name: sku}",            // 12
	"      - name: price",            // 13
	"        type: float",            // 14
	"  prices: {type: http, url: \"https://x.example/prices\"}", // 15
	"transforms:",                   // 16
	"  - type: map",                 // 17
	"    name: mapped",              // 18
	"    input: products",           // 19
	"    fields:",                   // 20
	"      price: price * 1.1",      // 21
	"      title: \"upper(title)\"", // 22
	"      note: |",                 // 23
	"        concat(",               // 24
	"          title, \"!\")",       // 25
	"  - type: sql",                 // 26
	"    name: joined",              // 27
	"    query: >",                  // 28
	"      select * from mapped",    // 29
	"      join prices using (sku)", // 30
	"sink:",                         // 31
	"  type: shop",                  // 32
	"  store: acme.example",         // 33
	"  api_key: ${SHOP_KEY}",        // 34
	"  batch_size: ${BATCH}",        // 35
	"diff:",                         // 36
	"  ignore: [updated_at]",        // 37
)

const shopKey = "s3cr3t-shop-key"

var fullEnv = map[string]string{"DATA": "/data", "SHOP_KEY": shopKey, "BATCH": "250", "POSSYNC_STATE_DIR": "/var/state"}

func parseFull(t *testing.T, src string, vars map[string]string) *Pipeline {
	t.Helper()
	p, diags := Parse("conf/acme.yaml", []byte(src), Options{Catalog: newTestCatalog(t), LookupEnv: env(vars)})
	if len(diags) > 0 || p == nil {
		t.Fatalf("unexpected diagnostics:\n%v", diags)
	}
	return p
}

func TestParseFullPipeline(t *testing.T) {
	p := parseFull(t, fullSrc, fullEnv)

	if p.File != "conf/acme.yaml" || p.Dir != "conf" || p.Version != 1 || p.Name != "acme-catalog" ||
		p.Merchant != "acme" {
		t.Errorf("header = %q %q %d %q %q", p.File, p.Dir, p.Version, p.Name, p.Merchant)
	}
	if !slices.Equal(p.Key, []string{"store", "sku"}) {
		t.Errorf("Key = %q, want [store sku]", p.Key)
	}
	if p.TimeZone == nil || p.TimeZone.String() != "America/Los_Angeles" {
		t.Errorf("TimeZone = %v", p.TimeZone)
	}

	// Sources keep file order (not sorted), with defaults applied.
	if len(p.Sources) != 2 || p.Sources[0].Name != "products" || p.Sources[1].Name != "prices" {
		t.Fatalf("Sources = %+v", p.Sources)
	}
	products := p.Sources[0]
	if products.Type != "file" || products.Spec == nil || products.Spec.Name != "file" {
		t.Errorf("products type %q spec %v", products.Type, products.Spec)
	}
	wantPos := spec.Pos{File: "conf/acme.yaml", Line: 9, Col: 5, Path: "/sources/products"}
	if products.Pos != wantPos || products.Config.Pos != wantPos {
		t.Errorf("products Pos %+v Config.Pos %+v, want %+v", products.Pos, products.Config.Pos, wantPos)
	}
	wantValues := map[string]any{
		"path":    "/data/products.csv",
		"format":  "csv",
		"timeout": 30 * time.Second,
		"columns": []any{
			map[string]any{"name": "sku", "type": "string"},
			map[string]any{"name": "price", "type": "float"},
		},
	}
	if !reflect.DeepEqual(products.Config.Values, wantValues) {
		t.Errorf("products values = %#v\nwant %#v", products.Config.Values, wantValues)
	}
	var cfg struct {
		Path    string        `spec:"path"`
		Timeout time.Duration `spec:"timeout"`
		Columns []struct {
			Name string `spec:"name"`
			Type string `spec:"type"`
		} `spec:"columns"`
	}
	if err := products.Config.Decode(&cfg); err != nil || cfg.Path != "/data/products.csv" || cfg.Timeout != 30*time.Second ||
		len(cfg.Columns) != 2 || cfg.Columns[1].Type != "float" {
		t.Errorf("Decode = %+v, %v", cfg, err)
	}

	// Steps: reserved keys out of the Config, expressions with the position of their first character.
	if len(p.Transforms) != 2 {
		t.Fatalf("Transforms = %+v", p.Transforms)
	}
	mapped := p.Transforms[0]
	if mapped.Name != "mapped" || mapped.Type != "map" || mapped.Input != "products" {
		t.Errorf("step 0 = %q %q %q", mapped.Name, mapped.Type, mapped.Input)
	}
	if mapped.InputPos != (spec.Pos{File: "conf/acme.yaml", Line: 19, Col: 12, Path: "/transforms/0/input"}) {
		t.Errorf("InputPos = %+v", mapped.InputPos)
	}
	for _, k := range []string{"name", "input", "type"} {
		if _, ok := mapped.Config.Values[k]; ok {
			t.Errorf("reserved key %q in Config.Values", k)
		}
	}
	fields := mapped.Config.Values["fields"].(map[string]any)
	exprs := []struct {
		name      string
		text      string
		line, col int
		block     bool
	}{
		{"price", "price * 1.1", 21, 14, false},             // plain
		{"title", "upper(title)", 22, 15, false},            // quoted: after the quote
		{"note", "concat(\n  title, \"!\")\n", 24, 9, true}, // literal block: next line, block indentation
	}
	for _, e := range exprs {
		got, ok := fields[e.name].(spec.Expr)
		want := spec.Expr{Text: e.text, Block: e.block,
			Pos: spec.Pos{File: "conf/acme.yaml", Line: e.line, Col: e.col, Path: "/transforms/0/fields/" + e.name}}
		if !ok || got != want {
			t.Errorf("fields.%s = %#v, want %#v", e.name, fields[e.name], want)
		}
	}
	if at := fields["note"].(spec.Expr).At(2, 3); at.Line != 25 || at.Col != 11 {
		t.Errorf("note.At(2, 3) = %d:%d, want 25:11 (the t of title)", at.Line, at.Col)
	}
	query := p.Transforms[1].Config.Values["query"].(spec.Expr)
	if query.Text != "select * from mapped join prices using (sku)\n" || query.Pos.Line != 29 || query.Pos.Col != 7 ||
		!query.Block {
		t.Errorf("folded query = %#v", query)
	}

	// Sink: interpolated integer, secret, defaults.
	if p.Sink == nil || p.Sink.Name != "sink" || p.Sink.Type != "shop" {
		t.Fatalf("Sink = %+v", p.Sink)
	}
	sv := p.Sink.Config.Values
	if sv["batch_size"] != int64(250) || sv["dry"] != false || sv["rate"] != 1.5 || sv["store"] != "acme.example" {
		t.Errorf("sink values = %#v", sv)
	}
	if key, ok := sv["api_key"].(spec.Secret); !ok || key.Reveal() != shopKey {
		t.Errorf("api_key = %T, want a spec.Secret holding the key", sv["api_key"])
	}
	if _, ok := sv["mode"]; ok {
		t.Errorf("mode has no default and must be absent")
	}

	// Blocks and their defaults.
	if p.State != (State{Dir: "/var/state", Backend: "local", Schema: "possync"}) {
		t.Errorf("State = %+v", p.State)
	}
	if p.Diff.OnMissing != MissingDelete || !slices.Equal(p.Diff.Ignore, []string{"updated_at"}) || p.Diff.ActiveField != "" {
		t.Errorf("Diff = %+v", p.Diff)
	}
	if p.Guards.MaxDeletePercent != 10 {
		t.Errorf("Guards = %+v", p.Guards)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(p.Hash) {
		t.Errorf("Hash = %q", p.Hash)
	}
}

func TestDefaults(t *testing.T) {
	p := mustParse(t, head+src+snk, nil)
	if p.State != (State{Dir: ".possync", Backend: "local", Schema: "possync"}) || p.Diff.OnMissing != MissingDelete || p.Guards.MaxDeletePercent != 10 ||
		p.TimeZone != time.UTC || len(p.Transforms) != 0 || p.Sources[0].Name != "source" {
		t.Errorf("defaults: state %+v diff %+v guards %+v tz %v", p.State, p.Diff, p.Guards, p.TimeZone)
	}
	p = mustParse(t, head+src+snk+yamlDoc(
		"state: {dir: st, memory_limit: 2GiB, threads: 3, transform_cache: false}",
		"diff: {on_missing: deactivate, active_field: enabled}",
		"guards: {max_delete_percent: -1}",
	), map[string]string{"POSSYNC_STATE_DIR": "/ignored"})
	if p.State != (State{Dir: "st", MemoryLimit: "2GiB", Threads: 3, NoTransformCache: true, Backend: "local", Schema: "possync"}) ||
		p.Diff.OnMissing != MissingDeactivate || p.Diff.ActiveField != "enabled" || p.Guards.MaxDeletePercent != -1 {
		t.Errorf("explicit: state %+v diff %+v guards %+v", p.State, p.Diff, p.Guards)
	}
}

// TestTransformCacheSetting: `state.transform_cache` takes a boolean, also from a ${VAR}; anything else (such
// as `off`, which YAML reads as a string) is an error at its position; it is not part of the pipeline's hash,
// so turning the cache off for a pipeline keeps a saved plan applicable.
func TestTransformCacheSetting(t *testing.T) {
	for _, c := range []struct {
		state string
		env   map[string]string
		off   bool
	}{
		{"state: {transform_cache: true}", nil, false},
		{"state: {transform_cache: false}", nil, true},
		{"state: {transform_cache: '${TCACHE}'}", map[string]string{"TCACHE": "false"}, true},
		{"state: {transform_cache: '${TCACHE}'}", map[string]string{"TCACHE": "true"}, false},
	} {
		p := mustParse(t, head+src+snk+c.state+"\n", c.env)
		if p.State.NoTransformCache != c.off {
			t.Errorf("%s (%v): NoTransformCache = %v, want %v", c.state, c.env, p.State.NoTransformCache, c.off)
		}
		if base := mustParse(t, head+src+snk, nil).Hash; p.Hash != base {
			t.Errorf("%s: the pipeline's hash changed", c.state)
		}
	}
	_, diags := parse(t, head+src+snk+"state: {transform_cache: off}\n", nil)
	if len(diags) != 1 || diags[0].Code != spec.CodeWrongType || diags[0].Pos.Path != "/state/transform_cache" {
		t.Errorf("transform_cache: off: %v, want one wrong_type at /state/transform_cache", diags)
	}
}

func TestHash(t *testing.T) {
	base := parseFull(t, fullSrc, fullEnv).Hash
	if again := parseFull(t, fullSrc, fullEnv).Hash; again != base {
		t.Errorf("hash not stable: %s then %s", base, again)
	}
	// Moving things around (positions) does not change the effective configuration.
	if moved := parseFull(t, "# a comment\n\n"+fullSrc, fullEnv).Hash; moved != base {
		t.Errorf("hash changed with positions only")
	}
	changed := map[string]string{}
	for k, v := range fullEnv {
		changed[k] = v
	}
	changed["SHOP_KEY"] = "another-secret"
	if h := parseFull(t, fullSrc, changed).Hash; h == base {
		t.Errorf("hash unchanged after the secret changed")
	}
	changed["SHOP_KEY"], changed["BATCH"] = shopKey, "251"
	if h := parseFull(t, fullSrc, changed).Hash; h == base {
		t.Errorf("hash unchanged after a value changed")
	}
}

func TestSecretsNeverShown(t *testing.T) {
	p := parseFull(t, fullSrc, fullEnv)
	for name, text := range map[string]string{
		"pipeline": fmt.Sprintf("%+v", p),
		"value":    fmt.Sprintf("%+v", *p),
		"sink":     fmt.Sprintf("%+v %#v", *p.Sink, p.Sink.Config),
		"hash":     p.Hash,
	} {
		if strings.Contains(text, shopKey) {
			t.Errorf("%s shows the secret: %s", name, text)
		}
	}
	if got := p.Secrets.Redact("Authorization: " + shopKey); got != "Authorization: ***" {
		t.Errorf("Redact = %q", got)
	}

	// A diagnostic that would quote the value (here the secret also lands in an enum field) is redacted.
	bad := strings.Replace(fullSrc, "  batch_size: ${BATCH}", "  mode: ${SHOP_KEY}", 1)
	_, diags := parse(t, bad, fullEnv)
	if len(diags) != 1 || diags[0].Code != spec.CodeBadEnum {
		t.Fatalf("diagnostics = %v", diags)
	}
	if text := diags.Error(); strings.Contains(text, shopKey) || !strings.Contains(text, spec.Mask) {
		t.Errorf("diagnostics show the secret or no mask: %s", text)
	}
}

func TestInterpolationTypes(t *testing.T) {
	cases := []struct {
		name  string
		sink  string
		env   map[string]string
		field string
		want  any
		code  string
	}{
		{"int from whole reference", "batch_size: ${N}", map[string]string{"N": "4"}, "batch_size", int64(4), ""},
		{"bool from whole reference", "dry: ${DRY}", map[string]string{"DRY": "true"}, "dry", true, ""},
		{"float from default", "rate: ${RATE:-2.5}", nil, "rate", 2.5, ""},
		{"quoted reference too", "batch_size: '${N}'", map[string]string{"N": "4"}, "batch_size", int64(4), ""},
		{"explicit tag wins", "batch_size: !!str ${N}", map[string]string{"N": "4"}, "batch_size", nil, spec.CodeWrongType},
		{"non-number stays a string", "batch_size: ${N}", map[string]string{"N": "four"}, "batch_size", nil, spec.CodeWrongType},
		{"empty default is absent", "batch_size: ${N:-}", nil, "batch_size", int64(100), ""},
		{"enum from variable", "mode: ${M}", map[string]string{"M": "fast"}, "mode", "fast", ""},
		{"escaped", "mode: $${M}", nil, "mode", nil, spec.CodeBadEnum},
		{"mixed text is a string", "batch_size: 1${N}", map[string]string{"N": "0"}, "batch_size", nil, spec.CodeWrongType},
		{"unset", "batch_size: ${N}", nil, "batch_size", nil, spec.CodeUnsetVariable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := head + src + "sink:\n  type: shop\n  store: s\n  api_key: k\n  " + tc.sink + "\n"
			p, diags := parse(t, doc, tc.env)
			if tc.code != "" {
				if len(diags) == 0 || diags[0].Code != tc.code {
					t.Fatalf("diagnostics = %v, want %s", diags, tc.code)
				}
				return
			}
			if p == nil {
				t.Fatalf("diagnostics: %v", diags)
			}
			if got := p.Sink.Config.Values[tc.field]; got != tc.want {
				t.Errorf("%s = %#v (%T), want %#v", tc.field, got, got, tc.want)
			}
		})
	}
}

func TestInterpolationNumberTextInStringField(t *testing.T) {
	p := mustParse(t, strings.Replace(head, "key: sku", "key: ${K}", 1)+src+snk, map[string]string{"K": "12345"})
	if !slices.Equal(p.Key, []string{"12345"}) {
		t.Errorf("Key = %q, want [12345]", p.Key)
	}
}

func TestExpand(t *testing.T) {
	vars := env(map[string]string{"A": "x", "EMPTY": ""})
	cases := []struct {
		in, out string
		whole   bool
		unset   []string
		err     bool
	}{
		{in: "${A}", out: "x", whole: true},
		{in: "pre-${A}-post", out: "pre-x-post"},
		{in: "${B:-dflt}", out: "dflt", whole: true},
		{in: "${EMPTY:-dflt}", out: "dflt", whole: true},
		{in: "${EMPTY}", out: "", whole: true},
		{in: "${A:-dflt}", out: "x", whole: true},
		{in: "$${A}", out: "${A}"},
		{in: "$$${A}", out: "$${A}"},
		{in: "${A}${A}", out: "xx"},
		{in: "cost $5", out: "cost $5"},
		{in: "${NOPE}/x", out: "/x", unset: []string{"NOPE"}},
		{in: "${A", err: true},
		{in: "${1A}", err: true},
		{in: "${}", err: true},
	}
	for _, tc := range cases {
		out, whole, unset, err := expand(tc.in, vars)
		if (err != nil) != tc.err {
			t.Errorf("expand(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && (out != tc.out || whole != tc.whole || !slices.Equal(unset, tc.unset)) {
			t.Errorf("expand(%q) = %q %v %q, want %q %v %q", tc.in, out, whole, unset, tc.out, tc.whole, tc.unset)
		}
	}
}

func TestMergeKeysAndAliases(t *testing.T) {
	p := mustParse(t, head+yamlDoc(
		"sources:",
		"  a: &base {type: file, path: a.csv, format: tsv}",
		"  b: {<<: *base, path: b.csv}",
		"transforms:",
		"  - {type: sql, query: select * from a union all select * from b}",
	)+snk, nil)
	b := p.Sources[1].Config.Values
	if b["path"] != "b.csv" || b["format"] != "tsv" {
		t.Errorf("merged source b = %v", b)
	}

	_, diags := parse(t, head+"source: {type: file, path: a.csv, extra: &x {self: *x}}\n"+snk, nil)
	if len(diags) != 1 || diags[0].Code != spec.CodeBadValue || !strings.Contains(diags[0].Message, "refers to itself") {
		t.Errorf("recursive alias: %v", diags)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "acme.yaml")
	if err := os.WriteFile(path, []byte(head+src+snk), 0o600); err != nil {
		t.Fatal(err)
	}
	p, diags := Load(path, Options{Catalog: newTestCatalog(t), LookupEnv: env(nil)})
	if p == nil || len(diags) != 0 {
		t.Fatalf("Load: %v", diags)
	}
	if p.File != path || p.Dir != dir || p.Sink.Config.Values["path"] != "b.csv" {
		t.Errorf("File %q Dir %q sink %v", p.File, p.Dir, p.Sink.Config.Values)
	}
}

func TestDefaultCatalog(t *testing.T) {
	const name = "pipelines-test-source"
	if _, _, ok := connectors.Sources.Lookup(name); !ok { // registered once per test binary (-count)
		connectors.Sources.MustRegister(spec.Component{Kind: spec.KindSource, Name: name, Summary: "Test."}, nil)
	}
	cat := DefaultCatalog()
	if c, ok := cat.Component(spec.KindSource, name); !ok || c.Summary != "Test." {
		t.Errorf("Component(source, %s) = %v, %v", name, c, ok)
	}
	if !slices.Contains(cat.Types(spec.KindSource), name) {
		t.Errorf("Types(source) = %v", cat.Types(spec.KindSource))
	}
	if _, ok := cat.Component(spec.KindSink, name); ok {
		t.Errorf("a source found as a sink")
	}
}
