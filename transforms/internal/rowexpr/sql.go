package rowexpr

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/spec"
)

// SQL translation. A program translates to one DuckDB expression over a relation whose columns are the
// compiler's input fields (same names, the DuckDB types of their field types), giving on every row exactly
// what Run gives, and calling DuckDB's error() on exactly the rows where Run fails. The translation works on
// the program's optimised, type-checked tree (what the VM runs) and covers a subset of expr-lang; anything
// else, or anything whose semantics differ in a way it cannot reproduce, is not translated (ok = false).
//
// NULL: a nil operand of arithmetic, ordering, !, &&/|| (left side), ?: (condition) or a string function
// fails the row, so those operands are guarded with coalesce(x, error(...)) (DuckDB evaluates coalesce's
// later arguments only for the rows where the earlier ones are NULL). Equality, `== nil`, `??`, the string
// operators (false on nil) and `in` (nil is "" for a list of strings) do not fail and are translated with
// their own NULL rule. Short-circuits (&&, ||, ?:) are CASE expressions, whose branches DuckDB evaluates only
// for the rows that select them. AND/OR join only conditions that read the same operands (DuckDB may reorder
// them and skip one), so that each operand is still evaluated on every row.
//
// Numbers: integer +, -, * and unary - wrap around on overflow as in Go (computed in HUGEINT, reduced modulo
// 2^64); % by zero fails; / is float division; float comparisons follow Go's NaN rules (DuckDB orders NaN
// above every number and equal to itself), which needs the DuckDB default ieee_floating_point_ops = true
// for / to give ±Inf and NaN as Go does.
//
// The failure guarantee holds for a query run on its own over all its rows (e.g. CREATE TABLE AS): nested in
// a larger query, DuckDB may drop a column nothing reads, and its error() with it, or merge a filter with
// another one and evaluate it on rows the other removes.

// maxSQL bounds the length of a translation: the NaN and abs rules repeat an operand, and a program whose
// SQL grows past this is left to the Go path.
const maxSQL = 64 << 10

// sqlType is the DuckDB type of a translated expression.
type sqlType uint8

const (
	sqlNull      sqlType = iota // NULL of no type: the nil literal, or a ?: of two nils
	sqlVarchar                  // string
	sqlBigint                   // int
	sqlDouble                   // float
	sqlBoolean                  // bool
	sqlDate                     // date (a time at midnight UTC in expressions)
	sqlTimestamp                // timestamp, TIMESTAMPTZ
	sqlNumber                   // an int on some rows and a float on others (`i ?? 0.5`), as DOUBLE
)

// sqlTypeOf is the DuckDB type of each output field type.
var sqlTypeOf = map[string]sqlType{
	TypeString: sqlVarchar, TypeInt: sqlBigint, TypeFloat: sqlDouble, TypeBool: sqlBoolean, TypeDate: sqlDate,
	TypeTimestamp: sqlTimestamp,
}

func (t sqlType) String() string {
	return [...]string{"NULL", "VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMPTZ", "DOUBLE"}[t]
}

func (t sqlType) numeric() bool { return t == sqlBigint || t == sqlDouble }

// sqlExpr is a translated (sub)expression.
type sqlExpr struct {
	text     string
	typ      sqlType
	nullable bool // NULL on some rows
	isNil    bool // the nil literal: NULL on every row, evaluating nothing
	inexact  bool // holds now() rounded down to the microsecond, so comparing it is not exact
}

// SQLValue returns p as a DuckDB expression of the DuckDB type of field type typ (VARCHAR, BIGINT, DOUBLE,
// BOOLEAN, DATE or TIMESTAMPTZ) whose value on each row of the input relation is what Run gives and
// Appender stores in a field of type typ, and which fails (DuckDB error() with a message naming label) on
// exactly the rows where Run fails. ok is false when p cannot be translated exactly.
func (p *Program) SQLValue(typ, label string) (sql string, ok bool) {
	want, known := sqlTypeOf[typ]
	if !known {
		return "", false
	}
	tr := &translator{c: p.comp, label: label}
	e, ok := tr.node(p.prog.Node(), true)
	if !ok {
		return "", false
	}
	switch {
	case e.typ == want, e.typ == sqlNull:
	case want == sqlDouble && (e.typ == sqlBigint || e.typ == sqlNumber): // Appender stores an int as a float
	default:
		return "", false
	}
	return bounded("CAST(" + e.text + " AS " + want.String() + ")")
}

// SQLCondition returns p, a boolean expression, as a DuckDB condition that is true on exactly the rows
// where Run gives true, false where it gives false, and fails (error()) where Run fails or gives nil. ok is
// false when p cannot be translated exactly.
func (p *Program) SQLCondition(label string) (sql string, ok bool) {
	tr := &translator{c: p.comp, label: label}
	e, ok := tr.node(p.prog.Node(), false)
	if !ok || e.typ != sqlBoolean {
		return "", false
	}
	if e.nullable {
		e.text = "coalesce(" + e.text + ", " + tr.fail("the expression is NULL, want a bool") + ")"
	}
	return bounded(e.text)
}

func bounded(sql string) (string, bool) {
	if len(sql) > maxSQL {
		return "", false
	}
	return sql, true
}

// SQLIdent quotes a field name as a DuckDB identifier; ok is false for a name DuckDB cannot hold.
func SQLIdent(name string) (string, bool) {
	if !sqlSafe(name) {
		return "", false
	}
	return spec.QuoteIdent(name), true
}

// sqlString quotes s as a DuckDB string literal; ok is false for a string DuckDB cannot hold.
func sqlString(s string) (string, bool) {
	if !sqlSafe(s) {
		return "", false
	}
	return spec.QuoteString(s), true
}

// sqlSafe reports whether s can be written in SQL text: valid UTF-8 without NUL.
func sqlSafe(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// columnType is the DuckDB type of an input column as expressions read it, for the field types a pipeline
// stages; ok is false for other Arrow types (their Go values would differ from DuckDB's).
func columnType(t arrow.DataType) (sqlType, bool) {
	switch t.ID() {
	case arrow.STRING:
		return sqlVarchar, true
	case arrow.INT64:
		return sqlBigint, true
	case arrow.FLOAT64:
		return sqlDouble, true
	case arrow.BOOL:
		return sqlBoolean, true
	case arrow.DATE32:
		return sqlDate, true
	case arrow.TIMESTAMP:
		ts := t.(*arrow.TimestampType)
		return sqlTimestamp, ts.Unit == arrow.Microsecond && ts.TimeZone == "UTC"
	}
	return sqlNull, false
}

func intLit(v int64) sqlExpr {
	return sqlExpr{text: "CAST(" + strconv.FormatInt(v, 10) + " AS BIGINT)", typ: sqlBigint}
}

// floatLit writes v exactly: DuckDB parses the shortest representation back to the same float.
func floatLit(v float64) sqlExpr {
	return sqlExpr{text: "CAST('" + strconv.FormatFloat(v, 'g', -1, 64) + "' AS DOUBLE)", typ: sqlDouble}
}

func boolLit(v bool) sqlExpr {
	return sqlExpr{text: strconv.FormatBool(v), typ: sqlBoolean}
}

func stringLit(s string) (sqlExpr, bool) {
	q, ok := sqlString(s)
	return sqlExpr{text: q, typ: sqlVarchar}, ok
}

// timestampLit is t rounded down to the microsecond (as a timestamp field stores it), in UTC.
func timestampLit(t time.Time) (sqlExpr, bool) {
	us := time.UnixMicro(t.UnixMicro()).UTC()
	if us.Year() < 1 || us.Year() > 9999 {
		return sqlExpr{}, false
	}
	return sqlExpr{text: "CAST('" + us.Format("2006-01-02 15:04:05.000000") + "+00' AS TIMESTAMPTZ)",
		typ: sqlTimestamp, inexact: !us.Equal(t)}, true
}

// Two's complement wrapping of a HUGEINT to 64 bits, as Go's int arithmetic does.
const (
	huge2p63 = "CAST('9223372036854775808' AS HUGEINT)"
	huge2p64 = "CAST('18446744073709551616' AS HUGEINT)"
)

// wrapInt reduces h, a HUGEINT expression, to a BIGINT modulo 2^64.
func wrapInt(h string) string {
	return fmt.Sprintf("CAST(((((%s) + %s) %% %s + %s) %% %s) - %s AS BIGINT)",
		h, huge2p63, huge2p64, huge2p64, huge2p64, huge2p63)
}

// translator translates the nodes of one program.
type translator struct {
	c     *Compiler
	label string // names the expression in error messages
}

// fail is a DuckDB expression that fails the query with a message saying what failed.
func (tr *translator) fail(what string) string {
	msg := strings.ToValidUTF8(strings.ReplaceAll("possync: "+tr.label+": "+what, "\x00", ""), "?")
	q, _ := sqlString(msg)
	return "error(" + q + ")"
}

// guard returns e's text, failing the row where e is NULL: expr-lang fails on a nil operand there.
func (tr *translator) guard(e sqlExpr, what string) string {
	if !e.nullable {
		return e.text
	}
	return "coalesce(" + e.text + ", " + tr.fail(what+" of NULL") + ")"
}
