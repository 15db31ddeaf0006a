package record

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// stdJSON is what encoding/json writes for v.
func stdJSON(t *testing.T, v any, escapeHTML bool) (string, bool) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(v); err != nil {
		return "", false
	}
	return strings.TrimSuffix(buf.String(), "\n"), true
}

// TestJSONMatchesEncodingJSON holds the reflection-free encoder to encoding/json's output, byte for byte,
// over the values records carry and the strings that need escaping.
func TestJSONMatchesEncodingJSON(t *testing.T) {
	zone := time.FixedZone("", -5*3600)
	values := []any{
		nil, "", "plain", `quote " and \ backslash`, "tab\tnew\nline\r\x00\x1f\x7f", "<b>&amp;</b>",
		"naïve café 日本", "\u2028\u2029", "bad \xff\xfe utf8", "\xe2\x82", "emoji 🚲",
		int64(0), int64(-42), int64(math.MaxInt64), int64(math.MinInt64), 7,
		0.0, math.Copysign(0, -1), 1.5, -3.25, 19.99, 1e20, 1e21, 1e-6, 1e-7, 123456789.123, 5e-324, math.MaxFloat64,
		true, false,
		time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 8, 2, 30, 15, 123456789, zone),
		json.Number("12.50"), []string{"a", "b"},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		values = append(values, string(b), math.Float64frombits(rng.Uint64()), rng.NormFloat64()*1e6)
	}
	for _, html := range []bool{true, false} {
		for _, utc := range []bool{false, true} {
			e := &JSON{EscapeHTML: html, UTC: utc}
			for _, v := range values {
				want, ok := stdJSON(t, v, html)
				if tm, isTime := v.(time.Time); isTime && utc {
					want, ok = stdJSON(t, tm.UTC(), html)
				}
				got, err := e.AppendValue(nil, v)
				if !ok {
					if err == nil {
						t.Errorf("html=%v: %#v: encoding/json fails, AppendValue wrote %s", html, v, got)
					}
					continue
				}
				if err != nil || string(got) != want {
					t.Errorf("html=%v utc=%v: %#v: got %s (%v), want %s", html, utc, v, got, err, want)
				}
			}
		}
	}
}

// TestAppendRecordKeyOrderAcrossRecords: records of the same size with other keys, and of other sizes in
// turn, each come out with their own keys sorted (the encoder keeps the sorted keys of earlier records).
func TestAppendRecordKeyOrderAcrossRecords(t *testing.T) {
	recs := []Record{
		{"sku": "A", "price": 1.5, "qty": int64(2)},
		{"sku": "B"},
		{"sku": "C", "price": 2.5, "qty": int64(3)},
		{"sku": "D", "name": "x", "brand": "y"}, // three keys, not the same three
		{"id": "E"},
		{"b": 1.0, "a": 2.0, "c": nil},
		{"sku": "F", "price": nil, "qty": nil},
	}
	e := &JSON{}
	var buf []byte
	for i, r := range recs {
		want, _ := stdJSON(t, r, false)
		start := len(buf)
		var err error
		if buf, err = e.AppendRecord(buf, r); err != nil {
			t.Fatal(err)
		}
		if got := string(buf[start:]); got != want {
			t.Errorf("record %d: %s, want %s", i, got, want)
		}
	}
}

// TestJSONFastPathsMatchEncodingJSON holds the encoder's fast paths to encoding/json's bytes: strings of
// plain text tested 8 bytes at a time (plainWords), with one byte that needs an escape (or is not ASCII,
// or is an HTML byte) at each place of texts of 0 to 40 bytes; and prices written from their cents
// (Cents, AppendCents), of every size up to the fast path's bound and past it, negative, zero, and
// doubles next to them that are not prices.
func TestJSONFastPathsMatchEncodingJSON(t *testing.T) {
	var values []any
	for _, odd := range []string{"\"", "\\", "\x00", "\x1f", "\x7f", " ", "<", ">", "&", "é", "\u2028", "\xff", "~"} {
		for n := range 41 {
			for at := 0; at < n; at += 3 {
				values = append(values, strings.Repeat("a", at)+odd+strings.Repeat("Z", n-at-1))
			}
			values = append(values, strings.Repeat("b", n))
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for digits := range 16 { // prices of 1 to 16 digits (the fast path's bound is 15), of either sign
		for range 2_000 {
			k := (2*rng.Int64N(2) - 1) * rng.Int64N(int64(math.Pow10(digits+1)))
			values = append(values, float64(k)/100, math.Nextafter(float64(k)/100, math.Inf(1)), float64(k), float64(k)/10)
		}
	}
	values = append(values, 9999999999999.99, 9999999999999.995, 1e13, -1e13, 0.01, -0.01, 0.005, 1e15, 0.0, math.Copysign(0, -1))
	for _, html := range []bool{true, false} {
		e := &JSON{EscapeHTML: html}
		for _, v := range values {
			want, ok := stdJSON(t, v, html)
			got, err := e.AppendValue(nil, v)
			if !ok || err != nil || string(got) != want {
				t.Errorf("html=%v: %#v: got %s (%v), want %s (%v)", html, v, got, err, want, ok)
			}
		}
	}
}
