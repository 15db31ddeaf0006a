package pipetest

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
)

func TestEqual(t *testing.T) {
	ts := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		want, got any
		eq        bool
	}{
		{nil, nil, true},
		{nil, "", false},
		{"", nil, false},
		{20, 20.0, true},
		{20, int64(20), true},
		{0.1 + 0.2, 0.3, true}, // within 1e-9 relative
		{19.99, 19.98, false},
		{"A1", "A1", true},
		{123, "123", true}, // a YAML number against a string field
		{true, "true", true},
		{true, false, false},
		{"2026-11-20T12:00:00Z", ts, true},
		{"2026-11-20", ts.Truncate(24 * time.Hour), true},
		{"2026-11-21", ts, false},
		{[]any{map[string]any{"code": "X", "qty": 2}}, `[{"code":"X","qty":2,"other":1}]`, true},
		{[]any{map[string]any{"code": "Y"}}, `[{"code":"X"}]`, false},
		{[]any{map[string]any{"code": "X"}}, `[{"code":"X"},{"code":"Z"}]`, false},
	} {
		if got := equal(tc.want, tc.got); got != tc.eq {
			t.Errorf("equal(%#v, %#v) = %v, want %v", tc.want, tc.got, got, tc.eq)
		}
	}
}

func TestConvert(t *testing.T) {
	for _, tc := range []struct {
		v    any
		t    arrow.DataType
		want any
		err  string
	}{
		{"A1", arrow.BinaryTypes.String, "A1", ""},
		{12345, arrow.BinaryTypes.String, "12345", ""},
		{[]any{map[string]any{"no": 1}}, arrow.BinaryTypes.String, `[{"no":1}]`, ""},
		{3, arrow.PrimitiveTypes.Int64, int64(3), ""},
		{3.5, arrow.PrimitiveTypes.Int64, nil, "3.5 is not a int"},
		{3, arrow.PrimitiveTypes.Float64, 3.0, ""},
		{"yes", arrow.FixedWidthTypes.Boolean, nil, `"yes" is not a bool`},
		{"2026-11-20", arrow.FixedWidthTypes.Date32, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), ""},
		{"soon", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, nil, `"soon" is not a timestamp`},
		{nil, arrow.PrimitiveTypes.Int64, nil, ""},
	} {
		got, err := convert(tc.v, tc.t)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("convert(%#v, %s): error %v, want %q", tc.v, tc.t, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("convert(%#v, %s) = %#v, %v; want %#v", tc.v, tc.t, got, err, tc.want)
		}
	}
}

func TestCompareRows(t *testing.T) {
	key := []string{"sku"}
	d := &runner.Desired{Rows: []record.Record{
		{"sku": "A1", "price": 20.0, "name": "Tent"},
		{"sku": "B2", "price": 5.0, "name": nil},
	}}
	if f := compareRows(key, []map[string]any{{"sku": "A1", "price": 20}, {"sku": "B2"}}, false, d); len(f) != 0 {
		t.Fatalf("named fields that match: %+v", f)
	}
	f := compareRows(key, []map[string]any{{"sku": "A1", "price": 20}, {"sku": "B2", "price": 5}}, true, d)
	if len(f) != 1 || f[0].Key != "sku=A1" || f[0].Field != "name" || f[0].Expected != "null" || f[0].Got != `"Tent"` {
		t.Fatalf("all_fields: want name of sku=A1 reported, got %+v", f)
	}
	f = compareRows(key, []map[string]any{{"sku": "A1"}, {"sku": "C3"}}, false, d)
	if len(f) != 2 || f[0].Key != "sku=C3" || f[0].Got != "no row" || f[1].Key != "sku=B2" || f[1].Expected != "no row" {
		t.Fatalf("missing and unexpected rows: %+v", f)
	}
	f = compareRows(key, []map[string]any{{"price": 1}}, false, d)
	if len(f) == 0 || !strings.Contains(f[0].Message, `no field "sku"`) {
		t.Fatalf("a row without its key: %+v", f)
	}
}

func TestCompareActions(t *testing.T) {
	key := []string{"sku"}
	got := []plan.Change{
		{Action: connectors.Update, Key: map[string]any{"sku": "A1"}, Fields: []plan.FieldChange{{Name: "price", Before: 1.0, After: 2.0}}},
		{Action: connectors.Delete, Key: map[string]any{"sku": "B2"}},
	}
	ok := []Action{{Action: "update", Key: "A1", Fields: map[string]any{"price": 2}}, {Action: "delete", Key: map[string]any{"sku": "B2"}}}
	if f := compareActions(key, ok, got); len(f) != 0 {
		t.Fatalf("matching actions: %+v", f)
	}
	f := compareActions(key, []Action{{Action: "deactivate", Key: "A1"}}, got)
	if len(f) != 2 || f[0].Expected != "deactivate" || f[0].Got != "update" || f[1].Key != "sku=B2" || f[1].Got != "delete" {
		t.Fatalf("wrong and unexpected action: %+v", f)
	}
	f = compareActions(key, []Action{{Action: "update", Key: "A1", Fields: map[string]any{"name": "x"}}, {Action: "delete", Key: "B2"}}, got)
	if len(f) != 1 || f[0].Field != "name" || f[0].Got != "unchanged" {
		t.Fatalf("a field the change leaves alone: %+v", f)
	}
	if f := compareActions([]string{"a", "b"}, []Action{{Action: "delete", Key: "x"}}, nil); len(f) != 1 || !strings.Contains(f[0].Message, "give a mapping") {
		t.Fatalf("a scalar key for a two-field key: %+v", f)
	}
}

func TestTestFileFor(t *testing.T) {
	for in, want := range map[string]string{
		"examples/bikeshop/chain.yaml":      "examples/bikeshop/chain_test.yaml",
		"examples/bikeshop/chain_test.yaml": "examples/bikeshop/chain_test.yaml",
		"p.yml":                             "p_test.yml",
	} {
		if got := TestFileFor(in); got != want {
			t.Errorf("TestFileFor(%q) = %q, want %q", in, got, want)
		}
	}
}
