package retailpos

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/possync/possync/record"
)

// FuzzDecodeProducts feeds arbitrary bytes to the decoding of a GET /products page, exactly as the HTTP
// client decodes it (encoding/json into the API shapes), then converts every product to the record the
// source emits and builds the batch. Neither may panic or leak; every record must fit the source's schema.
func FuzzDecodeProducts(f *testing.F) {
	for _, s := range []string{
		`{"data":[{"id":"p1","sku":"A1","name":"Shoe","variant_name":"Shoe / Red","active":true,"is_active":false,` +
			`"ecwid_enabled_webstore":true,"has_inventory":true,"brand":{"id":"b1","name":"Acme"},` +
			`"product_category":{"name":"Shoes","category_path":[{"id":"c","name":"Footwear"},{"id":"d","name":"Shoes"}]},` +
			`"product_codes":[{"type":"upc","code":"036000291452"}],"variant_options":[{"name":"Color","value":"Red"}],` +
			`"images":[{"url":"https://x/1.jpg","sizes":{"original":"https://x/1o.jpg"}}],"price_excluding_tax":12.5,` +
			`"weight":1200,"weight_unit":"g","length":1,"width":2,"height":3,"dimensions_unit":"in",` +
			`"updated_at":"2026-11-20T10:00:00+00:00","version":42}],"version":{"min":1,"max":42}}`,
		`{"data":[{"id":"v1","variant_parent_id":"p1","sku":"A1-R","brand_id":"b9","type":{"name":"Misc"},"deleted_at":"2026-01-01"}],"version":{"max":3}}`,
		`{"data":[{"weight":1e308,"weight_unit":"t","length":-1,"dimensions_unit":"parsec","price_excluding_tax":-0}]}`,
		`{"data":[{"active":"yes"}]}`, `{"data":null}`, `{"data":[null]}`, `null`, `[]`, ``, `{"version":{"max":"x"}}`,
		`{"data":[{"sku":"\ud800","name":"\u0000","updated_at":"9999-12-31T23:59:59+14:00"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var pg page[product]
		if err := json.Unmarshal(body, &pg); err != nil {
			if err.Error() == "" {
				t.Fatal("empty decode error")
			}
			return
		}
		c := &converter{brands: map[string]string{"b9": "Brand Nine"}}
		recs := make([]record.Record, 0, len(pg.Data))
		for i := range pg.Data {
			r := c.row(&pg.Data[i])
			r.quantity, r.hasQuantity = quantity([]float64{1.5, -2, 1e300}), true
			recs = append(recs, r.record(pg.Data[i].VariantParentID))
		}
		alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer alloc.AssertSize(t, 0)
		b, err := record.BuildBatch(alloc, schema, recs)
		if err != nil {
			t.Fatalf("a decoded product does not fit the source's schema: %v", err)
		}
		if int(b.NumRows()) != len(recs) {
			t.Fatalf("%d rows from %d products", b.NumRows(), len(recs))
		}
		b.Release()
	})
}

// FuzzPromotionDates feeds arbitrary start, end and created_at texts of promotions and price books to the
// date readers. They must not panic; a refused text gets an error that quotes it; an accepted window's
// dates are midnight UTC (only the date counts).
func FuzzPromotionDates(f *testing.F) {
	for _, s := range [][2]string{{"2026-11-27T08:00:00", "2026-12-01T00:00:00+01:00"}, {"", ""}, {"2026-11-27", "2026-02-30"},
		{"2026-11-27 08:00:00", "yesterday"}, {"0000-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59"}, {" \t", "\x00"}} {
		f.Add(s[0], s[1])
	}
	loc, err := time.LoadLocation("Pacific/Chatham")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, from, to string) {
		w, err := parseWindow(from, to, loc)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "start: ") && !strings.HasPrefix(err.Error(), "end: ") {
				t.Fatalf("parseWindow(%q, %q): error %q does not say which end", from, to, err)
			}
		} else {
			for _, d := range []time.Time{w.start, w.end} {
				if d.Location() != time.UTC || d.Hour() != 0 || d.Minute() != 0 || d.Second() != 0 || d.Nanosecond() != 0 {
					t.Fatalf("parseWindow(%q, %q) = %v: not a date", from, to, w)
				}
			}
		}
		if at, ok := createdAt(from); ok && at.Location() != time.UTC {
			t.Fatalf("createdAt(%q) = %v, not UTC", from, at)
		}
	})
}

// FuzzCheckpoint feeds arbitrary bytes to the checkpoint decoder (the state file's cursor of the source): an
// unreadable checkpoint is an error (the source then reads everything), a readable one re-encodes to itself.
func FuzzCheckpoint(f *testing.F) {
	for _, s := range []string{`{"version":42,"outlets":["o1"],"products":10,"inventory":20}`, ``, `null`, `{`, `{"version":"x"}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := parseCheckpoint(b)
		if err != nil {
			if cp != nil || !strings.Contains(err.Error(), "checkpoint") {
				t.Fatalf("parseCheckpoint: %v with a checkpoint %v", err, cp != nil)
			}
			return
		}
		if cp == nil {
			return
		}
		again, err := parseCheckpoint(cp.encode())
		if err != nil || string(again.encode()) != string(cp.encode()) {
			t.Fatalf("checkpoint %s does not re-encode to itself: %s, %v", cp.encode(), again.encode(), err)
		}
	})
}

// FuzzDecodeError feeds arbitrary error bodies to the API error decoder (the explanation errors show).
func FuzzDecodeError(f *testing.F) {
	for _, s := range []string{`{"error":"Not found","message":"no product 1"}`, `{"error":{"a":1}}`, `<html>`, ``, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		title, detail := decodeError(500, body)
		if (title != "" || detail != "") && !json.Valid(body) {
			t.Fatalf("decodeError(%q) = %q, %q from invalid JSON", body, title, detail)
		}
	})
}
