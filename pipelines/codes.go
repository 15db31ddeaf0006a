package pipelines

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/possync/possync/pipelines/spec"
)

// Diagnostic codes reported by Load and Parse. They are stable: scripts and editors may match on them.
const (
	// CodeFileError: the pipeline file could not be read.
	CodeFileError = "file_error"
	// CodeYAMLSyntax: the file is not valid YAML (or holds more than one document).
	CodeYAMLSyntax = "yaml_syntax"
	// CodeBadVersion: `version` is not a version this package reads.
	CodeBadVersion = "bad_version"
	// CodeUnknownField: a key that the block does not declare.
	CodeUnknownField = "unknown_field"
	// CodeMissingField: a required field is absent or empty.
	CodeMissingField = "missing_field"
	// CodeWrongType: a value of the wrong YAML type (a string where a list is wanted, ...).
	CodeWrongType = "wrong_type"
	// CodeBadEnum: a value outside a field's allowed values.
	CodeBadEnum = "bad_enum"
	// CodeBadDuration: a duration field that is not Go duration syntax ("30s", "5m", "1h30m").
	CodeBadDuration = "bad_duration"
	// CodeBadValue: a value of the right type that is not allowed (a name pattern, a size, a range).
	CodeBadValue = "bad_value"
	// CodeUnsetVariable: ${VAR} names an environment variable that is not set and has no default.
	CodeUnsetVariable = "unset_variable"
	// CodeUnknownComponent: a `type` that names no registered source, sink or transform.
	CodeUnknownComponent = "unknown_component"
	// CodeDuplicateName: a step name already used by a source or another step.
	CodeDuplicateName = "duplicate_name"
	// CodeUnknownInput: a step's `input` names no source and no earlier step.
	CodeUnknownInput = "unknown_input"
	// CodeAmbiguousInput: several sources and nothing says which one a step (or the sink) reads.
	CodeAmbiguousInput = "ambiguous_input"
	// CodeSourceConflict: both `source` and `sources`, or neither.
	CodeSourceConflict = "source_conflict"
	// CodeDuplicateKey: a key repeated in one YAML mapping.
	CodeDuplicateKey = "duplicate_key"
	// CodeIgnoredInput (a warning): `input` on a sql step, which reads the relations its query names.
	CodeIgnoredInput = "ignored_input"
)

// didYouMean returns a hint naming the candidate closest to s (Levenshtein distance at most 2, or a prefix
// match, case-insensitively), or else listing the candidates after what ("valid keys: ...").
func didYouMean(s string, candidates []string, what string) string {
	if best, ok := spec.Closest(s, candidates); ok {
		return fmt.Sprintf("did you mean `%s`?", best)
	}
	if len(candidates) == 0 {
		return fmt.Sprintf("there are no %s", what)
	}
	return fmt.Sprintf("%s: %s", what, strings.Join(candidates, ", "))
}

// typeNoun names a field type in messages ("a list").
func typeNoun(t spec.Type) string {
	switch t {
	case spec.TypeInt:
		return "an integer"
	case spec.TypeFloat:
		return "a number"
	case spec.TypeBool:
		return "a boolean"
	case spec.TypeDuration:
		return "a duration"
	case spec.TypeExpr:
		return "an expression"
	case spec.TypeSQL:
		return "a SQL query"
	case spec.TypeObject, spec.TypeMap:
		return "a mapping"
	case spec.TypeList:
		return "a list"
	case spec.TypeStringOrList:
		return "a string or a list of strings"
	case spec.TypeAny:
		return "a value"
	}
	return "a string"
}

// hintFor says how to write a value of type t.
func hintFor(t spec.Type) string {
	switch t {
	case spec.TypeInt:
		return "write a whole number without quotes, e.g. 4"
	case spec.TypeFloat:
		return "write a number without quotes, e.g. 2.5"
	case spec.TypeBool:
		return "write true or false, without quotes"
	case spec.TypeDuration:
		return "write a duration such as 30s, 5m or 1h30m"
	case spec.TypeObject, spec.TypeMap:
		return "write indented `key: value` lines under the field, or {key: value}"
	case spec.TypeList:
		return "write one `- item` per line under the field, or [a, b]"
	case spec.TypeStringOrList:
		return "write a name, or a list such as [a, b]"
	}
	return "write a single value, quoted if it holds special characters"
}

// describe names the YAML type of n in messages ("a string").
func describe(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case tagNull:
			return "null"
		case tagInt:
			return "an integer"
		case tagFloat:
			return "a number"
		case tagBool:
			return "a boolean"
		}
		return "a string"
	}
	return "nothing"
}
