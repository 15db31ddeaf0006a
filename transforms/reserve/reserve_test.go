package reserve

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// The reservation itself runs in DuckDB: runner/reserve_test.go and runner/reserve_e2e_test.go test it end
// to end.

func stockSchema(qty arrow.DataType) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "sku", Type: arrow.BinaryTypes.String}, {Name: "gtin14", Type: arrow.BinaryTypes.String},
		{Name: "quantity", Type: qty, Nullable: true}, {Name: "name", Type: arrow.BinaryTypes.String},
	}, nil)
}

func TestNewConfigErrors(t *testing.T) {
	at := spec.Pos{File: "p.yaml", Line: 9, Col: 5, Path: "/transforms/2"}
	tests := []struct {
		name   string
		values map[string]any
		input  string
		schema *arrow.Schema
		want   []string // diagnostic paths
	}{
		{"no orders", map[string]any{}, "records", nil, []string{"/transforms/2/orders"}},
		{"no input", map[string]any{"orders": "orders"}, "", nil, []string{"/transforms/2/input"}},
		{"no key at all", map[string]any{"orders": "orders", "code_field": "", "quantity": " "}, "records", nil,
			[]string{"/transforms/2/code_field", "/transforms/2/quantity"}},
		{"an output field", map[string]any{"orders": "orders", "quantity": "Reserved"}, "records", nil,
			[]string{"/transforms/2/quantity"}},
		{"unknown fields", map[string]any{"orders": "orders", "quantity": "qty", "gtin_field": "upc"}, "records",
			stockSchema(arrow.PrimitiveTypes.Int64), []string{"/transforms/2/gtin_field", "/transforms/2/quantity"}},
		{"quantity not a number", map[string]any{"orders": "orders", "quantity": "name"}, "records",
			stockSchema(arrow.PrimitiveTypes.Int64), []string{"/transforms/2/quantity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(spec.Config{Pos: at, Values: tt.values}, transforms.Env{InputName: tt.input, Input: tt.schema})
			var ds spec.Diagnostics
			var d *spec.Diagnostic
			switch {
			case errors.As(err, &ds):
			case errors.As(err, &d):
				ds = spec.Diagnostics{d}
			default:
				t.Fatalf("New: %v, want diagnostics", err)
			}
			var paths []string
			for _, d := range ds {
				if d.Code != spec.CodeBadValue || d.Line != 9 {
					t.Errorf("diagnostic %v: want code %s at line 9", d, spec.CodeBadValue)
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

// The output keeps the quantity's type: an integer quantity is reduced by whole units (rounded up) and cast
// back; a float quantity by the exact amount.
func TestQuantityKeepsItsType(t *testing.T) {
	for _, tc := range []struct {
		typ       arrow.DataType
		cast      string
		wholeUnit bool
	}{
		{arrow.PrimitiveTypes.Int64, "AS BIGINT)", true},
		{arrow.PrimitiveTypes.Int32, "AS INTEGER)", true},
		{arrow.PrimitiveTypes.Float64, "AS DOUBLE)", false},
	} {
		tr, err := New(spec.Config{Values: map[string]any{"orders": "orders", "gtin_field": "gtin14"}},
			transforms.Env{InputName: "records", Input: stockSchema(tc.typ)})
		if err != nil {
			t.Fatal(err)
		}
		s := tr.(*Step)
		q := s.Query().Text
		if strings.Contains(q, "\n") || !strings.Contains(q, tc.cast+` AS "quantity"`) ||
			strings.Contains(q, "ceil(") != tc.wholeUnit || !strings.Contains(q, `FROM "orders"`) || !strings.Contains(q, `FROM "records"`) {
			t.Errorf("%s: query is not one line, or does not cast the quantity back (%s, ceil %t), or reads the wrong relations: %s",
				tc.typ, tc.cast, tc.wholeUnit, q)
		}
		if got := s.Annotations(); !reflect.DeepEqual(got, []string{FieldReserved}) {
			t.Errorf("annotations %v, want [reserved]", got)
		}
	}
}
