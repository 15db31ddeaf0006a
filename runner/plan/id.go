package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/possync/possync/record"
)

// ChangeID identifies a change by the state it was planned against (planned: the plan's State, its lineage
// and serial) and its content: its action, its key values (in the order of key, the plan's Key) and each
// field's name, before and after value, in order. The same plan recomputed gives the same IDs, and a change
// planned against another serial never shares one. The ID is 24 hexadecimal digits (96 bits of sha256 over a
// type-tagged canonical form, in which a number is its JSON text: see appendValue). Annotations are not part of it (they
// explain a change, and the plan's hash covers them).
func ChangeID(planned State, key []string, c *Change) string {
	var scratch [256]byte // most changes fit: no allocation but the returned string
	return hex.EncodeToString(changeSum(scratch[:0], planned, key, c))
}

// changeSum returns the first 12 bytes of the sha256 of c's canonical form, built in buf.
func changeSum(buf []byte, planned State, key []string, c *Change) []byte {
	buf = append(buf, planned.Lineage...)
	buf = append(buf, 0)
	buf = strconv.AppendInt(buf, planned.Serial, 10)
	buf = append(buf, 0)
	buf = append(buf, c.Action...)
	for _, k := range key {
		buf = appendValue(append(buf, 0), c.Key[k])
	}
	for _, f := range c.Fields {
		buf = append(append(buf, 0), f.Name...)
		buf = appendValue(append(buf, 0), f.Before)
		buf = appendValue(append(buf, 0), f.After)
	}
	sum := sha256.Sum256(buf)
	return sum[:12]
}

// IDForm builds a change's ID (ChangeID) piece by piece, for a planner that computes IDs straight from its
// rows without building each change's plan form: Begin, then Key for each key value in the plan's key order,
// then Field for each field in the change's order, then ID. One IDForm serves any number of changes.
type IDForm struct {
	buf []byte
}

// Begin starts the ID of a change with action, planned against planned.
func (f *IDForm) Begin(planned State, action string) {
	b := append(f.buf[:0], planned.Lineage...)
	b = append(b, 0)
	b = strconv.AppendInt(b, planned.Serial, 10)
	b = append(b, 0)
	f.buf = append(b, action...)
}

// Key adds the next key value (a plan value: as Change.Key holds it).
func (f *IDForm) Key(v any) { f.Value(v) }

// Field adds the next field (plan values: as FieldChange holds them).
func (f *IDForm) Field(name string, before, after any) {
	f.Name(name)
	f.Value(before)
	f.Value(after)
}

// The pieces of Key and Field, for a planner that reads its values from typed columns without boxing them:
// Key(v) is the one of Value, Null, String, Int, Float or Bool that fits v; Field(name, before, after) is
// Name(name) then that for before, then that for after. Each gives exactly the bytes Key and Field give
// (TestIDFormPiecesEqualKeyAndField).

// Name starts a field: its name (its before and after values follow).
func (f *IDForm) Name(name string) { f.buf = append(append(f.buf, 0), name...) }

// Value adds a plan value (nil, string, int64, float64, bool or json.Number; any other through fmt).
func (f *IDForm) Value(v any) { f.buf = appendValue(append(f.buf, 0), v) }

// Null adds a null: Value(nil).
func (f *IDForm) Null() { f.buf = append(f.buf, 0, 'n') }

// String adds a text value: Value(s).
func (f *IDForm) String(s string) {
	f.buf = append(append(strconv.AppendInt(append(f.buf, 0, 's'), int64(len(s)), 10), ':'), s...)
}

// Bytes adds a text value held as bytes: String(string(b)), without the string.
func (f *IDForm) Bytes(b []byte) {
	f.buf = append(append(strconv.AppendInt(append(f.buf, 0, 's'), int64(len(b)), 10), ':'), b...)
}

// Int adds an integer: Value(i).
func (f *IDForm) Int(i int64) { f.buf = strconv.AppendInt(append(f.buf, 0, 'i'), i, 10) }

// Float adds a float: Value(x) (an integral one in an int64's form).
func (f *IDForm) Float(x float64) { f.buf = appendFloat(append(f.buf, 0), x) }

// Bool adds a boolean: Value(b).
func (f *IDForm) Bool(b bool) { f.buf = strconv.AppendBool(append(f.buf, 0, 'b'), b) }

// Len is how many bytes the canonical form built since Begin holds, and Since(n) those added after the
// first n: a caller that also writes a value's text elsewhere reads it back instead of formatting it twice.
// A piece is a 0 byte, a type tag, and the value's text ("s" and the length and a colon before a text).
// Since's bytes are valid until the next call of the IDForm.
func (f *IDForm) Len() int { return len(f.buf) }

// Since returns the bytes added after the first n (Len).
func (f *IDForm) Since(n int) []byte { return f.buf[n:] }

// ID returns the ID of the change built since Begin.
func (f *IDForm) ID() string {
	var id [24]byte
	return string(f.AppendID(id[:0]))
}

// AppendID appends the ID of the change built since Begin (ID's 24 characters) to dst.
func (f *IDForm) AppendID(dst []byte) []byte {
	sum := sha256.Sum256(f.buf)
	return hex.AppendEncode(dst, sum[:12])
}

// appendValue appends a type-tagged canonical form of a plan value. A number's form is that of its JSON
// text, so that a plan file's numbers (json.Number) give the IDs back without their Go types: an integral
// float64 (|x| < 1e21, which JSON writes as an integer: 10, not 10.0) has an int64's form ("i10"); any other
// float64 is "f" and its shortest 'g' text.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'n')
	case string:
		return append(append(strconv.AppendInt(append(b, 's'), int64(len(x)), 10), ':'), x...)
	case int64:
		return strconv.AppendInt(append(b, 'i'), x, 10)
	case float64:
		return appendFloat(b, x)
	case bool:
		return strconv.AppendBool(append(b, 'b'), x)
	case json.Number: // as Read decodes a plan file
		if !strings.ContainsAny(string(x), ".eE") {
			return append(append(b, 'i'), x...)
		}
		if f, err := x.Float64(); err == nil {
			return appendValue(b, f)
		}
	}
	return append(b, fmt.Sprint(v)...)
}

// appendFloat is appendValue of a float64. A price (record.Cents) is written without strconv: its 'f' and
// 'g' texts are its cents' digits, for 'g' below 1e6 (6 digits before the point: 'g' turns to exponents
// there).
func appendFloat(b []byte, x float64) []byte {
	if k, ok := record.Cents(x); ok {
		if k%100 == 0 {
			return record.AppendCents(append(b, 'i'), k)
		}
		if k > -1e8 && k < 1e8 {
			return record.AppendCents(append(b, 'f'), k)
		}
	}
	if x == math.Trunc(x) && math.Abs(x) < 1e21 {
		return strconv.AppendFloat(append(b, 'i'), x, 'f', -1, 64)
	}
	return strconv.AppendFloat(append(b, 'f'), x, 'g', -1, 64)
}

// checkID reports whether c.ID is the ID of c's content (ChangeID) in plan p, as Read finds it: every
// number is a json.Number, its JSON text, which gives the ID back (see appendValue) when it is the text Write
// writes for its value ("10.0" or "1E3" are refused: they are no number's canonical text, and an edit). The
// key must hold exactly the plan's key fields.
func checkID(p *Plan, c *Change) bool {
	if len(c.Key) != len(p.Key) {
		return false
	}
	var js record.JSON
	for _, k := range p.Key {
		v, ok := c.Key[k]
		if !ok || !canonicalNumber(&js, v) {
			return false
		}
	}
	for _, f := range c.Fields {
		if !canonicalNumber(&js, f.Before) || !canonicalNumber(&js, f.After) {
			return false
		}
	}
	return ChangeID(p.State, p.Key, c) == c.ID
}

// canonicalNumber reports whether v, when a json.Number, is the text Write writes for an int64 or a float64.
func canonicalNumber(js *record.JSON, v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return true
	}
	s := string(n)
	var buf [32]byte
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && string(strconv.AppendInt(buf[:0], i, 10)) == s {
		return true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false
	}
	b, err := js.AppendValue(buf[:0], f)
	return err == nil && string(b) == s
}
