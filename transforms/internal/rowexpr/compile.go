// Package rowexpr compiles expr-lang expressions against the columns of an Arrow schema and evaluates them
// row by row. It is shared by the map and filter transforms.
//
// Expressions see every input column by name as a typed Go value (string, int64, float64, bool, time.Time),
// or nil when the value is NULL, plus now() (the run's evaluation time in the store's time zone) and the
// expr-lang builtins. A column shadows a function of the same name.
//
// NULL semantics: `x == nil`, `x ?? default` and equality (`status == "active"` is false when status is
// NULL) work on NULLs; arithmetic, ordering, boolean logic and string functions on a NULL fail the row.
package rowexpr

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/patcher"
	"github.com/expr-lang/expr/vm"

	"github.com/possync/possync/spec"
)

// Compiler compiles expressions against one input schema. It is safe for concurrent use.
type Compiler struct {
	input   *arrow.Schema
	now     time.Time       // now() in the store's time zone
	fields  []string        // input field names, in schema order
	typed   map[string]any  // a zero value of each field's Go type, for type checking
	dates   map[string]bool // the date fields
	options []expr.Option
}

// NewCompiler returns a compiler for expressions over rows of input. now() returns now in loc (UTC when loc is
// nil); loc is also the default time zone of the date() builtin.
func NewCompiler(input *arrow.Schema, now time.Time, loc *time.Location) *Compiler {
	if loc == nil {
		loc = time.UTC
	}
	c := &Compiler{input: input, typed: make(map[string]any, input.NumFields()), dates: map[string]bool{}}
	for _, f := range input.Fields() {
		c.fields = append(c.fields, f.Name)
		c.typed[f.Name] = zeroValue(f.Type)
		if f.Type.ID() == arrow.DATE32 || f.Type.ID() == arrow.DATE64 {
			c.dates[f.Name] = true
		}
	}
	local := now.In(loc)
	c.now = local
	c.options = []expr.Option{
		expr.Env(c.typed),
		nowOption(local),
		expr.Patch(patcher.WithTimezone{Location: loc}),
	}
	return c
}

// Program is a compiled expression.
type Program struct {
	// Source is the expression as written.
	Source spec.Expr
	// Type is the field type name (see record.TypeNames) of the expression's result as inferred from its
	// operands, or "" when it cannot be inferred (the value's type is then only known at run time).
	Type string
	prog *vm.Program
	uses []string  // input fields the expression reads
	comp *Compiler // the compiler, for the SQL translation
}

// Compile compiles one expression. A failure is a *spec.Diagnostic positioned at the offending token:
// spec.CodeExprUnknownField (with a did-you-mean hint) or spec.CodeExprCompile (also for an expression over the
// size and nesting limits, see checkLimits).
func (c *Compiler) Compile(e spec.Expr) (*Program, error) {
	if err := checkLimits(e); err != nil {
		return nil, err
	}
	cfg := conf.CreateNew()
	for _, op := range c.options {
		op(cfg)
	}
	cfg.Check()
	tree, err := checker.ParseCheck(e.Text, cfg)
	if err != nil {
		return nil, c.diagnose(e, err)
	}
	nullSafeEquality(tree.Node, c.isField)
	if err := optimizer.Optimize(&tree.Node, cfg); err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			err = fe.Bind(tree.Source)
		}
		return nil, c.diagnose(e, err)
	}
	prog, err := compiler.Compile(tree, cfg)
	if err != nil {
		return nil, c.diagnose(e, err)
	}
	return &Program{Source: e, Type: inferType(prog.Node(), c.dates), prog: prog, uses: c.uses(prog.Node()), comp: c}, nil
}

// Uses returns the input fields the expression reads, sorted; all of them, in schema order, when it reads
// $env.
func (p *Program) Uses() []string { return append([]string(nil), p.uses...) }

// Field returns the input field p is, when the whole expression is one input field read as is.
func (p *Program) Field() (string, bool) {
	id, ok := p.prog.Node().(*ast.IdentifierNode)
	if !ok || !p.comp.isField(id.Value) {
		return "", false
	}
	return id.Value, true
}

// diagnose turns an expr-lang error into a diagnostic at its position in the pipeline file.
func (c *Compiler) diagnose(e spec.Expr, err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return spec.Errorf(e.Pos, spec.CodeExprCompile, "", "%v", err)
	}
	pos := e.At(fe.Line, fe.Column+1) // expr-lang columns are 0-based
	if name, ok := strings.CutPrefix(fe.Message, "unknown name "); ok {
		return spec.Errorf(pos, spec.CodeExprUnknownField, Suggest(name, c.fields), "unknown field %q", name)
	}
	return spec.Errorf(pos, spec.CodeExprCompile, "", "%s", fe.Message)
}

func (c *Compiler) isField(name string) bool {
	_, ok := c.typed[name]
	return ok
}

// uses returns the input fields an expression reads: all of them when it reads $env.
func (c *Compiler) uses(root ast.Node) []string {
	seen := map[string]bool{}
	all := false
	ast.Walk(&root, visitor(func(n ast.Node) {
		id, ok := n.(*ast.IdentifierNode)
		switch {
		case !ok:
		case id.Value == "$env":
			all = true
		case c.isField(id.Value):
			seen[id.Value] = true
		}
	}))
	if all {
		return append([]string(nil), c.fields...)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var anyType = reflect.TypeOf((*any)(nil)).Elem()

// nullSafeEquality makes `field == value` compare dynamically. Type checking lets expr-lang compile an
// equality of two strings to a type-asserting instruction, which fails on a NULL (nil) field instead of
// being false.
func nullSafeEquality(root ast.Node, isField func(string) bool) {
	ast.Walk(&root, visitor(func(n ast.Node) {
		b, ok := n.(*ast.BinaryNode)
		if !ok || (b.Operator != "==" && b.Operator != "!=") {
			return
		}
		for _, side := range []ast.Node{b.Left, b.Right} {
			if id, ok := side.(*ast.IdentifierNode); ok && isField(id.Value) {
				id.SetType(anyType)
			}
		}
	}))
}

// visitor adapts a function to ast.Visitor.
type visitor func(ast.Node)

func (v visitor) Visit(n *ast.Node) { v(*n) }

// Suggest returns a did-you-mean hint for an unknown name among known ones, or a list of the known ones.
func Suggest(name string, known []string) string {
	if best, ok := spec.Closest(name, known); ok {
		return fmt.Sprintf("did you mean %q?", best)
	}
	const max = 12
	if len(known) > max {
		return "known fields: " + strings.Join(known[:max], ", ") + ", …"
	}
	if len(known) == 0 {
		return "the input has no fields"
	}
	return "known fields: " + strings.Join(known, ", ")
}
