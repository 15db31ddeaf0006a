package mapt

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

var now = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func inputSchema(t testing.TB) *arrow.Schema {
	t.Helper()
	var fields []arrow.Field
	for _, f := range [][2]string{
		{"sku", "string"}, {"name", "string"}, {"brand", "string"}, {"price", "float"}, {"qty", "int"},
		{"active", "bool"}, {"channel_online", "bool"}, {"note", "string"}, {"updated", "timestamp"},
	} {
		typ, err := record.ArrowType(f[1])
		if err != nil {
			t.Fatal(err)
		}
		fields = append(fields, arrow.Field{Name: f[0], Type: typ, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

var inputRows = []record.Record{
	{"sku": "A1", "name": "  Shirt ", "brand": "Acme", "price": 10.5, "qty": int64(3), "active": true,
		"channel_online": true, "note": "x", "updated": now.Add(-time.Hour)},
	{"sku": "B2", "name": "Hat", "brand": "Zed", "price": nil, "qty": int64(-2), "active": false,
		"channel_online": true, "note": nil, "updated": nil},
}

func inputBatch(t testing.TB) arrow.RecordBatch {
	t.Helper()
	b, err := record.BuildBatch(nil, inputSchema(t), inputRows)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Release)
	return b
}

// field is one entry of `fields`, written on its own line of a pipeline file.
type field struct{ name, expr string }

// mapConfig builds the map's configuration, giving the i-th field the position of line 10+i.
func mapConfig(fields []field, extra map[string]any) spec.Config {
	m := map[string]any{}
	for i, f := range fields {
		m[f.name] = spec.Expr{Text: f.expr, Pos: spec.Pos{Line: 10 + i, Col: 12, Path: "/transforms/0/fields/" + f.name}}
	}
	values := map[string]any{"fields": m}
	for k, v := range extra {
		values[k] = v
	}
	return spec.Config{Pos: spec.Pos{Line: 8, Col: 5, Path: "/transforms/0"}, Values: values}
}

func newMap(t testing.TB, cfg spec.Config) *Map {
	t.Helper()
	tr, err := New(cfg, transforms.Env{Input: inputSchema(t), Now: now, Location: time.UTC})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tr.(*Map)
}

func apply(t testing.TB, b transforms.Batch, in arrow.RecordBatch) []record.Record {
	t.Helper()
	out, err := b.Apply(context.Background(), in)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	defer out.Release()
	rows := make([]record.Record, out.NumRows())
	for i := range rows {
		rows[i] = record.RowRecord(out, i)
	}
	return rows
}

func TestRegistered(t *testing.T) {
	c, _, ok := transforms.Registry.Lookup("map")
	if !ok || c.Kind != spec.KindTransform {
		t.Fatalf("map is not a registered transform: %v %v", c, ok)
	}
}

func TestMapValues(t *testing.T) {
	tests := []struct {
		name  string
		expr  string
		types map[string]any
		typ   string // output field type
		want  []any  // per input row
	}{
		{"rename", "sku", nil, "string", []any{"A1", "B2"}},
		{"string functions", `trim(name) + " | " + upper(brand)`, nil, "string", []any{"Shirt | ACME", "Hat | ZED"}},
		{"split", `split("a > b", " > ")[0] + sku`, nil, "string", []any{"aA1", "aB2"}},
		{"conditional", `qty > 0 ? qty : 0`, nil, "int", []any{int64(3), int64(0)}},
		{"declared int", `qty > 0 ? qty : 0`, map[string]any{"out": "int"}, "int", []any{int64(3), int64(0)}},
		{"int widened to declared float", "qty * 2", map[string]any{"out": "float"}, "float", []any{6.0, -4.0}},
		{"null default", "price ?? 0", nil, "float", []any{10.5, 0.0}},
		{"null passes through", "price", nil, "float", []any{10.5, nil}},
		{"null equality is false", `note == "x"`, nil, "bool", []any{true, false}},
		{"null inequality is true", `note != "x"`, nil, "bool", []any{false, true}},
		{"is null", `note == nil`, nil, "bool", []any{false, true}},
		{"boolean logic", "active && channel_online", nil, "bool", []any{true, false}},
		{"nested conditional", `!active ? "discontinued" : (qty > 0 ? "in_stock" : "out_of_stock")`, nil, "string",
			[]any{"in_stock", "discontinued"}},
		{"now", "now()", nil, "timestamp", []any{now, now}},
		{"time arithmetic", "updated ?? now()", nil, "timestamp", []any{now.Add(-time.Hour), now}},
		{"declared date", "now()", map[string]any{"out": "date"}, "date",
			[]any{time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC)}},
		{"nil result of unknown type", "active ? price : nil", nil, "float", []any{10.5, nil}},
	}
	in := inputBatch(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := map[string]any{}
			if tt.types != nil {
				extra["types"] = tt.types
			}
			m := newMap(t, mapConfig([]field{{"out", tt.expr}}, extra))
			if got := record.TypeName(m.Schema().Field(0).Type); got != tt.typ {
				t.Errorf("type = %s, want %s", got, tt.typ)
			}
			rows := apply(t, m, in)
			for i, r := range rows {
				got := r["out"]
				if gt, ok := got.(time.Time); ok {
					if !gt.Equal(tt.want[i].(time.Time)) {
						t.Errorf("row %d = %v, want %v", i, got, tt.want[i])
					}
					continue
				}
				if !reflect.DeepEqual(got, tt.want[i]) {
					t.Errorf("row %d = %#v, want %#v", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestMapNowUsesLocation(t *testing.T) {
	loc := time.FixedZone("UTC+10", 10*3600)
	late := time.Date(2025, 3, 4, 20, 0, 0, 0, time.UTC) // already March 5th at UTC+10
	cfg := mapConfig([]field{{"day", "now().Day()"}, {"d", "now()"}}, map[string]any{"types": map[string]any{"d": "date"}})
	tr, err := New(cfg, transforms.Env{Input: inputSchema(t), Now: late, Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	rows := apply(t, tr.(*Map), inputBatch(t))
	if rows[0]["day"] != int64(5) {
		t.Errorf("now().Day() = %v, want 5 (the store's date)", rows[0]["day"])
	}
	if d := rows[0]["d"].(time.Time); d.Day() != 5 {
		t.Errorf("date(now()) = %v, want March 5th", d)
	}
}

func TestMapSchemaOrderAndPassthrough(t *testing.T) {
	// Written in this order in the file; deliberately not alphabetical.
	fields := []field{{"title", "name"}, {"price", "price ?? 0"}, {"available", "qty > 0"}, {"sku", "sku"}}
	tests := []struct {
		name  string
		extra map[string]any
		want  []string
	}{
		{"mapped only", nil, []string{"title", "price", "available", "sku"}},
		{"passthrough", map[string]any{"passthrough": true},
			[]string{"title", "price", "available", "sku", "name", "brand", "qty", "active", "channel_online", "note", "updated"}},
		{"passthrough with drop", map[string]any{"passthrough": true, "drop": []any{"note", "updated", "brand"}},
			[]string{"title", "price", "available", "sku", "name", "qty", "active", "channel_online"}},
	}
	in := inputBatch(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMap(t, mapConfig(fields, tt.extra))
			var names []string
			for _, f := range m.Schema().Fields() {
				names = append(names, f.Name)
			}
			if !reflect.DeepEqual(names, tt.want) {
				t.Fatalf("schema = %v, want %v", names, tt.want)
			}
			rows := apply(t, m, in)
			want := record.Record{"title": "  Shirt ", "price": 10.5, "available": true, "sku": "A1"}
			for _, n := range tt.want[len(fields):] {
				want[n] = inputRows[0][n]
			}
			if len(rows[0]) != len(want) {
				t.Fatalf("row 0 = %v, want %v", rows[0], want)
			}
			for k, v := range want {
				got := rows[0][k]
				if tv, ok := v.(time.Time); ok {
					if !tv.Equal(got.(time.Time)) {
						t.Errorf("%s = %v, want %v", k, got, v)
					}
				} else if got != v {
					t.Errorf("%s = %#v, want %#v", k, got, v)
				}
			}
		})
	}
}

func TestMapOrderWithoutPositions(t *testing.T) {
	cfg := spec.Config{Values: map[string]any{"fields": map[string]any{"b": "sku", "a": "name", "c": "brand"}}}
	tr, err := New(cfg, transforms.Env{Input: inputSchema(t), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range tr.Schema().Fields() {
		names = append(names, f.Name)
	}
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(names, want) {
		t.Errorf("schema = %v, want %v (by name)", names, want)
	}
}

func TestMapDiagnostics(t *testing.T) {
	tests := []struct {
		name      string
		expr      spec.Expr
		extra     map[string]any
		code      string
		line, col int
		hint      string
	}{
		{
			name: "unknown field in a single-line expression",
			expr: spec.Expr{Text: `trim(nmae) + brand`, Pos: spec.Pos{Line: 7, Col: 12}},
			code: "expr_unknown_field", line: 7, col: 17, hint: `did you mean "name"?`,
		},
		{
			name: "unknown field in a block expression",
			expr: spec.Expr{Text: "price > 0\n  ? prise\n  : 0\n", Pos: spec.Pos{Line: 10, Col: 7}, Block: true},
			code: "expr_unknown_field", line: 11, col: 11, hint: `did you mean "price"?`,
		},
		{
			name: "unknown field far from every input field",
			expr: spec.Expr{Text: `zzzzzz`, Pos: spec.Pos{Line: 3, Col: 9}},
			code: "expr_unknown_field", line: 3, col: 9, hint: "known fields: sku, name, brand",
		},
		{
			name: "syntax error",
			expr: spec.Expr{Text: "price * (qty", Pos: spec.Pos{Line: 4, Col: 10}},
			code: "expr_compile", line: 4, col: 21, // expr-lang points at the last character
		},
		{
			name: "operand types",
			expr: spec.Expr{Text: "qty + name", Pos: spec.Pos{Line: 4, Col: 10}},
			code: "expr_compile", line: 4, col: 14,
		},
		{
			name:  "declared type mismatch",
			expr:  spec.Expr{Text: "trim(name)", Pos: spec.Pos{Line: 5, Col: 10}},
			extra: map[string]any{"types": map[string]any{"out": "int"}},
			code:  "expr_type_mismatch", line: 5, col: 10,
		},
		{
			name:  "float is not an int",
			expr:  spec.Expr{Text: "price ?? 0", Pos: spec.Pos{Line: 5, Col: 10}},
			extra: map[string]any{"types": map[string]any{"out": "int"}},
			code:  "expr_type_mismatch", line: 5, col: 10,
		},
		{
			name: "type cannot be inferred",
			expr: spec.Expr{Text: "note ?? 1", Pos: spec.Pos{Line: 6, Col: 10}},
			code: "expr_type_unknown", line: 6, col: 10, hint: "types",
		},
		{
			name:  "types names a field that is not mapped",
			expr:  spec.Expr{Text: "sku", Pos: spec.Pos{Line: 6, Col: 10}},
			extra: map[string]any{"types": map[string]any{"ot": "int"}},
			code:  "unknown_field", line: 8, col: 5, hint: `did you mean "out"?`,
		},
		{
			name:  "drop without passthrough",
			expr:  spec.Expr{Text: "sku", Pos: spec.Pos{Line: 6, Col: 10}},
			extra: map[string]any{"drop": []any{"note"}},
			code:  "drop_needs_passthrough", line: 8, col: 5,
		},
		{
			name:  "drop names an unknown field",
			expr:  spec.Expr{Text: "sku", Pos: spec.Pos{Line: 6, Col: 10}},
			extra: map[string]any{"passthrough": true, "drop": []any{"notes"}},
			code:  "unknown_field", line: 8, col: 5, hint: `did you mean "note"?`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values := map[string]any{"fields": map[string]any{"out": tt.expr}}
			for k, v := range tt.extra {
				values[k] = v
			}
			cfg := spec.Config{Pos: spec.Pos{Line: 8, Col: 5, Path: "/transforms/0"}, Values: values}
			_, err := New(cfg, transforms.Env{Input: inputSchema(t), Now: now})
			var ds spec.Diagnostics
			if !errors.As(err, &ds) || len(ds) != 1 {
				t.Fatalf("err = %v, want one diagnostic", err)
			}
			d := ds[0]
			if d.Code != tt.code || d.Line != tt.line || d.Col != tt.col {
				t.Errorf("got %s at %d:%d, want %s at %d:%d (%v)", d.Code, d.Line, d.Col, tt.code, tt.line, tt.col, d)
			}
			if !strings.Contains(d.Hint, tt.hint) {
				t.Errorf("hint = %q, want it to contain %q", d.Hint, tt.hint)
			}
		})
	}
}

func TestMapReportsAllDiagnostics(t *testing.T) {
	cfg := mapConfig([]field{{"a", "nope"}, {"b", "sku"}, {"c", "qty +"}}, nil)
	_, err := New(cfg, transforms.Env{Input: inputSchema(t), Now: now})
	var ds spec.Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("err = %v, want diagnostics", err)
	}
	var codes []string
	for _, d := range ds {
		codes = append(codes, d.Code)
	}
	if want := []string{"expr_unknown_field", "expr_compile"}; !reflect.DeepEqual(codes, want) {
		t.Errorf("codes = %v, want %v", codes, want)
	}
}

func TestMapRowErrors(t *testing.T) {
	tests := []struct {
		name  string
		expr  string
		types map[string]any
		row   int
		msg   string
	}{
		{"arithmetic on NULL", "price + 1", nil, 1, "NULL"},
		{"function of NULL", "upper(note)", nil, 1, "NULL"},
		{"wrong dynamic type", `active ? qty : name`, map[string]any{"out": "int"}, 1, "gave a string, want an int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := map[string]any{}
			if tt.types != nil {
				extra["types"] = tt.types
			}
			m := newMap(t, mapConfig([]field{{"ok", "sku"}, {"out", tt.expr}}, extra))
			_, err := m.Apply(context.Background(), inputBatch(t))
			var re *transforms.RowError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a RowError", err)
			}
			if re.Row != tt.row || re.Field != "out" {
				t.Errorf("row %d field %q, want row %d field out", re.Row, re.Field, tt.row)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestMapRuntimeErrorPosition(t *testing.T) {
	m := newMap(t, mapConfig([]field{{"out", "qty * 2 + price"}}, nil))
	_, err := m.Apply(context.Background(), inputBatch(t))
	if err == nil || !strings.Contains(err.Error(), "(at 10:") {
		t.Errorf("err = %v, want the expression's position on line 10", err)
	}
}

func TestMapCloneConcurrent(t *testing.T) {
	m := newMap(t, mapConfig([]field{
		{"title", `trim(name) + " | " + brand`}, {"price", "price ?? 0"}, {"qty", "qty > 0 ? qty : 0"},
	}, map[string]any{"passthrough": true}))
	in := inputBatch(t)
	want := apply(t, m, in)
	var wg sync.WaitGroup
	results := make([][]record.Record, 2)
	for g := range results {
		c := m.Clone()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				out, err := c.Apply(context.Background(), in)
				if err != nil {
					t.Error(err)
					return
				}
				rows := make([]record.Record, out.NumRows())
				for i := range rows {
					rows[i] = record.RowRecord(out, i)
				}
				out.Release()
				results[g] = rows
			}
		}()
	}
	wg.Wait()
	for g, rows := range results {
		if !reflect.DeepEqual(rows, want) {
			t.Errorf("goroutine %d: %v, want %v", g, rows, want)
		}
	}
}

func TestMapCancelled(t *testing.T) {
	m := newMap(t, mapConfig([]field{{"sku", "sku"}}, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Apply(ctx, inputBatch(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestMapCopiesFieldsAsIs(t *testing.T) {
	m := newMap(t, mapConfig([]field{{"id", "sku"}, {"q", "qty"}, {"t", "updated"}, {"n", "trim(name)"}},
		map[string]any{"types": map[string]any{"q": "float"}}))
	in := inputBatch(t)
	out, err := m.Apply(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	// sku and updated are of their output's type: their columns are shared; qty widened to a float is not.
	if out.Column(0) != in.Column(0) || out.Column(2) != in.Column(8) || out.Column(1) == in.Column(4) {
		t.Error("want the columns of id and t shared with the input, q converted")
	}
	want := []record.Record{
		{"id": "A1", "q": 3.0, "t": inputRows[0]["updated"], "n": "Shirt"},
		{"id": "B2", "q": -2.0, "t": nil, "n": "Hat"},
	}
	for i, w := range want {
		got := record.RowRecord(out, i)
		if ts, ok := w["t"].(time.Time); ok && !ts.Equal(got["t"].(time.Time)) {
			t.Errorf("row %d: t = %v, want %v", i, got["t"], ts)
		}
		delete(got, "t")
		delete(w, "t")
		if !reflect.DeepEqual(got, w) {
			t.Errorf("row %d = %v, want %v", i, got, w)
		}
	}
}
