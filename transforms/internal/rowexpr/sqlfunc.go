package rowexpr

import (
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/expr-lang/expr/ast"
)

// builtin translates the expr-lang builtins whose DuckDB counterparts give the same results: len (runes,
// like DuckDB's length), trim (Go's Unicode spaces, passed to DuckDB's trim), upper (DuckDB upper-cases ß to
// ẞ, Go keeps it), lower, abs, max, min, hasPrefix, hasSuffix. All fail on a nil argument, except max and
// min of one argument, which return it as is.
func (tr *translator) builtin(x *ast.BuiltinNode, stored bool) (sqlExpr, bool) {
	if (x.Name == "max" || x.Name == "min") && len(x.Arguments) == 1 {
		return tr.node(x.Arguments[0], stored)
	}
	args := make([]sqlExpr, len(x.Arguments))
	guarded := make([]string, len(x.Arguments))
	for i, a := range x.Arguments {
		e, ok := tr.node(a, false)
		if !ok || e.typ == sqlNull || e.typ == sqlNumber {
			return no, false
		}
		args[i], guarded[i] = e, tr.guard(e, x.Name)
	}
	switch {
	case x.Name == "len" && allOf(args, sqlVarchar, 1):
		return sqlExpr{text: "length(" + guarded[0] + ")", typ: sqlBigint}, true
	case x.Name == "trim" && allOf(args, sqlVarchar, 1):
		// DuckDB's trim with a set of characters is slow (it builds the set per row): a string that starts and
		// ends with printable ASCII, most of them, has nothing to trim.
		s := guarded[0]
		return sqlExpr{text: "CASE WHEN unicode(" + s + ") BETWEEN 33 AND 126 AND unicode(right(" + s +
			", 1)) BETWEEN 33 AND 126 THEN " + s + " ELSE trim(" + s + ", " + goSpaces() + ") END", typ: sqlVarchar}, true
	case x.Name == "upper" && allOf(args, sqlVarchar, 1):
		s := guarded[0]
		return sqlExpr{text: "CASE WHEN contains(" + s + ", 'ß') THEN array_to_string(list_transform(string_split(" + s +
			", 'ß'), lambda possync_part: upper(possync_part)), 'ß') ELSE upper(" + s + ") END", typ: sqlVarchar}, true
	case x.Name == "lower" && allOf(args, sqlVarchar, 1):
		return sqlExpr{text: "lower(" + guarded[0] + ")", typ: sqlVarchar}, true
	case x.Name == "hasPrefix" && allOf(args, sqlVarchar, 2):
		return sqlExpr{text: "starts_with(" + guarded[0] + ", " + guarded[1] + ")", typ: sqlBoolean}, true
	case x.Name == "hasSuffix" && allOf(args, sqlVarchar, 2):
		return sqlExpr{text: "ends_with(" + guarded[0] + ", " + guarded[1] + ")", typ: sqlBoolean}, true
	case x.Name == "abs" && allOf(args, sqlBigint, 1):
		return sqlExpr{text: wrapInt("abs(CAST(" + guarded[0] + " AS HUGEINT))"), typ: sqlBigint}, true
	case x.Name == "abs" && allOf(args, sqlDouble, 1):
		s := guarded[0] // Go keeps -0 and a NaN's sign: x < 0 ? -x : x
		return sqlExpr{text: "CASE WHEN " + s + " < CAST(0 AS DOUBLE) THEN -" + s + " ELSE " + s + " END",
			typ: sqlDouble}, true
	case (x.Name == "max" || x.Name == "min") && allOf(args, sqlBigint, len(args)):
		fn := map[string]string{"max": "greatest", "min": "least"}[x.Name]
		return sqlExpr{text: fn + "(" + strings.Join(guarded, ", ") + ")", typ: sqlBigint}, true
	case (x.Name == "max" || x.Name == "min") && allOf(args, sqlDouble, len(args)):
		return sqlExpr{text: floatMinMax(x.Name, guarded), typ: sqlDouble}, true
	}
	return no, false
}

// allOf reports whether there are n arguments, all of type t.
func allOf(args []sqlExpr, t sqlType, n int) bool {
	if len(args) != n {
		return false
	}
	for _, a := range args {
		if a.typ != t {
			return false
		}
	}
	return true
}

// floatMinMax is Go's max or min of floats: the first argument, replaced by each later one that is greater
// (smaller), where a comparison with NaN is false.
func floatMinMax(name string, args []string) string {
	val := args[0]
	for _, e := range args[1:] {
		better := "CASE WHEN " + val + " < " + e + " THEN NOT isnan(" + e + ") ELSE false END"
		if name == "min" {
			better = "CASE WHEN " + val + " > " + e + " THEN NOT isnan(" + val + ") ELSE false END"
		}
		val = "CASE WHEN " + better + " THEN " + e + " ELSE " + val + " END"
	}
	return val
}

// goSpaces is the set of characters unicode.IsSpace reports (what strings.TrimSpace trims) as a DuckDB
// string expression.
var goSpaces = sync.OnceValue(func() string {
	var chars []string
	for _, r16 := range unicode.White_Space.R16 {
		for r := rune(r16.Lo); r <= rune(r16.Hi); r += rune(r16.Stride) {
			if unicode.IsSpace(r) {
				chars = append(chars, "chr("+strconv.Itoa(int(r))+")")
			}
		}
	}
	for _, r32 := range unicode.White_Space.R32 {
		for r := rune(r32.Lo); r <= rune(r32.Hi); r += rune(r32.Stride) {
			if unicode.IsSpace(r) {
				chars = append(chars, "chr("+strconv.Itoa(int(r))+")")
			}
		}
	}
	return "(" + strings.Join(chars, " || ") + ")"
})

// splitIndex is split(s, sep)[i] with a literal, non-empty separator and a literal index (from the end when
// negative), which fails when the index is out of range.
func (tr *translator) splitIndex(x *ast.MemberNode) (sqlExpr, bool) {
	call, ok := x.Node.(*ast.BuiltinNode)
	if !ok || x.Optional || x.Method || call.Name != "split" || len(call.Arguments) != 2 {
		return no, false
	}
	sep, ok := call.Arguments[1].(*ast.StringNode)
	idx, iok := x.Property.(*ast.IntegerNode)
	if !ok || !iok || sep.Value == "" || idx.Value < -1<<31 || idx.Value > 1<<31 {
		return no, false
	}
	s, ok := tr.node(call.Arguments[0], false)
	q, qok := sqlString(sep.Value)
	if !ok || !qok || s.typ != sqlVarchar {
		return no, false
	}
	g := tr.guard(s, "split")
	if idx.Value == 0 { // strings.Split with a separator has at least one part
		return sqlExpr{text: "split_part(" + g + ", " + q + ", 1)", typ: sqlVarchar}, true
	}
	pos := idx.Value // DuckDB counts from 1, and from -1 at the end like expr-lang
	if pos >= 0 {
		pos++
	}
	return sqlExpr{text: "coalesce(list_extract(string_split(" + g + ", " + q + "), " + strconv.Itoa(pos) + "), " +
		tr.fail("split: index out of range") + ")", typ: sqlVarchar}, true
}

// call translates now(), the run's time.
func (tr *translator) call(x *ast.CallNode) (sqlExpr, bool) {
	id, ok := x.Callee.(*ast.IdentifierNode)
	if !ok || id.Value != "now" || len(x.Arguments) != 0 || tr.c.isField("now") {
		return no, false
	}
	return timestampLit(tr.c.now)
}
