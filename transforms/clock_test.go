package transforms_test

import (
	"strings"
	"testing"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
	_ "github.com/possync/possync/transforms/all"
)

// TestReadsClock: the expressions of a step are the values its declaration types as expressions (a map's
// fields, a filter's expr), whether loaded from a file (spec.Expr) or built in code (string); other values
// (a map's types and drop) are not expressions, and a type or expression it cannot judge is an error.
func TestReadsClock(t *testing.T) {
	fields := func(kv ...any) spec.Config {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return spec.Config{Values: map[string]any{"fields": m, "types": map[string]any{"now": "timestamp"}, "drop": []any{"now()"}}}
	}
	for _, c := range []struct {
		typ   string
		cfg   spec.Config
		want  bool
		where string
	}{
		{"map", fields("sku", spec.Expr{Text: "sku"}, "enabled", spec.Expr{Text: "now ()  >= launch"}), true, "fields.enabled"},
		{"map", fields("sku", "sku", "enabled", "launch <= now()"), true, "fields.enabled"},
		{"map", fields("sku", spec.Expr{Text: "sku"}, "note", spec.Expr{Text: `"now(" + sku`}), false, ""},
		{"filter", spec.Config{Values: map[string]any{"expr": spec.Expr{Text: "launch <=\n  now()"}}}, true, "expr"},
		{"filter", spec.Config{Values: map[string]any{"expr": spec.Expr{Text: `active && name != "now()"`}}}, false, ""},
		{"filter", spec.Config{}, false, ""},
	} {
		reads, where, err := transforms.ReadsClock(c.typ, c.cfg)
		if err != nil || reads != c.want || where != c.where && c.want {
			t.Errorf("%s %v: reads %v at %q, err %v; want %v at %q", c.typ, c.cfg.Values, reads, where, err, c.want, c.where)
		}
	}

	if _, _, err := transforms.ReadsClock("map", fields("bad", spec.Expr{Text: "now("})); err == nil || !strings.Contains(err.Error(), "fields.bad") {
		t.Errorf("an expression that does not parse: %v, want an error naming fields.bad", err)
	}
	if _, _, err := transforms.ReadsClock("nosuch", spec.Config{}); err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf("an unknown type: %v, want an error naming it", err)
	}
}
