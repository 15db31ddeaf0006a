package pipelines

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/possync/possync/spec"
)

// Schema building blocks.
const (
	draft07 = "http://json-schema.org/draft-07/schema#"
	// interpPattern matches a value that is one ${VAR} interpolation.
	interpPattern = `^\$\{.+\}$`
	// durationPattern matches Go durations ("30s", "1h30m", "-1.5h", "0") and interpolations.
	durationPattern = `^(?:[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+|0|\$\{.+\})$`
	secretNote      = "Secret: never shown; read it from the environment with ${VAR}."
)

// constraints are JSON Schema keywords the field declarations cannot express, by field: a top-level field's
// JSON pointer in the file, or "transform:" and a reserved key of transform blocks. Keywords such as pattern
// and minimum apply only to values of their type, so they sit beside an anyOf that also admits ${VAR}.
var constraints = map[string]map[string]any{
	"/version":            {"const": Version},
	"/name":               {"pattern": orInterp(pipelineNamePattern)},
	"/state/memory_limit": {"pattern": orInterp(memoryLimitPattern)},
	"/state/threads":      {"minimum": 0},
	"transform:name":      {"pattern": orInterp(relationNamePattern)},
}

// orInterp extends an anchored pattern to also accept a ${VAR} interpolation.
func orInterp(pattern string) string {
	return `^(?:` + strings.TrimSuffix(strings.TrimPrefix(pattern, "^"), "$") + `|\$\{.+\})$`
}

// JSONSchema returns the JSON Schema (draft-07) of the pipeline file for the components of cat (nil means
// DefaultCatalog()): each component block is checked against the declaration of the component its `type`
// names. The output is deterministic, indented JSON with a trailing newline, for editors (yaml-language-server
// reads it from a `# yaml-language-server: $schema=...` comment).
func JSONSchema(cat Catalog) ([]byte, error) {
	if cat == nil {
		cat = DefaultCatalog()
	}
	defs := map[string]any{}
	for _, kind := range kinds {
		componentDefs(cat, kind, defs)
	}
	props := map[string]any{}
	var required []string
	for i := range topFields {
		f := &topFields[i]
		if f.Required {
			required = append(required, f.Name)
		}
		switch f.Name {
		case slotSource, slotSink:
			props[f.Name] = map[string]any{"description": f.Description, "allOf": []any{ref(f.Name)}}
		case slotSources:
			props[f.Name] = map[string]any{"description": f.Description, "type": "object",
				"propertyNames":        map[string]any{"pattern": relationNamePattern},
				"additionalProperties": ref(string(spec.KindSource))}
		case slotTransforms:
			props[f.Name] = map[string]any{"description": f.Description, "type": "array",
				"items": ref(string(spec.KindTransform))}
		default:
			props[f.Name] = fieldSchema(f, "/"+f.Name)
		}
	}
	doc := map[string]any{
		"$schema":              draft07,
		"title":                "possync pipeline",
		"description":          fmt.Sprintf("A possync pipeline file (version %d): sources, transforms and a sink.", Version),
		"type":                 "object",
		"properties":           props,
		"required":             required,
		"additionalProperties": false,
		"oneOf": []any{
			map[string]any{"required": []string{slotSource}},
			map[string]any{"required": []string{slotSources}},
		},
		"definitions": defs,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode pipeline JSON schema: %w", err)
	}
	return buf.Bytes(), nil
}

// ref returns a reference to a definition.
func ref(name string) map[string]any { return map[string]any{"$ref": "#/definitions/" + name} }

// componentDefs adds the definitions of one kind to defs: "<kind>" (a block with a registered `type`, and
// the constraints of that type) and "<kind>.<type>" for each registered type.
func componentDefs(cat Catalog, kind spec.Kind, defs map[string]any) {
	types := cat.Types(kind)
	typeProp := map[string]any{"type": "string", "description": typeField.Description}
	if len(types) > 0 {
		typeProp["enum"] = types
	}
	base := map[string]any{
		"type":        "object",
		"description": fmt.Sprintf("A %s block: `type`, then the fields of that %s type.", kind, kind),
		"required":    []string{typeField.Name},
		"properties":  map[string]any{typeField.Name: typeProp},
	}
	var allOf []any
	for _, t := range types {
		c, ok := cat.Component(kind, t)
		if !ok {
			continue
		}
		name := string(kind) + "." + t
		defs[name] = componentSchema(kind, c)
		allOf = append(allOf, map[string]any{
			"if": map[string]any{
				"properties": map[string]any{typeField.Name: typeIs(t)},
				"required":   []string{typeField.Name},
			},
			"then": ref(name),
		})
	}
	if len(allOf) > 0 {
		base["allOf"] = allOf
	}
	defs[string(kind)] = base
}

// typeIs is the condition that a block's `type` is t. The anchored pattern says the same as the const to a
// validator, but editors need it: while completing, yaml-language-server takes a const as matched by any
// value it starts with (the user may be typing it), so with the const alone a `retailpos` block would also
// get the fields of `retailpos_promotions`, `retailpos_sales` and `retailpos_customers`; a pattern it tests
// as it is.
func typeIs(t string) map[string]any {
	return map[string]any{"const": t, "pattern": "^" + regexp.QuoteMeta(t) + "$"}
}

// componentSchema returns the schema of a block of component c: its fields plus the reserved keys.
func componentSchema(kind spec.Kind, c *spec.Component) map[string]any {
	fields := []spec.Field{typeField}
	if kind == spec.KindTransform {
		fields = append(fields, stepFields...)
	}
	s := objectSchema(append(fields, c.Fields...), string(kind)+":")
	s["title"] = fmt.Sprintf("%s %s", c.Name, kind)
	desc := c.Summary
	if c.Description != "" {
		desc += "\n\n" + c.Description
	}
	s["description"] = desc
	s["properties"].(map[string]any)[typeField.Name] = map[string]any{"const": c.Name, "description": typeField.Description}
	return s
}

// objectSchema returns the schema of a mapping with the given fields; prefix leads the fields' keys in
// constraints.
func objectSchema(fields []spec.Field, prefix string) map[string]any {
	props := map[string]any{}
	var required []string
	for i := range fields {
		f := &fields[i]
		props[f.Name] = fieldSchema(f, prefix+f.Name)
		if f.Required {
			required = append(required, f.Name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// fieldSchema returns the schema of field f, whose key in constraints is path; nested fields of objects
// extend the path with "/name".
func fieldSchema(f *spec.Field, path string) map[string]any {
	var s map[string]any
	switch f.Type {
	case spec.TypeString, spec.TypeExpr, spec.TypeSQL:
		// Like the loader, accept any scalar: `store_id: 12345` is the text "12345".
		s = map[string]any{"type": []string{"string", "number", "boolean"}}
		if len(f.Enum) > 0 {
			s = map[string]any{"anyOf": []any{map[string]any{"enum": f.Enum}, interp()}}
		}
	case spec.TypeInt:
		s = orInterpSchema("integer")
	case spec.TypeFloat:
		s = orInterpSchema("number")
	case spec.TypeBool:
		s = orInterpSchema("boolean")
	case spec.TypeDuration:
		s = map[string]any{"type": "string", "pattern": durationPattern}
	case spec.TypeStringOrList:
		s = map[string]any{"anyOf": []any{
			map[string]any{"type": "string"},
			map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		}}
	case spec.TypeObject:
		s = objectSchema(f.Fields, path+"/")
	case spec.TypeList:
		s = map[string]any{"type": "array", "items": fieldSchema(f.Items, path+"/-")}
	case spec.TypeMap:
		s = map[string]any{"type": "object", "additionalProperties": fieldSchema(f.Items, path+"/-")}
	default: // spec.TypeAny
		s = map[string]any{}
	}
	annotate(s, f)
	for k, v := range constraints[path] {
		s[k] = v
	}
	return s
}

// interp is the schema of a ${VAR} interpolation.
func interp() map[string]any { return map[string]any{"type": "string", "pattern": interpPattern} }

// orInterpSchema accepts a value of a JSON type, or an interpolation.
func orInterpSchema(typ string) map[string]any {
	return map[string]any{"anyOf": []any{map[string]any{"type": typ}, interp()}}
}

// annotate adds f's description, default, examples and secrecy to s.
func annotate(s map[string]any, f *spec.Field) {
	desc := f.Description
	if f.Secret {
		s["writeOnly"] = true
		desc = strings.TrimSpace(desc + " " + secretNote)
	}
	if desc != "" {
		s["description"] = desc
	}
	if d := f.DefaultValue(); d != nil {
		s["default"] = canonical(d)
	}
	if f.Example != nil {
		s["examples"] = []any{f.Example}
	}
}
