package diff

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
)

// Entries reads the changes numbered lo (from 0) up to hi (exclusive), in the form a sink that takes entries
// receives them (connectors.EncodedApplier): each change's entry, encoded straight from the diff table's
// columns, with the bytes connectors.Change.AppendEntry writes for the change's full sink form
// (SinkChange); and a light sink form holding only its ID, action and key. The results are in apply order:
// seqs[i] is lo+i, changes[i] that change and entries[i] its entry. id gives each change's ID (IDFunc). A
// first sync's million changes are thus read without a map, a boxed value or a sort of field names per
// change.
//
// The diff is read in one pass, QueryRows changes per query, in the order DuckDB returns them (the
// session does not preserve insertion order): ordering each query's rows by __seq cost DuckDB more than the
// rest of the read (a sort of every column of the diff, issue #15), so each change is placed by its
// number instead. Only the columns the entries read are selected: a range of creates alone (a first sync)
// leaves out the before-values and changed flags, which a create's entry and ID do not read.
func Entries(ctx context.Context, db *engine.DB, l *Layout, lo, hi int64, id IDFunc) (changes []connectors.Change, entries [][]byte, seqs []int64, err error) {
	n := max(hi-lo, 0)
	if n == 0 {
		return nil, nil, nil, nil
	}
	creates, err := onlyCreates(ctx, db, lo, hi)
	if err != nil {
		return nil, nil, nil, err
	}
	sel := l.entrySelect(creates && len(l.Annot) == 0)
	enc := &record.JSON{UTC: true}
	var buf []byte
	read := int64(0)
	ends := make([]int, 2*n) // change lo+k's entry is buf[ends[2k]:ends[2k+1]]; an end of 0: not read yet
	changes = make([]connectors.Change, n)
	row := &Row{l: l} // the change being read, for id; reused for every row
	each := func(b arrow.RecordBatch) error {
		e := l.entryColumns(b)
		row.b, row.e, row.cols = b, e, nil
		for i := 0; i < int(b.NumRows()); i++ {
			seq := e.seq.Value(i)
			k := seq - lo
			if k < 0 || k >= n || ends[2*k+1] != 0 {
				return fmt.Errorf("change numbered %d read twice or outside %d..%d", seq, lo, hi-1)
			}
			op := e.op.Value(i)
			if creates && op != string(connectors.Create) {
				return fmt.Errorf("change numbered %d: %s among creates", seq, op)
			}
			row.i = i
			cid, err := id(seq, row)
			if err != nil {
				return err
			}
			c := &changes[k]
			*c = connectors.Change{ID: cid, Action: actionOf(op), Key: make(record.Record, len(l.Key))}
			for j, key := range l.Key {
				c.Key[key] = record.Value(e.keys[j], i)
			}
			start := len(buf)
			if buf, err = e.appendEntry(enc, buf, c, i); err != nil {
				return fmt.Errorf("change %s (%s): %w", cid, c.KeyString(l.Key), err)
			}
			if len(buf) == start {
				return fmt.Errorf("change %s: empty entry", cid)
			}
			ends[2*k], ends[2*k+1] = start, len(buf)
			read++
		}
		if read > 0 && int64(cap(buf)) < int64(len(buf))+(n-read)*int64(len(buf))/read {
			// Room for the rest at the size of the entries so far (and an eighth): the buffer grows a few
			// times rather than by doublings, each a copy of the batch's entries so far.
			per := int64(len(buf)) / read
			buf = slices.Grow(buf, int((per+per/8)*(n-read)))
		}
		return nil
	}
	// A query per QueryRows changes: the driver holds a query's whole result in Go memory (outside DuckDB's
	// memory limit).
	for from := lo; from < hi; from += QueryRows {
		q := fmt.Sprintf("SELECT %s FROM %s WHERE __seq >= %d AND __seq < %d", sel, Table, from, min(from+QueryRows, hi))
		if err := db.Query(ctx, q, each); err != nil {
			return nil, nil, nil, fmt.Errorf("read diff: %w", err)
		}
	}
	if read != n {
		for k := range n {
			if ends[2*k+1] == 0 {
				return nil, nil, nil, fmt.Errorf("read diff: no change numbered %d", lo+k)
			}
		}
	}
	entries, seqs = make([][]byte, n), make([]int64, n)
	for k := range n {
		s, e := ends[2*k], ends[2*k+1]
		entries[k], seqs[k] = buf[s:e:e], lo+k
	}
	return changes, entries, seqs, nil
}

// onlyCreates says whether the changes numbered lo up to hi are all creates.
func onlyCreates(ctx context.Context, db *engine.DB, lo, hi int64) (bool, error) {
	n, err := db.Count(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE __seq >= %d AND __seq < %d AND __op <> 'create'", Table, lo, hi))
	if err != nil {
		return false, fmt.Errorf("read diff: %w", err)
	}
	return n == 0, nil
}

// entrySelect lists the diff's columns Entries reads: the number, the action, the annotations (for
// Row.Change), the desired values and, unless creates (a range of creates without annotations), the
// changed flags and before-values. Each column a column of entryColumns reads is among them.
func (l *Layout) entrySelect(creates bool) string {
	cols := []string{"__seq", "__op"}
	for _, d := range l.Desired { // the key columns among them
		cols = append(cols, engine.Ident(d.Name))
	}
	for _, a := range l.Annot {
		cols = append(cols, engine.Ident("__a_"+a.Name))
	}
	if !creates {
		for i, d := range l.Compared {
			cols = append(cols, ColumnFlag(i), engine.Ident("__o_"+d.Name))
		}
	}
	return strings.Join(cols, ", ")
}

// IDFunc gives the ID of the change numbered seq. Entries calls it once per change, in no particular order
// (the order DuckDB returns the rows in), with row, that change, for a caller that computes the ID from the
// change's values rather than looking it up by number; row is valid only during the call. A caller that
// needs the changes in apply order (the plan's hash) takes them from Entries' results, which are.
type IDFunc func(seq int64, row *Row) (string, error)

// Row is the change Entries is reading, in the diff table's columns.
type Row struct {
	l    *Layout
	b    arrow.RecordBatch
	e    *entryColumns
	cols *columns // decoded columns, resolved on the batch's first Change
	i    int
	ch   Change
}

// Change decodes the row, into a Change reused for every row (valid until the next call of the IDFunc).
func (r *Row) Change() *Change {
	if r.cols == nil {
		r.cols = r.l.columns(r.b)
	}
	r.cols.changeInto(r.i, &r.ch)
	return &r.ch
}

// ID is the change's ID against planned: exactly Layout.ChangeIDOf's of Change, computed straight from the
// columns, as the entries are, with no decoded row or boxed value (TestRowIDEqualsChangeIDOf); f is
// reused from change to change.
func (r *Row) ID(planned plan.State, f *plan.IDForm) string {
	e, i := r.e, r.i
	op := e.op.Value(i)
	f.Begin(planned, op)
	for _, a := range e.keys {
		idValue(f, a, i)
	}
	switch connectors.Action(op) {
	case connectors.Create:
		for j, d := range r.l.Desired {
			if a := e.desired[j]; !a.IsNull(i) && !e.desiredKey[j] {
				f.Name(d.Name)
				f.Null()
				idValue(f, a, i)
			}
		}
	case connectors.Update, connectors.Deactivate:
		for j, d := range r.l.Compared {
			if fl, ok := e.flags[j].(*array.Boolean); ok && fl.IsValid(i) && fl.Value(i) {
				f.Name(d.Name)
				idValue(f, e.old[j], i)
				idValue(f, e.desired[r.l.compIdx[j]], i)
			}
		}
	}
	return f.ID()
}

// idValue adds row i of a to f as f.Value(JSONValue(record.Value(a, i))) does: text, integers, floats,
// booleans, timestamps and dates straight from the column, any other type (decimals) through its Go value.
func idValue(f *plan.IDForm, a arrow.Array, i int) {
	if a.IsNull(i) {
		f.Null()
		return
	}
	switch c := a.(type) {
	case *array.String:
		f.String(c.Value(i))
	case *array.LargeString:
		f.String(c.Value(i))
	case *array.StringView:
		f.String(c.Value(i))
	case *array.Int64:
		f.Int(c.Value(i))
	case *array.Int32:
		f.Int(int64(c.Value(i)))
	case *array.Int16:
		f.Int(int64(c.Value(i)))
	case *array.Int8:
		f.Int(int64(c.Value(i)))
	case *array.Float64:
		f.Float(c.Value(i))
	case *array.Float32:
		f.Float(float64(c.Value(i)))
	case *array.Boolean:
		f.Bool(c.Value(i))
	case *array.Timestamp: // as JSONValue's text of record.Value's time (connectors.FormatValue), in a scratch buffer
		var scratch [40]byte
		t := c.Value(i).ToTime(c.DataType().(*arrow.TimestampType).Unit).UTC()
		f.String(string(t.AppendFormat(scratch[:0], time.RFC3339Nano)))
	case *array.Date32:
		var scratch [40]byte
		f.String(string(c.Value(i).ToTime().UTC().AppendFormat(scratch[:0], time.RFC3339Nano)))
	default:
		f.Value(JSONValue(record.Value(a, i)))
	}
}

// QueryRows is how many changes a read of the diff asks for in one query (Entries, and the streamed
// plan's hash pass): the driver materialises a query's whole result in Go memory, outside DuckDB's memory
// limit, before the first row reaches Go, so one query of a 1M-change diff held the whole diff a second
// time (issue #15). A variable for the tests.
var QueryRows int64 = 16_384

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
	// For Row.ID: the desired columns by Layout.Desired (and which are key columns), the old values by
	// Layout.Compared.
	desired    []arrow.Array
	desiredKey []bool
	old        []arrow.Array
}

func (l *Layout) entryColumns(b arrow.RecordBatch) *entryColumns {
	enc := &record.JSON{}
	// A column the read left out (Layout.entrySelect: the before-values and flags of a range of creates) is
	// nil: only the entries and IDs of other actions read it.
	col := func(name string) arrow.Array {
		if idx := b.Schema().FieldIndices(name); len(idx) > 0 {
			return b.Column(idx[0])
		}
		return nil
	}
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
		e.old = append(e.old, col("__o_"+d.Name))
	}
	for _, d := range l.Desired {
		e.after = append(e.after, mem(d.Name, col(d.Name)))
		e.desired = append(e.desired, col(d.Name))
		e.desiredKey = append(e.desiredKey, isIn(l.Key, d.Name))
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

// appendColumn appends row i of a as record.JSON{UTC: true}.AppendValue appends record.Value(a, i): text,
// integers, booleans, doubles, timestamps and dates straight from the column (no boxed value), any other
// type through its Go value.
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
	case *array.Float64:
		return record.AppendJSONFloat(dst, c.Value(i))
	case *array.Timestamp:
		return record.AppendJSONTime(dst, c.Value(i).ToTime(c.DataType().(*arrow.TimestampType).Unit).UTC())
	case *array.Date32:
		return record.AppendJSONTime(dst, c.Value(i).ToTime().UTC())
	}
	return enc.AppendValue(dst, record.Value(a, i))
}
