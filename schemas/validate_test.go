package schemas

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// The tests here check documents against the committed schemas with a JSON Schema validator
// (santhosh-tekuri/jsonschema, a test-only dependency): what an editor or a CI linter using the schema
// accepts and rejects.

// compile compiles a committed schema file.
func compile(t *testing.T, file string) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(file, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(file)
	if err != nil {
		t.Fatalf("compile %s: %v", file, err)
	}
	return s
}

// yamlDoc converts YAML text to the JSON value a validator checks (through JSON, as editors do).
func yamlDoc(t *testing.T, text string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("YAML: %v\n%s", err, text)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("to JSON: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestSchemaPerComponentType checks that a component block is checked against the fields of its own type
// only: a field of another type is rejected, also of a type whose name starts with this one's
// (retailpos_promotions' include_price_books in a retailpos source).
func TestSchemaPerComponentType(t *testing.T) {
	schema := compile(t, schemaFile)
	const head = "version: 1\nname: shop\nmerchant: m\nkey: sku\nsink:\n  type: file\n  path: out.csv\n"
	for _, tc := range []struct {
		name, source string
		valid        bool
		why          string // part of the validation error
	}{
		{"retailpos with its own fields", "type: retailpos\ntoken: ${TOKEN}\ndomain_prefix: acme\necom_outlet: Main Street\n", true, ""},
		{"retailpos with a retailpos_promotions field", "type: retailpos\ntoken: ${TOKEN}\ndomain_prefix: acme\ninclude_price_books: true\n", false, "include_price_books"},
		{"retailpos with a retailpos_sales field", "type: retailpos\ntoken: ${TOKEN}\ndomain_prefix: acme\norders_pipeline: orders\n", false, "orders_pipeline"},
		{"retailpos_promotions with its own field", "type: retailpos_promotions\ntoken: ${TOKEN}\ndomain_prefix: acme\ninclude_price_books: true\n", true, ""},
		{"retailpos_promotions with a retailpos field", "type: retailpos_promotions\ntoken: ${TOKEN}\ndomain_prefix: acme\necom_outlet: Main Street\n", false, "ecom_outlet"},
		{"ascend with an ascend_promotions-only field", "type: ascend\nhost: h\nuser: u\npassword: p\nmode: single\nlocations: [{short_name: A, status: single}]\nnot_a_field: 1\n", false, "not_a_field"},
		{"unknown type", "type: retailpos2\n", false, "value must be one of"},
		{"retailpos missing its required token", "type: retailpos\ndomain_prefix: acme\n", false, "token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "source:\n  " + strings.ReplaceAll(strings.TrimSuffix(tc.source, "\n"), "\n", "\n  ") + "\n"
			err := schema.Validate(yamlDoc(t, head+src))
			switch {
			case tc.valid && err != nil:
				t.Fatalf("rejected a valid block:\n%s\n%v", src, err)
			case !tc.valid && err == nil:
				t.Fatalf("accepted an invalid block:\n%s", src)
			case !tc.valid && !strings.Contains(err.Error(), tc.why):
				t.Fatalf("the error does not name %q:\n%v", tc.why, err)
			}
		})
	}
}

// TestExamplesValidate checks every example pipeline against the pipeline schema and every example test
// file against the test file schema.
func TestExamplesValidate(t *testing.T) {
	pipeline, tests := compile(t, schemaFile), compile(t, testSchemaFile)
	files, err := filepath.Glob(filepath.Join("..", "examples", "*", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			s := pipeline
			if strings.HasSuffix(file, "_test.yaml") {
				s = tests
			}
			if err := s.Validate(yamlDoc(t, string(b))); err != nil {
				t.Fatalf("%s does not validate against its schema:\n%v", file, err)
			}
		})
	}
}

// TestSchemaTypeConditionsForEditors checks what makes editors complete only the chosen type's fields:
// while completing, yaml-language-server takes a `const` as matched by any value it starts with, so each
// type's condition must also carry an anchored pattern that no other type name matches (without it a
// `retailpos` block was offered the fields of retailpos_promotions, retailpos_sales and retailpos_customers).
func TestSchemaTypeConditionsForEditors(t *testing.T) {
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Definitions map[string]struct {
			Properties struct {
				Type struct {
					Enum []string `json:"enum"`
				} `json:"type"`
			} `json:"properties"`
			AllOf []struct {
				If struct {
					Properties struct {
						Type struct {
							Const   string `json:"const"`
							Pattern string `json:"pattern"`
						} `json:"type"`
					} `json:"properties"`
				} `json:"if"`
			} `json:"allOf"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	prefixes := 0
	for _, kind := range []string{"source", "sink", "transform"} {
		def, ok := doc.Definitions[kind]
		if !ok || len(def.AllOf) == 0 {
			t.Fatalf("definition %q has no per-type conditions", kind)
		}
		types := def.Properties.Type.Enum
		for _, branch := range def.AllOf {
			cond := branch.If.Properties.Type
			if cond.Const == "" || cond.Pattern == "" {
				t.Fatalf("%s: a type condition without const and pattern: %+v", kind, cond)
			}
			re, err := regexp.Compile(cond.Pattern)
			if err != nil {
				t.Fatalf("%s %s: pattern %q: %v", kind, cond.Const, cond.Pattern, err)
			}
			for _, other := range types {
				if got := re.MatchString(other); got != (other == cond.Const) {
					t.Errorf("%s %s: pattern %q matches %q: %v", kind, cond.Const, cond.Pattern, other, got)
				}
				if other != cond.Const && strings.HasPrefix(cond.Const, other) {
					prefixes++ // a type an editor would take for this one without the pattern
				}
			}
		}
	}
	if prefixes == 0 {
		t.Fatal("no type name starts with another: the test no longer covers the case it was written for")
	}
}
