package diff

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
)

// Entries reads the changes numbered lo (from 0) up to hi (exclusive), in apply order, in the form a sink
// that takes entries receives them (connectors.EncodedApplier): each change's entry, encoded straight from
// the diff table's columns, with the bytes connectors.Change.AppendEntry writes for the change's full sink
// form (SinkChange); and a light sink form holding only its ID, action and key. seqs[i] is changes[i]'s
// sequence number and entries[i] its entry; id gives each change's ID (IDFunc), in apply order. A first
// sync's million changes are thus read without a map, a boxed value or a sort of field names per change.
func Entries(ctx context.Context, db *engine.DB, l *Layout, lo, hi int64, id IDFunc) (changes []connectors.Change, entries [][]byte, seqs []int64, err error) {
	enc := &record.JSON{UTC: true}
	var buf []byte
	sized := false
	ends := make([]int, 0, max(hi-lo, 0))
	changes, seqs = make([]connectors.Change, 0, max(hi-lo, 0)), make([]int64, 0, max(hi-lo, 0))
	var row Change // the decoded change, for an ID computed from its values; reused for every row
	read := func(b arrow.RecordBatch) error {
		e := l.entryColumns(b)
		var cols *columns
		cur := 0
		decode := func() *Change {
			if cols == nil {
				cols = l.columns(b)
			}
			cols.changeInto(cur, &row)
			return &row
		}
		for i := 0; i < int(b.NumRows()); i++ {
			seq := e.seq.Value(i)
			cur = i
			cid, err := id(seq, decode)
			if err != nil {
				return err
			}
			c := connectors.Change{ID: cid, Action: actionOf(e.op.Value(i)), Key: make(record.Record, len(l.Key))}
			for j, k := range l.Key {
				c.Key[k] = record.Value(e.keys[j], i)
			}
			start := len(buf)
			if buf, err = e.appendEntry(enc, buf, &c, i); err != nil {
				return fmt.Errorf("change %s (%s): %w", cid, c.KeyString(l.Key), err)
			}
			if len(buf) == start {
				return fmt.Errorf("change %s: empty entry", cid)
			}
			changes, seqs, ends = append(changes, c), append(seqs, seq), append(ends, len(buf))
		}
		if n := len(ends); !sized && n > 0 {
			// Room for the rest at the size of the first entries (and an eighth): the buffer grows once
			// rather than by doublings, each a copy of the batch's entries so far.
			sized = true
			buf = slices.Grow(buf, int(int64(len(buf)/n+len(buf)/n/8)*max(hi-lo-int64(n), 0)))
		}
		return nil
	}
	// A query per entriesChunk changes: the driver holds a query's whole result in Go memory (outside
	// DuckDB's memory limit), all columns of the diff, old values and flags included.
	for from := lo; from < hi; from += entriesChunk {
		q := fmt.Sprintf("SELECT * FROM %s WHERE __seq >= %d AND __seq < %d ORDER BY __seq", Table, from, min(from+entriesChunk, hi))
		if err := db.Query(ctx, q, read); err != nil {
			return nil, nil, nil, fmt.Errorf("read diff: %w", err)
		}
	}
	entries = make([][]byte, len(ends))
	start := 0
	for i, end := range ends {
		entries[i] = buf[start:end:end]
		start = end
	}
	return changes, entries, seqs, nil
}

// IDFunc gives the ID of the change numbered seq. Entries calls it once per change, in apply order; row
// decodes that change (into a Change reused for every row, valid until the next call) for a caller that
// computes the ID from the change's values rather than looking it up by number.
type IDFunc func(seq int64, row func() *Change) (string, error)

// entriesChunk is how many changes Entries reads per query (a variable for the tests).
var entriesChunk int64 = 16_384

// actionOf is the action named op (a string of the batch's memory, which the action must not keep).
func actionOf(op string) connectors.Action {
	for _, a := range []connectors.Action{connectors.Create, connectors.Update, connectors.Deactivate, connectors.Delete} {
		if op == string(a) {
			return a
		}
	}
	return connectors.Action(strings.Clone(op))
}

// member is one member of an entry's record object: its name (encoded, with the colon) and its column.
type member struct {
	name []byte
	col  arrow.Array
}

// entryColumns are the columns of one batch of the diff table as entries read them.
type entryColumns struct {
	seq                *array.Int64
	op                 *array.String
	keys               []arrow.Array // by Layout.Key
	key, before, after []member      // sorted by name, as AppendRecord writes a record's fields
	flags              []arrow.Array // by Layout.Compared
	compared           []string
}

func (l *Layout) entryColumns(b arrow.RecordBatch) *entryColumns {
	enc := &record.JSON{}
	col := func(name string) arrow.Array { return b.Column(b.Schema().FieldIndices(name)[0]) }
	mem := func(name string, a arrow.Array) member {
		return member{name: append(enc.AppendString(nil, name), ':'), col: a}
	}
	e := &entryColumns{}
	e.seq, _ = col("__seq").(*array.Int64)
	e.op, _ = col("__op").(*array.String)
	for _, k := range l.Key {
		e.keys = append(e.keys, col(k))
		e.key = append(e.key, mem(k, col(k)))
		e.before = append(e.before, mem(k, col(k)))
	}
	for i, d := range l.Compared {
		e.before = append(e.before, mem(d.Name, col("__o_"+d.Name)))
		e.flags = append(e.flags, col(ColumnFlag(i)))
		e.compared = append(e.compared, d.Name)
	}
	for _, d := range l.Desired {
		e.after = append(e.after, mem(d.Name, col(d.Name)))
	}
	byName := func(a, b member) int { return slices.Compare(a.name, b.name) }
	slices.SortFunc(e.key, byName)
	slices.SortFunc(e.before, byName)
	slices.SortFunc(e.after, byName)
	return e
}

// appendEntry appends row i's entry, for change c (its ID and action): connectors.Change.AppendEntry of
// the row's SinkChange.
func (e *entryColumns) appendEntry(enc *record.JSON, dst []byte, c *connectors.Change, i int) ([]byte, error) {
	var err error
	dst = append(dst, `{"id":`...)
	dst = enc.AppendString(dst, c.ID)
	dst = append(dst, `,"action":`...)
	dst = enc.AppendString(dst, string(c.Action))
	dst = append(dst, `,"key":`...)
	if dst, err = appendObject(enc, dst, e.key, i); err != nil {
		return dst, fmt.Errorf("key: %w", err)
	}
	dst = append(dst, `,"fields":[`...)
	if c.Action == connectors.Update || c.Action == connectors.Deactivate {
		n := 0
		for j, a := range e.flags {
			if f, ok := a.(*array.Boolean); ok && f.IsValid(i) && f.Value(i) {
				if n > 0 {
					dst = append(dst, ',')
				}
				dst = enc.AppendString(dst, e.compared[j])
				n++
			}
		}
	}
	dst = append(dst, `],"before":`...)
	if c.Action == connectors.Create {
		dst = append(dst, "null"...)
	} else if dst, err = appendObject(enc, dst, e.before, i); err != nil {
		return dst, fmt.Errorf("before: %w", err)
	}
	dst = append(dst, `,"after":`...)
	if c.Action == connectors.Delete {
		dst = append(dst, "null"...)
	} else if dst, err = appendObject(enc, dst, e.after, i); err != nil {
		return dst, fmt.Errorf("after: %w", err)
	}
	return append(dst, '}'), nil
}

// appendObject appends row i of members as a JSON object, in their order.
func appendObject(enc *record.JSON, dst []byte, members []member, i int) ([]byte, error) {
	var err error
	dst = append(dst, '{')
	for j, m := range members {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m.name...)
		if dst, err = appendColumn(enc, dst, m.col, i); err != nil {
			return dst, fmt.Errorf("field %s: %w", m.name[1:len(m.name)-2], err)
		}
	}
	return append(dst, '}'), nil
}

// appendColumn appends row i of a as record.JSON.AppendValue appends record.Value(a, i): text, integers and
// booleans straight from the column, any other type through its Go value.
func appendColumn(enc *record.JSON, dst []byte, a arrow.Array, i int) ([]byte, error) {
	if a.IsNull(i) {
		return append(dst, "null"...), nil
	}
	switch c := a.(type) {
	case *array.String:
		return enc.AppendString(dst, c.Value(i)), nil
	case *array.Int64:
		return strconv.AppendInt(dst, c.Value(i), 10), nil
	case *array.Int32:
		return strconv.AppendInt(dst, int64(c.Value(i)), 10), nil
	case *array.Boolean:
		return strconv.AppendBool(dst, c.Value(i)), nil
	}
	return enc.AppendValue(dst, record.Value(a, i))
}
