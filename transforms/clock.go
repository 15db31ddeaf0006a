package transforms

import (
	"fmt"
	"sort"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms/internal/rowexpr"
)

// ReadsClock says whether a step of type typ with configuration cfg reads the run's evaluation time
// (Env.Now) through its expr-lang expressions: the values its declaration types as expressions
// (spec.TypeExpr: a map's fields, a filter's expr), each decided on its syntax tree (a call of now(),
// however spaced or nested; not the text "now(" in a string literal). It is the one test that both the
// no-change rerun (package runner) and the transform cache (runner/tcache) apply to map and filter steps, so
// that they cannot disagree. where names the first expression that reads the clock, as a path in the
// configuration (e.g. "fields.enabled").
//
// It does not look at SQL (spec.TypeSQL) or at what a transform does in Go (promotions read the date):
// the callers judge those by the step's type. An error says it cannot tell (typ is not registered, an
// expression does not parse): the caller must then assume the step reads the clock.
func ReadsClock(typ string, cfg spec.Config) (reads bool, where string, err error) {
	comp, _, ok := Registry.Lookup(typ)
	if !ok {
		return false, "", fmt.Errorf("unknown transform type %q", typ)
	}
	return readsClock(comp.Fields, cfg.Values, "")
}

// readsClock walks the values of the declared fields, depth first, in a stable order.
func readsClock(fields []spec.Field, values map[string]any, prefix string) (bool, string, error) {
	for i := range fields {
		f := &fields[i]
		v, ok := values[f.Name]
		if !ok || v == nil {
			continue
		}
		if reads, where, err := valueReadsClock(f, v, prefix+f.Name); reads || err != nil {
			return reads, where, err
		}
	}
	return false, "", nil
}

func valueReadsClock(f *spec.Field, v any, path string) (bool, string, error) {
	switch f.Type {
	case spec.TypeExpr:
		var text string
		switch e := v.(type) {
		case spec.Expr:
			text = e.Text
		case string:
			text = e
		default:
			return false, "", fmt.Errorf("%s: an expression of type %T", path, v)
		}
		reads, err := rowexpr.ReadsClock(text)
		if err != nil {
			return false, "", fmt.Errorf("%s: %w", path, err)
		}
		return reads, path, nil
	case spec.TypeObject:
		if m, ok := v.(map[string]any); ok {
			return readsClock(f.Fields, m, path+".")
		}
	case spec.TypeList:
		if l, ok := v.([]any); ok && f.Items != nil {
			for i, e := range l {
				if reads, where, err := valueReadsClock(f.Items, e, fmt.Sprintf("%s[%d]", path, i)); reads || err != nil {
					return reads, where, err
				}
			}
		}
	case spec.TypeMap:
		if m, ok := v.(map[string]any); ok && f.Items != nil {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if reads, where, err := valueReadsClock(f.Items, m[k], path+"."+k); reads || err != nil {
					return reads, where, err
				}
			}
		}
	}
	return false, "", nil
}
