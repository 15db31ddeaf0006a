package connectors

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

func TestJSONRecordAndChange(t *testing.T) {
	c := Change{ID: "abc", Action: Update, Key: Record{"sku": "A<1>"}, Fields: []string{"price"},
		Before: Record{"sku": "A<1>", "price": 10.0, "qty": int64(3), "t": time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
		After:  Record{"sku": "A<1>", "price": 12.5, "qty": nil, "name": "x & y", "on": true}}
	e := &JSON{EscapeHTML: true}
	got, err := e.AppendChange(nil, &c)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(c)
	if string(got) != string(want) {
		t.Errorf("AppendChange:\n got %s\nwant %s", got, want)
	}
	var back Change
	if err := json.Unmarshal(got, &back); err != nil || back.ID != "abc" || back.Key["sku"] != "A<1>" {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	del := Change{ID: "d", Action: Delete, Key: Record{"sku": "B"}}
	got, _ = e.AppendChange(nil, &del)
	want, _ = json.Marshal(del)
	if string(got) != string(want) {
		t.Errorf("delete:\n got %s\nwant %s", got, want)
	}
	if _, err := e.AppendRecord(nil, Record{"p": math.NaN()}); err == nil || !strings.Contains(err.Error(), "field p") {
		t.Errorf("NaN: error %v, want one naming field p", err)
	}
}

func BenchmarkJSONChange(b *testing.B) {
	c := Change{ID: "3c6e5ad74020a3046b6a7fd9", Action: Update, Key: Record{"sku": "SK0000012345"}, Fields: []string{"price", "qty"},
		Before: Record{"sku": "SK0000012345", "price": 10.0, "qty": int64(3), "title": "Trail bike 29\" | ACME", "online": true},
		After: Record{"sku": "SK0000012345", "price": 12.5, "qty": int64(4), "title": "Trail bike 29\" | ACME", "online": true,
			"updated_at": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(c)
		}
	})
	b.Run("JSON", func(b *testing.B) {
		e := &JSON{EscapeHTML: true}
		var buf []byte
		for b.Loop() {
			buf, _ = e.AppendChange(buf[:0], &c)
		}
	})
}
