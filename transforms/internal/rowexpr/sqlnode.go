package rowexpr

import (
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/expr-lang/expr/ast"
)

var no = sqlExpr{}

// node translates n. stored is true where n's value is stored as is (the whole expression, and the
// branches of ?? and ?: below it): only there may an int on some rows mix with a float on others, as the
// output converts both to a float, while an operator would compute in different types per row.
func (tr *translator) node(n ast.Node, stored bool) (sqlExpr, bool) {
	switch x := n.(type) {
	case *ast.NilNode:
		return sqlExpr{text: "NULL", typ: sqlNull, nullable: true, isNil: true}, true
	case *ast.IdentifierNode:
		return tr.ident(x)
	case *ast.IntegerNode:
		switch x.Type().Kind() { // the compiler pushes the literal in its checked type
		case reflect.Int, reflect.Int64, reflect.Interface:
			return intLit(int64(x.Value)), true
		case reflect.Float64:
			return floatLit(float64(x.Value)), true
		}
	case *ast.FloatNode:
		if x.Type().Kind() != reflect.Float32 {
			return floatLit(x.Value), true
		}
	case *ast.StringNode:
		return stringLit(x.Value)
	case *ast.BoolNode:
		return boolLit(x.Value), true
	case *ast.UnaryNode:
		return tr.unary(x, stored)
	case *ast.BinaryNode:
		return tr.binary(x, stored)
	case *ast.ConditionalNode:
		return tr.conditional(x, stored)
	case *ast.BuiltinNode:
		return tr.builtin(x, stored)
	case *ast.MemberNode:
		return tr.splitIndex(x)
	case *ast.CallNode:
		return tr.call(x)
	}
	return no, false
}

// ident is an input field. DuckDB matches names case-insensitively, so a field whose name differs from
// another's only in case cannot be read.
func (tr *translator) ident(x *ast.IdentifierNode) (sqlExpr, bool) {
	var field *arrow.Field
	fields := tr.c.input.Fields()
	for i, f := range fields {
		if strings.EqualFold(f.Name, x.Value) {
			if field != nil {
				return no, false
			}
			field = &fields[i]
		}
	}
	if field == nil || field.Name != x.Value {
		return no, false
	}
	t, ok := columnType(field.Type)
	q, qok := SQLIdent(x.Value)
	return sqlExpr{text: q, typ: t, nullable: true}, ok && qok
}

func (tr *translator) unary(x *ast.UnaryNode, stored bool) (sqlExpr, bool) {
	if x.Operator == "+" { // compiles to nothing: the operand as is, nil included
		return tr.node(x.Node, stored)
	}
	e, ok := tr.node(x.Node, false)
	if !ok {
		return no, false
	}
	switch {
	case (x.Operator == "!" || x.Operator == "not") && e.typ == sqlBoolean:
		return sqlExpr{text: "(NOT " + tr.guard(e, x.Operator) + ")", typ: sqlBoolean}, true
	case x.Operator == "-" && e.typ == sqlBigint:
		return sqlExpr{text: wrapInt("-CAST(" + tr.guard(e, "-") + " AS HUGEINT)"), typ: sqlBigint}, true
	case x.Operator == "-" && e.typ == sqlDouble:
		return sqlExpr{text: "(-" + tr.guard(e, "-") + ")", typ: sqlDouble}, true
	}
	return no, false
}

func (tr *translator) binary(x *ast.BinaryNode, stored bool) (sqlExpr, bool) {
	switch x.Operator {
	case "??":
		return tr.coalesce(x, stored)
	case "in":
		return tr.in(x)
	}
	a, aok := tr.node(x.Left, false)
	b, bok := tr.node(x.Right, false)
	if !aok || !bok {
		return no, false
	}
	switch x.Operator {
	case "==":
		return tr.equal(x, a, b)
	case "!=":
		e, ok := tr.equal(x, a, b)
		e.text = "(NOT " + e.text + ")"
		return e, ok
	case "<", ">", "<=", ">=":
		return tr.order(x.Operator, a, b)
	case "+", "-", "*":
		return tr.arith(x.Operator, a, b)
	case "/":
		if !a.typ.numeric() || !b.typ.numeric() {
			return no, false
		}
		return sqlExpr{text: "(CAST(" + tr.guard(a, "/") + " AS DOUBLE) / CAST(" + tr.guard(b, "/") + " AS DOUBLE))",
			typ: sqlDouble}, true
	case "%":
		if a.typ != sqlBigint || b.typ != sqlBigint {
			return no, false
		}
		// In HUGEINT, as Go's MinInt64 % -1 is 0 where DuckDB's BIGINT overflows; % 0 is NULL in DuckDB.
		return sqlExpr{text: "coalesce(CAST(CAST(" + tr.guard(a, "%") + " AS HUGEINT) % CAST(" + tr.guard(b, "%") +
			" AS HUGEINT) AS BIGINT), " + tr.fail("integer divide by zero") + ")", typ: sqlBigint}, true
	case "&&", "and", "||", "or":
		return tr.logic(x.Operator, a, b)
	case "startsWith", "endsWith", "contains":
		return tr.stringOp(x.Operator, a, b)
	}
	return no, false
}

// equal is == as compiled: an int or string comparison (which fails on nil) between two operands of
// static type int or string, else runtime.Equal, where nil equals only nil, numbers compare as floats
// unless both are ints, and NaN equals nothing.
func (tr *translator) equal(x *ast.BinaryNode, a, b sqlExpr) (sqlExpr, bool) {
	if a.inexact || b.inexact || a.typ == sqlNumber || b.typ == sqlNumber {
		return no, false
	}
	lt, rt := x.Left.Type(), x.Right.Type()
	if lt.Kind() == rt.Kind() && lt.PkgPath() == "" && rt.PkgPath() == "" &&
		(lt.Kind() == reflect.Int || lt.Kind() == reflect.String) {
		if a.typ != b.typ || (a.typ != sqlBigint && a.typ != sqlVarchar) {
			return no, false
		}
		return sqlExpr{text: "(" + tr.guard(a, "==") + " = " + tr.guard(b, "==") + ")", typ: sqlBoolean}, true
	}
	var text string
	switch {
	case a.isNil && b.isNil:
		text = "true"
	case a.isNil:
		text = "(" + b.text + " IS NULL)"
	case b.isNil:
		text = "(" + a.text + " IS NULL)"
	case a.typ == sqlDouble && b.typ == sqlDouble:
		text = "CASE WHEN " + a.text + " IS NOT DISTINCT FROM " + b.text + " THEN NOT coalesce(isnan(" + a.text +
			"), false) ELSE false END"
	case a.typ == b.typ && a.typ != sqlNull, a.typ.numeric() && b.typ.numeric():
		text = "(" + a.text + " IS NOT DISTINCT FROM " + b.text + ")"
	default:
		return no, false
	}
	return sqlExpr{text: text, typ: sqlBoolean}, true
}

// order is an ordering comparison: numbers (as floats unless both are ints), strings byte-wise, dates,
// timestamps. It fails on nil, and is false when either side is NaN.
func (tr *translator) order(op string, a, b sqlExpr) (sqlExpr, bool) {
	switch {
	case a.inexact || b.inexact:
		return no, false
	case a.typ.numeric() && b.typ.numeric():
	case a.typ == b.typ && (a.typ == sqlVarchar || a.typ == sqlDate || a.typ == sqlTimestamp):
	default:
		return no, false
	}
	ga, gb := tr.guard(a, op), tr.guard(b, op)
	cmp := "(" + ga + " " + op + " " + gb + ")"
	// DuckDB orders NaN above every number: x < NaN and x <= NaN are true there, false in Go.
	switch {
	case (op == "<" || op == "<=") && b.typ == sqlDouble:
		cmp = "CASE WHEN " + cmp + " THEN NOT isnan(" + gb + ") ELSE false END"
	case (op == ">" || op == ">=") && a.typ == sqlDouble:
		cmp = "CASE WHEN " + cmp + " THEN NOT isnan(" + ga + ") ELSE false END"
	}
	return sqlExpr{text: cmp, typ: sqlBoolean}, true
}

// arith is +, - or *: string concatenation, int arithmetic wrapping around, or float arithmetic.
func (tr *translator) arith(op string, a, b sqlExpr) (sqlExpr, bool) {
	ga, gb := tr.guard(a, op), tr.guard(b, op)
	switch {
	case op == "+" && a.typ == sqlVarchar && b.typ == sqlVarchar:
		return sqlExpr{text: "(" + ga + " || " + gb + ")", typ: sqlVarchar}, true
	case a.typ == sqlBigint && b.typ == sqlBigint:
		return sqlExpr{text: wrapInt("CAST(" + ga + " AS HUGEINT) " + op + " CAST(" + gb + " AS HUGEINT)"),
			typ: sqlBigint}, true
	case a.typ.numeric() && b.typ.numeric():
		return sqlExpr{text: "(CAST(" + ga + " AS DOUBLE) " + op + " CAST(" + gb + " AS DOUBLE))", typ: sqlDouble}, true
	}
	return no, false
}

// logic is && or ||: the left side must be a bool (nil fails), the right side is the result as is when
// evaluated, nil included.
func (tr *translator) logic(op string, a, b sqlExpr) (sqlExpr, bool) {
	if a.typ != sqlBoolean || (b.typ != sqlBoolean && !b.isNil) {
		return no, false
	}
	cond := tr.guard(a, op)
	text := "CASE WHEN " + cond + " THEN " + b.text + " ELSE false END"
	if op == "||" || op == "or" {
		text = "CASE WHEN " + cond + " THEN true ELSE " + b.text + " END"
	}
	return sqlExpr{text: text, typ: sqlBoolean, nullable: b.nullable}, true
}

// coalesce is ??: the left side unless it is nil, the right side evaluated only then.
func (tr *translator) coalesce(x *ast.BinaryNode, stored bool) (sqlExpr, bool) {
	a, aok := tr.node(x.Left, stored)
	b, bok := tr.node(x.Right, stored)
	switch {
	case !aok || !bok:
		return no, false
	case a.isNil:
		return b, true
	case !a.nullable:
		return a, true
	}
	t, ok := unify(a.typ, b.typ, stored)
	return sqlExpr{text: "coalesce(" + a.text + ", " + b.text + ")", typ: t, nullable: b.nullable,
		inexact: a.inexact || b.inexact}, ok
}

func (tr *translator) conditional(x *ast.ConditionalNode, stored bool) (sqlExpr, bool) {
	c, cok := tr.node(x.Cond, false)
	a, aok := tr.node(x.Exp1, stored)
	b, bok := tr.node(x.Exp2, stored)
	if !cok || !aok || !bok || c.typ != sqlBoolean {
		return no, false
	}
	t, ok := unify(a.typ, b.typ, stored)
	return sqlExpr{text: "CASE WHEN " + tr.guard(c, "?:") + " THEN " + a.text + " ELSE " + b.text + " END", typ: t,
		nullable: a.nullable || b.nullable, inexact: a.inexact || b.inexact}, ok
}

// unify is the type of a value that is of type a on some rows and b on others.
func unify(a, b sqlType, stored bool) (sqlType, bool) {
	switch {
	case a == b:
		return a, true
	case a == sqlNull:
		return b, true
	case b == sqlNull:
		return a, true
	case stored && (a.numeric() || a == sqlNumber) && (b.numeric() || b == sqlNumber):
		return sqlNumber, true
	}
	return sqlNull, false
}

// stringOp is startsWith, endsWith or contains: false when either side is nil.
func (tr *translator) stringOp(op string, a, b sqlExpr) (sqlExpr, bool) {
	if a.typ != sqlVarchar || b.typ != sqlVarchar {
		return no, false
	}
	fn := map[string]string{"startsWith": "starts_with", "endsWith": "ends_with", "contains": "contains"}[op]
	text := fn + "(" + a.text + ", " + b.text + ")"
	if a.nullable || b.nullable {
		text = "coalesce(" + text + ", false)"
	}
	return sqlExpr{text: text, typ: sqlBoolean}, true
}

// in is membership in a list of literals, which the optimiser has made a constant: a set of strings (or
// of ints, for a needle of static type int), where a nil needle is looked up as "" (0), or a list, where
// nil is in nothing and numbers compare as floats unless both are ints.
func (tr *translator) in(x *ast.BinaryNode) (sqlExpr, bool) {
	c, ok := x.Right.(*ast.ConstantNode)
	a, aok := tr.node(x.Left, false)
	if !ok || !aok || a.inexact {
		return no, false
	}
	var items []string
	needle, orFalse := a.text, a.nullable
	switch set := c.Value.(type) {
	case map[string]struct{}:
		if a.typ != sqlVarchar {
			return no, false
		}
		for k := range set {
			q, ok := sqlString(k)
			if !ok {
				return no, false
			}
			items = append(items, q)
		}
		needle, orFalse = "coalesce("+a.text+", '')", false
	case map[int]struct{}:
		if a.typ != sqlBigint {
			return no, false
		}
		for k := range set {
			items = append(items, intLit(int64(k)).text)
		}
		needle, orFalse = "coalesce("+a.text+", CAST(0 AS BIGINT))", false
	case []any:
		for _, v := range set {
			lit, ok := listItem(v, a.typ)
			if !ok {
				return no, false
			}
			items = append(items, lit)
		}
	default:
		return no, false
	}
	slices.Sort(items)
	text := "(" + needle + " IN (" + strings.Join(items, ", ") + "))"
	if orFalse {
		text = "coalesce(" + text + ", false)"
	}
	return sqlExpr{text: text, typ: sqlBoolean}, true
}

// listItem is an item of a literal list compared to a needle of type t: of the same type, or any number
// with a float needle (compared as floats in both). A NaN item would equal a NaN needle in DuckDB.
func listItem(v any, t sqlType) (string, bool) {
	switch x := v.(type) {
	case int:
		if t == sqlBigint {
			return intLit(int64(x)).text, true
		}
		if t == sqlDouble {
			return floatLit(float64(x)).text, true
		}
	case float64:
		if t == sqlDouble && x == x {
			return floatLit(x).text, true
		}
	case bool:
		if t == sqlBoolean {
			return strconv.FormatBool(x), true
		}
	}
	return "", false
}
