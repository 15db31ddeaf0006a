package rowexpr

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/spec"
)

// TestCompileLimits checks that expressions too long or too deeply nested are refused with a diagnostic
// before expr-lang parses them: a million nested parentheses overflowed its parser's stack, a fatal error
// that ended the process (found by FuzzCompile's limits, regression input generated here).
func TestCompileLimits(t *testing.T) {
	at := spec.Pos{File: "p.yaml", Line: 9, Col: 11}
	tests := []struct {
		name, text string
		line, col  int
		want       string
	}{
		{"a million nested parentheses", strings.Repeat("(", 1_000_000) + "1" + strings.Repeat(")", 1_000_000), 9, 11,
			"the expression is 2000001 bytes long; at most 65536 are allowed"},
		{"129 nested brackets", "i + " + strings.Repeat("[", 129) + strings.Repeat("]", 129), 9, 11 + 4 + 128,
			"nests brackets more than 128 levels deep"},
		{"deep parentheses on a second line", "i +\n" + strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200), 10, 129, // a continuation line of a flow scalar: no offset
			"nests brackets more than 128 levels deep"},
	}
	comp := NewCompiler(schema, time.Now(), nil)
	for _, tt := range tests {
		_, err := comp.Compile(spec.Expr{Text: tt.text, Pos: at})
		var d *spec.Diagnostic
		if !errors.As(err, &d) {
			t.Errorf("%s: %v, want a diagnostic", tt.name, err)
			continue
		}
		if d.Code != spec.CodeExprCompile || !strings.Contains(d.Message, tt.want) || d.Line != tt.line || d.Col != tt.col {
			t.Errorf("%s: %v (at %d:%d), want %s at %d:%d saying %q", tt.name, err, d.Line, d.Col, spec.CodeExprCompile, tt.line, tt.col, tt.want)
		}
	}
	// Brackets inside string literals do not count, nor does a deep but legal expression fail.
	for _, text := range []string{`s + "` + strings.Repeat("(", 500) + `"`, "`" + strings.Repeat("[", 300) + "`", strings.Repeat("(", 100) + "i" + strings.Repeat(")", 100)} {
		if _, err := comp.Compile(spec.Expr{Text: text, Pos: at}); err != nil {
			t.Errorf("%.40q...: %v", text, err)
		}
	}
}
