package mapt

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/transforms"
	"github.com/possync/possync/transforms/internal/rowexpr"
)

// checkEvery is how many rows Apply evaluates between checks of its context.
const checkEvery = 4096

// Schema returns the output schema: the mapped fields in file order, then the passed-through input fields.
func (m *Map) Schema() *arrow.Schema { return m.schema }

// Clone returns a copy sharing the compiled expressions, with its own evaluation state.
func (m *Map) Clone() transforms.Batch {
	c := *m
	c.eval = m.eval.Clone()
	return &c
}

// Apply maps one batch. A row whose expression fails, or gives a value that does not fit its field, is a
// *transforms.RowError naming the row and the output field.
func (m *Map) Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if err := m.eval.Bind(in); err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	defer m.eval.Unbind()

	n := int(in.NumRows())
	builders := make([]array.Builder, len(m.outs)) // nil for the copied fields
	appends := make([]func(any) error, len(m.outs))
	defer func() {
		for _, b := range builders {
			if b != nil {
				b.Release()
			}
		}
	}()
	for i, o := range m.outs {
		if o.copy != "" {
			continue
		}
		builders[i] = array.NewBuilder(m.alloc, m.schema.Field(i).Type)
		builders[i].Reserve(n)
		app, err := rowexpr.Appender(o.typ, builders[i])
		if err != nil {
			return nil, fmt.Errorf("map: field %s: %w", o.name, err)
		}
		appends[i] = app
	}

	for row := 0; row < n; row++ {
		if row%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("map: %w", err)
			}
		}
		m.eval.Load(row)
		for i, o := range m.outs {
			if o.copy != "" {
				continue
			}
			v, err := m.eval.Run(o.prog)
			if err == nil {
				err = appends[i](v)
			}
			if err != nil {
				return nil, &transforms.RowError{Row: row, Field: o.name, Err: err}
			}
		}
	}
	return m.assemble(in, builders)
}

// assemble builds the output batch from the mapped columns (built, or copied from the input) and the
// passed-through input columns.
func (m *Map) assemble(in arrow.RecordBatch, builders []array.Builder) (arrow.RecordBatch, error) {
	column := func(name string) (arrow.Array, error) {
		idx := in.Schema().FieldIndices(name)
		if len(idx) == 0 {
			return nil, fmt.Errorf("map: input batch has no field %q", name)
		}
		return in.Column(idx[0]), nil
	}
	cols := make([]arrow.Array, 0, m.schema.NumFields())
	for i, o := range m.outs {
		if o.copy != "" {
			c, err := column(o.copy)
			if err != nil {
				return nil, err
			}
			cols = append(cols, c)
			continue
		}
		a := builders[i].NewArray()
		defer a.Release()
		cols = append(cols, a)
	}
	for _, name := range m.pass {
		c, err := column(name)
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return array.NewRecordBatch(m.schema, cols, in.NumRows()), nil
}
