package rowexpr

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
}, nil)

func compile(t *testing.T, text string) *Program {
	t.Helper()
	p, err := NewCompiler(schema, time.Now(), nil).Compile(spec.Expr{Text: text})
	if err != nil {
		t.Fatalf("compile %q: %v", text, err)
	}
	return p
}

func TestInferType(t *testing.T) {
	tests := map[string]string{
		"s": TypeString, "i": TypeInt, "i32": TypeInt, "f": TypeFloat, "b": TypeBool, "t": TypeTimestamp,
		"d": TypeDate, "b ? d : nil": TypeDate, "d ?? t": TypeTimestamp, "d ?? now()": TypeTimestamp, "len(s)": TypeInt, "i * 2": TypeInt, "i + 1.5": TypeFloat, "now()": TypeTimestamp,
		"f ?? 0": TypeFloat, "i ?? 0": TypeInt, "b ? i : 0": TypeInt, "b ? f : i": TypeFloat,
		"b ? s : nil": TypeString, "nil ?? s": TypeString, "b ? (i ?? 1) : f": TypeFloat,
		`s ?? 1`: "", "b ? s : i": "", "nil": "", `{"a": 1}`: "", "[1, 2]": "",
	}
	for text, want := range tests {
		if got := compile(t, text).Type; got != want {
			t.Errorf("type of %q = %q, want %q", text, got, want)
		}
	}
}

func TestCompatible(t *testing.T) {
	tests := []struct {
		declared, inferred string
		want               bool
	}{
		{TypeInt, TypeInt, true}, {TypeFloat, TypeInt, true}, {TypeInt, TypeFloat, false},
		{TypeDate, TypeTimestamp, true}, {TypeString, TypeInt, false}, {TypeBool, "", true},
		{TypeTimestamp, TypeString, false}, {TypeTimestamp, TypeDate, true},
	}
	for _, tt := range tests {
		if got := Compatible(tt.declared, tt.inferred); got != tt.want {
			t.Errorf("Compatible(%s, %s) = %v, want %v", tt.declared, tt.inferred, got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"price", "sku", "channel_online"}
	tests := map[string]string{
		"prise":         `did you mean "price"?`,
		"Price":         `did you mean "price"?`,
		"channelonline": `did you mean "channel_online"?`,
		"channel":       `did you mean "channel_online"?`, // a prefix, as pipeline keys are suggested
		"x":             "known fields: price, sku, channel_online",
	}
	for name, want := range tests {
		if got := Suggest(name, known); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestEvaluatorLoadsOnlyUsedFields(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"i + f", []string{"f", "i"}},
		{`s == "x" && s != "y"`, []string{"s"}},
		{"1 + 2", []string{}},
		{`$env["i"]`, []string{"s", "i", "i32", "f", "b", "t", "d"}},
	}
	for _, tt := range tests {
		p := compile(t, tt.text)
		if got := append([]string{}, p.uses...); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q uses %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	in, err := record.BuildBatch(nil, arrow.NewSchema(schema.Fields()[:2], nil), []record.Record{
		{"s": "abc", "i": int64(300)},
		{"s": nil, "i": nil},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Release()
	tests := []struct {
		text string
		want []any // per row; an error is matched by substring
	}{
		{`s == "abc"`, []any{true, false}},
		{`s + "!"`, []any{"abc!", errors.New(`NULL`)}},
		{"i + 1", []any{301, errors.New("a field is NULL")}},
		{"upper(s)", []any{"ABC", errors.New("NULL where a string is needed")}},
		{"i ?? -1", []any{int64(300), -1}},
	}
	for _, tt := range tests {
		p := compile(t, tt.text)
		ev := NewEvaluator(p)
		if err := ev.Bind(in); err != nil {
			t.Fatal(err)
		}
		for row, want := range tt.want {
			ev.Load(row)
			got, err := ev.Run(p)
			if we, ok := want.(error); ok {
				var ee *EvalError
				if !errors.As(err, &ee) || !strings.Contains(ee.Msg, we.Error()) {
					t.Errorf("%q row %d: err = %v, want an EvalError containing %q", tt.text, row, err, we)
				}
				continue
			}
			if err != nil || got != want {
				t.Errorf("%q row %d = %#v, %v; want %#v", tt.text, row, got, err, want)
			}
		}
		ev.Unbind()
		for k, v := range ev.env {
			if v != nil {
				t.Errorf("after Unbind env[%s] = %v, want nil", k, v)
			}
		}
	}
}

func TestBindMissingField(t *testing.T) {
	in, err := record.BuildBatch(nil, arrow.NewSchema(schema.Fields()[:1], nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Release()
	if err := NewEvaluator(compile(t, "i + 1")).Bind(in); err == nil || !strings.Contains(err.Error(), `"i"`) {
		t.Errorf("Bind = %v, want an error naming field i", err)
	}
}
