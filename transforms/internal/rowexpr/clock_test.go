package rowexpr

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// TestReadsClock decides from the syntax tree: a call of now() however spaced, broken over lines, commented
// or nested counts; "now(" in a string literal, a method called now and the clock-free date() and duration()
// do not. Each expression that compiles is also run at two evaluation times a year apart, and gives
// different results exactly when ReadsClock says it reads the clock, so the decision is the compiler's.
func TestReadsClock(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	in, err := record.BuildBatch(nil, sch, []record.Record{
		{"s": "abc", "i": int64(300), "t": time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Release()
	run := func(text string, now time.Time) any {
		t.Helper()
		p, err := NewCompiler(sch, now, nil).Compile(spec.Expr{Text: text})
		if err != nil {
			t.Fatalf("compile %q: %v", text, err)
		}
		ev := NewEvaluator(p)
		if err := ev.Bind(in); err != nil {
			t.Fatal(err)
		}
		defer ev.Unbind()
		ev.Load(0)
		v, err := ev.Run(p)
		if err != nil {
			t.Fatalf("run %q: %v", text, err)
		}
		return v
	}
	before, after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

	for _, c := range []struct {
		text      string
		want      bool
		parseOnly bool // does not compile against the schema
	}{
		{text: `now() >= t`, want: true},
		{text: `now ()  >= t`, want: true},
		{text: "now\n(\n) >= t", want: true},
		{text: `now(/* the run's time */) >= t`, want: true},
		{text: `t <= now ( )`, want: true},
		{text: `now().Year()`, want: true},
		{text: `upper(trim(string(now().Year())))`, want: true},
		{text: `i < 0 ? s : string(now().Year())`, want: true},
		{text: `map([1, 2], now().Year() + #)[0]`, want: true},
		{text: `(s ?? "") + "@" + now().Format("2006")`, want: true},
		{text: `"now(" + s`},
		{text: `s == "now()"`},
		{text: `'now ()' + s`},
		{text: "`now()` + s"},
		{text: "// now()\ns"},
		{text: `s + "/* now() */"`},
		{text: `date("2026-06-01") < t`},
		{text: `t + duration("1h") > date("2026-06-01 00:00:00")`},
		{text: `upper(s)`},
		{text: `x.now()`, parseOnly: true},
		{text: `now`, parseOnly: true},
		{text: `nowhere(s)`, parseOnly: true},
	} {
		got, err := ReadsClock(c.text)
		if err != nil || got != c.want {
			t.Errorf("ReadsClock(%q) = %v, %v; want %v", c.text, got, err, c.want)
		}
		if c.parseOnly {
			continue
		}
		if differs := run(c.text, before) != run(c.text, after); differs != c.want {
			t.Errorf("%q gives different results a year apart: %v, but ReadsClock says %v", c.text, differs, c.want)
		}
	}

	// What does not parse, or is over the limits, cannot be told.
	for _, text := range []string{`now(`, `"unclosed`, strings.Repeat("(", maxExprDepth+1) + "1" + strings.Repeat(")", maxExprDepth+1)} {
		if got, err := ReadsClock(text); err == nil {
			t.Errorf("ReadsClock(%.40q) = %v, no error; want one", text, got)
		}
	}
}
