package rowexpr

import (
	"math"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// semSchema is the input of the semantics tests: two nullable fields of each type.
var semSchema = arrow.NewSchema([]arrow.Field{
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "s2", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "i2", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "f2", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "b2", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
}, nil)

// fails marks an expected evaluation failure.
type fails struct{}

// evalRow compiles text against semSchema and evaluates it on one row.
func evalRow(t *testing.T, text string, row record.Record) (any, error) {
	t.Helper()
	p, err := NewCompiler(semSchema, time.Unix(0, 0), nil).Compile(spec.Expr{Text: text})
	if err != nil {
		t.Fatalf("compile %q: %v", text, err)
	}
	in, err := record.BuildBatch(nil, semSchema, []record.Record{row})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Release()
	ev := NewEvaluator(p)
	if err := ev.Bind(in); err != nil {
		t.Fatal(err)
	}
	defer ev.Unbind()
	ev.Load(0)
	return ev.Run(p)
}

// TestExprSemantics pins the expr-lang behaviours the SQL translation reproduces: which operations fail on
// a NULL (nil) operand and which do not, short-circuiting, and integer and float corner cases. All fields
// are NULL unless the row sets them.
func TestExprSemantics(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		text string
		row  record.Record
		want any // a value, or fails{}
	}{
		// Reading, comparing to nil, ?? and the patched equality never fail.
		{"s", nil, nil},
		{"s == nil", nil, true},
		{"s != nil", nil, false},
		{`s == "x"`, nil, false},
		{`s != "x"`, nil, true},
		{"s == s2", nil, true},
		{"i == 1", nil, false},
		{"f == f2", record.Record{"f": nan, "f2": nan}, false},
		{"f != f", record.Record{"f": nan}, true},
		{"i == f", record.Record{"i": int64(2), "f": 2.0}, true},
		{`s ?? "d"`, nil, "d"},
		{"+i", nil, nil},
		// Arithmetic, ordering, boolean logic and string functions fail on nil.
		{"i + 1", nil, fails{}},
		{"-i", nil, fails{}},
		{"f / 2", nil, fails{}},
		{"i % 2", nil, fails{}},
		{`s + "x"`, nil, fails{}},
		{"i < 1", nil, fails{}},
		{`s >= "a"`, nil, fails{}},
		{"!b", nil, fails{}},
		{"b && true", nil, nil},  // the optimizer folds `x && true` to x
		{"b || true", nil, true}, // ... and `x || true` to true
		{"b && b2", nil, fails{}},
		{"b || b2", nil, fails{}},
		{"b ? 1 : 2", nil, fails{}},
		{"trim(s)", nil, fails{}},
		{"upper(s)", nil, fails{}},
		{"lower(s)", nil, fails{}},
		{"len(s)", nil, fails{}},
		{`split(s, ",")[0]`, nil, fails{}},
		{"abs(i)", nil, fails{}},
		{"abs(f)", nil, fails{}},
		{`hasPrefix(s, "a")`, nil, fails{}},
		{`hasSuffix(s, "a")`, nil, fails{}},
		{"max(i, i2)", record.Record{"i": int64(1)}, fails{}},
		{"min(f, f2)", record.Record{"f2": 1.0}, fails{}},
		// ... but a one-argument max or min is the argument, nil included.
		{"max(i)", nil, nil},
		{"min(f)", nil, nil},
		// The string operators are false on nil.
		{`s startsWith "a"`, nil, false},
		{`s endsWith "a"`, nil, false},
		{`s contains "a"`, nil, false},
		{`"abc" contains s`, nil, false},
		// in: a string needle in a list of string literals is looked up in a set, where nil is "".
		{`s in ["a", ""]`, nil, true},
		{`s in ["a", "b"]`, nil, false},
		{"i in [1, 2]", nil, false},
		{"i in [0]", nil, false},
		{"f in [1, 2.5]", record.Record{"f": 2.5}, true},
		{"i in [1, 2.5]", record.Record{"i": int64(1)}, true},
		{`s not in ["a"]`, nil, true},
		// The right side of && and || may be nil: the result is nil.
		{"b && b2", record.Record{"b": true}, nil},
		{"b || b2", record.Record{"b": false}, nil},
		// Short-circuit: the right side is not evaluated.
		{"b && i > 0", record.Record{"b": false}, false},
		{"b || i > 0", record.Record{"b": true}, true},
		{"b ? i + 1 : 0", record.Record{"b": false}, 0},
		{`s ?? (s2 + "y")`, record.Record{"s": "x"}, "x"},
		// Integers wrap; modulo by zero fails; division is float.
		{"i + 1", record.Record{"i": int64(math.MaxInt64)}, math.MinInt64},
		{"i * 2", record.Record{"i": int64(math.MaxInt64)}, -2},
		{"-i", record.Record{"i": int64(math.MinInt64)}, math.MinInt64},
		{"abs(i)", record.Record{"i": int64(math.MinInt64)}, int64(math.MinInt64)},
		{"i % i2", record.Record{"i": int64(math.MinInt64), "i2": int64(-1)}, 0},
		{"i % i2", record.Record{"i": int64(-7), "i2": int64(3)}, -1},
		{"i % 0", record.Record{"i": int64(7)}, fails{}},
		{"i / 0", record.Record{"i": int64(7)}, math.Inf(1)},
		{"7 / 2", nil, 3.5},
		// Floats: NaN is unordered, abs keeps -0.
		{"f < 1", record.Record{"f": nan}, false},
		{"1 < f", record.Record{"f": nan}, false},
		{"max(f, f2)", record.Record{"f": 1.0, "f2": nan}, 1.0},
		{"max(f, f2)", record.Record{"f": nan, "f2": 1.0}, nan},
		{"1 / abs(f)", record.Record{"f": math.Copysign(0, -1)}, math.Inf(-1)},
		// Strings: len counts runes, upper keeps ß, trim trims Unicode spaces, split indexes from the end.
		{"len(s)", record.Record{"s": "héllo"}, 5},
		{"upper(s)", record.Record{"s": "straße"}, "STRAßE"},
		{"trim(s)", record.Record{"s": "\u00a0\u3000 x\u2028\u0085"}, "x"},
		{`split(s, ",")[-1]`, record.Record{"s": "a,b"}, "b"},
		{`split(s, ",")[2]`, record.Record{"s": "a,b"}, fails{}},
		{`split(s, ",")[0]`, record.Record{"s": ""}, ""},
		{`split(s, "")[0]`, record.Record{"s": ""}, fails{}},
	}
	for _, tt := range tests {
		got, err := evalRow(t, tt.text, tt.row)
		if _, want := tt.want.(fails); want {
			if err == nil {
				t.Errorf("%q on %v = %#v, want a failure", tt.text, tt.row, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q on %v: %v", tt.text, tt.row, err)
			continue
		}
		if !sameValue(got, tt.want) {
			t.Errorf("%q on %v = %#v (%T), want %#v (%T)", tt.text, tt.row, got, got, tt.want, tt.want)
		}
	}
}

// sameValue compares results across integer types, with NaN equal to NaN and -0 distinct from 0.
func sameValue(got, want any) bool {
	if g, ok := asInt(got); ok {
		w, ok := asInt(want)
		return ok && g == w
	}
	if g, ok := got.(float64); ok {
		w, ok := want.(float64)
		return ok && (g == w && math.Signbit(g) == math.Signbit(w) || math.IsNaN(g) && math.IsNaN(w))
	}
	return got == want
}
