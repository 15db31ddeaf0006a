package rowexpr

import (
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/parser"

	"github.com/possync/possync/spec"
)

// clockFunc is the function through which an expression reads the run's evaluation time. It is the only
// one: expr-lang's own now() is replaced by it (NewCompiler), and its date() and duration() parse their
// arguments without reading the clock.
const clockFunc = "now"

// nowOption declares clockFunc, returning t.
func nowOption(t time.Time) expr.Option {
	return expr.Function(clockFunc, func(...any) (any, error) { return t, nil }, new(func() time.Time))
}

// ReadsClock says whether an expression reads the run's evaluation time: whether its syntax tree, parsed as
// Compile parses it, calls now() anywhere (a nested call, a closure, a pipe, a conditional). Being decided on
// the tree, spacing (`now ()`), line breaks and comments do not hide a call, and "now(" inside a string
// literal or a method of a value named now (`x.now()`) is not one. It needs no input schema: a call of now()
// counts even where a column named now would shadow the function (an error the compile reports anyway).
//
// An expression over Compile's limits or that does not parse is an error: whether it reads the clock cannot
// be told, and the caller must assume it does.
func ReadsClock(text string) (bool, error) {
	if err := checkLimits(spec.Expr{Text: text}); err != nil {
		return false, err
	}
	cfg := conf.CreateNew()
	nowOption(time.Time{})(cfg)
	tree, err := parser.ParseWithConfig(text, cfg)
	if err != nil {
		return false, err
	}
	reads := false
	ast.Walk(&tree.Node, visitor(func(n ast.Node) {
		switch x := n.(type) {
		case *ast.CallNode:
			if id, ok := x.Callee.(*ast.IdentifierNode); ok && id.Value == clockFunc {
				reads = true
			}
		case *ast.BuiltinNode: // expr-lang's own now(), should it ever be parsed as such
			if x.Name == clockFunc {
				reads = true
			}
		}
	}))
	return reads, nil
}
