// Package filter is the filter transform: it keeps the rows for which an expr-lang expression is true.
//
//	type: filter
//	expr: active && price > 0
//
// The expression sees the input fields as the map transform's expressions do (NULL is nil). It must give a
// bool: a NULL result, or an evaluation error, fails the run naming the row (write `x ?? false` to treat a
// NULL as false). The output schema is the input schema.
package filter

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
	"github.com/possync/possync/transforms/internal/rowexpr"
)

var component = spec.Component{
	Kind:    spec.KindTransform,
	Name:    "filter",
	Summary: "Keeps the rows for which an expression is true.",
	Description: "The expression sees the input fields by name (NULL is nil), now() and the expr-lang builtins, " +
		"and must give a bool. A row whose expression fails or gives NULL fails the run; write `x ?? false` to " +
		"drop rows where x is NULL. The output has the input's fields.",
	Fields: []spec.Field{
		{
			Name: "expr", Type: spec.TypeExpr, Required: true,
			Description: "A boolean expr-lang expression; rows where it is true are kept.",
			Example:     "active && price > 0",
		},
	},
	Example: "type: filter\nexpr: active && price > 0\n",
	Config:  config{},
}

func init() { transforms.Registry.MustRegister(component, New) }

type config struct {
	Expr spec.Expr `spec:"expr"`
}

// Filter is the filter transform. It implements transforms.Batch.
type Filter struct {
	schema *arrow.Schema
	prog   *rowexpr.Program
	eval   *rowexpr.Evaluator
	alloc  memory.Allocator
	keep   []int // selected rows of the current batch, reused
}

// New compiles the filter's expression against env.Input. A compile error is a *spec.Diagnostic.
func New(cfg spec.Config, env transforms.Env) (transforms.Transform, error) {
	if env.Input == nil {
		return nil, errors.New("filter: no input schema")
	}
	var c config
	if err := cfg.Decode(&c); err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	prog, err := rowexpr.NewCompiler(env.Input, env.Now, env.Location).Compile(c.Expr)
	if err != nil {
		return nil, err
	}
	if prog.Type != "" && prog.Type != rowexpr.TypeBool {
		return nil, spec.Errorf(c.Expr.Pos, spec.CodeExprNotBool, "compare it, e.g. `qty > 0`",
			"a filter expression must give a bool; this one's type is %s", prog.Type)
	}
	f := &Filter{schema: env.Input, prog: prog, eval: rowexpr.NewEvaluator(prog), alloc: env.Alloc}
	if f.alloc == nil {
		f.alloc = memory.DefaultAllocator
	}
	return f, nil
}

// Schema returns the input schema.
func (f *Filter) Schema() *arrow.Schema { return f.schema }

// Clone returns a copy sharing the compiled expression, with its own evaluation state.
func (f *Filter) Clone() transforms.Batch {
	c := *f
	c.eval = f.eval.Clone()
	c.keep = nil
	return &c
}

// checkEvery is how many rows Apply evaluates between checks of its context.
const checkEvery = 4096

// Apply returns the rows of in for which the expression is true. A row where it fails or is not a bool is a
// *transforms.RowError.
func (f *Filter) Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if err := f.eval.Bind(in); err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	defer f.eval.Unbind()
	n := int(in.NumRows())
	f.keep = f.keep[:0]
	for row := 0; row < n; row++ {
		if row%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("filter: %w", err)
			}
		}
		f.eval.Load(row)
		v, err := f.eval.Run(f.prog)
		if err != nil {
			return nil, &transforms.RowError{Row: row, Err: err}
		}
		switch b := v.(type) {
		case bool:
			if b {
				f.keep = append(f.keep, row)
			}
		case nil:
			return nil, &transforms.RowError{Row: row, Err: &rowexpr.EvalError{Pos: f.prog.Source.Pos,
				Msg: "filter expression is NULL, want a bool (give NULL fields a default with ??)"}}
		default:
			return nil, &transforms.RowError{Row: row, Err: &rowexpr.EvalError{Pos: f.prog.Source.Pos,
				Msg: rowexpr.WrongType(rowexpr.TypeBool, v).Error()}}
		}
	}
	out, err := take(f.alloc, in, f.keep)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	return out, nil
}
