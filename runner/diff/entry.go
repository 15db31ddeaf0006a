package diff

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// Entries reads the changes numbered lo (from 0) up to hi (exclusive), in the form a sink that takes entries
// receives them (connectors.EncodedApplier): each change's entry, encoded straight from the diff table's
// columns, with the bytes connectors.Change.AppendEntry writes for the change's full sink form
// (SinkChange); and a light sink form holding only its ID and action (no key: whoever needs a change's
// values, a rejection's message, decodes them from its entry, apply.DecodeChange). The results are in apply
// order: seqs[i] is lo+i, changes[i] that change and entries[i] its entry. id gives each change's ID
// (IDFunc). A first sync's million changes are thus read without a map, a boxed value or a sort of field
// names per change.
//
// The diff is read in one pass, QueryRows changes per query, in the order DuckDB returns them (the
// session does not preserve insertion order): ordering each query's rows by __seq cost DuckDB more than the
// rest of the read (a sort of every column of the diff, issue #15), so each change is placed by its
// number instead. Only the columns the entries read are selected: a range of creates alone (a first sync)
// leaves out the before-values and changed flags, which a create's entry and ID do not read.
//
// The rows are encoded by up to workers goroutines (1 or less: the caller's alone), EncodeRows rows at a
// time, while the caller's goroutine reads the query's result and hands its rows out: encoding takes most
// of a first sync's read (issue #15), and DuckDB gives the rows of one connection to one goroutine. With
// more than one worker, id is called from several goroutines at once (each with a Row of its own). At most
// workers slices of the result wait to be encoded at a time.
func Entries(ctx context.Context, db *engine.DB, l *Layout, lo, hi int64, workers int, id IDFunc) (changes []connectors.Change, entries [][]byte, seqs []int64, err error) {
	changes, entries, seqs, _, err = EntriesCSV(ctx, db, l, lo, hi, workers, id, nil, nil)
	return changes, entries, seqs, err
}

// EntriesCSV is Entries that also writes, when csv is not nil and the changes are all creates, each
// create's records-file line in the format csv (CSVFormat: DuckDB's COPY bytes of the snapshot row its
// commit makes), on the same workers from the same columns; lines is nil, with nothing else changed, when
// a change is not a create, a column or value is one the encoder does not write, a key field is NULL or
// the lines are not in strictly increasing key order. With reuse not nil, the results are read into its
// memory (Reuse: they are valid until its Release, the lines until its ReleaseLines), which must not
// hold another read's.
func EntriesCSV(ctx context.Context, db *engine.DB, l *Layout, lo, hi int64, workers int, id IDFunc, csv *CSVFormat, reuse *Reuse) (changes []connectors.Change, entries [][]byte, seqs []int64, lines *CSVLines, err error) {
	n := max(hi-lo, 0)
	if n == 0 {
		return nil, nil, nil, nil, nil
	}
	creates, err := onlyCreates(ctx, db, lo, hi)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if reuse == nil {
		reuse = &Reuse{} // fresh memory, kept by nothing after the call
	}
	r := reuse
	r.forget()
	x := &entryRead{l: l, lo: lo, creates: creates, id: id, reuse: reuse}
	x.perRow.Store(r.perRow) // the buffers sized from the read before's
	x.linePerRow.Store(r.linePerRow)
	x.changes, x.entries = sized(r.changes, n), sized(r.entries, n)
	r.changes, r.entries = x.changes, x.entries
	if csv != nil && creates {
		// Cleared: csvLines tells a line not written by its nil.
		x.csv, x.lines, x.keys = csv, sized(r.lines, n), sized(r.keys, n)
		clear(x.lines)
		r.lines, r.keys = x.lines, x.keys
	}
	seen := sized(r.seen, n)
	clear(seen)
	r.seen = seen
	read := int64(0)
	var jobs chan entryJob
	var wg sync.WaitGroup
	if workers > 1 {
		jobs = make(chan entryJob, workers)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := x.newWorker()
				for j := range jobs {
					if x.failed.Load() == nil {
						x.fail(w.encode(j))
					}
					j.b.Release()
				}
			}()
		}
	}
	w := x.newWorker() // the caller's, with one worker
	each := func(b arrow.RecordBatch) error {
		// The numbers checked here, before any row is encoded: each change is then encoded once, by one
		// goroutine, which alone writes its place in the results.
		seq, ok := b.Column(0).(*array.Int64)
		if !ok {
			return fmt.Errorf("the diff's __seq is %s, not BIGINT", b.Column(0).DataType())
		}
		rows := int(b.NumRows())
		for i := range rows {
			k := seq.Value(i) - lo
			if seq.IsNull(i) || k < 0 || k >= n || seen[k] {
				return fmt.Errorf("change numbered %d read twice or outside %d..%d", seq.Value(i), lo, hi-1)
			}
			seen[k] = true
		}
		read += int64(rows)
		for from := 0; from < rows; from += EncodeRows {
			j := entryJob{b: b, from: from, to: min(from+EncodeRows, rows)}
			if jobs == nil {
				if err := w.encode(j); err != nil {
					return err
				}
				continue
			}
			if p := x.failed.Load(); p != nil {
				return *p
			}
			b.Retain() // released by the worker
			jobs <- j
		}
		return nil
	}
	// A query per QueryRows changes: the driver holds a query's whole result in Go memory (outside DuckDB's
	// memory limit).
	sel := l.entrySelect(creates && len(l.Annot) == 0)
	for from := lo; from < hi && err == nil; from += QueryRows {
		q := fmt.Sprintf("SELECT %s FROM %s WHERE __seq >= %d AND __seq < %d", sel, Table, from, min(from+QueryRows, hi))
		if err = db.Query(ctx, q, each); err != nil {
			err = fmt.Errorf("read diff: %w", err)
		}
	}
	if jobs != nil {
		close(jobs)
		wg.Wait()
	}
	if p := x.failed.Load(); p != nil {
		err = *p // a worker's error (the read stopped for it)
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if read != n {
		for k := range n {
			if !seen[k] {
				return nil, nil, nil, nil, fmt.Errorf("read diff: no change numbered %d", lo+k)
			}
		}
	}
	seqs = sized(r.seqs, n)
	r.seqs, r.perRow, r.linePerRow = seqs, x.perRow.Load(), x.linePerRow.Load()
	for k := range n {
		seqs[k] = lo + k
	}
	return x.changes, x.entries, seqs, x.csvLines(), nil
}

// csvLines are the lines the workers wrote, once every change is read, if they are all there and in
// strictly increasing key order (nil otherwise).
func (x *entryRead) csvLines() *CSVLines {
	if x.csv == nil || x.noLines.Load() {
		return nil
	}
	for k := range x.keys {
		if x.lines[k] == nil || (k > 0 && bytes.Compare(x.keys[k-1], x.keys[k]) >= 0) {
			return nil
		}
	}
	return &CSVLines{Format: x.csv, Lines: x.lines, First: bytes.Clone(x.keys[0]), Last: bytes.Clone(x.keys[len(x.keys)-1])}
}

// EncodeRows is how many rows Entries hands a worker at a time: the rows of one DuckDB result batch (2,048
// rows, DuckDB's vector) are split into parts of at most this many, each encoded into a buffer of its own.
// A variable for the tests.
var EncodeRows = 4096

// entryRead is the state an Entries call shares with its workers: each writes only the places in changes
// and entries of the rows it encodes.
type entryRead struct {
	l       *Layout
	lo      int64
	creates bool
	id      IDFunc
	reuse   *Reuse // where the buffers come from (Reuse.buffers), and are noted for their release (Reuse.took)
	changes []connectors.Change
	entries [][]byte
	failed  atomic.Pointer[error] // the first error of a worker
	perRow  atomic.Int64          // bytes a row's entry took in the parts encoded so far (0: none yet)
	// EntriesCSV's: the format, each change's line and key order token (CSVEncoder), by number from lo;
	// noLines says a worker met a row it cannot write.
	csv         *CSVFormat
	lines, keys [][]byte
	noLines     atomic.Bool
	linePerRow  atomic.Int64 // bytes a row's line took in the parts encoded so far (0: none yet)
}

// fail keeps err (when not nil) as the read's error, unless there is one already.
func (x *entryRead) fail(err error) {
	if err != nil {
		x.failed.CompareAndSwap(nil, &err)
	}
}

// entryJob is rows from up to to of a DuckDB result batch, to be encoded.
type entryJob struct {
	b        arrow.RecordBatch
	from, to int
}

// entryWorker encodes rows into entries; one goroutine uses it.
type entryWorker struct {
	x    *entryRead
	enc  record.JSON
	row  Row
	ends []int
	csv  *csvEncoder // EntriesCSV's
	kend []int
}

func (x *entryRead) newWorker() *entryWorker {
	return &entryWorker{x: x, enc: record.JSON{UTC: true}, row: Row{l: x.l}}
}

// encode encodes the rows of j, each change's entry into one buffer for the part, and sets their places in
// the results.
func (w *entryWorker) encode(j entryJob) error {
	x, l := w.x, w.x.l
	e := l.entryColumns(j.b)
	row := &w.row
	row.b, row.e, row.cols = j.b, e, nil
	per := x.perRow.Load()
	if per == 0 {
		per = 256
	}
	// Room for the part's entries at the size of those so far (and an eighth): most parts never grow.
	buf := x.reuse.buffers(false).get(int64(j.to-j.from) * (per + per/8))
	defer func() { x.reuse.took(buf, false) }()
	w.ends = w.ends[:0]
	for i := j.from; i < j.to; i++ {
		seq := e.seq.Value(i)
		op := e.op.Value(i)
		if x.creates && op != string(connectors.Create) {
			return fmt.Errorf("change numbered %d: %s among creates", seq, op)
		}
		row.i = i
		cid, err := x.id(seq, row)
		if err != nil {
			return err
		}
		c := &x.changes[seq-x.lo]
		*c = connectors.Change{ID: cid, Action: actionOf(op)}
		start := len(buf)
		if buf, err = e.appendEntry(&w.enc, buf, c, i); err != nil {
			return fmt.Errorf("change %s (%s): %w", cid, e.keyString(l.Key, i), err)
		}
		if len(buf) == start {
			return fmt.Errorf("change %s: empty entry", cid)
		}
		w.ends = append(w.ends, len(buf))
	}
	start := 0
	for i := j.from; i < j.to; i++ {
		end := w.ends[i-j.from]
		x.entries[e.seq.Value(i)-x.lo] = buf[start:end:end]
		start = end
	}
	if j.to > j.from {
		x.perRow.Store(int64(len(buf)) / int64(j.to-j.from))
	}
	if x.csv != nil && !x.noLines.Load() {
		w.encodeLines(j, e)
	}
	return nil
}

// encodeLines writes the records-file lines and key order tokens of the rows of j (EntriesCSV), each part's
// into buffers of its own, or sets noLines.
func (w *entryWorker) encodeLines(j entryJob, e *entryColumns) {
	x := w.x
	if w.csv == nil {
		w.csv = newCSVEncoder(x.csv)
	}
	if w.csv.resolve(j.b) != nil {
		x.noLines.Store(true)
		return
	}
	n := int64(j.to - j.from)
	per := x.linePerRow.Load()
	if per == 0 {
		per = 128
	}
	text := x.reuse.buffers(true)
	buf, keys := text.get(n*(per+per/8)), text.get(n*int64(9*len(x.csv.Key)+8))
	defer func() { x.reuse.took(buf, true); x.reuse.took(keys, true) }()
	w.ends, w.kend = w.ends[:0], w.kend[:0]
	for i := j.from; i < j.to; i++ {
		var ok, kok bool
		buf, ok = w.csv.appendLine(buf, i)
		keys, kok = w.csv.appendKeyToken(keys, i)
		if !ok || !kok {
			x.noLines.Store(true)
			return
		}
		w.ends, w.kend = append(w.ends, len(buf)), append(w.kend, len(keys))
	}
	start, kstart := 0, 0
	for i := j.from; i < j.to; i++ {
		k := e.seq.Value(i) - x.lo
		end, kend := w.ends[i-j.from], w.kend[i-j.from]
		x.lines[k], x.keys[k] = buf[start:end:end], keys[kstart:kend:kend]
		start, kstart = end, kend
	}
	if n > 0 {
		x.linePerRow.Store(int64(len(buf)) / n)
	}
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
// change's values rather than looking it up by number; row is valid only during the call. With more than
// one worker, Entries calls it from several goroutines at once, each with a Row of its own (whose Form is
// that goroutine's). A caller that needs the changes in apply order (the plan's hash) takes them from
// Entries' results, which are.
type IDFunc func(seq int64, row *Row) (string, error)

// Row is the change Entries is reading, in the diff table's columns.
type Row struct {
	l    *Layout
	b    arrow.RecordBatch
	e    *entryColumns
	cols *columns // decoded columns, resolved on the batch's first Change
	i    int
	ch   Change
	form plan.IDForm
}

// Form is an IDForm for Row.ID, the row's own: one per goroutine that Entries encodes rows in.
func (r *Row) Form() *plan.IDForm { return &r.form }

// Change decodes the row, into a Change reused for every row (valid until the next call of the IDFunc).
// It needs every column of the diff, which Entries reads unless the range holds creates alone and the plan
// has no annotations (Layout.entrySelect): an IDFunc calls it for a plan with annotations only.
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
		// The texts of the floats and times, which the create's entry writes too (appendEntry), kept.
		e.textRow, e.text = i, e.text[:0]
		for j := range r.l.Desired {
			e.textAt[j] = -1
			if a := e.desired[j]; !e.desiredKey[j] && (!e.desiredNulls[j] || !a.IsNull(i)) {
				f.Name(r.l.Desired[j].Name)
				f.Null()
				mark := f.Len()
				idPiece(f, a, i)
				if t, ok := jsonText(a, i, f.Since(mark)); ok {
					e.textAt[j] = len(e.text)
					e.text = append(e.text, t...)
					e.textEnd[j] = len(e.text)
				}
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
	idPiece(f, a, i)
}

// idPiece is idValue of a value that is not null.
func idPiece(f *plan.IDForm, a arrow.Array, i int) {
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
		f.Bytes(appendTimeText(scratch[:0], c.Value(i).ToTime(c.DataType().(*arrow.TimestampType).Unit)))
	case *array.Date32:
		var scratch [40]byte
		f.Bytes(appendTimeText(scratch[:0], c.Value(i).ToTime()))
	default:
		f.Value(JSONValue(record.Value(a, i)))
	}
}

// appendTimeText appends t's RFC 3339 text in UTC: t.UTC().AppendFormat(dst, time.RFC3339Nano).
func appendTimeText(dst []byte, t time.Time) []byte {
	if b, ok := appendRFC3339(dst, t); ok {
		return b
	}
	return t.UTC().AppendFormat(dst, time.RFC3339Nano)
}

// jsonText is the JSON text (appendColumn's) of a value of column a whose ID piece (IDForm) is piece, when
// the two are the same text, up to the quotes of a time: a double's in the ID's float form that has no
// exponent (the shortest digits, laid out as JSON's 'f' form lays them out; an integral one is JSON's
// integer text) and is finite, or a timestamp's or date's RFC 3339 text with a year of four digits (years
// outside 0..9999 are JSON errors). Any other piece is not (ok false).
func jsonText(a arrow.Array, i int, piece []byte) (text []byte, ok bool) {
	switch c := a.(type) {
	case *array.Float64:
		if x := c.Value(i); len(piece) < 3 || (piece[1] != 'i' && piece[1] != 'f') || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false
		}
		text = piece[2:]
		if bytes.IndexByte(text, 'e') >= 0 { // 1e+21, 1e-07
			return nil, false
		}
		return text, true
	case *array.Timestamp, *array.Date32:
		colon := bytes.IndexByte(piece, ':')
		if len(piece) < 2 || piece[1] != 's' || colon < 0 {
			return nil, false
		}
		text = piece[colon+1:]
		if len(text) < 5 || text[0] < '0' || text[0] > '9' || text[4] != '-' {
			return nil, false
		}
		return text, true
	}
	return nil, false
}

// QueryRows is how many changes a read of the diff asks for in one query (Entries, and the streamed
// plan's hash pass): the driver materialises a query's whole result in Go memory, outside DuckDB's memory
// limit, before the first row reaches Go, so one query of a 1M-change diff held the whole diff a second
// time (issue #15). 65,536 (about 15 MB of a first sync's 11 fields) rather than 16,384: each query costs
// its planning and result set-up, 0.08-0.1 cpu s of a 1M read in queries of 16,384 (a 1M first sync's
// apply: median 3.90 against 4.35 cpu s over 6 pairs, peak RSS +10 MiB); a query per batch of 122,880 gained
// nothing more (BENCHMARKS.md). A variable for the tests.
var QueryRows int64 = 65_536

// actionOf is the action named op (a string of the batch's memory, which the action must not keep).
func actionOf(op string) connectors.Action {
	for _, a := range []connectors.Action{connectors.Create, connectors.Update, connectors.Deactivate, connectors.Delete} {
		if op == string(a) {
			return a
		}
	}
	return connectors.Action(strings.Clone(op))
}

// member is one member of an entry's record object: its name (encoded, with the colon) and its column, and
// whether the column holds a null (NullN: when not, no value's null bit is read).
type member struct {
	name  []byte
	col   arrow.Array
	nulls bool
}

// appendValue appends row i of the member's column: null or its appendColumn.
func (m *member) appendValue(enc *record.JSON, dst []byte, i int) ([]byte, error) {
	if m.nulls && m.col.IsNull(i) {
		return append(dst, "null"...), nil
	}
	return appendColumn(enc, dst, m.col, i)
}

// entryColumns are the columns of one batch of the diff table as entries read them.
type entryColumns struct {
	seq                *array.Int64
	op                 *array.String
	keys               []arrow.Array // by Layout.Key
	key, before, after []member      // sorted by name, as AppendRecord writes a record's fields
	// same[j] is the index in before of after[j]'s field when its column is of the same type (an
	// update's unchanged field: its after-value is then most often its before-value, whose text the entry
	// copies), or -1.
	same     []int
	spans    []int         // the text of row i's before-values in the entry: before[j]'s at spans[2j]:spans[2j+1]
	flags    []arrow.Array // by Layout.Compared
	compared []string
	// For Row.ID: the desired columns by Layout.Desired (and which are key columns, which hold a null:
	// NullN, the others' null bits are not read), the old values by Layout.Compared.
	desired                  []arrow.Array
	desiredKey, desiredNulls []bool
	old                      []arrow.Array
	// Row.ID of a create keeps the JSON text of row textRow's floats and times (jsonText), desired column
	// j's at text[textAt[j]:textEnd[j]] (textAt -1: none), for its entry; afterDesired[j] is after[j]'s
	// desired column.
	textRow         int
	text            []byte
	textAt, textEnd []int
	afterDesired    []int
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
		return member{name: append(enc.AppendString(nil, name), ':'), col: a, nulls: a == nil || a.NullN() > 0}
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
		a := col(d.Name)
		e.after = append(e.after, mem(d.Name, a))
		e.desired = append(e.desired, a)
		e.desiredKey = append(e.desiredKey, isIn(l.Key, d.Name))
		e.desiredNulls = append(e.desiredNulls, a == nil || a.NullN() > 0)
	}
	byName := func(a, b member) int { return slices.Compare(a.name, b.name) }
	slices.SortFunc(e.key, byName)
	slices.SortFunc(e.before, byName)
	slices.SortFunc(e.after, byName)
	e.same = make([]int, len(e.after))
	for j, a := range e.after {
		e.same[j] = -1
		if k, ok := slices.BinarySearchFunc(e.before, a, byName); ok && a.col != nil && e.before[k].col != nil &&
			arrow.TypeEqual(a.col.DataType(), e.before[k].col.DataType()) {
			e.same[j] = k
		}
	}
	e.spans = make([]int, 2*len(e.before))
	e.textRow, e.textAt, e.textEnd = -1, make([]int, len(l.Desired)), make([]int, len(l.Desired))
	for _, a := range e.after {
		e.afterDesired = append(e.afterDesired, slices.IndexFunc(l.Desired, func(d state.Column) bool {
			return string(a.name) == string(enc.AppendString(nil, d.Name))+":"
		}))
	}
	return e
}

// keyString is row i's key, as connectors.Change.KeyString formats a change's, for messages.
func (e *entryColumns) keyString(key []string, i int) string {
	r := make(record.Record, len(key))
	for j, k := range key {
		r[k] = record.Value(e.keys[j], i)
	}
	return connectors.FormatKey(key, r)
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
	if dst, err = appendObject(enc, dst, e.key, i, nil); err != nil {
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
	before := c.Action != connectors.Create
	if !before {
		dst = append(dst, "null"...)
	} else if dst, err = appendObject(enc, dst, e.before, i, e.spans); err != nil {
		return dst, fmt.Errorf("before: %w", err)
	}
	dst = append(dst, `,"after":`...)
	if c.Action == connectors.Delete {
		return append(dst, "null}"...), nil
	}
	if !before {
		if e.textRow != i {
			if dst, err = appendObject(enc, dst, e.after, i, nil); err != nil {
				return dst, fmt.Errorf("after: %w", err)
			}
			return append(dst, '}'), nil
		}
		// The floats' and times' text as Row.ID wrote it.
		dst = append(dst, '{')
		for j := range e.after {
			m := &e.after[j]
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, m.name...)
			if k := e.afterDesired[j]; k >= 0 && e.textAt[k] >= 0 {
				t := e.text[e.textAt[k]:e.textEnd[k]]
				if _, num := m.col.(*array.Float64); num {
					dst = append(dst, t...)
				} else {
					dst = append(append(append(dst, '"'), t...), '"')
				}
			} else if dst, err = m.appendValue(enc, dst, i); err != nil {
				return dst, fmt.Errorf("after: field %s: %w", m.name[1:len(m.name)-2], err)
			}
		}
		return append(dst, "}}"...), nil
	}
	// An after-value equal to its field's before-value (same type, same value: the same text) is copied from
	// the before-values' text, which holds it already.
	dst = append(dst, '{')
	for j := range e.after {
		m := &e.after[j]
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m.name...)
		if k := e.same[j]; k >= 0 && sameValue(m.col, e.before[k].col, i) {
			dst = append(dst, dst[e.spans[2*k]:e.spans[2*k+1]]...)
		} else if dst, err = m.appendValue(enc, dst, i); err != nil {
			return dst, fmt.Errorf("after: field %s: %w", m.name[1:len(m.name)-2], err)
		}
	}
	return append(dst, "}}"...), nil
}

// appendObject appends row i of members as a JSON object, in their order, and, unless spans is nil, where
// each member's value is in dst: members[j]'s at dst[spans[2j]:spans[2j+1]].
func appendObject(enc *record.JSON, dst []byte, members []member, i int, spans []int) ([]byte, error) {
	var err error
	dst = append(dst, '{')
	for j := range members {
		m := &members[j]
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m.name...)
		start := len(dst)
		if dst, err = m.appendValue(enc, dst, i); err != nil {
			return dst, fmt.Errorf("field %s: %w", m.name[1:len(m.name)-2], err)
		}
		if spans != nil {
			spans[2*j], spans[2*j+1] = start, len(dst)
		}
	}
	return append(dst, '}'), nil
}

// sameValue reports whether row i of a and of b, columns of the same type, hold the same value (both null
// included), of a type whose text is its value's alone: text, integers, doubles (the same bits), booleans,
// timestamps and dates. Any other type is never the same (its text is computed).
func sameValue(a, b arrow.Array, i int) bool {
	if an, bn := a.IsNull(i), b.IsNull(i); an || bn {
		return an && bn
	}
	switch x := a.(type) {
	case *array.String:
		y, ok := b.(*array.String)
		return ok && x.Value(i) == y.Value(i)
	case *array.Int64:
		y, ok := b.(*array.Int64)
		return ok && x.Value(i) == y.Value(i)
	case *array.Int32:
		y, ok := b.(*array.Int32)
		return ok && x.Value(i) == y.Value(i)
	case *array.Float64:
		y, ok := b.(*array.Float64)
		return ok && math.Float64bits(x.Value(i)) == math.Float64bits(y.Value(i))
	case *array.Boolean:
		y, ok := b.(*array.Boolean)
		return ok && x.Value(i) == y.Value(i)
	case *array.Timestamp:
		y, ok := b.(*array.Timestamp)
		return ok && x.Value(i) == y.Value(i)
	case *array.Date32:
		y, ok := b.(*array.Date32)
		return ok && x.Value(i) == y.Value(i)
	}
	return false
}

// appendColumn appends row i of a, a value that is not null, as record.JSON{UTC: true}.AppendValue appends
// record.Value(a, i): text, integers, booleans, doubles, timestamps and dates straight from the column (no
// boxed value), any other type through its Go value.
func appendColumn(enc *record.JSON, dst []byte, a arrow.Array, i int) ([]byte, error) {
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
