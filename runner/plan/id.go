package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/possync/possync/record"
)

// ChangeID identifies a change by the state it was planned against (planned: the plan's State, its lineage
// and serial) and its content: its action, its key values (in the order of key, the plan's Key) and each
// field's name, before and after value, in order. The same plan recomputed gives the same IDs, and a change
// planned against another serial never shares one. The ID is 24 hexadecimal digits (96 bits of sha256 over a
// type-tagged canonical form: an int64 10 and a float64 10 differ). Annotations are not part of it (they
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
func (f *IDForm) Key(v any) { f.buf = appendValue(append(f.buf, 0), v) }

// Field adds the next field (plan values: as FieldChange holds them).
func (f *IDForm) Field(name string, before, after any) {
	b := append(append(f.buf, 0), name...)
	b = appendValue(append(b, 0), before)
	f.buf = appendValue(append(b, 0), after)
}

// ID returns the ID of the change built since Begin.
func (f *IDForm) ID() string {
	sum := sha256.Sum256(f.buf)
	return hex.EncodeToString(sum[:12])
}

// appendValue appends a type-tagged canonical form of a plan value.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'n')
	case string:
		return append(append(strconv.AppendInt(append(b, 's'), int64(len(x)), 10), ':'), x...)
	case int64:
		return strconv.AppendInt(append(b, 'i'), x, 10)
	case float64:
		return strconv.AppendFloat(append(b, 'f'), x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(append(b, 'b'), x)
	}
	return append(b, fmt.Sprint(v)...)
}

// maxAmbiguous bounds the integral numbers of one change that checkID tries both as int64 and as float64
// (2^maxAmbiguous IDs at worst); a change with more is checked with each of them read as an int64 or each as
// a float64 only.
const maxAmbiguous = 10

// checkID reports whether c.ID is the ID of c's content (ChangeID) in plan p, as Read finds it: every
// number is a json.Number, its JSON text. JSON writes a float64 with an integral value as an integer (10, not
// 10.0), so such a number may have been an int64 or a float64 when planned, and the ID tells them apart: each
// is tried as both. A number counts only as the value whose JSON text is exactly its text ("10.0" is neither
// int64 10 nor float64 10, which JSON writes "10"), so the check is as strict as comparing the text. The key
// must hold exactly the plan's key fields.
func checkID(p *Plan, c *Change) bool {
	if len(c.ID) != 24 || len(c.Key) != len(p.Key) {
		return false
	}
	want, err := hex.DecodeString(c.ID)
	if err != nil {
		return false
	}
	typed := Change{Action: c.Action, Key: make(map[string]any, len(c.Key)), Fields: make([]FieldChange, len(c.Fields))}
	var ambiguous []ambiguousNumber // the integral numbers, with where they go
	var js record.JSON
	convert := func(v any, set func(any)) bool {
		n, ok := v.(json.Number)
		if !ok {
			set(v)
			return true
		}
		i, f, iok, fok := numberValues(&js, n)
		switch {
		case iok && fok:
			ambiguous = append(ambiguous, ambiguousNumber{i: i, f: f, set: set})
			set(i)
		case iok:
			set(i)
		case fok:
			set(f)
		default:
			return false
		}
		return true
	}
	for _, k := range p.Key {
		v, ok := c.Key[k]
		if !ok || !convert(v, func(x any) { typed.Key[k] = x }) {
			return false
		}
	}
	for j, fc := range c.Fields {
		typed.Fields[j].Name = fc.Name
		if !convert(fc.Before, func(x any) { typed.Fields[j].Before = x }) || !convert(fc.After, func(x any) { typed.Fields[j].After = x }) {
			return false
		}
	}
	var scratch [256]byte
	matches := func() bool { return string(changeSum(scratch[:0], p.State, p.Key, &typed)) == string(want) }
	if len(ambiguous) > maxAmbiguous {
		if matches() { // every ambiguous number an int64
			return true
		}
		for _, a := range ambiguous {
			a.set(a.f)
		}
		return matches()
	}
	for mask := 0; mask < 1<<len(ambiguous); mask++ {
		for b, a := range ambiguous {
			if mask&(1<<b) != 0 {
				a.set(a.f)
			} else {
				a.set(a.i)
			}
		}
		if matches() {
			return true
		}
	}
	return false
}

// ambiguousNumber is an integral JSON number of a change, and how to set it in the typed change.
type ambiguousNumber struct {
	i   int64
	f   float64
	set func(any)
}

// numberValues returns the int64 and the float64 whose JSON text (as Write writes them) is n's text, and
// which of them exist.
func numberValues(js *record.JSON, n json.Number) (int64, float64, bool, bool) {
	s := string(n)
	var buf [32]byte
	i, err := strconv.ParseInt(s, 10, 64)
	iok := err == nil && !strings.HasPrefix(s, "+") && string(strconv.AppendInt(buf[:0], i, 10)) == s
	f, err := strconv.ParseFloat(s, 64)
	fok := false
	if err == nil {
		b, err := js.AppendValue(buf[:0], f)
		fok = err == nil && string(b) == s
	}
	return i, f, iok, fok
}
