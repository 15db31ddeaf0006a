package rowexpr

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/spec"
)

// sqlNow is microsecond-exact, so now() compares exactly in SQL.
var sqlNow = time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)

func compileSem(t *testing.T, text string, now time.Time) *Program {
	t.Helper()
	p, err := NewCompiler(semSchema, now, time.FixedZone("store", -7*3600)).Compile(spec.Expr{Text: text})
	if err != nil {
		t.Fatalf("compile %q: %v", text, err)
	}
	return p
}

// nullErr is the guard of a NULL operand in the tests' translations.
func nullErr(op string) string { return "error('possync: L: " + op + " of NULL')" }

func TestSQLValueText(t *testing.T) {
	wrap := func(h string) string {
		return "CAST(((((" + h + ") + " + huge2p63 + ") % " + huge2p64 + " + " + huge2p64 + ") % " + huge2p64 + ") - " +
			huge2p63 + " AS BIGINT)"
	}
	tests := []struct{ text, typ, want string }{
		{"s", TypeString, `CAST("s" AS VARCHAR)`},
		{"i", TypeFloat, `CAST("i" AS DOUBLE)`},
		{"1.5", TypeFloat, `CAST(CAST('1.5' AS DOUBLE) AS DOUBLE)`},
		{"1 / 0", TypeFloat, `CAST(CAST('+Inf' AS DOUBLE) AS DOUBLE)`}, // folded by expr-lang
		{`"it's"`, TypeString, `CAST('it''s' AS VARCHAR)`},
		{"nil", TypeDate, `CAST(NULL AS DATE)`},
		{"s == nil", TypeBool, `CAST(("s" IS NULL) AS BOOLEAN)`},
		{`s != "x"`, TypeBool, `CAST((NOT ("s" IS NOT DISTINCT FROM 'x')) AS BOOLEAN)`},
		{"f == f2", TypeBool, `CAST(CASE WHEN "f" IS NOT DISTINCT FROM "f2" THEN NOT coalesce(isnan("f"), false) ELSE false END AS BOOLEAN)`},
		{"len(s) == 2", TypeBool, `CAST((length(coalesce("s", ` + nullErr("len") + `)) = CAST(2 AS BIGINT)) AS BOOLEAN)`},
		{"b && b2", TypeBool, `CAST(CASE WHEN coalesce("b", ` + nullErr("&&") + `) THEN "b2" ELSE false END AS BOOLEAN)`},
		{"b || true", TypeBool, `CAST(true AS BOOLEAN)`}, // folded: b is not evaluated
		{"b && true", TypeBool, `CAST("b" AS BOOLEAN)`},  // folded to b: a nil b is a NULL result, not a failure
		{"!b", TypeBool, `CAST((NOT coalesce("b", ` + nullErr("!") + `)) AS BOOLEAN)`},
		{`b ? s : "x"`, TypeString, `CAST(CASE WHEN coalesce("b", ` + nullErr("?:") + `) THEN "s" ELSE 'x' END AS VARCHAR)`},
		{`s ?? "d"`, TypeString, `CAST(coalesce("s", 'd') AS VARCHAR)`},
		{`"d" ?? s`, TypeString, `CAST('d' AS VARCHAR)`},
		{"i ?? 0.5", TypeFloat, `CAST(coalesce("i", CAST('0.5' AS DOUBLE)) AS DOUBLE)`},
		{"f < f2", TypeBool, `CAST(CASE WHEN (coalesce("f", ` + nullErr("<") + `) < coalesce("f2", ` + nullErr("<") +
			`)) THEN NOT isnan(coalesce("f2", ` + nullErr("<") + `)) ELSE false END AS BOOLEAN)`},
		{"i >= 0", TypeBool, `CAST((coalesce("i", ` + nullErr(">=") + `) >= CAST(0 AS BIGINT)) AS BOOLEAN)`},
		{"i + 1", TypeInt, `CAST(` + wrap(`CAST(coalesce("i", `+nullErr("+")+`) AS HUGEINT) + CAST(CAST(1 AS BIGINT) AS HUGEINT)`) + ` AS BIGINT)`},
		{"f * i", TypeFloat, `CAST((CAST(coalesce("f", ` + nullErr("*") + `) AS DOUBLE) * CAST(coalesce("i", ` + nullErr("*") + `) AS DOUBLE)) AS DOUBLE)`},
		{"i / 2", TypeFloat, `CAST((CAST(coalesce("i", ` + nullErr("/") + `) AS DOUBLE) / CAST(CAST(2 AS BIGINT) AS DOUBLE)) AS DOUBLE)`},
		{"i % 2", TypeInt, `CAST(coalesce(CAST(CAST(coalesce("i", ` + nullErr("%") + `) AS HUGEINT) % CAST(CAST(2 AS BIGINT) AS HUGEINT) AS BIGINT), error('possync: L: integer divide by zero')) AS BIGINT)`},
		{`s + "!"`, TypeString, `CAST((coalesce("s", ` + nullErr("+") + `) || '!') AS VARCHAR)`},
		{`s startsWith "a"`, TypeBool, `CAST(coalesce(starts_with("s", 'a'), false) AS BOOLEAN)`},
		{`hasSuffix(s, "a")`, TypeBool, `CAST(ends_with(coalesce("s", ` + nullErr("hasSuffix") + `), 'a') AS BOOLEAN)`},
		{`s in ["b", "a"]`, TypeBool, `CAST((coalesce("s", '') IN ('a', 'b')) AS BOOLEAN)`},
		{"i in [2, 1]", TypeBool, `CAST(coalesce(("i" IN (CAST(1 AS BIGINT), CAST(2 AS BIGINT))), false) AS BOOLEAN)`},
		{`split(s, " > ")[0]`, TypeString, `CAST(split_part(coalesce("s", ` + nullErr("split") + `), ' > ', 1) AS VARCHAR)`},
		{`split(s, ",")[-1]`, TypeString, `CAST(coalesce(list_extract(string_split(coalesce("s", ` + nullErr("split") +
			`), ','), -1), error('possync: L: split: index out of range')) AS VARCHAR)`},
		{"lower(s)", TypeString, `CAST(lower(coalesce("s", ` + nullErr("lower") + `)) AS VARCHAR)`},
		{"max(i, i2)", TypeInt, `CAST(greatest(coalesce("i", ` + nullErr("max") + `), coalesce("i2", ` + nullErr("max") + `)) AS BIGINT)`},
		{"min(f)", TypeFloat, `CAST("f" AS DOUBLE)`},
		{"now()", TypeTimestamp, `CAST(CAST('2025-03-04 05:06:07.123456+00' AS TIMESTAMPTZ) AS TIMESTAMPTZ)`},
		{"d ?? d", TypeDate, `CAST(coalesce("d", "d") AS DATE)`},
	}
	for _, tt := range tests {
		got, ok := compileSem(t, tt.text, sqlNow).SQLValue(tt.typ, "L")
		if !ok || got != tt.want {
			t.Errorf("SQLValue(%q, %s) = %v,\n  %s\nwant\n  %s", tt.text, tt.typ, ok, got, tt.want)
		}
	}
}

func TestSQLValueNotTranslatable(t *testing.T) {
	tests := []struct{ text, typ string }{
		{`s matches "a"`, TypeBool},      // Go and DuckDB regular expressions differ
		{"i ** 2", TypeFloat},            // math.Pow and DuckDB's pow may differ in the last bit
		{"string(i)", TypeString},        // not in the subset
		{"int(s)", TypeInt},              // not in the subset
		{"t.Year()", TypeInt},            // methods
		{"d < t", TypeBool},              // DuckDB would compare in the session's time zone
		{"d ?? t", TypeTimestamp},        // the same
		{"d", TypeTimestamp},             // the same
		{"t", TypeDate},                  // the same
		{"(i ?? 1.5) + 1", TypeFloat},    // int arithmetic on some rows, float on others
		{"b ? i : f", TypeInt},           // a float does not fit an int field
		{"i in [1, 2.5]", TypeBool},      // BIGINT compared as DOUBLE would lose precision
		{`split(s, "")[0]`, TypeString},  // Go splits "" into no parts, DuckDB into one
		{`split(s, ",")[i]`, TypeString}, // index not a literal
		{`split(s, s2)[0]`, TypeString},  // separator not a literal
		{`$env["s"]`, TypeString},        // the environment
		{"let x = s; x", TypeString},     // variables
		{"s[0:2]", TypeString},           // slices
		{`trim(s, "x")`, TypeString},     // only trim of spaces
		{`s in [s2, "x"]`, TypeBool},     // a list that is not constant
		{"max(i, f)", TypeFloat},         // max keeps the type of the winner
		{"repeat(s, 2)", TypeString},     // not in the subset
		{`s == "x"`, TypeString},         // declared type does not fit
		{"s", TypeInt},                   // the same
		{"i ?? 1.5", TypeInt},            // the same
		{`"\u0000"`, TypeString},         // DuckDB cannot hold NUL in SQL text
		{"len([1, 2])", TypeInt},         // arrays
		{`{"a": 1}.a`, TypeInt},          // maps
		{"i", "decimal"},                 // not a field type
	}
	for _, tt := range tests {
		if got, ok := compileSem(t, tt.text, sqlNow).SQLValue(tt.typ, "L"); ok {
			t.Errorf("SQLValue(%q, %s) = %s, want not translatable", tt.text, tt.typ, got)
		}
	}
}

func TestSQLNowComparesOnlyWhenExact(t *testing.T) {
	ns := sqlNow.Add(500 * time.Nanosecond)
	if got, ok := compileSem(t, "now()", ns).SQLValue(TypeTimestamp, "L"); !ok || !strings.Contains(got, "05:06:07.123456+00") {
		t.Errorf("now() with nanoseconds = %v %s, want it rounded down to the microsecond as a field stores it", ok, got)
	}
	for _, text := range []string{"t < now()", "t == now()", "(t ?? now()) > t"} {
		if _, ok := compileSem(t, text, ns).SQLValue(TypeBool, "L"); ok {
			t.Errorf("%q with a now() of nanoseconds translates, want not: the comparison would be inexact", text)
		}
		if _, ok := compileSem(t, text, sqlNow).SQLValue(TypeBool, "L"); !ok {
			t.Errorf("%q with a microsecond now() does not translate", text)
		}
	}
}

func TestSQLCondition(t *testing.T) {
	tests := []struct{ text, want string }{
		{"b", `coalesce("b", error('possync: L: the expression is NULL, want a bool'))`},
		{"i > 0", `(coalesce("i", ` + nullErr(">") + `) > CAST(0 AS BIGINT))`},
		{"s == nil", `("s" IS NULL)`},
	}
	for _, tt := range tests {
		if got, ok := compileSem(t, tt.text, sqlNow).SQLCondition("L"); !ok || got != tt.want {
			t.Errorf("SQLCondition(%q) = %v %s, want %s", tt.text, ok, got, tt.want)
		}
	}
	for _, text := range []string{"i", `s ?? "x"`, "nil"} {
		if got, ok := compileSem(t, text, sqlNow).SQLCondition("L"); ok {
			t.Errorf("SQLCondition(%q) = %s, want not translatable (not a bool)", text, got)
		}
	}
}

func TestSQLOnlyCanonicalColumns(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
		{Name: `we"ird`, Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "Name", Type: arrow.BinaryTypes.String, Nullable: true}, // the same column to DuckDB
	}, nil)
	c := NewCompiler(schema, sqlNow, nil)
	for _, tt := range []struct{ text, typ string }{
		{"i32", TypeInt}, {"ts", TypeTimestamp}, {`$env["we\"ird"]`, TypeString}, {"name", TypeString},
	} {
		p, err := c.Compile(spec.Expr{Text: tt.text})
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := p.SQLValue(tt.typ, "L"); ok {
			t.Errorf("SQLValue(%q) = %s, want not translatable", tt.text, got)
		}
	}
	if got, ok := SQLIdent(`we"ird`); !ok || got != `"we""ird"` {
		t.Errorf(`SQLIdent(we"ird) = %v %s`, ok, got)
	}
	if _, ok := SQLIdent("a\x00b"); ok {
		t.Error("SQLIdent of a name with NUL is ok")
	}
}

func TestSQLLabelIsQuoted(t *testing.T) {
	got, ok := compileSem(t, "-i", sqlNow).SQLValue(TypeInt, "map field it's")
	if !ok || !strings.Contains(got, "error('possync: map field it''s: - of NULL')") {
		t.Errorf("SQLValue = %v %s, want the label quoted in error()", ok, got)
	}
}

func TestSQLSizeIsBounded(t *testing.T) {
	text := "max(f, f2" + strings.Repeat(", f, f2", 8) + ")"
	if _, ok := compileSem(t, text, sqlNow).SQLValue(TypeFloat, "L"); ok {
		t.Errorf("%s translates, want not: its SQL repeats operands past the bound", text)
	}
}

func TestGoSpacesIsUnicodeIsSpace(t *testing.T) {
	var want []string
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if unicode.IsSpace(r) {
			want = append(want, "chr("+strconv.Itoa(int(r))+")")
		}
	}
	if got := goSpaces(); got != "("+strings.Join(want, " || ")+")" {
		t.Errorf("goSpaces() = %s, want the %d runes unicode.IsSpace reports", got, len(want))
	}
}
