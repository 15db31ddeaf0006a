package runner_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/apache/arrow-go/v18/arrow"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
	"github.com/possync/possync/transforms/filter"
	mapt "github.com/possync/possync/transforms/map"
)

// The differential proof of the map and filter pushdown: for every expression of a corpus covering the
// translated subset, the transform's Apply (the Go path) and its PushdownSQL query run by DuckDB over the same
// rows must agree: the same columns of the same types, the same values row by row, and the query must fail
// exactly when Apply fails. Each fixed row is checked on its own (so a failure is pinned to one row); seeded
// random rows are checked in small groups. The DuckDB session runs in a time zone other than UTC, to show
// the translation does not depend on it.

// pdNow is the run's time: microsecond-exact, so comparisons with now() translate.
var pdNow = time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)

// pdColumns is the input of the corpus: a row id, then two nullable fields of each field type.
var pdColumns = [][2]string{
	{"id", "int"}, {"s", "string"}, {"s2", "string"}, {"i", "int"}, {"i2", "int"}, {"f", "float"},
	{"f2", "float"}, {"b", "bool"}, {"b2", "bool"}, {"d", "date"}, {"d2", "date"}, {"t", "timestamp"},
	{"t2", "timestamp"},
}

// pdExpr is an expression of the corpus, with its declared type when it cannot be inferred.
type pdExpr struct{ text, typ string }

// pdCorpus covers every construct the translation supports.
var pdCorpus = []pdExpr{
	// Fields and literals.
	{"s", ""}, {"i", ""}, {"f", ""}, {"b", ""}, {"d", ""}, {"t", ""}, {"nil", "string"}, {"nil", "float"},
	{"1", ""}, {"-5", ""}, {"1.5", ""}, {`"it's"`, ""}, {"true", ""}, {"9223372036854775807", ""},
	{"0.1", ""}, {"1e308 * 10", ""}, {"0 / 0", ""}, {"-0.0", ""}, {"i", "float"}, {"7", "float"},
	// Arithmetic: wrapping ints, float division, modulo.
	{"i + i2", ""}, {"i - i2", ""}, {"i * i2", ""}, {"i + 1", ""}, {"i * 2", ""}, {"-i", ""}, {"+i", ""},
	{"f + f2", ""}, {"f - i", ""}, {"i * f", ""}, {"f * 1.5", ""}, {"i / i2", ""}, {"f / f2", ""},
	{"i / 0", ""}, {"f / 0", ""}, {"i % i2", ""}, {"i % 3", ""}, {"-f", ""}, {"i + i2 * 3 - 1", ""},
	{"(i ?? 0) + 1", "int"}, {"i + i2", "float"},
	// Strings.
	{"s + s2", ""}, {`s + " " + s2`, ""}, {"trim(s)", ""}, {`trim(s) + " | " + s2`, ""}, {"upper(s)", ""},
	{"lower(s)", ""}, {"len(s)", ""}, {"len(trim(s))", ""}, {"upper(trim(s))", ""}, {"lower(upper(s))", ""},
	{`split(s, " > ")[0]`, ""}, {`split(s, ",")[0]`, ""}, {`split(s, ",")[1]`, ""}, {`split(s, ",")[-1]`, ""},
	{`split(s, ",")[-3]`, ""}, {`split(s, "aa")[1]`, ""}, {`split(s, "ß")[0]`, ""}, {`split(s, " > ")[2]`, ""},
	// Comparisons.
	{"i < i2", ""}, {"i <= 3", ""}, {"f > f2", ""}, {"f >= i", ""}, {"f < f2", ""}, {"f <= f2", ""},
	{"i > f", ""}, {"i == i2", ""}, {"f == f2", ""}, {"f != f2", ""}, {"i == f", ""}, {"f == f", ""},
	{"s < s2", ""}, {`s >= "m"`, ""}, {"s == s2", ""}, {`s != "Hello"`, ""}, {"d < d2", ""}, {"d == d2", ""},
	{"t > t2", ""}, {"t == t2", ""}, {"t <= now()", ""}, {"b == b2", ""}, {"s == nil", ""}, {"nil == s", ""},
	{"i != nil", ""}, {"len(s) == 5", ""}, {`(b ? s : "y") == "x"`, ""}, {"1 < i < 5", ""},
	{`(s ?? "x") == "Hello"`, ""},
	// Logic and short circuits: the untaken side would fail on these rows.
	{"b && b2", ""}, {"b || b2", ""}, {"!b", ""}, {"not b2", ""}, {"b && i > 0", ""}, {"b || i > 0", ""},
	{"!(b && b2)", ""}, {"b && true", ""}, {"b || false", ""}, {"i != nil && i > 2", ""},
	{"s == nil || len(s) > 3", ""}, {"b ? i + 1 : 0", ""}, {"b ? s : s2", ""}, {"b ? i : f", ""},
	{"b ? nil : s", ""}, {"b ? 1 : nil", ""}, {`i > 0 ? "pos" : "neg"`, ""},
	// ?? and its type rule.
	{`s ?? "d"`, ""}, {"i ?? 0", ""}, {"f ?? 0", ""}, {"i ?? 1.5", ""}, {`s ?? s2 ?? "z"`, ""},
	{"nil ?? s", ""}, {"s ?? nil", ""}, {"b ?? false", ""}, {"d ?? d2", ""}, {"t ?? now()", ""}, {"now()", ""},
	{`s ?? (s2 + "!")`, ""}, {"b ? (i ?? 0) : (f ?? 1)", ""},
	// String operators, in, and string builtins.
	{`hasPrefix(s, "He")`, ""}, {"hasSuffix(s, s2)", ""}, {`s startsWith "a"`, ""}, {"s endsWith s2", ""},
	{`s contains "ll"`, ""}, {"s contains s2", ""}, {`s in ["Hello", "", "straße"]`, ""},
	{`s not in ["x"]`, ""}, {"i in [1, 3, 9223372036854775807]", ""}, {"f in [1.5, 2, 0]", ""},
	{"b in [true]", ""}, {"len(s) in [0, 5]", ""},
	// Numeric builtins.
	{"abs(i)", ""}, {"abs(f)", ""}, {"max(i, i2)", ""}, {"min(i, i2, 0)", ""}, {"max(f, f2)", ""},
	{"min(f, f2)", ""}, {"max(f, f2, 0.5)", ""}, {"max(i)", ""}, {"min(f)", ""}, {"max(i ?? 0, 1)", "int"},
	{"1 / abs(f)", ""}, {"b || true", ""}, {"(b ? nil : nil) ?? s", ""},
}

func TestPushdownMatchesApply(t *testing.T) {
	db := openPushdownDB(t)
	schema := pdSchema(t, pdColumns)
	fixed := pdFixedRows()
	random := pdRandomRows(rand.New(rand.NewPCG(7, 11)), 128, len(fixed))
	tables := loadPushdownTables(t, db, schema, fixed, random)
	env := transforms.Env{Input: schema, Now: pdNow, Location: time.UTC}
	for _, e := range pdCorpus {
		m := newPushdownMap(t, env, e)
		for _, tb := range tables {
			compareWithApply(t, db, "map "+e.text, m, tb)
		}
		if m.Schema().Field(1).Type.ID() != arrow.BOOL {
			continue
		}
		f := newPushdownFilter(t, env, e.text)
		for _, tb := range tables {
			compareWithApply(t, db, "filter "+e.text, f, tb)
		}
	}
}

// TestPushdownSeveralFieldsMatchApply: maps of several fields, where one expression reads a field on every
// row that another reads on some rows only (a branch of ?:, the right side of &&, || or ??), agree with
// Apply row by row, failing on exactly the rows Apply fails on: a NULL guard of one field's expression must
// not fail rows another field's short circuit skips.
func TestPushdownSeveralFieldsMatchApply(t *testing.T) {
	db := openPushdownDB(t)
	schema := pdSchema(t, pdColumns)
	fixed := pdFixedRows()
	random := pdRandomRows(rand.New(rand.NewPCG(13, 17)), 64, len(fixed))
	tables := loadPushdownTables(t, db, schema, fixed, random)
	env := transforms.Env{Input: schema, Now: pdNow, Location: time.UTC}
	groups := [][]pdExpr{
		{{"b ? i + 1 : 0", ""}, {"i * 2", ""}, {`s ?? "d"`, ""}},
		{{`s ?? (s2 + "!")`, ""}, {"trim(s2)", ""}, {"f > f2", ""}},
		{{"i != nil && i > 2", ""}, {"-i", ""}, {"!b", ""}},
		{{"s == nil || len(s) > 3", ""}, {"upper(s)", ""}, {"b2 && b", ""}},
		{{"b || i > 0", ""}, {`split(s, ",")[1]`, ""}, {"i ?? 0", ""}, {"abs(f)", ""}},
	}
	for _, g := range groups {
		fields := map[string]any{"id": spec.Expr{Text: "id", Pos: spec.Pos{Line: 1, Col: 1}}}
		types := map[string]any{}
		var texts []string
		for i, e := range g {
			name := fmt.Sprintf("v%d", i)
			fields[name] = spec.Expr{Text: e.text, Pos: spec.Pos{Line: i + 2, Col: 1}}
			if e.typ != "" {
				types[name] = e.typ
			}
			texts = append(texts, e.text)
		}
		tr, err := mapt.New(spec.Config{Values: map[string]any{"fields": fields, "types": types}}, env)
		if err != nil {
			t.Fatalf("map %q: %v", texts, err)
		}
		m := tr.(*mapt.Map)
		if _, ok := m.PushdownSQL(`"x"`); !ok {
			t.Fatalf("map %q does not translate", texts)
		}
		for _, tb := range tables {
			compareWithApply(t, db, fmt.Sprintf("map %q", texts), m, tb)
		}
	}
}

// TestPushdownPassthrough checks the passed-through columns come after the mapped ones in input order, and
// that an expression reading a column a mapped field shadows reads the input's column.
func TestPushdownPassthrough(t *testing.T) {
	db := openPushdownDB(t)
	schema := pdSchema(t, pdColumns)
	fixed := pdFixedRows()
	tables := loadPushdownTables(t, db, schema, fixed, pdRandomRows(rand.New(rand.NewPCG(1, 2)), 32, len(fixed)))
	fields := map[string]any{}
	for i, f := range [][2]string{{"id", "id"}, {"s", `upper(s ?? "")`}, {"x", "s"}, {"i", "i2"}} {
		fields[f[0]] = spec.Expr{Text: f[1], Pos: spec.Pos{Line: i + 1, Col: 1}}
	}
	tr, err := mapt.New(spec.Config{Values: map[string]any{"fields": fields, "passthrough": true, "drop": []any{"b2", "d"}}},
		transforms.Env{Input: schema, Now: pdNow, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	m := tr.(*mapt.Map)
	var names []string
	for _, f := range m.Schema().Fields() {
		names = append(names, f.Name)
	}
	if got, want := strings.Join(names, " "), "id s x i s2 i2 f f2 b d2 t t2"; got != want {
		t.Fatalf("output fields %s, want %s", got, want)
	}
	for _, tb := range tables {
		compareWithApply(t, db, "passthrough map", m, tb)
	}
}

// TestPushdownShortCircuitsSkipFailures checks the untaken branch of a short circuit, which would fail
// (split index out of range) on every row, is not evaluated, while the same expression with the branch taken
// fails.
func TestPushdownShortCircuitsSkipFailures(t *testing.T) {
	db := openPushdownDB(t)
	schema := pdSchema(t, pdColumns)
	rows := []record.Record{{"id": int64(0), "s": "a", "b": false, "i": int64(1)}}
	tables := loadPushdownTables(t, db, schema, rows, nil)
	env := transforms.Env{Input: schema, Now: pdNow, Location: time.UTC}
	tests := []struct {
		text  string
		fails bool
	}{
		{`b && split(s, ",")[3] == "x"`, false}, {`!b && split(s, ",")[3] == "x"`, true},
		{`!b || split(s, ",")[3] == "x"`, false}, {`b || split(s, ",")[3] == "x"`, true},
		{`b ? split(s, ",")[3] : s`, false}, {`!b ? split(s, ",")[3] : s`, true},
		{`s ?? split(s, ",")[3]`, false}, {`i > 0 ? s : s2 + "x"`, false}, {`i < 0 ? s : s2 + "x"`, true},
	}
	for _, tt := range tests {
		m := newPushdownMap(t, env, pdExpr{text: tt.text})
		q, _ := m.PushdownSQL(tables[0].name)
		_, _, err := queryAll(db, q)
		if (err != nil) != tt.fails {
			t.Errorf("%s: query error = %v, want failure %v", tt.text, err, tt.fails)
		}
		compareWithApply(t, db, "map "+tt.text, m, tables[0])
	}
}

// benchColumnsPD and benchFieldsPD are the plan benchmark's input and map step (runner/bench_test.go).
var (
	benchColumnsPD = [][2]string{
		{"sku", "string"}, {"upc", "string"}, {"name", "string"}, {"brand", "string"}, {"category", "string"},
		{"price", "float"}, {"sale_price", "float"}, {"qty", "int"}, {"active", "bool"},
		{"channel_online", "bool"}, {"updated_at", "timestamp"},
	}
	benchFieldsPD = [][2]string{
		{"sku", "sku"}, {"upc", "upc"}, {"title", `trim(name) + " | " + brand`}, {"brand", "upper(brand)"},
		{"department", `split(category, " > ")[0]`}, {"price", "price"},
		{"effective_price", "sale_price != nil && sale_price < price ? sale_price : price"}, {"qty", "qty"},
		{"availability", `!active ? "discontinued" : (qty > 0 ? "in_stock" : "out_of_stock")`},
		{"online", "active && channel_online"}, {"updated_at", "updated_at"},
	}
)

// TestPushdownBenchMapping checks the benchmark's whole map step translates, and agrees with Apply on
// catalog-like rows (names to trim, ß and non-ASCII brands, NULL sale prices and flags).
func TestPushdownBenchMapping(t *testing.T) {
	db := openPushdownDB(t)
	schema := pdSchema(t, benchColumnsPD)
	fields := map[string]any{}
	for i, f := range benchFieldsPD {
		fields[f[0]] = spec.Expr{Text: f[1], Pos: spec.Pos{Line: i + 1, Col: 1}}
	}
	tr, err := mapt.New(spec.Config{Values: map[string]any{"fields": fields}},
		transforms.Env{Input: schema, Now: pdNow, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	m := tr.(*mapt.Map)
	if _, ok := m.PushdownSQL(`"x"`); !ok {
		t.Fatal("the benchmark's map step does not translate")
	}
	r := rand.New(rand.NewPCG(3, 5))
	names := []string{"  Trail Shirt ", "Straße Boot", "\u00a0Parka\u3000", "Tent, 2p", "", "Ünïcode ǅ"}
	brands := []string{"Acme", "straße", "Éclair", "ıi", "ǆ"}
	cats := []string{"Outdoor > Tents > 2p", "Shoes", "", " > x", "A > B > C > D"}
	var catalog []record.Record
	for i := range 64 {
		rec := record.Record{"sku": fmt.Sprintf("SK%03d", i), "upc": strconv.Itoa(100000 + i),
			"name": pick(r, names), "brand": pick(r, brands), "category": pick(r, cats),
			"price": float64(r.IntN(10000)) / 100, "qty": int64(r.IntN(20) - 5), "active": r.IntN(4) > 0,
			"channel_online": r.IntN(2) == 0, "updated_at": pdNow.Add(-time.Duration(r.IntN(1e9)) * time.Microsecond)}
		if r.IntN(10) < 7 {
			rec["sale_price"] = float64(r.IntN(10000)) / 100
		}
		if r.IntN(8) == 0 {
			rec["channel_online"] = nil // online is NULL where active, nothing fails
		}
		catalog = append(catalog, rec)
	}
	failing := []record.Record{{"sku": "N", "upc": "1", "name": "x", "brand": nil, "category": "c",
		"price": 1.0, "qty": int64(1), "active": true}} // upper(brand) fails
	tables := loadPushdownTables(t, db, schema, nil, [][]record.Record{catalog, failing})
	for _, tb := range tables {
		compareWithApply(t, db, "bench map", m, tb)
	}
}

// TestPushdownCaseAndSpacesMatchGo compares the translated upper, lower, len and trim with Go's on every
// Unicode code point: DuckDB's own upper differs from Go's on ß, which the translation handles.
func TestPushdownCaseAndSpacesMatchGo(t *testing.T) {
	db := openPushdownDB(t)
	schema := pdSchema(t, [][2]string{{"id", "int"}, {"s", "string"}, {"p", "string"}})
	fields := map[string]any{}
	for i, f := range [][2]string{{"id", "id"}, {"s", "s"}, {"u", "upper(s)"}, {"l", "lower(s)"},
		{"n", "len(s)"}, {"p", "p"}, {"tr", "trim(p)"}} {
		fields[f[0]] = spec.Expr{Text: f[1], Pos: spec.Pos{Line: i + 1, Col: 1}}
	}
	tr, err := mapt.New(spec.Config{Values: map[string]any{"fields": fields}}, transforms.Env{Input: schema})
	if err != nil {
		t.Fatal(err)
	}
	q, ok := tr.(*mapt.Map).PushdownSQL("cps")
	if !ok {
		t.Fatal("upper, lower, len and trim do not translate")
	}
	mustExec(t, db, `CREATE TABLE cps AS SELECT i AS id, chr(i::INTEGER) AS s, chr(i::INTEGER) || 'x' || chr(i::INTEGER) AS p
		FROM range(1, 1114112) r(i) WHERE i < 55296 OR i > 57343`)
	rows, err := db.Query(`SELECT id, u, l, n, tr FROM (` + q + `) WHERE u <> s OR l <> s OR n <> 1 OR tr <> p`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	changed := map[rune][4]any{}
	for rows.Next() {
		var id, n int64
		var u, l, trimmed string
		if err := rows.Scan(&id, &u, &l, &n, &trimmed); err != nil {
			t.Fatal(err)
		}
		changed[rune(id)] = [4]any{u, l, n, trimmed}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for r := rune(1); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		s := string(r)
		p := s + "x" + s
		want := [4]any{strings.ToUpper(s), strings.ToLower(s), int64(1), strings.TrimSpace(p)}
		got, ok := changed[r]
		if !ok {
			got = [4]any{s, s, int64(1), p}
		}
		if got != want {
			t.Errorf("U+%04X: SQL upper, lower, len, trim = %q, want %q", r, got, want)
		}
	}
}

func pick[T any](r *rand.Rand, from []T) T { return from[r.IntN(len(from))] }

// pdTable is a DuckDB table and the same rows as an Arrow batch.
type pdTable struct {
	name  string // quoted
	batch arrow.RecordBatch
}

// openPushdownDB opens an in-memory DuckDB on one connection, in a time zone other than UTC.
func openPushdownDB(t *testing.T) *sql.DB {
	t.Helper()
	c, err := duckdb.NewConnector("", func(execer driver.ExecerContext) error {
		_, err := execer.ExecContext(context.Background(), "SET TimeZone = 'Asia/Kathmandu'", nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func pdSchema(t *testing.T, cols [][2]string) *arrow.Schema {
	t.Helper()
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		typ, err := record.ArrowType(c[1])
		if err != nil {
			t.Fatal(err)
		}
		fields[i] = arrow.Field{Name: c[0], Type: typ, Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// loadPushdownTables creates one table per fixed row and one per group of rows.
func loadPushdownTables(t *testing.T, db *sql.DB, schema *arrow.Schema, fixed []record.Record,
	groups [][]record.Record) []pdTable {
	t.Helper()
	sets := make([][]record.Record, 0, len(fixed)+len(groups))
	for _, r := range fixed {
		sets = append(sets, []record.Record{r})
	}
	sets = append(sets, groups...)
	var tables []pdTable
	for i, set := range sets {
		name := fmt.Sprintf(`"rows_%d"`, len(tables))
		cols := make([]string, schema.NumFields())
		for c, f := range schema.Fields() {
			cols[c] = strconv.Quote(f.Name) + " " + pdDuckType(f.Type)
		}
		mustExec(t, db, "CREATE TABLE "+name+" ("+strings.Join(cols, ", ")+")")
		for _, rec := range set {
			vals := make([]string, schema.NumFields())
			for c, f := range schema.Fields() {
				vals[c] = pdLiteral(t, rec[f.Name])
			}
			mustExec(t, db, "INSERT INTO "+name+" VALUES ("+strings.Join(vals, ", ")+")")
		}
		b, err := record.BuildBatch(nil, schema, set)
		if err != nil {
			t.Fatalf("set %d: %v", i, err)
		}
		t.Cleanup(b.Release)
		tables = append(tables, pdTable{name: name, batch: b})
	}
	return tables
}

func pdDuckType(t arrow.DataType) string {
	return map[string]string{"string": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN",
		"date": "DATE", "timestamp": "TIMESTAMPTZ"}[record.TypeName(t)]
}

// pdLiteral writes a Go value as an exact DuckDB literal.
func pdLiteral(t *testing.T, v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	case int64:
		return "CAST(" + strconv.FormatInt(x, 10) + " AS BIGINT)"
	case float64:
		return "CAST('" + strconv.FormatFloat(x, 'g', -1, 64) + "' AS DOUBLE)"
	case bool:
		return strconv.FormatBool(x)
	case pdDate:
		return "DATE '" + time.Time(x).Format("2006-01-02") + "'"
	case time.Time:
		return "CAST('" + x.UTC().Format("2006-01-02 15:04:05.000000") + "+00' AS TIMESTAMPTZ)"
	}
	t.Fatalf("no literal for %T", v)
	return ""
}

// pdDate is a date value of a record (a time.Time would be taken for a timestamp by pdLiteral).
type pdDate time.Time

// pdRecord turns pdDate values into the time.Time record.BuildBatch takes.
func pdRecord(r record.Record) record.Record {
	out := record.Record{}
	for k, v := range r {
		if d, ok := v.(pdDate); ok {
			v = time.Time(d)
		}
		out[k] = v
	}
	return out
}

func newPushdownMap(t *testing.T, env transforms.Env, e pdExpr) *mapt.Map {
	t.Helper()
	values := map[string]any{"fields": map[string]any{
		"id": spec.Expr{Text: "id", Pos: spec.Pos{Line: 1, Col: 1}},
		"v":  spec.Expr{Text: e.text, Pos: spec.Pos{Line: 2, Col: 1}},
	}}
	if e.typ != "" {
		values["types"] = map[string]any{"v": e.typ}
	}
	tr, err := mapt.New(spec.Config{Values: values}, env)
	if err != nil {
		t.Fatalf("map %q: %v", e.text, err)
	}
	m := tr.(*mapt.Map)
	if _, ok := m.PushdownSQL(`"x"`); !ok {
		t.Fatalf("map %q does not translate", e.text)
	}
	return m
}

func newPushdownFilter(t *testing.T, env transforms.Env, text string) *filter.Filter {
	t.Helper()
	tr, err := filter.New(spec.Config{Values: map[string]any{"expr": spec.Expr{Text: text}}}, env)
	if err != nil {
		t.Fatalf("filter %q: %v", text, err)
	}
	f := tr.(*filter.Filter)
	if _, ok := f.PushdownSQL(`"x"`); !ok {
		t.Fatalf("filter %q does not translate", text)
	}
	return f
}

// pushdownBatch is a transform with both paths.
type pushdownBatch interface {
	transforms.Batch
	transforms.Pushdown
}

// compareWithApply runs tr's Apply on tb's batch and its pushdown query on tb's table, and reports any
// difference: one fails and not the other, other columns or types, other values.
func compareWithApply(t *testing.T, db *sql.DB, what string, tr pushdownBatch, tb pdTable) {
	t.Helper()
	q, _ := tr.PushdownSQL(tb.name)
	out, goErr := tr.Clone().Apply(context.Background(), tb.batch)
	got, types, sqlErr := queryAll(db, `SELECT * FROM (`+q+`) AS pushed ORDER BY 1`)
	rowsText := func() string {
		var b strings.Builder
		for i := 0; i < int(tb.batch.NumRows()) && i < 3; i++ {
			fmt.Fprintf(&b, " %v", record.RowRecord(tb.batch, i))
		}
		return b.String()
	}
	if (goErr != nil) != (sqlErr != nil) {
		t.Errorf("%s on %s:%s\n  Apply error: %v\n  SQL error: %v\n  SQL: %s", what, tb.name, rowsText(), goErr, sqlErr, q)
		return
	}
	if goErr != nil {
		if !strings.Contains(sqlErr.Error(), "possync: ") {
			t.Errorf("%s on %s: the query failed with DuckDB's own error: %v\n  SQL: %s", what, tb.name, sqlErr, q)
		}
		return
	}
	defer out.Release()
	schema := tr.Schema()
	if len(types) != schema.NumFields() {
		t.Fatalf("%s: the query gives %d columns, want %d", what, len(types), schema.NumFields())
	}
	for i, f := range schema.Fields() {
		if want := f.Name + " " + pdDuckType(f.Type); types[i] != want {
			t.Errorf("%s: column %d is %s, want %s", what, i, types[i], want)
		}
	}
	if len(got) != int(out.NumRows()) {
		t.Errorf("%s on %s:%s\n  %d rows from SQL, %d from Apply\n  SQL: %s", what, tb.name, rowsText(), len(got), out.NumRows(), q)
		return
	}
	for r := range got {
		for c := range got[r] {
			if want := record.Value(out.Column(c), r); !sameResult(want, got[r][c]) {
				t.Errorf("%s on %s:%s\n  output row %d: column %s = %#v from SQL, %#v from Apply\n  SQL: %s", what, tb.name,
					rowsText(), r, schema.Field(c).Name, got[r][c], want, q)
			}
		}
	}
}

// queryAll runs q and returns its rows and its columns as "name TYPE".
func queryAll(db *sql.DB, q string) ([][]any, []string, error) {
	rows, err := db.Query(q)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, nil, err
	}
	types := make([]string, len(cts))
	for i, ct := range cts {
		types[i] = ct.Name() + " " + ct.DatabaseTypeName()
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cts))
		ptrs := make([]any, len(cts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		out = append(out, vals)
	}
	return out, types, rows.Err()
}

// sameResult compares an Apply value with a DuckDB one: floats bit for bit (any NaN equals any NaN), times
// as instants.
func sameResult(goV, dbV any) bool {
	switch g := goV.(type) {
	case float64:
		d, ok := dbV.(float64)
		return ok && (math.Float64bits(g) == math.Float64bits(d) || math.IsNaN(g) && math.IsNaN(d))
	case time.Time:
		d, ok := dbV.(time.Time)
		return ok && g.Equal(d)
	}
	return goV == dbV
}

// pdFixedRows are edge cases: NULLs, int and float limits, NaN, ±Inf, -0, non-ASCII strings, Unicode
// spaces, separators, dates and timestamps around the epoch.
func pdFixedRows() []record.Record {
	day := func(y int, m time.Month, d int) pdDate { return pdDate(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) }
	rows := []record.Record{
		{},
		{"s": "Hello", "s2": "world", "i": int64(3), "i2": int64(-2), "f": 1.5, "f2": -0.25, "b": true, "b2": false,
			"d": day(2024, 2, 29), "d2": day(2024, 3, 1), "t": pdNow, "t2": pdNow.Add(-time.Microsecond)},
		{"s": "straße", "s2": "ß", "i": int64(math.MaxInt64), "i2": int64(1), "f": math.NaN(), "f2": 1.0, "b": false,
			"b2": true, "d": day(1970, 1, 1), "d2": day(1970, 1, 1), "t": pdNow.Add(time.Microsecond), "t2": pdNow},
		{"s": "a,,b,", "s2": ",", "i": int64(math.MinInt64), "i2": int64(-1), "f": math.Inf(1), "f2": math.NaN(),
			"b": true, "b2": true, "d": day(1, 1, 1), "d2": day(9999, 12, 31)},
		{"s": "\u00a0 x \u3000", "s2": "x", "i": int64(0), "i2": int64(0), "f": math.Copysign(0, -1), "f2": 0.0,
			"b": false, "b2": false, "t": time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{"s": "\t\n x \r\v\f\u0085", "s2": "\u200b x \u200b", "i": int64(1 << 53), "i2": int64(1<<53 + 1),
			"f": 9007199254740992.0, "f2": math.Inf(-1), "b": true},
		{"s": "Outdoor > Tents > 2p", "s2": " > ", "i": int64(-7), "i2": int64(3), "f": 1e308, "f2": 1e308,
			"b2": true, "t": pdNow, "t2": pdNow},
		{"s": "", "s2": "", "i": int64(5), "i2": int64(math.MinInt64), "f": 5e-324, "f2": -5e-324, "b": true, "b2": nil},
		{"s": "aaa", "s2": "aa", "i": int64(2), "f": 0.5, "f2": 0.5, "b": false},
		{"s": "ǅ İstanbul ΟΔΟΣ ﬃ 👍🏽 e\u0301", "s2": "\ufeffx\u180e", "i": int64(1), "i2": int64(2), "f": -1.5,
			"f2": -2.5, "b2": false, "d": day(2000, 1, 1)},
		{"s": "x'y", "s2": "'", "i": int64(4), "i2": int64(4), "f": 2.0, "f2": 2.0, "b": true, "b2": true},
		{"s2": "world", "i2": int64(9), "f2": 3.5, "b2": true, "d2": day(2024, 1, 1), "t2": pdNow},
	}
	for i := range rows {
		rows[i]["id"] = int64(i)
		rows[i] = pdRecord(rows[i])
	}
	return rows
}

// pdRandomRows draws n rows, in groups of 8, from pools of the edge values plus random ones; each field is
// NULL with probability 1/32. Ids start at first.
func pdRandomRows(r *rand.Rand, n, first int) [][]record.Record {
	strs := []string{"Hello", "world", "", " ", "straße", "ß", "a,b", ",", " > ", "Tents > 2p", "aa", "aaa",
		"\u00a0x\u2028", "ǅ", "İ", "ΣΑΣ", "ﬃ", "👍", "e\u0301", "x'y", "He", "ll", "m", "Z"}
	ints := []int64{0, 1, -1, 2, 3, -7, 5, math.MaxInt64, math.MinInt64, 1 << 53, 1<<53 + 1, 1 << 62}
	floats := []float64{0, math.Copysign(0, -1), 1.5, -2.5, 0.1, 0.5, 2, math.NaN(), math.Inf(1), math.Inf(-1),
		1e308, 5e-324, 9007199254740993}
	null := func() bool { return r.IntN(32) == 0 }
	var groups [][]record.Record
	for i := range n {
		rec := record.Record{"id": int64(first + i)}
		for _, name := range []string{"s", "s2"} {
			if !null() {
				if r.IntN(3) == 0 {
					rec[name] = randomString(r)
				} else {
					rec[name] = pick(r, strs)
				}
			}
		}
		for _, name := range []string{"i", "i2"} {
			if !null() {
				if r.IntN(2) == 0 {
					rec[name] = r.Int64N(41) - 20
				} else {
					rec[name] = pick(r, ints)
				}
			}
		}
		for _, name := range []string{"f", "f2"} {
			if !null() {
				if r.IntN(2) == 0 {
					rec[name] = r.NormFloat64() * 100
				} else {
					rec[name] = pick(r, floats)
				}
			}
		}
		for _, name := range []string{"b", "b2"} {
			if !null() {
				rec[name] = r.IntN(2) == 0
			}
		}
		for _, name := range []string{"d", "d2"} {
			if !null() {
				rec[name] = pdDate(time.Date(1960+r.IntN(80), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC))
			}
		}
		for _, name := range []string{"t", "t2"} {
			if !null() {
				rec[name] = pdNow.Add(time.Duration(r.Int64N(2e12)-1e12) * time.Microsecond)
			}
		}
		if i%8 == 0 {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], pdRecord(rec))
	}
	return groups
}

// randomString draws up to 6 runes from ASCII, separators, Unicode spaces and letters with case mappings.
func randomString(r *rand.Rand) string {
	runes := []rune("aAzZ ,>ß\u00a0\u3000\u2028\u0085\t\u200bǅİıΣσςﬃé\u0301👍'")
	var b strings.Builder
	for range r.IntN(7) {
		b.WriteRune(pick(r, runes))
	}
	return b.String()
}
