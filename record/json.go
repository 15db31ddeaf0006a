package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// JSON appends records as JSON without reflection: the intents of every applied batch and the
// file sink's change log are written once per change, and encoding/json spends most of that time reflecting
// over maps and sorting their keys. The output is byte for byte what encoding/json writes for the same values
// (a test holds the two equal): objects with sorted keys, floats in its format, times as RFC 3339.
type JSON struct {
	// EscapeHTML escapes <, > and & in strings, as json.Marshal does by default.
	EscapeHTML bool
	// UTC writes times in UTC (RFC 3339 with a Z).
	UTC bool
	// sorted holds, per number of fields, the sorted keys of the last record written with that many: the
	// records of one run share their fields, so their keys are sorted once rather than once a record.
	sorted map[int][]string
}

// AppendRecord appends r as a JSON object with its keys sorted; a nil record is null.
func (e *JSON) AppendRecord(dst []byte, r Record) ([]byte, error) {
	if r == nil {
		return append(dst, "null"...), nil
	}
	if keys, ok := e.sorted[len(r)]; ok {
		// The same number of distinct keys, each of them in r: exactly r's keys, already sorted.
		if out, same, err := e.appendObject(dst, r, keys); same {
			return out, err
		}
	}
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if e.sorted == nil {
		e.sorted = map[int][]string{}
	}
	e.sorted[len(r)] = keys
	out, _, err := e.appendObject(dst, r, keys)
	return out, err
}

// appendObject appends r's fields in the order of keys, which must be r's keys; same is false (and dst
// returned as it came) when one of keys is not in r.
func (e *JSON) appendObject(dst []byte, r Record, keys []string) (out []byte, same bool, err error) {
	start := len(dst)
	dst = append(dst, '{')
	for i, k := range keys {
		v, ok := r[k]
		if !ok {
			return dst[:start], false, nil
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(e.AppendString(dst, k), ':')
		if dst, err = e.AppendValue(dst, v); err != nil {
			return dst, true, fmt.Errorf("field %s: %w", k, err)
		}
	}
	return append(dst, '}'), true, nil
}

// AppendValue appends one record value. Values other than the record types (string, int64, float64, bool,
// time.Time, nil) are written by encoding/json.
func (e *JSON) AppendValue(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return e.AppendString(dst, x), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case float64:
		return AppendJSONFloat(dst, x)
	case time.Time:
		if e.UTC {
			x = x.UTC()
		}
		return AppendJSONTime(dst, x)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(e.EscapeHTML)
	if err := enc.Encode(v); err != nil {
		return dst, err
	}
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}

// AppendJSONFloat appends f as encoding/json does (ES6 number formatting), as AppendValue writes a float64;
// NaN and infinities are errors.
func AppendJSONFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, fmt.Errorf("unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	if k, ok := Cents(f); ok {
		return AppendCents(dst, k), nil // 'f' notation's shortest digits, without strconv
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

// AppendJSONTime appends t, in its own location, as AppendValue writes a time.Time: quoted RFC 3339 text
// with nanoseconds; years outside 0..9999 are errors, as encoding/json's.
func AppendJSONTime(dst []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return dst, fmt.Errorf("time %s: year outside of range [0,9999]", t)
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"'), nil
}

// Cents reports whether x is the double nearest k/100 for a whole k with |k| < 1e15 (a price, or an integer
// below 1e13), and gives k: such a decimal of at most 15 significant digits reads back as itself alone, so
// the shortest digits that read back as x (strconv's with precision -1, encoding/json's, DuckDB's) are k's
// without its trailing zeros, at k/100's place (AppendCents). Negative zero is not one (its text is
// signed), nor NaN or an infinity.
func Cents(x float64) (k int64, ok bool) {
	r := math.Round(x * 100)
	if !(math.Abs(r) < 1e15) {
		return 0, false
	}
	k = int64(r)
	if float64(k)/100 != x || (k == 0 && math.Signbit(x)) {
		return 0, false
	}
	return k, true
}

// AppendCents appends k/100 in fixed notation with no trailing zero: the whole part, then, unless k is a
// whole number of hundreds, '.' and the one or two digits of its hundredths ("12", "12.5", "-0.05").
func AppendCents(dst []byte, k int64) []byte {
	if k < 0 {
		dst, k = append(dst, '-'), -k
	}
	dst = strconv.AppendInt(dst, k/100, 10)
	switch c := k % 100; {
	case c == 0:
		return dst
	case c%10 == 0:
		return append(dst, '.', byte('0'+c/10))
	default:
		return append(dst, '.', byte('0'+c/10), byte('0'+c%10))
	}
}

const hexDigits = "0123456789abcdef"

// Bytes repeated in each of a word's 8 bytes, and HasByte, for the scans that test 8 bytes of text at a
// time (SWAR): a text of plain bytes is copied in one move rather than tested byte by byte.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// Word is the 8 bytes of s from i (i+8 <= len(s)), the first in the low byte: one load.
func Word(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// HasByte is not 0 when one of w's bytes is c.
func HasByte(w uint64, c byte) uint64 {
	v := w ^ (ones * uint64(c))
	return (v - ones) &^ v & highs
}

// plainWords is how many of s's first bytes, a whole number of 8-byte words, a JSON string holds as they
// are: ASCII from 0x20, but '"' and '\' (and, with html, '<', '>' and '&').
func plainWords(s string, html bool) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := Word(s, i)
		// A byte from 0x80, a byte below 0x20 (exact for the bytes below 0x80), a quote or a backslash.
		bad := w&highs | (w-ones*0x20)&^w&highs | HasByte(w, '"') | HasByte(w, '\\')
		if html {
			bad |= HasByte(w, '<') | HasByte(w, '>') | HasByte(w, '&')
		}
		if bad != 0 {
			break
		}
	}
	return i
}

// AppendString appends s as a JSON string, escaped as encoding/json escapes it (invalid UTF-8 becomes
// U+FFFD; U+2028 and U+2029 are escaped).
func (e *JSON) AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := plainWords(s, e.EscapeHTML); i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && (!e.EscapeHTML || (b != '<' && b != '>' && b != '&')) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendStrings appends a JSON array of strings; a nil slice is null.
func (e *JSON) AppendStrings(dst []byte, ss []string) []byte {
	if ss == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = e.AppendString(dst, s)
	}
	return append(dst, ']')
}
