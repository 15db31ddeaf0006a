package diff

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// CSVFormat asks EntriesCSV for a batch's records-file lines beside its entries: each create's after-record
// as the line DuckDB's COPY (FORMAT csv, DELIMITER Delim) writes for the snapshot row the commit makes of it
// (apply.commitSeqs: each diff column CAST to its snapshot type), so that a first sync's records file can be
// written from bytes Go builds anyway instead of a COPY of the snapshot (export.Early, issue #15).
//
// The lines are exactly DuckDB's (TestCSVLinesEqualDuckDBCopy, DuckDB 1.5 with TimeZone UTC) for the value
// classes the encoder handles: text (quoted when empty or holding the delimiter, '"', '#', '\n' or '\r',
// with '"' doubled; NULL is the empty field), integers, booleans, every finite double (DuckDB's shortest
// round-trip digits, fixed from 1e-4 up to below 1e16, else d.ddde±XX), dates and timestamps of the years
// 1 to 9999 (TIMESTAMPTZ as "2006-01-02 15:04:05.999999+00"). Any other type or value (NaN and infinities,
// years BC or past 9999, a column the batch does not hold, a snapshot type not listed) gives the batch no
// lines: its part is then written by DuckDB's COPY, so the file is the same bytes either way.
type CSVFormat struct {
	// Names are the snapshot's columns in the file's order, Types their DuckDB types (VARCHAR, BIGINT,
	// DOUBLE, BOOLEAN, DATE, TIMESTAMPTZ, also spelt TIMESTAMP WITH TIME ZONE).
	Names, Types []string
	// Key names the key columns (text or integers), whose order the lines must be in.
	Key []string
	// Delim is the field delimiter: ',' or '\t'.
	Delim byte
}

// CSVLines are a batch's records-file lines (EntriesCSV).
type CSVLines struct {
	// Format is the format they were written in.
	Format *CSVFormat
	// Lines[i] is the line of the create numbered lo+i (apply order), with its '\n'.
	Lines [][]byte
	// First and Last are the order tokens (CSVKeyToken) of the first and last line's key: the lines are in
	// strictly increasing key order, so a batch continues the one before when its First is above that
	// one's Last (bytes.Compare).
	First, Last []byte
}

// Header is the file's header line for f, with ok false when a name would need quoting (DuckDB's header
// is then not known to be these bytes).
func (f *CSVFormat) Header() (line []byte, ok bool) {
	q := quoteTable(f.Delim)
	for j, n := range f.Names {
		if n == "" || needsQuotes(&q, n) {
			return nil, false
		}
		if j > 0 {
			line = append(line, f.Delim)
		}
		line = append(line, n...)
	}
	return append(line, '\n'), true
}

// csvKind is how a column's values are written.
type csvKind uint8

const (
	csvText csvKind = iota
	csvInt
	csvFloat
	csvBool
	csvDate
	csvTime
)

// csvColumn is one column of the file, in a batch of the diff.
type csvColumn struct {
	a    arrow.Array
	kind csvKind
	unit int64 // csvTime: microseconds per unit of the column
}

// csvEncoder writes lines for one goroutine.
type csvEncoder struct {
	f     *CSVFormat
	quote [256]bool
	cols  []csvColumn
	keys  []csvColumn
}

func newCSVEncoder(f *CSVFormat) *csvEncoder {
	return &csvEncoder{f: f, quote: quoteTable(f.Delim)}
}

// quoteTable marks the bytes that make DuckDB quote a text value.
func quoteTable(delim byte) (q [256]bool) {
	for _, c := range []byte{'\n', '\r', '"', '#', delim} {
		q[c] = true
	}
	return q
}

func needsQuotes(q *[256]bool, s string) bool {
	for i := 0; i < len(s); i++ {
		if q[s[i]] {
			return true
		}
	}
	return false
}

// resolve finds the file's columns in b; an error says the batch cannot have lines.
func (c *csvEncoder) resolve(b arrow.RecordBatch) error {
	c.cols, c.keys = c.cols[:0], c.keys[:0]
	find := func(name, typ string) (csvColumn, error) {
		idx := b.Schema().FieldIndices(name)
		if len(idx) != 1 {
			return csvColumn{}, fmt.Errorf("no column %s in the diff", name)
		}
		a := b.Column(idx[0])
		col := csvColumn{a: a}
		ok := false
		switch a.(type) {
		case *array.String, *array.LargeString, *array.StringView:
			col.kind, ok = csvText, typ == "VARCHAR"
		case *array.Int64, *array.Int32, *array.Int16, *array.Int8, *array.Uint32, *array.Uint16, *array.Uint8:
			col.kind, ok = csvInt, typ == "BIGINT"
		case *array.Float64, *array.Float32:
			col.kind, ok = csvFloat, typ == "DOUBLE"
		case *array.Boolean:
			col.kind, ok = csvBool, typ == "BOOLEAN"
		case *array.Date32:
			col.kind, ok = csvDate, typ == "DATE"
		case *array.Timestamp:
			col.kind, ok = csvTime, typ == "TIMESTAMPTZ" || typ == "TIMESTAMP WITH TIME ZONE"
			switch a.DataType().(*arrow.TimestampType).Unit {
			case arrow.Second:
				col.unit = 1_000_000
			case arrow.Millisecond:
				col.unit = 1000
			case arrow.Microsecond:
				col.unit = 1
			default:
				ok = false
			}
		}
		if !ok {
			return csvColumn{}, fmt.Errorf("column %s: %s for %s", name, a.DataType(), typ)
		}
		return col, nil
	}
	if len(c.f.Names) != len(c.f.Types) || len(c.f.Names) == 0 || len(c.f.Key) == 0 {
		return fmt.Errorf("%d columns of %d types, %d key fields", len(c.f.Names), len(c.f.Types), len(c.f.Key))
	}
	for j, n := range c.f.Names {
		col, err := find(n, c.f.Types[j])
		if err != nil {
			return err
		}
		c.cols = append(c.cols, col)
	}
	for _, k := range c.f.Key {
		j := -1
		for i, n := range c.f.Names {
			if n == k {
				j = i
			}
		}
		if j < 0 || (c.cols[j].kind != csvText && c.cols[j].kind != csvInt) {
			return fmt.Errorf("key field %s is not a text or integer column of the file", k)
		}
		c.keys = append(c.keys, c.cols[j])
	}
	return nil
}

// appendLine appends row i's line; ok false: a value the encoder does not handle.
func (c *csvEncoder) appendLine(dst []byte, i int) ([]byte, bool) {
	ok := true
	for j, col := range c.cols {
		if j > 0 {
			dst = append(dst, c.f.Delim)
		}
		if dst, ok = c.appendValue(dst, col, i); !ok {
			return dst, false
		}
	}
	return append(dst, '\n'), true
}

// appendValue appends row i of col as DuckDB's CSV writer writes it.
func (c *csvEncoder) appendValue(dst []byte, col csvColumn, i int) ([]byte, bool) {
	if col.a.IsNull(i) {
		return dst, true // the empty field (null_str '')
	}
	switch col.kind {
	case csvText:
		return appendCSVText(dst, &c.quote, textValue(col.a, i)), true
	case csvInt:
		v, _ := intValue(col.a, i)
		return strconv.AppendInt(dst, v, 10), true
	case csvFloat:
		var x float64
		if f, ok := col.a.(*array.Float32); ok {
			x = float64(f.Value(i))
		} else {
			x = col.a.(*array.Float64).Value(i)
		}
		return AppendCSVFloat(dst, x)
	case csvBool:
		return strconv.AppendBool(dst, col.a.(*array.Boolean).Value(i)), true
	case csvDate:
		// A date past the year 292,277 (either way) has no microseconds in int64: multiplied, some wrap
		// into the years 1 to 9999 (DATE '586524-01-19' to 1969-12-31), so they are declined first.
		days := int64(col.a.(*array.Date32).Value(i))
		if days > math.MaxInt64/86_400_000_000 || days < math.MinInt64/86_400_000_000 {
			return dst, false
		}
		return appendCSVTime(dst, days*86_400_000_000, false)
	case csvTime:
		us := int64(col.a.(*array.Timestamp).Value(i))
		if col.unit != 1 {
			if us > math.MaxInt64/col.unit || us < math.MinInt64/col.unit {
				return dst, false
			}
			us *= col.unit
		}
		return appendCSVTime(dst, us, true)
	}
	return dst, false
}

// textValue is row i of a text column.
func textValue(a arrow.Array, i int) string {
	switch s := a.(type) {
	case *array.String:
		return s.Value(i)
	case *array.LargeString:
		return s.Value(i)
	case *array.StringView:
		return s.Value(i)
	}
	return ""
}

// intValue is row i of an integer column.
func intValue(a arrow.Array, i int) (int64, bool) {
	switch c := a.(type) {
	case *array.Int64:
		return c.Value(i), true
	case *array.Int32:
		return int64(c.Value(i)), true
	case *array.Int16:
		return int64(c.Value(i)), true
	case *array.Int8:
		return int64(c.Value(i)), true
	case *array.Uint32:
		return int64(c.Value(i)), true
	case *array.Uint16:
		return int64(c.Value(i)), true
	case *array.Uint8:
		return int64(c.Value(i)), true
	}
	return 0, false
}

// appendCSVText appends s as DuckDB's CSV writer writes a text value: quoted when empty (the empty field
// is NULL) or when it holds a byte of q, with each '"' doubled.
func appendCSVText(dst []byte, q *[256]bool, s string) []byte {
	if s != "" && !needsQuotes(q, s) {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for {
		k := indexQuote(s)
		if k < 0 {
			break
		}
		dst = append(append(dst, s[:k+1]...), '"')
		s = s[k+1:]
	}
	return append(append(dst, s...), '"')
}

func indexQuote(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			return i
		}
	}
	return -1
}

// AppendCSVFloat appends x as DuckDB 1.5 casts a DOUBLE to text (its fmt "{}": the shortest digits that
// read back as x, fixed notation for decimal exponents -4 to 15, with ".0" after an integral value, else
// d.ddde±XX with at least two exponent digits); ok false for NaN and the infinities.
func AppendCSVFloat(dst []byte, x float64) ([]byte, bool) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return dst, false
	}
	if x == 0 {
		if math.Signbit(x) {
			return append(dst, "-0.0"...), true
		}
		return append(dst, "0.0"...), true
	}
	if k := math.Round(x * 100); math.Abs(k) < 1e15 && float64(int64(k))/100 == x {
		// x is the double nearest k/100 (a price): a decimal of at most 15 digits reads back as itself
		// alone, so its shortest digits are k's, and its exponent (-2 to 12) is in the fixed range.
		return appendCents(dst, int64(k)), true
	}
	var buf [40]byte
	b := strconv.AppendFloat(buf[:0], x, 'e', -1, 64) // [-]d[.ddd]e±XX
	if b[0] == '-' {
		dst = append(dst, '-')
		b = b[1:]
	}
	e := bytes.IndexByte(b, 'e')
	exp, err := strconv.Atoi(string(b[e+1:]))
	if err != nil {
		return dst, false
	}
	var digits [24]byte
	d := append(digits[:0], b[0])
	if e > 1 {
		d = append(d, b[2:e]...)
	}
	if exp < -4 || exp > 15 {
		dst = append(dst, d[0])
		if len(d) > 1 {
			dst = append(append(dst, '.'), d[1:]...)
		}
		dst = append(dst, 'e')
		if exp < 0 {
			dst, exp = append(dst, '-'), -exp
		} else {
			dst = append(dst, '+')
		}
		if exp < 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(exp), 10), true
	}
	switch full := exp + 1; {
	case full >= len(d):
		dst = append(dst, d...)
		for range full - len(d) {
			dst = append(dst, '0')
		}
		return append(dst, ".0"...), true
	case full > 0:
		return append(append(append(dst, d[:full]...), '.'), d[full:]...), true
	default:
		dst = append(dst, "0."...)
		for range -full {
			dst = append(dst, '0')
		}
		return append(dst, d...), true
	}
}

// appendCents appends k/100 (k not 0) in DuckDB's fixed notation: the digits without trailing zeros,
// ".0" after an integral value.
func appendCents(dst []byte, k int64) []byte {
	if k < 0 {
		dst, k = append(dst, '-'), -k
	}
	dst = append(strconv.AppendInt(dst, k/100, 10), '.')
	switch c := k % 100; {
	case c == 0:
		return append(dst, '0')
	case c%10 == 0:
		return append(dst, byte('0'+c/10))
	default:
		return append(dst, byte('0'+c/10), byte('0'+c%10))
	}
}

// appendCSVTime appends the time us microseconds after 1970 as DuckDB writes a TIMESTAMPTZ in UTC
// ("2006-01-02 15:04:05", then the fraction's digits without trailing zeros, then "+00"), or a DATE
// (withClock false: "2006-01-02", us a whole day); ok false outside the years 1 to 9999 (DuckDB writes
// those otherwise).
func appendCSVTime(dst []byte, us int64, withClock bool) ([]byte, bool) {
	const lo, hi = -62135596800_000_000, 253402300800_000_000 // 0001-01-01, 10000-01-01
	if us < lo || us >= hi {
		return dst, false
	}
	sec, frac := us/1_000_000, us%1_000_000
	if frac < 0 {
		sec, frac = sec-1, frac+1_000_000
	}
	t := time.Unix(sec, 0).UTC()
	y, m, d := t.Date()
	dst = append4(dst, y)
	dst = append2(append(dst, '-'), int(m))
	dst = append2(append(dst, '-'), d)
	if !withClock {
		return dst, true
	}
	h, mi, s := t.Clock()
	dst = append2(append(dst, ' '), h)
	dst = append2(append(dst, ':'), mi)
	dst = append2(append(dst, ':'), s)
	if frac != 0 {
		var f [6]byte
		for k := 5; k >= 0; k-- {
			f[k] = byte('0' + frac%10)
			frac /= 10
		}
		n := 6
		for f[n-1] == '0' {
			n--
		}
		dst = append(append(dst, '.'), f[:n]...)
	}
	return append(dst, "+00"...), true
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

func append4(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// appendKeyToken appends the order token of row i's key: tokens compare (bytes.Compare) as the keys do in
// DuckDB's ORDER BY of the key fields (integers by value, text by its bytes, field after field); ok false
// for a NULL key field.
func (c *csvEncoder) appendKeyToken(dst []byte, i int) ([]byte, bool) {
	for _, k := range c.keys {
		if k.a.IsNull(i) {
			return dst, false
		}
		if k.kind == csvInt {
			v, _ := intValue(k.a, i)
			dst = appendTokenInt(dst, v)
		} else {
			dst = appendTokenText(dst, textValue(k.a, i))
		}
	}
	return dst, true
}

// appendTokenInt appends an integer key field's token: its bits with the sign flipped, big-endian.
func appendTokenInt(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v)^(1<<63))
}

// appendTokenText appends a text key field's token: its bytes, 0 escaped as 0 0xFF, then 0 0 (so that a
// prefix sorts first).
func appendTokenText(dst []byte, s string) []byte {
	for j := 0; j < len(s); j++ {
		if dst = append(dst, s[j]); s[j] == 0 {
			dst = append(dst, 0xFF)
		}
	}
	return append(dst, 0, 0)
}

// KeyToken is the order token of a key given as its fields' values (string or int64), as CSVLines' First
// and Last hold them; ok false for a value of another type.
func KeyToken(values ...any) (token []byte, ok bool) {
	for _, v := range values {
		switch x := v.(type) {
		case int64:
			token = appendTokenInt(token, x)
		case string:
			token = appendTokenText(token, x)
		default:
			return nil, false
		}
	}
	return token, true
}
