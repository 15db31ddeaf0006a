package mapt

import (
	"strings"
	"testing"
)

func TestPushdownSQL(t *testing.T) {
	tests := []struct {
		name   string
		fields []field
		extra  map[string]any
		want   string // "" when not translatable
	}{
		{"renames and casts", []field{{"id", "sku"}, {"n", "qty"}}, nil,
			`SELECT CAST("sku" AS VARCHAR) AS "id", CAST("qty" AS BIGINT) AS "n" FROM "in"`},
		{"declared float", []field{{"q", "qty"}}, map[string]any{"types": map[string]any{"q": "float"}},
			`SELECT CAST("qty" AS DOUBLE) AS "q" FROM "in"`},
		{"passthrough in input order after the mapped fields, dropped and mapped ones left out",
			[]field{{"sku", "sku"}, {"name", "brand"}}, map[string]any{"passthrough": true, "drop": []any{"note", "qty"}},
			`SELECT CAST("sku" AS VARCHAR) AS "sku", CAST("brand" AS VARCHAR) AS "name", "brand", "price", "active", ` +
				`"channel_online", "updated" FROM "in"`},
		{"one field outside the subset", []field{{"sku", "sku"}, {"x", `name matches "^S"`}}, nil, ""},
		{"two output fields one to DuckDB", []field{{"Price", "price"}}, map[string]any{"passthrough": true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMap(t, mapConfig(tt.fields, tt.extra))
			got, ok := m.PushdownSQL(`"in"`)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("PushdownSQL = %v\n  %s\nwant\n  %s", ok, got, tt.want)
			}
		})
	}
}

func TestPushdownSQLFailsWhereApplyFails(t *testing.T) {
	m := newMap(t, mapConfig([]field{{"title", "upper(name)"}}, nil))
	got, ok := m.PushdownSQL(`"in"`)
	if !ok || !strings.Contains(got, `coalesce("name", error('possync: map field title: upper of NULL'))`) {
		t.Errorf("PushdownSQL = %v %s, want upper's argument guarded against NULL naming the field", ok, got)
	}
}

// TestMapReads: Reads lists the input fields the map's expressions read and those it passes through, sorted
// and once each (a runner reading the input through a view of its files needs every declared field read,
// so that a malformed value in any is found); an expression reading $env reads every field.
func TestMapReads(t *testing.T) {
	fields := []field{{"title", "trim(name)"}, {"price", "price ?? 0"}, {"available", "qty > 0 && price > 0"}, {"sku", "sku"}}
	tests := []struct {
		name   string
		fields []field
		extra  map[string]any
		want   string
	}{
		{"mapped only", fields, nil, "name,price,qty,sku"},
		{"passthrough with drop", fields, map[string]any{"passthrough": true, "drop": []any{"note", "updated"}},
			"active,brand,channel_online,name,price,qty,sku"},
		{"$env", []field{{"sku", "sku"}, {"n", `len($env)`}}, nil,
			"active,brand,channel_online,name,note,price,qty,sku,updated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(newMap(t, mapConfig(tt.fields, tt.extra)).Reads(), ","); got != tt.want {
				t.Errorf("Reads = %s, want %s", got, tt.want)
			}
		})
	}
}
