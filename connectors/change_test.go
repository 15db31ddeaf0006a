package connectors

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/record"
)

func TestChangeJSON(t *testing.T) {
	c := Change{ID: "abc", Action: Update, Key: record.Record{"sku": "A<1>"}, Fields: []string{"price"},
		Before: record.Record{"sku": "A<1>", "price": 10.0, "qty": int64(3), "t": time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
		After:  record.Record{"sku": "A<1>", "price": 12.5, "qty": nil, "name": "x & y", "on": true}}
	e := &record.JSON{EscapeHTML: true}
	got, err := c.AppendEntry(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"abc","action":"update","key":{"sku":"A\u003c1\u003e"},"fields":["price"],` +
		`"before":{"price":10,"qty":3,"sku":"A\u003c1\u003e","t":"2026-01-02T03:04:05.000000006Z"},` +
		`"after":{"name":"x \u0026 y","on":true,"price":12.5,"qty":null,"sku":"A\u003c1\u003e"}}`
	if string(got) != want {
		t.Errorf("AppendEntry:\n got %s\nwant %s", got, want)
	}
	var back Change
	if err := json.Unmarshal(got, &back); err != nil || back.ID != "abc" || back.Action != Update || back.Key["sku"] != "A<1>" ||
		len(back.Fields) != 1 || back.Before["qty"] != 3.0 || back.After["name"] != "x & y" {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	del := Change{ID: "d", Action: Delete, Key: record.Record{"sku": "B"}}
	got, _ = del.AppendEntry(e, nil)
	if want := `{"id":"d","action":"delete","key":{"sku":"B"},"fields":[],"before":null,"after":null}`; string(got) != want {
		t.Errorf("delete:\n got %s\nwant %s", got, want)
	}
	if _, err := e.AppendRecord(nil, record.Record{"p": math.NaN()}); err == nil || !strings.Contains(err.Error(), "field p") {
		t.Errorf("NaN: error %v, want one naming field p", err)
	}
}

func BenchmarkJSONChange(b *testing.B) {
	c := Change{ID: "3c6e5ad74020a3046b6a7fd9", Action: Update, Key: record.Record{"sku": "SK0000012345"}, Fields: []string{"price", "qty"},
		Before: record.Record{"sku": "SK0000012345", "price": 10.0, "qty": int64(3), "title": "Trail bike 29\" | ACME", "online": true},
		After: record.Record{"sku": "SK0000012345", "price": 12.5, "qty": int64(4), "title": "Trail bike 29\" | ACME", "online": true,
			"updated_at": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(c)
		}
	})
	b.Run("JSON", func(b *testing.B) {
		e := &record.JSON{EscapeHTML: true}
		var buf []byte
		for b.Loop() {
			buf, _ = c.AppendEntry(e, buf[:0])
		}
	})
}
