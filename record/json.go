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

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, escaped as encoding/json escapes it (invalid UTF-8 becomes
// U+FFFD; U+2028 and U+2029 are escaped).
func (e *JSON) AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
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
