package pipelines

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/possync/possync/spec"
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

// hintForField is hintFor f's type, with f's own example for a number when it has one (`version` says
// "e.g. 1", its only valid value, not the generic 4).
func hintForField(f *spec.Field) string {
	switch {
	case f.Example == nil:
	case f.Type == spec.TypeInt:
		return fmt.Sprintf("write a whole number without quotes, e.g. %v", f.Example)
	case f.Type == spec.TypeFloat:
		return fmt.Sprintf("write a number without quotes, e.g. %v", f.Example)
	}
	return hintFor(f.Type)
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
