package pipelines

import (
	"reflect"
	"testing"
	"time"

	"github.com/possync/possync/spec"
)

// With Placeholders, an unset variable becomes a value of its field's declared type instead of an error, a
// variable that is set keeps its value, a default still applies, and the file's other mistakes are still
// reported.
func TestPlaceholders(t *testing.T) {
	src := yamlDoc(
		"version: 1",
		"name: ${PIPELINE_NAME}",
		"merchant: acme",
		"key: sku",
		"source:",
		"  type: file",
		"  path: ${DATA_DIR}/products.csv",
		"  timeout: ${TIMEOUT}",
		"sink:",
		"  type: shop",
		"  store: ${STORE:-shop.example}",
		"  api_key: ${API_KEY}",
		"  batch_size: ${BATCH}",
		"  dry: ${DRY}",
		"  rate: ${RATE}",
		"  mode: ${MODE}",
	)
	vars := map[string]string{"RATE": "2.5"}

	_, diags := parse(t, src, vars)
	unset := 0
	for _, d := range diags {
		if d.Code == spec.CodeUnsetVariable {
			unset++
		}
	}
	if unset != 7 {
		t.Fatalf("without placeholders: %d unset_variable findings, want 7 (STORE has a default):\n%v", unset, diags)
	}

	opts := Options{Catalog: newTestCatalog(t), LookupEnv: env(vars), Placeholders: true}
	p, diags := Parse("p.yaml", []byte(src), opts)
	if len(diags) > 0 || p == nil {
		t.Fatalf("with placeholders: unexpected diagnostics:\n%v", diags)
	}
	if p.Name != "acme-catalog" {
		t.Errorf("name = %q, want the field's example, acme-catalog", p.Name)
	}
	src0 := p.Sources[0].Config.Values
	if src0["path"] != "placeholder/products.csv" || src0["timeout"] != 30*time.Second {
		t.Errorf("source values %v: want path placeholder/products.csv and the default timeout 30s", src0)
	}
	want := map[string]any{
		"store":      "shop.example",                // the default of the reference
		"api_key":    spec.NewSecret("placeholder"), // a secret
		"batch_size": int64(100),                    // the field's default, an int
		"dry":        false,                         // the field's default, a bool
		"rate":       2.5,                           // set: kept
		"mode":       "fast",                        // the first allowed value
	}
	if got := p.Sink.Config.Values; !reflect.DeepEqual(got, want) {
		t.Errorf("sink values\n%#v\nwant\n%#v", got, want)
	}

	// A real mistake in the same file is still found, and no unset variable is.
	bad := src + "guards:\n  max_delete_percnt: 5\n"
	_, diags = Parse("p.yaml", []byte(bad), opts)
	if len(diags) != 1 || diags[0].Code != spec.CodeUnknownField || diags[0].Line != 18 {
		t.Errorf("with placeholders and a misspelled key: %v, want one unknown_field at line 18", diags)
	}
}

func TestPlaceholderValueTypes(t *testing.T) {
	tests := []struct {
		field spec.Field
		want  any
	}{
		{spec.Field{Type: spec.TypeString}, "placeholder"},
		{spec.Field{Type: spec.TypeString, Example: "1234"}, "1234"},
		{spec.Field{Type: spec.TypeString, Example: "${X}", Default: "def"}, "def"},
		{spec.Field{Type: spec.TypeString, Secret: true, Example: "${TOKEN}"}, spec.NewSecret("placeholder")},
		{spec.Field{Type: spec.TypeString, Enum: []string{"none", "explicit"}}, "none"},
		{spec.Field{Type: spec.TypeInt}, int64(1)},
		{spec.Field{Type: spec.TypeInt, Example: 21}, int64(21)},
		{spec.Field{Type: spec.TypeFloat}, 1.0},
		{spec.Field{Type: spec.TypeBool}, false},
		{spec.Field{Type: spec.TypeDuration}, time.Second},
		{spec.Field{Type: spec.TypeDuration, Default: "2s"}, 2 * time.Second},
		{spec.Field{Type: spec.TypeStringOrList}, []any{"placeholder"}},
	}
	for _, tt := range tests {
		if got := placeholderValue(&tt.field); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("placeholderValue(%+v) = %#v, want %#v", tt.field, got, tt.want)
		}
	}
}
