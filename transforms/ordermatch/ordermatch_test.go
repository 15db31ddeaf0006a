package ordermatch

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// The rules themselves run in DuckDB: runner/ordermatch_test.go tests them end to end.

func TestNewConfigErrors(t *testing.T) {
	at := spec.Pos{File: "p.yaml", Line: 7, Col: 5, Path: "/transforms/0"}
	base := func(extra map[string]any) map[string]any {
		v := map[string]any{"products": "products", "customers": "customers"}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	tests := []struct {
		name   string
		values map[string]any
		input  string
		want   []string // diagnostic paths
	}{
		{"no relations", map[string]any{}, "", []string{"/transforms/0/customers", "/transforms/0/orders", "/transforms/0/products"}},
		{"no keys", base(map[string]any{"products_by": []any{}}), "orders", []string{"/transforms/0/products_by"}},
		{"unknown and repeated keys", base(map[string]any{"products_by": []any{"code", "sku", "code"}}), "orders",
			[]string{"/transforms/0/products_by/1", "/transforms/0/products_by/2"}},
		{"mpn_brand without an MPN field", base(map[string]any{"products_by": []any{"mpn_brand"}}), "orders",
			[]string{"/transforms/0/products_by/0"}},
		{"empty pickup outlet", base(map[string]any{"routing": map[string]any{"pickups": map[string]any{"Downtown": " "}}}), "orders",
			[]string{"/transforms/0/routing/pickups"}},
		{"empty mapping", base(map[string]any{"customer_mappings": map[string]any{"W-1": ""}}), "orders",
			[]string{"/transforms/0/customer_mappings"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(spec.Config{Pos: at, Values: tt.values}, transforms.Env{InputName: tt.input})
			var ds spec.Diagnostics
			if !errors.As(err, &ds) {
				t.Fatalf("New: %v, want diagnostics", err)
			}
			var paths []string
			for _, d := range ds {
				if d.Code != spec.CodeBadValue || d.Line != 7 {
					t.Errorf("diagnostic %v: want code %s at line 7", d, spec.CodeBadValue)
				}
				paths = append(paths, d.Path)
			}
			sort.Strings(paths)
			if !reflect.DeepEqual(paths, tt.want) {
				t.Errorf("diagnostics at %v, want %v", paths, tt.want)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	tr, err := New(spec.Config{Values: map[string]any{"products": "products", "customers": "customers"}},
		transforms.Env{InputName: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	s := tr.(*Step)
	if s.c.Orders != "orders" || s.c.Columns != defaultColumns || !reflect.DeepEqual(s.c.ProductsBy, []string{ByCode, ByGTIN}) {
		t.Errorf("config %+v: want the input as orders, the default columns and products_by [code gtin]", s.c)
	}
	q := s.Query().Text
	if strings.Contains(q, "\n") || !strings.Contains(q, `FROM "orders"`) || strings.Contains(q, "mpn_brand") {
		t.Errorf("query is not one line, does not read orders, or tries mpn_brand: %s", q)
	}
}
