// Package mapt is the map transform: it computes each output field from an expr-lang expression over the
// input row (folder transforms/map; the package is mapt because map is a Go keyword).
//
//	type: map
//	fields:
//	  sku: sku
//	  title: trim(name) + " | " + brand
//	  price: price ?? 0
//	  qty: "qty > 0 ? qty : 0"
//	types: {qty: int}
//	passthrough: false
//
// Output fields come in the order they are written in the file: `fields` is decoded as a mapping, which has
// no order, so they are sorted by the position of their expression (line, column), and by name when the
// configuration carries no positions (e.g. built in code).
//
// The type of each output field is inferred from its expression; `types` declares it where it cannot be
// (an expression mixing types, e.g. `x ?? y` of a string and an int), or to widen an int to a float. A NULL
// input is nil in expressions, and a nil result is a NULL output.
package mapt

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
	"github.com/possync/possync/transforms/internal/rowexpr"
)

var component = spec.Component{
	Kind:    spec.KindTransform,
	Name:    "map",
	Summary: "Computes each output field from an expression over the input row.",
	Description: "Each entry of `fields` names an output field and gives its expr-lang expression, which sees " +
		"the input fields by name (NULL is nil), now() (the run's time in the store's time zone) and the " +
		"expr-lang builtins (trim, upper, split, ...). Output fields come in the order they are written. The " +
		"type of an output field is inferred from its expression; declare it in `types` when it cannot be " +
		"(an expression mixing types). A row whose expression fails (e.g. arithmetic on a NULL; use `x ?? 0`) " +
		"fails the run, naming the row and the field.",
	Fields: []spec.Field{
		{
			Name: "fields", Type: spec.TypeMap, Required: true,
			Description: "Output fields, in order: field name -> expression.",
			Items:       &spec.Field{Name: "expr", Type: spec.TypeExpr, Description: "An expr-lang expression."},
			Example:     map[string]any{"sku": "sku", "title": `trim(name) + " | " + brand`, "price": "price ?? 0"},
		},
		{
			Name: "types", Type: spec.TypeMap,
			Description: "Declared types of output fields whose type cannot be inferred from their expression.",
			Items:       &spec.Field{Name: "type", Type: spec.TypeString, Enum: record.TypeNames()},
			Example:     map[string]any{"qty": "int"},
		},
		{
			Name: "passthrough", Type: spec.TypeBool, Default: false,
			Description: "Copy the input fields not named in `fields` after the mapped ones, in input order.",
		},
		{
			Name: "drop", Type: spec.TypeList, Items: &spec.Field{Name: "field", Type: spec.TypeString},
			Description: "With passthrough: input fields not to copy.",
			Example:     []any{"internal_note"},
		},
	},
	Example: `type: map
fields:
  sku: sku
  title: trim(name) + " | " + brand
  price: price ?? 0
  online: active && channel_online
  qty: "qty > 0 ? qty : 0"
types:
  qty: int
`,
	Config: config{},
}

func init() { transforms.Registry.MustRegister(component, New) }

type config struct {
	Fields      map[string]spec.Expr `spec:"fields"`
	Types       map[string]string    `spec:"types"`
	Passthrough bool                 `spec:"passthrough"`
	Drop        []string             `spec:"drop"`
}

// output is one mapped field.
type output struct {
	name string
	typ  string // field type name
	prog *rowexpr.Program
	// copy names the input field whose column is the output as is: the expression is that field alone, of the
	// output's Arrow type. Apply shares its column instead of evaluating prog row by row.
	copy string
}

// Map is the map transform. It implements transforms.Batch.
type Map struct {
	schema *arrow.Schema
	outs   []output
	pass   []string // input fields copied through, in input order
	eval   *rowexpr.Evaluator
	alloc  memory.Allocator
}

// New compiles the map's expressions against env.Input. Configuration and compile errors are returned
// together as spec.Diagnostics.
func New(cfg spec.Config, env transforms.Env) (transforms.Transform, error) {
	if env.Input == nil {
		return nil, errors.New("map: no input schema")
	}
	var c config
	if err := cfg.Decode(&c); err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	var ds spec.Diagnostics
	comp := rowexpr.NewCompiler(env.Input, env.Now, env.Location)
	outs := compileFields(comp, c, cfg.Pos, &ds)
	pass := passthrough(env.Input, c, cfg.Pos, &ds)
	if err := ds.Err(); err != nil {
		return nil, err
	}
	m := &Map{outs: outs, pass: pass, alloc: env.Alloc}
	if m.alloc == nil {
		m.alloc = memory.DefaultAllocator
	}
	var progs []*rowexpr.Program
	fields := make([]arrow.Field, 0, len(outs)+len(pass))
	for i, o := range outs {
		t, err := record.ArrowType(o.typ)
		if err != nil {
			return nil, fmt.Errorf("map: field %s: %w", o.name, err)
		}
		if name, ok := o.prog.Field(); ok && arrow.TypeEqual(env.Input.Field(env.Input.FieldIndices(name)[0]).Type, t) {
			m.outs[i].copy = name
		} else {
			progs = append(progs, o.prog)
		}
		fields = append(fields, arrow.Field{Name: o.name, Type: t, Nullable: true})
	}
	for _, name := range pass {
		idx := env.Input.FieldIndices(name)
		fields = append(fields, env.Input.Field(idx[0]))
	}
	m.schema = arrow.NewSchema(fields, nil)
	m.eval = rowexpr.NewEvaluator(progs...)
	return m, nil
}

// compileFields compiles the field expressions in file order and settles each field's type.
func compileFields(comp *rowexpr.Compiler, c config, at spec.Pos, ds *spec.Diagnostics) []output {
	names := make([]string, 0, len(c.Fields))
	for name := range c.Fields {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		pa, pb := c.Fields[a].Pos, c.Fields[b].Pos
		return cmp.Or(cmp.Compare(pa.Line, pb.Line), cmp.Compare(pa.Col, pb.Col), strings.Compare(a, b))
	})
	for name := range c.Types {
		if _, ok := c.Fields[name]; !ok {
			ds.Append(spec.Errorf(pointer(at, "types", name), spec.CodeUnknownField, rowexpr.Suggest(name, names),
				"types names %q, which is not in fields", name))
		}
	}
	outs := make([]output, 0, len(names))
	for _, name := range names {
		e := c.Fields[name]
		prog, err := comp.Compile(e)
		if err != nil {
			ds.Add(e.Pos, err)
			continue
		}
		typ, declared := c.Types[name], c.Types[name] != ""
		switch {
		case declared && !rowexpr.Compatible(typ, prog.Type):
			ds.Append(spec.Errorf(e.Pos, spec.CodeExprTypeMismatch, "fix the expression or its declared type",
				"field %s is declared %s but its expression gives a %s", name, typ, prog.Type))
			continue
		case !declared && prog.Type == "":
			ds.Append(spec.Errorf(e.Pos, spec.CodeExprTypeUnknown,
				fmt.Sprintf("declare it under types, e.g. `types: {%s: string}`", name),
				"the type of field %s cannot be inferred from its expression", name))
			continue
		case !declared:
			typ = prog.Type
		}
		outs = append(outs, output{name: name, typ: typ, prog: prog})
	}
	return outs
}

// passthrough returns the input fields copied after the mapped ones.
func passthrough(input *arrow.Schema, c config, at spec.Pos, ds *spec.Diagnostics) []string {
	if len(c.Drop) > 0 && !c.Passthrough {
		ds.Append(spec.Errorf(pointer(at, "drop"), spec.CodeDropNeedsPassthrough, "set passthrough: true, or remove drop",
			"drop only applies with passthrough"))
		return nil
	}
	if !c.Passthrough {
		return nil
	}
	inputNames := make([]string, input.NumFields())
	for i, f := range input.Fields() {
		inputNames[i] = f.Name
	}
	drop := map[string]bool{}
	for i, name := range c.Drop {
		if !input.HasField(name) {
			ds.Append(spec.Errorf(pointer(at, "drop", fmt.Sprint(i)), spec.CodeUnknownField,
				rowexpr.Suggest(name, inputNames), "drop names %q, which is not an input field", name))
		}
		drop[name] = true
	}
	var pass []string
	for _, name := range inputNames {
		if _, mapped := c.Fields[name]; !mapped && !drop[name] {
			pass = append(pass, name)
		}
	}
	return pass
}

// pointer is the position of a value inside the component's block: the block's line, the value's pointer.
func pointer(at spec.Pos, tokens ...string) spec.Pos {
	at.Path = spec.PointerJoin(at.Path, tokens...)
	return at
}
