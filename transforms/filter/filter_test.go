package filter

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

var rows = []record.Record{
	{"sku": "A", "price": 10.0, "qty": int64(1), "active": true, "note": "x", "updated": t0, "rank": int32(1)},
	{"sku": "B", "price": 0.0, "qty": int64(0), "active": true, "note": nil, "updated": nil, "rank": int32(2)},
	{"sku": "C", "price": 3.5, "qty": int64(7), "active": false, "note": "x", "updated": t0, "rank": nil},
	{"sku": "D", "price": nil, "qty": nil, "active": true, "note": "y", "updated": t0, "rank": int32(4)},
	{"sku": "E", "price": 8.0, "qty": int64(2), "active": true, "note": nil, "updated": nil, "rank": int32(5)},
}

// input builds the test batch. Column rank is an int32, which filter copies through its generic path.
func input(t testing.TB) arrow.RecordBatch {
	t.Helper()
	var fields []arrow.Field
	for _, f := range [][2]string{{"sku", "string"}, {"price", "float"}, {"qty", "int"}, {"active", "bool"},
		{"note", "string"}, {"updated", "timestamp"}} {
		typ, err := record.ArrowType(f[1])
		if err != nil {
			t.Fatal(err)
		}
		fields = append(fields, arrow.Field{Name: f[0], Type: typ, Nullable: true})
	}
	b, err := record.BuildBatch(nil, arrow.NewSchema(fields, nil), rows)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	rb := array.NewInt32Builder(memory.DefaultAllocator)
	defer rb.Release()
	for _, r := range rows {
		if v, ok := r["rank"].(int32); ok {
			rb.Append(v)
		} else {
			rb.AppendNull()
		}
	}
	rank := rb.NewArray()
	defer rank.Release()
	schema := arrow.NewSchema(append(fields, arrow.Field{Name: "rank", Type: arrow.PrimitiveTypes.Int32, Nullable: true}), nil)
	out := array.NewRecordBatch(schema, append(b.Columns(), rank), b.NumRows())
	t.Cleanup(out.Release)
	return out
}

func newFilter(t testing.TB, e spec.Expr, in arrow.RecordBatch) (*Filter, error) {
	t.Helper()
	tr, err := New(spec.Config{Values: map[string]any{"expr": e}}, transforms.Env{Input: in.Schema(), Now: t0})
	if err != nil {
		return nil, err
	}
	return tr.(*Filter), nil
}

func skus(t *testing.T, b arrow.RecordBatch) []string {
	t.Helper()
	out := []string{}
	for i := 0; i < int(b.NumRows()); i++ {
		out = append(out, record.RowRecord(b, i)["sku"].(string))
	}
	return out
}

func TestRegistered(t *testing.T) {
	if _, _, ok := transforms.Registry.Lookup("filter"); !ok {
		t.Fatal("filter is not registered")
	}
}

func TestFilterKeeps(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{"active && (price ?? 0) > 0", []string{"A", "E"}},
		{"true", []string{"A", "B", "C", "D", "E"}},
		{"false", []string{}},
		{`sku in ["B", "C", "D"]`, []string{"B", "C", "D"}},
		{`note == "x"`, []string{"A", "C"}},
		{`note != "x"`, []string{"B", "D", "E"}},
		{"updated == nil", []string{"B", "E"}},
		{"(qty ?? 0) > 0 || !active", []string{"A", "C", "E"}},
		{"updated != nil && updated <= now()", []string{"A", "C", "D"}},
	}
	in := input(t)
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			f, err := newFilter(t, spec.Expr{Text: tt.expr}, in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := f.Apply(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Release()
			if !out.Schema().Equal(in.Schema()) {
				t.Errorf("schema = %v, want the input's", out.Schema())
			}
			got := skus(t, out)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("kept %v, want %v", got, tt.want)
			}
			// Every column of a kept row is copied, NULLs included.
			for i := range got {
				want := rows[got[i][0]-'A']
				if r := record.RowRecord(out, i); !sameRecord(r, want) {
					t.Errorf("row %d = %v, want %v", i, r, want)
				}
			}
		})
	}
}

func sameRecord(got, want record.Record) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g := got[k]
		switch w := w.(type) {
		case time.Time:
			if gt, ok := g.(time.Time); !ok || !gt.Equal(w) {
				return false
			}
		case int32:
			if g != int64(w) {
				return false
			}
		default:
			if g != w {
				return false
			}
		}
	}
	return true
}

func TestFilterDiagnostics(t *testing.T) {
	tests := []struct {
		name      string
		expr      spec.Expr
		code      string
		line, col int
	}{
		{"not a bool", spec.Expr{Text: "price * 2", Pos: spec.Pos{Line: 4, Col: 11}}, "expr_not_bool", 4, 11},
		{"string", spec.Expr{Text: "trim(sku)", Pos: spec.Pos{Line: 4, Col: 11}}, "expr_not_bool", 4, 11},
		{"unknown field", spec.Expr{Text: "active && prce > 0", Pos: spec.Pos{Line: 4, Col: 11}}, "expr_unknown_field", 4, 21},
		{"unknown field in a block", spec.Expr{Text: "active\n&& qtty > 0\n", Pos: spec.Pos{Line: 5, Col: 9}, Block: true},
			"expr_unknown_field", 6, 12},
		{"syntax", spec.Expr{Text: "active &&", Pos: spec.Pos{Line: 4, Col: 11}}, "expr_compile", 4, 19},
	}
	in := input(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newFilter(t, tt.expr, in)
			var d *spec.Diagnostic
			if !errors.As(err, &d) {
				t.Fatalf("err = %v, want a diagnostic", err)
			}
			if d.Code != tt.code || d.Line != tt.line || d.Col != tt.col {
				t.Errorf("got %s at %d:%d, want %s at %d:%d (%v)", d.Code, d.Line, d.Col, tt.code, tt.line, tt.col, d)
			}
		})
	}
}

func TestFilterRowErrors(t *testing.T) {
	tests := []struct {
		expr string
		row  int
		msg  string
	}{
		{"price > 5", 3, "NULL"},
		{"note == nil ? nil : true", 1, "filter expression is NULL"},
		{`active ? qty : "none"`, 0, "gave an int, want a bool"},
	}
	in := input(t)
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			f, err := newFilter(t, spec.Expr{Text: tt.expr, Pos: spec.Pos{Line: 9, Col: 11}}, in)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Apply(context.Background(), in)
			var re *transforms.RowError
			if !errors.As(err, &re) || re.Row != tt.row {
				t.Fatalf("err = %v, want a RowError at row %d", err, tt.row)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "(at 9:") {
				t.Errorf("error %q does not mention %q at line 9", err, tt.msg)
			}
		})
	}
}

func TestFilterCloneConcurrent(t *testing.T) {
	in := input(t)
	f, err := newFilter(t, spec.Expr{Text: `active && note != "y"`}, in)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([][]string, 2)
	for g := range got {
		c := f.Clone()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				out, err := c.Apply(context.Background(), in)
				if err != nil {
					t.Error(err)
					return
				}
				got[g] = skus(t, out)
				out.Release()
			}
		}()
	}
	wg.Wait()
	for g := range got {
		if want := []string{"A", "B", "E"}; !reflect.DeepEqual(got[g], want) {
			t.Errorf("goroutine %d kept %v, want %v", g, got[g], want)
		}
	}
}
