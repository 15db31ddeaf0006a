package rowexpr

import (
	"github.com/possync/possync/spec"
)

// Limits on the expressions Compile accepts. expr-lang's lexer and parser recurse on nesting: about a
// million nested parentheses overflow the goroutine stack (a fatal error no recover catches), and 100,000
// take seconds. Real expressions are a few dozen characters and a few levels deep.
const (
	// maxExprLen is the longest expression text, in bytes.
	maxExprLen = 64 << 10
	// maxExprDepth is the deepest nesting of (), [] and {}.
	maxExprDepth = 128
)

// checkLimits refuses an expression longer than maxExprLen or nested deeper than maxExprDepth, before
// expr-lang sees it, with a spec.CodeExprCompile diagnostic (at the bracket that goes too deep).
func checkLimits(e spec.Expr) error {
	if len(e.Text) > maxExprLen {
		return spec.Errorf(e.Pos, spec.CodeExprCompile, "split the computation over several fields, or use a sql step",
			"the expression is %d bytes long; at most %d are allowed", len(e.Text), maxExprLen)
	}
	depth, line, col := 0, 1, 0
	var quote byte // the quote of the string literal the scan is in, or 0
	for i := 0; i < len(e.Text); i++ {
		c := e.Text[i]
		col++
		switch {
		case c == '\n':
			line, col = line+1, 0
		case quote != 0 && c == '\\' && quote != '`':
			i++ // an escaped character
			col++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(' || c == '[' || c == '{':
			if depth++; depth > maxExprDepth {
				return spec.Errorf(e.At(line, col), spec.CodeExprCompile, "split the computation over several fields",
					"the expression nests brackets more than %d levels deep", maxExprDepth)
			}
		case c == ')' || c == ']' || c == '}':
			depth = max(depth-1, 0)
		}
	}
	return nil
}
