package diff

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/record"
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
		if n == "" || needsQuotes(&q, f.Delim, n) {
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
	a     arrow.Array
	kind  csvKind
	unit  int64 // csvTime: microseconds per unit of the column
	nulls bool  // the column holds a null (NullN): when not, no value's null bit is read
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

// needsQuotes reports whether s holds a byte of q, the quoteTable of delim: 8 bytes at a time, then byte by
// byte. The 8-byte scan lists quoteTable's bytes again (TestNeedsQuotesAgreesWithQuoteTable holds the two
// to each other).
func needsQuotes(q *[256]bool, delim byte, s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := record.Word(s, i)
		if record.HasByte(w, '\n')|record.HasByte(w, '\r')|record.HasByte(w, '"')|record.HasByte(w, '#')|record.HasByte(w, delim) != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
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
		col := csvColumn{a: a, nulls: a.NullN() > 0}
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
		j := slices.Index(c.f.Names, k)
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
	for j := range c.cols {
		col := &c.cols[j]
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
func (c *csvEncoder) appendValue(dst []byte, col *csvColumn, i int) ([]byte, bool) {
	if col.nulls && col.a.IsNull(i) {
		return dst, true // the empty field (null_str '')
	}
	switch col.kind {
	case csvText:
		return appendCSVText(dst, &c.quote, c.f.Delim, textValue(col.a, i)), true
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
// is NULL) or when it holds a byte of q (the quoteTable of delim), with each '"' doubled.
func appendCSVText(dst []byte, q *[256]bool, delim byte, s string) []byte {
	if s != "" && !needsQuotes(q, delim, s) {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for {
		k := strings.IndexByte(s, '"')
		if k < 0 {
			break
		}
		dst = append(append(dst, s[:k+1]...), '"')
		s = s[k+1:]
	}
	return append(append(dst, s...), '"')
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
	if k, ok := record.Cents(x); ok {
		// A price: its shortest digits are k's, and its exponent (-2 to 12) is in the fixed range.
		if dst = record.AppendCents(dst, k); k%100 == 0 {
			dst = append(dst, ".0"...)
		}
		return dst, true
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
	if !withClock {
		y, m, d, _ := civil(sec)
		return appendDate(dst, y, m, d), true
	}
	return append(appendDateTime(dst, sec, frac, 6, ' '), "+00"...), true
}

// civil is the date (proleptic Gregorian) and the second of its day of the time sec seconds after
// 1970-01-01 00:00:00 UTC (H. Hinnant's civil_from_days, exact for every int64 day count of an int64
// of seconds).
func civil(sec int64) (y, m, d int, clock int64) {
	days, clock := sec/86_400, sec%86_400
	if clock < 0 {
		days, clock = days-1, clock+86_400
	}
	z := days + 719_468
	era := z / 146_097
	if z < 0 && z%146_097 != 0 {
		era--
	}
	doe := z - era*146_097                                   // [0, 146096]
	yoe := (doe - doe/1460 + doe/36_524 - doe/146_096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)                 // [0, 365]
	mp := (5*doy + 2) / 153                                  // [0, 11], from March
	d, m, y = int(doy-(153*mp+2)/5+1), int(mp+3), int(yoe+era*400)
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d, clock
}

// appendDate appends "2006-01-02" of a year 0 to 9999.
func appendDate(dst []byte, y, m, d int) []byte {
	dst = append4(dst, y)
	dst = append2(append(dst, '-'), m)
	return append2(append(dst, '-'), d)
}

// appendDateTime appends the date and clock of the time sec seconds and frac of digits-digit units after
// 1970 UTC (a year 0 to 9999), with sep between the two: "2006-01-02", sep, "15:04:05", then, unless frac
// is 0, '.' and frac's digits without their trailing zeros.
func appendDateTime(dst []byte, sec, frac int64, digits int, sep byte) []byte {
	y, m, d, clock := civil(sec)
	dst = append(appendDate(dst, y, m, d), sep)
	dst = append2(dst, int(clock/3600))
	dst = append2(append(dst, ':'), int(clock/60%60))
	dst = append2(append(dst, ':'), int(clock%60))
	if frac == 0 {
		return dst
	}
	var f [9]byte
	for k := digits - 1; k >= 0; k-- {
		f[k] = byte('0' + frac%10)
		frac /= 10
	}
	n := digits
	for f[n-1] == '0' {
		n--
	}
	return append(append(dst, '.'), f[:n]...)
}

// appendRFC3339 appends t in UTC as t.UTC().AppendFormat(dst, time.RFC3339Nano) does, without its layout's
// interpretation, for the years 0 to 9999 (ok false for any other: dst is then as it came).
func appendRFC3339(dst []byte, t time.Time) ([]byte, bool) {
	sec := t.Unix()
	const lo, hi = -62167219200, 253402300800 // 0000-01-01, 10000-01-01
	if sec < lo || sec >= hi {
		return dst, false
	}
	return append(appendDateTime(dst, sec, int64(t.Nanosecond()), 9, 'T'), 'Z'), true
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

func append4(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// appendKeyToken appends the order token of row i's key: tokens compare (bytes.Compare) as the keys do in
// DuckDB's ORDER BY of the key fields (integers by value, text by its bytes, field after field); ok false
// for a NULL key field.
func (c *csvEncoder) appendKeyToken(dst []byte, i int) ([]byte, bool) {
	for j := range c.keys {
		k := &c.keys[j]
		if k.nulls && k.a.IsNull(i) {
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
	for {
		k := strings.IndexByte(s, 0)
		if k < 0 {
			break
		}
		dst = append(append(dst, s[:k+1]...), 0xFF)
		s = s[k+1:]
	}
	return append(append(dst, s...), 0, 0)
}

// KeyToken is the order token of a key given as its fields' values (a string, or an integer of any width
// the encoder takes: the Go values a database/sql scan of a text or integer column gives), as CSVLines'
// First and Last hold them; ok false for a value of another type.
func KeyToken(values ...any) (token []byte, ok bool) {
	for _, v := range values {
		var n int64
		switch x := v.(type) {
		case string:
			token = appendTokenText(token, x)
			continue
		case int64:
			n = x
		case int32:
			n = int64(x)
		case int16:
			n = int64(x)
		case int8:
			n = int64(x)
		case uint32:
			n = int64(x)
		case uint16:
			n = int64(x)
		case uint8:
			n = int64(x)
		default:
			return nil, false
		}
		token = appendTokenInt(token, n)
	}
	return token, true
}
