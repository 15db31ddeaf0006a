package pipelines

import (
	"strings"
	"time"

	"github.com/possync/possync/spec"
)

// placeholderText stands for an unset variable inside a longer value (`${DATA_DIR}/a.csv` reads
// `placeholder/a.csv`) and is the value of a whole reference before its field's type is known. It is a valid
// name, host label and relative path.
const placeholderText = "placeholder"

// placeholderValue is the value an unset variable takes, with Options.Placeholders, when it is the whole value
// of field f: the field's example when it has a usable one (the 4-digit user of an FTP account, a host name),
// else its default, else a value of its type (the first allowed value of an enum, 1, 1.0, false, 1s, an
// https:// URL for an API address, the placeholder text).
func placeholderValue(f *spec.Field) any {
	for _, v := range []any{f.Example, f.Default} {
		if s, ok := v.(string); ok && (s == "" || strings.Contains(s, "${")) {
			continue // an example that is itself a reference, or an empty default, says nothing
		}
		if v == nil {
			continue
		}
		probe := *f
		probe.Required, probe.Default = false, v
		if d := probe.DefaultValue(); d != nil {
			if f.Secret {
				return spec.NewSecret(placeholderText)
			}
			return d
		}
	}
	switch f.Type {
	case spec.TypeInt:
		return int64(1)
	case spec.TypeFloat:
		return 1.0
	case spec.TypeBool:
		return false
	case spec.TypeDuration:
		return time.Second
	case spec.TypeStringOrList:
		return []any{placeholderText}
	case spec.TypeExpr, spec.TypeSQL:
		return spec.Expr{Text: placeholderText}
	case spec.TypeList:
		return []any{}
	case spec.TypeMap, spec.TypeObject:
		return map[string]any{}
	}
	if len(f.Enum) > 0 {
		return f.Enum[0]
	}
	if f.HTTPURL {
		return "https://" + placeholderText + ".invalid/" // an API address: validate checks its form
	}
	if f.Secret {
		return spec.NewSecret(placeholderText)
	}
	return placeholderText
}
