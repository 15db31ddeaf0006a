package rowexpr

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// FuzzCompile feeds arbitrary expression text (as written in a map or filter step) to Compile. It must not
// panic; a refused expression is a *spec.Diagnostic with a code and a message positioned in the pipeline
// file; an accepted one has a known result type (or none), translates to SQL within bounds or not at all, and
// runs over rows with values and with nulls without panicking (a failure is an *EvalError).
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`s == "abc"`, `s + "!"`, "i + 1", "upper(s)", "i ?? -1", "trim(s)", "b && i > 3", "f * 1.2", "d",
		"now()", `date("2026-01-02")`, `t > date("2026-01-01")`, "len(s) > 2 ? s[0:2] : s", `s matches "^a+$"`,
		"int(s)", "float(s)", "string(i)", "i / 0", "i % 0", "-i", "not b", "s in ['a', 'b']", "nil",
		"[1, 2][5]", `{"a": 1}.a`, "unknown_field + 1", "1 +", ")", "\x00", `"\xff"`, "s ?? s ?? s",
		"lower(s) contains 'x'", "round(f)", "abs(i)", "max(i, 2)", "split(s, ',')[1]", "i32 + i", "b == nil",
	} {
		f.Add(s)
	}
	in, err := record.BuildBatch(nil, schema, []record.Record{
		{"s": "abc", "i": int64(300), "f": 2.5, "b": true,
			"t": time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), "d": time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)},
		{},
	})
	if err != nil {
		f.Fatal(err)
	}
	defer in.Release()
	comp := NewCompiler(schema, time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), nil)
	at := spec.Pos{File: "p.yaml", Line: 7, Col: 15, Path: "/transforms/0/fields/x"}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := comp.Compile(spec.Expr{Text: text, Pos: at})
		if err != nil {
			var d *spec.Diagnostic
			if !errors.As(err, &d) {
				t.Fatalf("Compile(%q): error %T %v, want a *spec.Diagnostic", text, err, err)
			}
			if d.Code == "" || d.Message == "" || d.File != "p.yaml" || d.Line < at.Line {
				t.Fatalf("Compile(%q): diagnostic %#v lacks a code, a message or its position", text, d)
			}
			return
		}
		if p.Type != "" && !slices.Contains(record.TypeNames(), p.Type) {
			t.Fatalf("Compile(%q): unknown result type %q", text, p.Type)
		}
		for _, typ := range record.TypeNames() {
			if sql, ok := p.SQLValue(typ, "x"); ok && (sql == "" || len(sql) > maxSQL) {
				t.Fatalf("SQLValue(%q, %s) = %d bytes of SQL", text, typ, len(sql))
			}
		}
		if sql, ok := p.SQLCondition("x"); ok && (sql == "" || len(sql) > maxSQL) {
			t.Fatalf("SQLCondition(%q) = %d bytes of SQL", text, len(sql))
		}
		p.Field()
		// Evaluation: skip what only allocates a lot by design (repeat builds the string it is asked for).
		if len(text) > 200 || strings.Contains(text, "repeat") {
			return
		}
		ev := NewEvaluator(p)
		if err := ev.Bind(in); err != nil {
			t.Fatalf("Bind: %v", err)
		}
		defer ev.Unbind()
		for row := 0; row < int(in.NumRows()); row++ {
			ev.Load(row)
			if _, err := ev.Run(p); err != nil {
				var ee *EvalError
				if !errors.As(err, &ee) || err.Error() == "" {
					t.Fatalf("Run(%q) row %d: error %T %v, want an *EvalError", text, row, err, err)
				}
			}
		}
	})
}
