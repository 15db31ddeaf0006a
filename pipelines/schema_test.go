package pipelines

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// at walks decoded JSON by object keys and array indexes.
func at(t *testing.T, v any, path ...string) any {
	t.Helper()
	for i, p := range path {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[p]
			if !ok {
				t.Fatalf("schema has no %s", strings.Join(path[:i+1], "."))
			}
			v = next
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n >= len(x) {
				t.Fatalf("schema has no %s", strings.Join(path[:i+1], "."))
			}
			v = x[n]
		default:
			t.Fatalf("schema: %s is a %T", strings.Join(path[:i], "."), v)
		}
	}
	return v
}

func TestJSONSchema(t *testing.T) {
	cat := newTestCatalog(t)
	a, err := JSONSchema(cat)
	if err != nil {
		t.Fatal(err)
	}
	b, err := JSONSchema(cat)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("two calls give different schemas")
	}
	if !json.Valid(a) || !bytes.HasSuffix(a, []byte("}\n")) || !bytes.HasPrefix(a, []byte("{\n  \"")) {
		t.Fatalf("not indented JSON with a trailing newline:\n%.200s", a)
	}
	var s map[string]any
	if err := json.Unmarshal(a, &s); err != nil {
		t.Fatal(err)
	}
	interp := `^\$\{.+\}$`
	checks := []struct {
		path []string
		want any
	}{
		{[]string{"$schema"}, "http://json-schema.org/draft-07/schema#"},
		{[]string{"additionalProperties"}, false},
		{[]string{"required"}, []any{"version", "name", "merchant", "key", "sink"}},
		{[]string{"oneOf", "0", "required"}, []any{"source"}},
		{[]string{"oneOf", "1", "required"}, []any{"sources"}},
		{[]string{"properties", "version", "const"}, 1.0},
		{[]string{"properties", "name", "pattern"}, `^(?:[a-z0-9][a-z0-9_-]*|\$\{.+\})$`},
		{[]string{"properties", "key", "anyOf", "1", "items", "type"}, "string"},
		{[]string{"properties", "timezone", "default"}, "UTC"},
		{[]string{"properties", "source", "allOf", "0", "$ref"}, "#/definitions/source"},
		{[]string{"properties", "sink", "allOf", "0", "$ref"}, "#/definitions/sink"},
		{[]string{"properties", "sources", "additionalProperties", "$ref"}, "#/definitions/source"},
		{[]string{"properties", "sources", "propertyNames", "pattern"}, relationNamePattern},
		{[]string{"properties", "transforms", "items", "$ref"}, "#/definitions/transform"},
		{[]string{"properties", "state", "additionalProperties"}, false},
		{[]string{"properties", "state", "properties", "threads", "minimum"}, 0.0},
		{[]string{"properties", "state", "properties", "threads", "anyOf", "0", "type"}, "integer"},
		{[]string{"properties", "diff", "properties", "on_missing", "default"}, "delete"},
		{[]string{"properties", "diff", "properties", "on_missing", "anyOf", "0", "enum"},
			[]any{"delete", "deactivate", "keep"}},
		{[]string{"properties", "guards", "properties", "max_delete_percent", "default"}, 10.0},
		{[]string{"definitions", "source", "properties", "type", "enum"}, []any{"file", "http"}},
		{[]string{"definitions", "source", "required"}, []any{"type"}},
		{[]string{"definitions", "source", "allOf", "1", "if", "properties", "type", "const"}, "http"},
		{[]string{"definitions", "source", "allOf", "1", "if", "required"}, []any{"type"}},
		{[]string{"definitions", "source", "allOf", "1", "then", "$ref"}, "#/definitions/source.http"},
		{[]string{"definitions", "transform", "properties", "type", "enum"}, []any{"filter", "map", "sql"}},
		{[]string{"definitions", "source.file", "additionalProperties"}, false},
		{[]string{"definitions", "source.file", "required"}, []any{"type", "path"}},
		{[]string{"definitions", "source.file", "properties", "type", "const"}, "file"},
		{[]string{"definitions", "source.file", "properties", "path", "description"}, "Path of the file."},
		{[]string{"definitions", "source.file", "properties", "timeout", "default"}, "30s"},
		{[]string{"definitions", "source.file", "properties", "timeout", "pattern"}, durationPattern},
		{[]string{"definitions", "source.file", "properties", "columns", "items", "required"}, []any{"name"}},
		{[]string{"definitions", "source.file", "properties", "columns", "items", "additionalProperties"}, false},
		{[]string{"definitions", "source.file", "properties", "options", "additionalProperties", "type"},
			[]any{"string", "number", "boolean"}},
		{[]string{"definitions", "source.file", "properties", "extra"}, map[string]any{"description": "Anything."}},
		{[]string{"definitions", "sink.shop", "properties", "api_key", "writeOnly"}, true},
		{[]string{"definitions", "sink.shop", "properties", "batch_size", "anyOf", "0", "type"}, "integer"},
		{[]string{"definitions", "sink.shop", "properties", "batch_size", "anyOf", "1", "pattern"}, interp},
		{[]string{"definitions", "sink.shop", "properties", "batch_size", "default"}, 100.0},
		{[]string{"definitions", "sink.shop", "properties", "rate", "anyOf", "0", "type"}, "number"},
		{[]string{"definitions", "sink.shop", "properties", "dry", "anyOf", "0", "type"}, "boolean"},
		{[]string{"definitions", "transform.map", "properties", "type", "const"}, "map"},
		{[]string{"definitions", "transform.map", "properties", "name", "pattern"}, `^(?:[a-z][a-z0-9_]*|\$\{.+\})$`},
		{[]string{"definitions", "transform.map", "properties", "fields", "additionalProperties", "type"},
			[]any{"string", "number", "boolean"}},
		{[]string{"definitions", "transform.sql", "additionalProperties"}, false},
	}
	for _, c := range checks {
		if got := at(t, s, c.path...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s = %#v, want %#v", strings.Join(c.path, "."), got, c.want)
		}
	}
	if d := at(t, s, "definitions", "sink.shop", "properties", "api_key", "description").(string); !strings.Contains(d, "Secret") {
		t.Errorf("secret field description %q has no note", d)
	}
	for _, k := range []string{"type", "name", "input"} {
		at(t, s, "definitions", "transform.sql", "properties", k)
	}
}

// TestSchemaPatterns checks that the schema's patterns accept what the loader accepts.
func TestSchemaPatterns(t *testing.T) {
	duration := regexp.MustCompile(durationPattern)
	for _, d := range []string{"30s", "1h30m", "-1.5h", "0", "2.5ms", ".5s", "1µs", "${T}", "30", "s", "1d", "", "1h 30m"} {
		_, err := time.ParseDuration(d)
		if want := err == nil || d == "${T}"; duration.MatchString(d) != want {
			t.Errorf("duration pattern on %q = %v, want %v", d, !want, want)
		}
	}
	memory := regexp.MustCompile(orInterp(memoryLimitPattern))
	for d, want := range map[string]bool{"512MB": true, "1.5GB": true, "2GiB": true, "100 kb": true, "${MEM}": true,
		"512": false, "512XB": false, "MB": false, "1.MB": false} {
		if memory.MatchString(d) != want {
			t.Errorf("memory pattern on %q = %v, want %v", d, !want, want)
		}
	}
}
