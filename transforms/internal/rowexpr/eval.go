package rowexpr

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// Evaluator runs programs over the rows of batches. It reuses one environment map and one VM, so it is not
// safe for concurrent use: give each goroutine its own (Clone).
type Evaluator struct {
	fields []string // input fields the programs read
	env    map[string]any
	read   []func(row int) any // per field, bound to the current batch
	vm     vm.VM
}

// NewEvaluator returns an evaluator for the given programs.
func NewEvaluator(progs ...*Program) *Evaluator {
	seen := map[string]bool{}
	var fields []string
	for _, p := range progs {
		for _, f := range p.uses {
			if !seen[f] {
				seen[f] = true
				fields = append(fields, f)
			}
		}
	}
	sort.Strings(fields)
	return newEvaluator(fields)
}

func newEvaluator(fields []string) *Evaluator {
	return &Evaluator{fields: fields, env: make(map[string]any, len(fields)), read: make([]func(int) any, len(fields))}
}

// Clone returns an evaluator for the same programs, for another goroutine.
func (e *Evaluator) Clone() *Evaluator { return newEvaluator(e.fields) }

// Bind makes the evaluator read rows of b, which must have the columns the programs read (by name). Call
// Unbind once done with b.
func (e *Evaluator) Bind(b arrow.RecordBatch) error {
	for i, f := range e.fields {
		idx := b.Schema().FieldIndices(f)
		if len(idx) == 0 {
			return fmt.Errorf("input batch has no field %q", f)
		}
		e.read[i] = reader(b.Column(idx[0]))
	}
	return nil
}

// Unbind drops every reference to the bound batch (input strings are not copied into the environment).
func (e *Evaluator) Unbind() {
	for i, f := range e.fields {
		e.env[f] = nil
		e.read[i] = nil
	}
}

// Load makes row the current row of the bound batch.
func (e *Evaluator) Load(row int) {
	for i, f := range e.fields {
		e.env[f] = e.read[i](row)
	}
}

// Run evaluates p on the current row. A failure is an error naming the position in the pipeline file where
// evaluation failed.
func (e *Evaluator) Run(p *Program) (any, error) {
	v, err := e.vm.Run(p.prog, e.env)
	if err != nil {
		return nil, evalError(p.Source, err)
	}
	return v, nil
}

// EvalError is an expression that failed on a row.
type EvalError struct {
	// Pos is where evaluation failed in the pipeline file.
	Pos spec.Pos
	Msg string
}

func (e *EvalError) Error() string {
	if p := e.Pos.String(); p != "" {
		return e.Msg + " (at " + p + ")"
	}
	return e.Msg
}

const nullHint = " (a field is NULL: give it a default with ??)"

// evalError rewrites an expr-lang runtime error, whose text embeds a snippet of the expression, as a
// one-line message at the file position of the failing operation.
func evalError(src spec.Expr, err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return err
	}
	msg := fe.Message
	if want, ok := strings.CutPrefix(msg, "interface conversion: interface {} is nil, not "); ok {
		msg = "NULL where a " + want + " is needed" + nullHint
	} else if strings.Contains(msg, "<nil>") {
		msg += nullHint
	}
	return &EvalError{Pos: src.At(fe.Line, fe.Column+1), Msg: msg}
}

// reader returns a function giving the value of column a at a row as expressions see it. Strings alias the
// batch's memory: they are valid only while the batch is.
func reader(a arrow.Array) func(int) any {
	switch c := a.(type) {
	case *array.String:
		return func(i int) any {
			if c.IsNull(i) {
				return nil
			}
			return c.Value(i)
		}
	case *array.Int64:
		return func(i int) any {
			if c.IsNull(i) {
				return nil
			}
			return c.Value(i)
		}
	case *array.Float64:
		return func(i int) any {
			if c.IsNull(i) {
				return nil
			}
			return c.Value(i)
		}
	case *array.Boolean:
		return func(i int) any {
			if c.IsNull(i) {
				return nil
			}
			return c.Value(i)
		}
	}
	return func(i int) any { return record.Value(a, i) }
}
