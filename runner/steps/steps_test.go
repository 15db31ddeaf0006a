package steps_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	_ "github.com/possync/possync/connectors/file"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/steps"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
	_ "github.com/possync/possync/transforms/all"
)

const pipelineHead = `version: 1
name: steps-test
merchant: m
key: sku
sources:
  items:
    type: file
    path: items.csv
    columns:
      - {name: sku, type: string}
      - {name: name, type: string}
      - {name: qty, type: int}
      - {name: price, type: float}
sink:
  type: file
  path: out.csv
transforms:
`

var itemSchema = arrow.NewSchema([]arrow.Field{
	{Name: "sku", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

var items = []record.Record{
	{"sku": "A", "name": "helmet", "qty": int64(3), "price": 10.5},
	{"sku": "B", "name": "bell", "qty": int64(0), "price": 4.0},
	{"sku": "C", "name": "lock", "qty": int64(7), "price": nil},
	{"sku": "D", "name": "pump", "qty": int64(1), "price": 20.0},
}

// setup parses a pipeline of the given transforms and loads items as its source "items".
func setup(t *testing.T, transforms string) (*engine.DB, steps.Input) {
	t.Helper()
	p, diags := pipelines.Parse("p.yaml", []byte(pipelineHead+transforms), pipelines.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{TempDir: t.TempDir() + "/tmp", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.LoadRecords(ctx, "items", itemSchema, items); err != nil {
		t.Fatal(err)
	}
	return db, steps.Input{
		Steps: p.Transforms, First: "items", Schemas: map[string]*arrow.Schema{"items": itemSchema}, Key: p.Key,
		Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Location: time.UTC, Dir: t.TempDir(),
	}
}

func rows(t *testing.T, db *engine.DB, q string) []string {
	t.Helper()
	rs, err := db.Rows(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestFilterMapSQL(t *testing.T) {
	db, in := setup(t, `  - type: filter
    name: in_stock
    expr: qty > 0
  - type: map
    name: priced
    fields:
      sku: sku
      label: name
      double: "price == nil ? -1.0 : price * 2"
  - type: sql
    name: desired
    query: |
      SELECT sku, upper(label) AS label, double FROM priced WHERE sku <> 'D'
`)
	var ran []string
	in.Ran = func(_ context.Context, st *pipelines.Step, input, table string) { ran = append(ran, input+">"+table) }
	out, diags, err := steps.Run(context.Background(), db, in)
	if err != nil || len(diags) > 0 {
		t.Fatalf("Run: %v %v", diags, err)
	}
	// filter and map state themselves as DuckDB queries; sql is one.
	if got := strings.Join(out.Pushed, ","); got != "in_stock,priced" {
		t.Errorf("Pushed = %q, want in_stock,priced", got)
	}
	if out.Desired != "desired" {
		t.Errorf("Desired = %q", out.Desired)
	}
	if got := strings.Join(ran, " "); got != "items>in_stock in_stock>priced priced>desired" {
		t.Errorf("steps ran %s", got)
	}
	got := rows(t, db, `SELECT concat_ws('|', sku, label, double::VARCHAR) FROM desired ORDER BY sku`)
	if want := []string{"A|HELMET|21.0", "C|LOCK|-1.0"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("desired rows = %q, want %q", got, want)
	}
	// Every step's output is a table of its own, and its schema is recorded for later steps.
	if got := rows(t, db, `SELECT string_agg(sku, ',' ORDER BY sku) FROM in_stock`); got[0] != "A,C,D" {
		t.Errorf("in_stock = %v", got)
	}
	for _, name := range []string{"in_stock", "priced", "desired"} {
		if in.Schemas[name] == nil {
			t.Errorf("no schema recorded for %s", name)
		}
	}
	if f := in.Schemas["priced"]; strings.Join(engine.FieldNames(f), ",") != "sku,label,double" {
		t.Errorf("priced fields = %v", engine.FieldNames(f))
	}
}

// TestUnnamedStepsChain: steps without names write tables of their own and read the previous one's.
func TestUnnamedStepsChain(t *testing.T) {
	db, in := setup(t, `  - type: filter
    expr: qty >= 1
  - type: filter
    expr: price != nil && price > 15
`)
	out, diags, err := steps.Run(context.Background(), db, in)
	if err != nil || len(diags) > 0 {
		t.Fatalf("Run: %v %v", diags, err)
	}
	if out.Desired != "__step_1" {
		t.Errorf("Desired = %q", out.Desired)
	}
	if got := rows(t, db, `SELECT string_agg(sku, ',' ORDER BY sku) FROM `+out.Desired); got[0] != "D" {
		t.Errorf("rows = %v", got)
	}
}

func TestNoStepsDesiredIsFirst(t *testing.T) {
	db, in := setup(t, "  []\n")
	out, diags, err := steps.Run(context.Background(), db, in)
	if err != nil || len(diags) > 0 || out.Desired != "items" {
		t.Errorf("no steps: %+v %v %v", out, diags, err)
	}
}

// TestRowErrorNamesStepAndRecord: a row function failing names the step, its position and the record's key.
func TestRowErrorNamesStepAndRecord(t *testing.T) {
	db, in := setup(t, `  - type: map
    name: plus_one
    fields:
      sku: sku
      next: price + 1
`)
	_, diags, err := steps.Run(context.Background(), db, in)
	if err == nil {
		t.Fatalf("no error (diags %v)", diags)
	}
	msg := err.Error()
	for _, want := range []string{"transform plus_one (p.yaml:18:5): sku=C: field next:", "NULL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

// TestSQLErrorIsPositioned: a SQL step naming an unknown column is a diagnostic at the query's own line.
func TestSQLErrorIsPositioned(t *testing.T) {
	db, in := setup(t, `  - type: sql
    name: bad_sql
    query: |
      SELECT sku,
             no_such_column
      FROM items
`)
	out, diags, err := steps.Run(context.Background(), db, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(diags) != 1 {
		t.Fatalf("diags = %v", diags)
	}
	d := diags[0]
	if d.Code != spec.CodeSQLError || d.Severity != spec.Error || !strings.Contains(d.Message, "no_such_column") {
		t.Errorf("diagnostic = %+v", d)
	}
	// The query starts on line 21 of the file; the unknown column is on its second line, column 14.
	if d.Pos.File != "p.yaml" || d.Pos.Line != 22 || d.Pos.Col != 14 {
		t.Errorf("diagnostic at %+v, want p.yaml:22:14", d.Pos)
	}
	if out.Desired != "" {
		t.Errorf("Desired = %q after a failed step", out.Desired)
	}
}

func TestUnknownFieldIsDiagnosedAtTheStep(t *testing.T) {
	db, in := setup(t, `  - type: filter
    name: f
    expr: nope > 1
`)
	_, diags, err := steps.Run(context.Background(), db, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(diags) != 1 || !strings.Contains(diags[0].Error(), "nope") || diags[0].Pos.File != "p.yaml" {
		t.Errorf("diags = %v", diags)
	}
}

func TestBuiltErrorStopsTheRun(t *testing.T) {
	db, in := setup(t, `  - type: filter
    expr: qty > 0
`)
	boom := errors.New("no _applied")
	calls := 0
	in.Built = func(_ context.Context, tr transforms.Transform) error {
		calls++
		if tr != nil {
			return boom
		}
		return nil
	}
	_, _, err := steps.Run(context.Background(), db, in)
	if !errors.Is(err, boom) || calls != 2 {
		t.Errorf("err = %v after %d calls", err, calls)
	}
}

func TestCancelledContextStopsTheSteps(t *testing.T) {
	db, in := setup(t, `  - type: map
    fields:
      sku: sku
`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := steps.Run(ctx, db, in); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestBatchPathCoversEveryRow: a map that cannot be stated in SQL runs over Arrow batches, in chunks of
// ChunkRows claimed by parallel workers; every input row is transformed exactly once, also when the input
// has a column named rowid (in any case) whose values lie outside 0..n-1 (as an export's own row ids may),
// whose values it keeps: DuckDB reads such a column in place of its row number, so the workers' ranges must
// not select by it (they did: every row was lost, and against a state a first plan would have deleted them
// all).
func TestBatchPathCoversEveryRow(t *testing.T) {
	for _, col := range []string{"", "rowid", "RowID"} {
		t.Run("column "+col, func(t *testing.T) {
			field, extra, cols := "", "", "sku"
			if col != "" {
				q := engine.Ident(col)
				field = fmt.Sprintf("      %s: %s\n", col, col)
				extra = ", i * 7 + 1000000 AS " + q
				cols = "sku, " + q
			}
			db, in := setup(t, `  - type: map
    name: tagged
    fields:
      sku: sku
`+field+`      tag: repeat(sku, 2)
`)
			ctx := context.Background()
			n := 2*steps.ChunkRows + 1234
			if err := db.Exec(ctx, `CREATE OR REPLACE TABLE items AS SELECT 'k' || i AS sku, 'n' AS name, i AS qty, 1.5 AS price`+
				extra+` FROM range(?) t(i)`, n); err != nil {
				t.Fatal(err)
			}
			sch, err := db.SchemaOf(ctx, "items")
			if err != nil {
				t.Fatal(err)
			}
			in.Schemas["items"] = sch
			out, diags, err := steps.Run(ctx, db, in)
			if err != nil || len(diags) > 0 {
				t.Fatalf("Run: %v %v", diags, err)
			}
			if len(out.Pushed) != 0 {
				t.Fatalf("Pushed = %v: the test needs the batch path", out.Pushed)
			}
			got, err := db.Count(ctx, `SELECT count(*) FROM tagged`)
			if err != nil || got != int64(n) {
				t.Errorf("rows = %d, %v; want %d", got, err, n)
			}
			// The same rows as DuckDB's own repeat, each once.
			diff, err := db.Count(ctx, fmt.Sprintf(`SELECT count(*) FROM (
				(SELECT %[1]s, tag FROM tagged EXCEPT ALL SELECT %[1]s, repeat(sku, 2) FROM items)
				UNION ALL (SELECT %[1]s, repeat(sku, 2) FROM items EXCEPT ALL SELECT %[1]s, tag FROM tagged))`, cols))
			if err != nil || diff != 0 {
				t.Errorf("rows differing from the expected: %d, %v", diff, err)
			}
			if left, err := db.Count(ctx, "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '%__rows'"); err != nil || left != 0 {
				t.Errorf("numbered copies left: %d, %v", left, err)
			}
		})
	}
}

// deferredInput records the calls steps.Run makes on a deferred input (the relation itself is the table
// setup loaded).
type deferredInput struct{ calls []string }

func (d *deferredInput) Scanned(context.Context) error {
	d.calls = append(d.calls, "scanned")
	return nil
}

func (d *deferredInput) Load(context.Context) error {
	d.calls = append(d.calls, "load")
	return nil
}

func (d *deferredInput) Finish(_ context.Context, n int64) error {
	d.calls = append(d.calls, fmt.Sprintf("finish %d", n))
	return nil
}

// Two test transforms built like a map: rowmap is a map under another type name (it states
// transforms.RowPushdown), queryonly a map that states its query but not that it gives one row per record.
func init() {
	comp, ctor, _ := transforms.Registry.Lookup("map")
	register := func(name string, wrap func(transforms.Transform) transforms.Transform) {
		c := *comp
		c.Name = name
		transforms.Registry.MustRegister(c, func(cfg spec.Config, env transforms.Env) (transforms.Transform, error) {
			tr, err := ctor(cfg, env)
			if err != nil {
				return nil, err
			}
			return wrap(tr), nil
		})
	}
	register("rowmap", func(tr transforms.Transform) transforms.Transform { return rowMap{tr.(transforms.RowPushdown)} })
	register("queryonly", func(tr transforms.Transform) transforms.Transform { return queryOnly{tr.(transforms.RowPushdown)} })
}

type rowMap struct{ transforms.RowPushdown }

// queryOnly hides OneRowPerInput (and Reads) of the map it wraps.
type queryOnly struct{ m transforms.RowPushdown }

func (q queryOnly) Schema() *arrow.Schema { return q.m.Schema() }
func (q queryOnly) Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	return q.m.Apply(ctx, in)
}
func (q queryOnly) Clone() transforms.Batch                 { return queryOnly{q.m.Clone().(transforms.RowPushdown)} }
func (q queryOnly) PushdownSQL(input string) (string, bool) { return q.m.PushdownSQL(input) }
func (q queryOnly) Reads() []string                         { return q.m.Reads() }

var _ interface {
	transforms.Batch
	transforms.Pushdown
} = queryOnly{}

// TestDeferredInputReadOnceOrLoaded: a deferred input read by a step whose query states one row per record
// (transforms.RowPushdown: a map, or any other type that states it) and reads every field is read by that
// one query and finished with its row count; one read by a map that skips a field (whose values the files'
// reader would then not check), by a query that does not state one row per record, or by any other step, is
// loaded before the step runs; one no step reads is loaded too.
func TestDeferredInputReadOnceOrLoaded(t *testing.T) {
	cases := []struct{ name, transforms, want string }{
		{"map reading every field", "  - type: map\n    fields: {sku: sku, label: \"name + '!'\", qty: qty, price: price}\n", "scanned,finish 4"},
		{"map skipping a field", "  - type: map\n    fields: {sku: sku, label: name, qty: qty}\n", "load"},
		{"filter", "  - type: filter\n    expr: qty > 0\n", "load"},
		{"another type stating one row per record", "  - type: rowmap\n    fields: {sku: sku, label: name, qty: qty, price: price}\n", "scanned,finish 4"},
		{"a map's query not stating it", "  - type: queryonly\n    fields: {sku: sku, label: name, qty: qty, price: price}\n", "load"},
		{"map of another input", "  - type: sql\n    name: other\n    query: SELECT * FROM items\n  - type: map\n    input: other\n" +
			"    fields: {sku: sku, label: name, qty: qty, price: price}\n", "load"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, in := setup(t, c.transforms)
			d := &deferredInput{}
			in.Deferred = map[string]steps.DeferredInput{"items": d}
			if _, diags, err := steps.Run(context.Background(), db, in); err != nil || len(diags) > 0 {
				t.Fatalf("Run: %v %v", diags, err)
			}
			if got := strings.Join(d.calls, ","); got != c.want {
				t.Errorf("calls on the deferred input: %s, want %s", got, c.want)
			}
		})
	}
}

// TestPrebuiltTakenForItsEnvOnly: Run takes a step's transform from Input.Prebuilt, instead of building
// the step, when the caller built it with the Env Run would use, and builds the step itself when any part
// of that Env differs (the input's schema, the time, the folder), or for an error the caller got, reports it
// as the step's diagnostic. The prebuilt transform here is built from another configuration, so the output
// tells which one ran.
func TestPrebuiltTakenForItsEnvOnly(t *testing.T) {
	other, diags := pipelines.Parse("p.yaml", []byte(pipelineHead+"  - {type: map, name: out, fields: {sku: sku, label: \"'prebuilt'\"}}\n"),
		pipelines.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, ctor, _ := transforms.Registry.Lookup("map")
	wider := arrow.NewSchema(append(itemSchema.Fields(), arrow.Field{Name: "extra", Type: arrow.BinaryTypes.String, Nullable: true}), nil)
	cases := []struct {
		name   string
		change func(env *transforms.Env)
		err    error
		want   string
	}{
		{"same env", func(*transforms.Env) {}, nil, "prebuilt,prebuilt,prebuilt,prebuilt"},
		{"equal schema, another value", func(env *transforms.Env) {
			env.Input = arrow.NewSchema(itemSchema.Fields(), nil)
		}, nil, "prebuilt,prebuilt,prebuilt,prebuilt"},
		{"another input schema", func(env *transforms.Env) { env.Input = wider }, nil, "bell,helmet,lock,pump"},
		{"another time", func(env *transforms.Env) { env.Now = env.Now.Add(time.Second) }, nil, "bell,helmet,lock,pump"},
		{"another folder", func(env *transforms.Env) { env.Dir += "/x" }, nil, "bell,helmet,lock,pump"},
		{"an error", func(*transforms.Env) {}, errors.New("mappings file gone"), "error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, in := setup(t, "  - {type: map, name: out, fields: {sku: sku, label: name}}\n")
			env := transforms.Env{Input: itemSchema, InputName: "items", Now: in.Now, Location: in.Location, Dir: in.Dir}
			c.change(&env)
			tr, err := ctor(other.Transforms[0].Config, env)
			if err != nil {
				t.Fatal(err)
			}
			if c.err != nil {
				tr = nil
			}
			in.Prebuilt = map[*pipelines.Step]steps.Prebuilt{in.Steps[0]: {Env: env, Transform: tr, Err: c.err}}
			_, diags, err := steps.Run(context.Background(), db, in)
			if err != nil {
				t.Fatal(err)
			}
			if c.err != nil {
				if len(diags) != 1 || !strings.Contains(diags[0].Message, "mappings file gone") {
					t.Errorf("diagnostics %v, want the prebuilt error", diags)
				}
				return
			}
			if len(diags) > 0 {
				t.Fatal(diags)
			}
			if got := strings.Join(rows(t, db, "SELECT label FROM out ORDER BY label"), ","); got != c.want {
				t.Errorf("labels %s, want %s", got, c.want)
			}
		})
	}
}

// TestOrderByStoresTheDesiredTableInOrder: with Input.OrderBy, a last step that runs as one DuckDB query (a
// map's or filter's, also one reading a deferred input's files) stores its table sorted by those columns,
// its rowid counting the rows from 0 in that order, on two threads and over several row groups, and says so
// (Output.Ordered); its rows are those of the same step without OrderBy. A last step that runs in Go or is a
// SQL step, a step that is not the last, and an output without the columns leave the table as it comes and
// say so. The engine's preserve_insertion_order is put back either way.
func TestOrderByStoresTheDesiredTableInOrder(t *testing.T) {
	pushedMap := "  - type: map\n    fields: {sku: sku, label: \"name + '!'\", qty: qty, price: price}\n"
	cases := []struct {
		name, transforms string
		orderBy          []string
		deferred         bool
		ordered          bool
	}{
		{"a map's query", pushedMap, []string{"sku"}, false, true},
		{"a map reading a deferred input", pushedMap, []string{"sku"}, true, true},
		{"a filter's query after a map", pushedMap + "  - type: filter\n    expr: qty % 3 != 0\n", []string{"qty", "sku"}, false, true},
		{"a map run in Go", "  - type: map\n    fields: {sku: sku, tag: \"repeat(sku, 2)\"}\n", []string{"sku"}, false, false},
		{"a SQL step", "  - type: sql\n    name: out\n    query: SELECT * FROM items\n", []string{"sku"}, false, false},
		{"a map followed by a SQL step", pushedMap + "  - type: sql\n    name: out\n    query: SELECT * FROM __step_0\n", []string{"sku"}, false, false},
		{"an output without the column", "  - type: map\n    fields: {label: \"name + '!'\", qty: qty}\n", []string{"sku"}, false, false},
		{"no OrderBy", pushedMap, nil, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, in := setup(t, c.transforms)
			ctx := context.Background()
			n := 2*steps.ChunkRows + 777
			// Keys in no order, each once; qty repeats so that a second column decides.
			if err := db.Exec(ctx, "SET threads = 2"); err != nil {
				t.Fatal(err)
			}
			if err := db.Exec(ctx, `CREATE OR REPLACE TABLE items AS SELECT printf('S%07d', (i * 7919) % ?) AS sku,
				'n' || i AS name, i % 5 AS qty, i / 4.0 AS price FROM range(?) t(i)`, n, n); err != nil {
				t.Fatal(err)
			}
			sch, err := db.SchemaOf(ctx, "items")
			if err != nil {
				t.Fatal(err)
			}
			in.Schemas["items"] = sch
			d := &deferredInput{}
			plain := in
			plain.Schemas = map[string]*arrow.Schema{"items": sch}
			if c.deferred {
				in.Deferred, plain.Deferred = map[string]steps.DeferredInput{"items": d}, map[string]steps.DeferredInput{"items": &deferredInput{}}
			}
			want, _, err := steps.Run(ctx, db, plain)
			if err != nil || want.Ordered {
				t.Fatalf("without OrderBy: ordered %v (%v)", want.Ordered, err)
			}
			if err := db.Exec(ctx, "CREATE TABLE plain AS SELECT * FROM "+engine.Ident(want.Desired)); err != nil {
				t.Fatal(err)
			}
			in.OrderBy = c.orderBy
			out, diags, err := steps.Run(ctx, db, in)
			if err != nil || len(diags) > 0 {
				t.Fatalf("Run: %v %v", diags, err)
			}
			if out.Ordered != c.ordered {
				t.Fatalf("Ordered = %v, want %v", out.Ordered, c.ordered)
			}
			if c.deferred && strings.Join(d.calls, ",") != fmt.Sprintf("scanned,finish %d", n) {
				t.Errorf("calls on the deferred input: %v, want it read by the query", d.calls)
			}
			tbl := engine.Ident(out.Desired)
			for _, q := range []string{"SELECT * FROM " + tbl + " EXCEPT ALL SELECT * FROM plain", "SELECT * FROM plain EXCEPT ALL SELECT * FROM " + tbl} {
				if k, err := db.Count(ctx, "SELECT count(*) FROM ("+q+")"); err != nil || k != 0 {
					t.Errorf("%s: %d rows (%v): the order changed the rows", q, k, err)
				}
			}
			if c.ordered {
				order := engine.IdentList(c.orderBy, "")
				misplaced, err := db.Count(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT rowid AS r, row_number() OVER (ORDER BY %s) - 1 AS want FROM %s) WHERE r <> want`, order, tbl))
				if err != nil || misplaced != 0 {
					t.Errorf("%d rows whose rowid is not their place in the order (%v)", misplaced, err)
				}
				groups, err := db.Count(ctx, "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info("+engine.Lit(out.Desired)+")")
				if err != nil || groups < 2 {
					t.Errorf("the table has %d row groups (%v): the test needs several", groups, err)
				}
			}
			var setting string
			if err := db.QueryRow(ctx, "SELECT current_setting('preserve_insertion_order')::VARCHAR").Scan(&setting); err != nil || setting != "false" {
				t.Errorf("preserve_insertion_order is %q after the run (%v), want the engine's false", setting, err)
			}
		})
	}
}
