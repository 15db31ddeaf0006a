package diff

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
)

// Change is one row of the diff table, decoded once. Values are record values (record.Value: string,
// int64, float64, bool, time.Time or nil) and outlive the batch they were read from.
type Change struct {
	// Seq is the change's place in apply order (from 0): the diff table's __seq.
	Seq    int64
	Action connectors.Action
	// Key holds the key values, by Layout.Key.
	Key []any
	// After holds the values the record takes, by Layout.Desired (nil for a delete).
	After []any
	// Before holds the last-applied values, and Changed says which differ, by Layout.Compared (nil for a
	// create).
	Before  []any
	Changed []bool
	// Annotations holds the annotation values, by Layout.Annot (nil for a delete).
	Annotations []any
}

// Each decodes the changes numbered lo (from 0) up to hi (exclusive; -1: to the end), in apply order, and
// calls fn with each; fn may keep the Change's values but not the Change itself (it is reused).
func Each(ctx context.Context, db *engine.DB, l *Layout, lo, hi int64, fn func(*Change) error) error {
	where := fmt.Sprintf("__seq >= %d", lo)
	if hi >= 0 {
		where += fmt.Sprintf(" AND __seq < %d", hi)
	}
	q := fmt.Sprintf("SELECT * FROM %s WHERE %s ORDER BY __seq", Table, where)
	err := db.Query(ctx, q, func(b arrow.RecordBatch) error {
		cols := l.columns(b)
		for i := 0; i < int(b.NumRows()); i++ {
			ch := cols.change(i)
			if err := fn(&ch); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read diff: %w", err)
	}
	return nil
}

// EachReused is Each with one Change whose slices are reused from row to row: fn may keep neither the
// Change nor its slices, only the values in them. A pass that consumes each change before the next (the
// plan's hash over a streamed diff) allocates nothing per change for it.
func EachReused(ctx context.Context, db *engine.DB, l *Layout, lo, hi int64, fn func(*Change) error) error {
	where := fmt.Sprintf("__seq >= %d", lo)
	if hi >= 0 {
		where += fmt.Sprintf(" AND __seq < %d", hi)
	}
	q := fmt.Sprintf("SELECT * FROM %s WHERE %s ORDER BY __seq", Table, where)
	var ch Change
	err := db.Query(ctx, q, func(b arrow.RecordBatch) error {
		cols := l.columns(b)
		for i := 0; i < int(b.NumRows()); i++ {
			cols.changeInto(i, &ch)
			if err := fn(&ch); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read diff: %w", err)
	}
	return nil
}

// EachPlan decodes the changes numbered lo (from 0) up to hi (exclusive; -1: to the end), in apply order,
// straight into their plan form against planned (what PlanChange gives for Each's Change), and calls fn with
// each. It decodes only the values the plan form holds (an update's changed fields, not its whole record
// before and after), so a plan that is only shown or saved allocates a few values per change, not dozens.
func EachPlan(ctx context.Context, db *engine.DB, l *Layout, lo, hi int64, planned plan.State, fn func(plan.Change) error) error {
	where := fmt.Sprintf("__seq >= %d", lo)
	if hi >= 0 {
		where += fmt.Sprintf(" AND __seq < %d", hi)
	}
	isKey := make([]bool, len(l.Desired))
	for j, d := range l.Desired {
		isKey[j] = isIn(l.Key, d.Name)
	}
	q := fmt.Sprintf("SELECT * FROM %s WHERE %s ORDER BY __seq", Table, where)
	err := db.Query(ctx, q, func(b arrow.RecordBatch) error {
		cols := l.columns(b)
		op, ok := cols.op.(interface{ Value(int) string })
		if !ok {
			return fmt.Errorf("__op is %s", cols.op.DataType())
		}
		flags := make([]*array.Boolean, len(cols.flags))
		for j, a := range cols.flags {
			flags[j], _ = a.(*array.Boolean)
		}
		for i := 0; i < int(b.NumRows()); i++ {
			pc := plan.Change{Action: actionOf(op.Value(i)), Key: make(map[string]any, len(l.Key))}
			for j, k := range l.Key {
				pc.Key[k] = JSONValue(record.Value(cols.key[j], i))
			}
			switch pc.Action {
			case connectors.Create:
				for j, d := range l.Desired {
					if isKey[j] || cols.after[j].IsNull(i) {
						continue
					}
					if pc.Fields == nil {
						pc.Fields = make([]plan.FieldChange, 0, len(l.Desired))
					}
					pc.Fields = append(pc.Fields, plan.FieldChange{Name: d.Name, After: JSONValue(record.Value(cols.after[j], i))})
				}
			case connectors.Update, connectors.Deactivate:
				for j, d := range l.Compared {
					if f := flags[j]; f != nil && f.IsValid(i) && f.Value(i) {
						pc.Fields = append(pc.Fields, plan.FieldChange{Name: d.Name, Before: JSONValue(record.Value(cols.before[j], i)),
							After: JSONValue(record.Value(cols.after[l.compIdx[j]], i))})
					}
				}
			}
			if pc.Action != connectors.Delete {
				for j, a := range l.Annot {
					if v := record.Value(cols.annot[j], i); v != nil {
						if pc.Annotations == nil {
							pc.Annotations = map[string]any{}
						}
						pc.Annotations[a.Name] = JSONValue(v)
					}
				}
			}
			pc.ID = ChangeID(planned, l.Key, &pc)
			if err := fn(pc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read diff: %w", err)
	}
	return nil
}

// Read decodes the changes numbered lo (from 0) up to hi (exclusive; -1: to the end), in apply order.
func Read(ctx context.Context, db *engine.DB, l *Layout, lo, hi int64) ([]Change, error) {
	var out []Change
	err := Each(ctx, db, l, lo, hi, func(c *Change) error {
		out = append(out, *c)
		return nil
	})
	return out, err
}

// columns are the columns of one batch of the diff table, resolved once per batch.
type columns struct {
	seq, op       arrow.Array
	key, after    []arrow.Array // by Layout.Key, Layout.Desired
	before, flags []arrow.Array // by Layout.Compared
	annot         []arrow.Array // by Layout.Annot
}

func (l *Layout) columns(b arrow.RecordBatch) *columns {
	col := func(name string) arrow.Array { return b.Column(b.Schema().FieldIndices(name)[0]) }
	c := &columns{seq: col("__seq"), op: col("__op")}
	for _, k := range l.Key {
		c.key = append(c.key, col(k))
	}
	for _, d := range l.Desired {
		c.after = append(c.after, col(d.Name))
	}
	for _, a := range l.Annot {
		c.annot = append(c.annot, col("__a_"+a.Name))
	}
	for i, d := range l.Compared {
		c.before = append(c.before, col("__o_"+d.Name))
		c.flags = append(c.flags, col(ColumnFlag(i)))
	}
	return c
}

func values(cols []arrow.Array, i int) []any {
	out := make([]any, len(cols))
	for j, a := range cols {
		out[j] = record.Value(a, i)
	}
	return out
}

// valuesInto is values into dst's storage (grown as needed).
func valuesInto(dst []any, cols []arrow.Array, i int) []any {
	dst = dst[:0]
	for _, a := range cols {
		dst = append(dst, record.Value(a, i))
	}
	return dst
}

// changeInto decodes row i into ch, reusing its slices.
func (c *columns) changeInto(i int, ch *Change) {
	ch.Action = connectors.Action(record.Value(c.op, i).(string))
	ch.Key = valuesInto(ch.Key, c.key, i)
	ch.Seq = 0
	if s, ok := record.Value(c.seq, i).(int64); ok {
		ch.Seq = s
	}
	ch.After, ch.Annotations, ch.Before = ch.After[:0], ch.Annotations[:0], ch.Before[:0]
	ch.Changed = ch.Changed[:0]
	if ch.Action != connectors.Delete {
		ch.After = valuesInto(ch.After, c.after, i)
		ch.Annotations = valuesInto(ch.Annotations, c.annot, i)
	}
	if ch.Action != connectors.Create {
		ch.Before = valuesInto(ch.Before, c.before, i)
		for _, a := range c.flags {
			f, ok := a.(*array.Boolean)
			ch.Changed = append(ch.Changed, ok && f.IsValid(i) && f.Value(i))
		}
	}
}

func (c *columns) change(i int) Change {
	ch := Change{Action: connectors.Action(record.Value(c.op, i).(string)), Key: values(c.key, i)} // copied: batch memory is freed on Next
	if s, ok := record.Value(c.seq, i).(int64); ok {
		ch.Seq = s
	}
	if ch.Action != connectors.Delete {
		ch.After = values(c.after, i)
		ch.Annotations = values(c.annot, i)
	}
	if ch.Action != connectors.Create {
		ch.Before = values(c.before, i)
		ch.Changed = make([]bool, len(c.flags))
		for j, a := range c.flags {
			f, ok := a.(*array.Boolean)
			ch.Changed[j] = ok && f.IsValid(i) && f.Value(i)
		}
	}
	return ch
}

// PlanChange is the plan's form of a change, with its ID (ChangeID against planned).
func (l *Layout) PlanChange(c *Change, planned plan.State) plan.Change {
	pc := plan.Change{Key: make(map[string]any, len(l.Key))}
	l.PlanChangeInto(c, planned, &pc)
	return pc
}

// PlanChangeInto is PlanChange into pc, reusing its key map, fields and annotations (which must not be
// shared with a change kept elsewhere): the plan's hash over a streamed diff encodes each change and drops
// it, so one plan.Change serves every row.
func (l *Layout) PlanChangeInto(c *Change, planned plan.State, pc *plan.Change) {
	pc.Action = c.Action
	if pc.Key == nil {
		pc.Key = make(map[string]any, len(l.Key))
	}
	clear(pc.Key)
	clear(pc.Annotations)
	pc.Fields = pc.Fields[:0]
	for j, k := range l.Key {
		pc.Key[k] = JSONValue(c.Key[j])
	}
	switch c.Action {
	case connectors.Create:
		for j, d := range l.Desired {
			if v := c.After[j]; v != nil && !isIn(l.Key, d.Name) {
				pc.Fields = append(pc.Fields, plan.FieldChange{Name: d.Name, After: JSONValue(v)})
			}
		}
	case connectors.Update, connectors.Deactivate:
		for j, d := range l.Compared {
			if c.Changed[j] {
				pc.Fields = append(pc.Fields, plan.FieldChange{Name: d.Name, Before: JSONValue(c.Before[j]), After: JSONValue(c.After[l.compIdx[j]])})
			}
		}
	}
	if c.Action != connectors.Delete {
		for j, a := range l.Annot {
			if v := c.Annotations[j]; v != nil {
				if pc.Annotations == nil {
					pc.Annotations = map[string]any{}
				}
				pc.Annotations[a.Name] = JSONValue(v)
			}
		}
	}
	if len(pc.Fields) == 0 {
		pc.Fields = nil // as a fresh change has it
	}
	pc.ID = ChangeID(planned, l.Key, pc)
}

// ChangeIDOf is the ID PlanChange gives c (plan.ChangeID of its plan form against planned), computed from
// c's values without building the plan form; f is reused from change to change. The apply of a streamed
// plan computes every change's ID this way (TestChangeIDOfEqualsPlanChange holds it to PlanChange's).
func (l *Layout) ChangeIDOf(c *Change, planned plan.State, f *plan.IDForm) string {
	f.Begin(planned, string(c.Action))
	for j := range l.Key {
		f.Key(JSONValue(c.Key[j]))
	}
	switch c.Action {
	case connectors.Create:
		for j, d := range l.Desired {
			if v := c.After[j]; v != nil && !isIn(l.Key, d.Name) {
				f.Field(d.Name, nil, JSONValue(v))
			}
		}
	case connectors.Update, connectors.Deactivate:
		for j, d := range l.Compared {
			if c.Changed[j] {
				f.Field(d.Name, JSONValue(c.Before[j]), JSONValue(c.After[l.compIdx[j]]))
			}
		}
	}
	return f.ID()
}

// SinkChange is the sink's form of a change, with the given ID.
func (l *Layout) SinkChange(c *Change, id string) connectors.Change {
	cc := connectors.Change{ID: id, Action: c.Action, Key: make(record.Record, len(l.Key))}
	for j, k := range l.Key {
		cc.Key[k] = c.Key[j]
	}
	if c.Action != connectors.Create {
		cc.Before = make(record.Record, len(l.Key)+len(l.Compared))
		for k, v := range cc.Key {
			cc.Before[k] = v
		}
		for j, d := range l.Compared {
			cc.Before[d.Name] = c.Before[j]
		}
	}
	if c.Action != connectors.Delete {
		cc.After = make(record.Record, len(l.Desired))
		for j, d := range l.Desired {
			cc.After[d.Name] = c.After[j]
		}
	}
	if c.Action == connectors.Update || c.Action == connectors.Deactivate {
		for j, d := range l.Compared {
			if c.Changed[j] {
				cc.Fields = append(cc.Fields, d.Name)
			}
		}
	}
	return cc
}

// ChangeID identifies a change by the state it was planned against and its content (plan.ChangeID, which
// Read also uses to check a saved plan's changes).
func ChangeID(planned plan.State, key []string, pc *plan.Change) string {
	return plan.ChangeID(planned, key, pc)
}

// KeyJSON is a record's key as a plan or report holds it.
func KeyJSON(key []string, r record.Record) map[string]any {
	m := make(map[string]any, len(key))
	for _, k := range key {
		m[k] = JSONValue(r[k])
	}
	return m
}

// JSONValue converts a record value to the value a plan document holds (times as RFC 3339 text).
func JSONValue(v any) any {
	if v == nil {
		return nil
	}
	if _, ok := v.(string); ok {
		return v
	}
	switch v.(type) {
	case int64, float64, bool:
		return v
	}
	return connectors.FormatValue(v)
}
