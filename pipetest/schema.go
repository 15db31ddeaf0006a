package pipetest

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// JSONSchema returns the JSON Schema (draft-07) of test files, for editors (a
// `# yaml-language-server: $schema=.../pipeline-test.schema.json` first line) and other tools. It is
// deterministic, indented JSON with a trailing newline; `make generate` writes it to
// schemas/pipeline-test.schema.json.
func JSONSchema() ([]byte, error) {
	value := map[string]any{"description": "A value: text, number, boolean, null, or a date/time as RFC 3339 text."}
	row := func(desc string) map[string]any {
		return map[string]any{"type": "object", "description": desc, "additionalProperties": value}
	}
	rows := func(desc, item string) map[string]any {
		return map[string]any{"type": "array", "description": desc, "items": row(item)}
	}
	now := map[string]any{"type": "string", "format": "date-time",
		"description": "The evaluation time (RFC 3339), e.g. 2026-11-20T12:00:00Z: what `possync plan --at` sets."}
	action := map[string]any{
		"type":                 "object",
		"description":          "One expected change of the plan, matched by key.",
		"required":             []string{"action", "key"},
		"additionalProperties": false,
		"properties": map[string]any{
			"action": map[string]any{"enum": []string{"create", "update", "deactivate", "delete"},
				"description": "The planned action."},
			"key": map[string]any{
				"description": "The record's key: a mapping of the pipeline's key fields, or the value itself for a one-field key.",
				"anyOf": []any{
					map[string]any{"type": "object", "additionalProperties": value},
					map[string]any{"type": []string{"string", "number", "boolean"}},
				}},
			"fields": row("Expected new values of the named fields; a named field the change leaves alone fails. " +
				"Fields the change sets that are not named are not checked."),
		},
	}
	testCase := map[string]any{
		"type":                 "object",
		"description":          "One test case: input rows per source, and what the transforms and the plan must produce.",
		"required":             []string{"name"},
		"additionalProperties": false,
		"properties": map[string]any{
			"name":        map[string]any{"type": "string", "minLength": 1, "description": "The case's name, unique in the file; `possync test -run REGEX` matches it."},
			"description": map[string]any{"type": "string", "description": "What the case shows."},
			"now":         now,
			"inputs": map[string]any{"type": "object",
				"description": "The rows each source delivers, by source name (`source` for a pipeline with one `source:`), in the " +
					"source's declared fields (`possync connectors TYPE`). A source left out delivers no rows; a field left out is null.",
				"additionalProperties": rows("The rows of one source.", "One row: field name → value.")},
			"rows": rows("The expected records after the transforms, matched by the pipeline's key in any order: every expected row "+
				"must be produced and no other. Each row checks the fields it names (all of them with all_fields). Leave out to not check.",
				"One expected record: its key fields and the fields to check."),
			"all_fields": map[string]any{"type": "boolean", "default": false,
				"description": "Each expected row checks every field produced: a field it does not name must be null."},
			"state": rows("The last-applied records (as the sink received them) the plan diffs against; none is a first sync.",
				"One record of the state."),
			"actions": map[string]any{"type": "array", "items": action,
				"description": "The expected changes of the plan, matched by key in any order: every one must be planned and no other. " +
					"Leave out to not check; [] expects no change."},
			"notes": map[string]any{"type": "array", "items": map[string]any{"type": "string"},
				"description": "Texts each of which must appear in one of the plan's notes (held-back orders, pending mappings, reservations)."},
		},
	}
	doc := map[string]any{
		"$schema":              "http://json-schema.org/draft-07/schema#",
		"title":                "possync pipeline test",
		"description":          fmt.Sprintf("The test cases of a possync pipeline (format version %d): `possync test PIPELINE.yaml` runs NAME_test.yaml. See docs/testing.md.", FormatVersion),
		"type":                 "object",
		"required":             []string{"version", "cases"},
		"additionalProperties": false,
		"properties": map[string]any{
			"version":  map[string]any{"const": FormatVersion, "description": "The test file format version."},
			"pipeline": map[string]any{"type": "string", "description": "The pipeline file, relative to this file; default: this file's name without _test."},
			"now":      now,
			"cases":    map[string]any{"type": "array", "minItems": 1, "items": testCase, "description": "The cases, run in order."},
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode test file JSON schema: %w", err)
	}
	return buf.Bytes(), nil
}
