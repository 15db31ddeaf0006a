package refresh

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/state"
)

// lister is a sink whose target holds records; it lists them and applies nothing.
type lister struct {
	schema  *arrow.Schema
	records []record.Record
}

func (l *lister) Apply(context.Context, []connectors.Change) ([]error, error) { return nil, nil }
func (l *lister) Close() error                                                { return nil }
func (l *lister) List(context.Context, connectors.ReadRequest) (connectors.Reader, error) {
	return connectors.RecordsReader(l.schema, l.records, 0, memory.DefaultAllocator, connectors.ReadResult{}), nil
}

// notLister is a sink that cannot list its records.
type notLister struct{}

func (notLister) Apply(context.Context, []connectors.Change) ([]error, error) { return nil, nil }
func (notLister) Close() error                                                { return nil }

var recordSchema = arrow.NewSchema([]arrow.Field{
	{Name: "sku", Type: arrow.BinaryTypes.String},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// setup opens an engine with the desired records A, B, C and a snapshot (table snap) where each has name
// "n" and qty 5.
func setup(t *testing.T) (*engine.DB, Input) {
	t.Helper()
	ctx := context.Background()
	db, err := engine.Open(ctx, engine.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	for _, q := range []string{
		"CREATE TABLE desired AS SELECT * FROM (VALUES ('A', 'n', 5::BIGINT), ('B', 'n', 5), ('C', 'n', 5)) t(sku, name, qty)",
		"CREATE TABLE snap AS SELECT * FROM desired",
	} {
		if err := db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	return db, Input{SinkType: "test", Key: []string{"sku"}, Desired: "desired", DesiredSchema: recordSchema,
		RecordSchema: recordSchema, Snapshot: "snap", Columns: []state.Column{{Name: "sku", Type: "VARCHAR"},
			{Name: "name", Type: "VARCHAR"}, {Name: "qty", Type: "BIGINT"}}}
}

// rows returns a table's rows as "sku name qty" lines, by key.
func rows(t *testing.T, db *engine.DB, table string) string {
	t.Helper()
	var out []string
	err := db.Query(context.Background(), "SELECT sku, name, qty FROM "+table+" ORDER BY sku", func(b arrow.RecordBatch) error {
		for i := 0; i < int(b.NumRows()); i++ {
			r := record.RowRecord(b, i)
			out = append(out, connectors.FormatValue(r["sku"])+" "+connectors.FormatValue(r["name"])+" "+connectors.FormatValue(r["qty"]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, "; ")
}

// The target edited A (qty 99), lost B, kept C and holds X, which possync never made. The base holds what
// the target has of the pipeline's records (A as edited, C); the drift lists A's qty and B missing; X is
// ignored. Adopt takes into the state only the drift the plan leaves alone.
func TestRunBuildsTheBaseAndTheDrift(t *testing.T) {
	ctx := context.Background()
	db, in := setup(t)
	in.Sink = &lister{schema: recordSchema, records: []record.Record{
		{"sku": "A", "name": "n", "qty": int64(99)},
		{"sku": "C", "name": "n", "qty": int64(5)},
		{"sku": "X", "name": "x", "qty": int64(1)},
	}}
	rf, err := Run(ctx, db, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db, BaseTable); got != "A n 99; C n 5" {
		t.Errorf("base %q, want the target's A and C only", got)
	}
	if rf.Input.Name != "sink" || rf.Input.Mode != "refresh" || rf.Input.Records != 3 || rf.Input.Fingerprint == "" {
		t.Errorf("input %+v", rf.Input)
	}
	if len(rf.Drift) != 2 || rf.Drift[0].Key["sku"] != "A" || len(rf.Drift[0].Fields) != 1 || rf.Drift[0].Fields[0].Name != "qty" ||
		rf.Drift[0].Fields[0].Before != int64(5) || rf.Drift[0].Fields[0].After != int64(99) ||
		rf.Drift[1].Key["sku"] != "B" || !rf.Drift[1].Missing {
		t.Errorf("drift %+v, want A's qty 5 -> 99 and B missing", rf.Drift)
	}

	// The plan puts A back and creates B again; C has no drift: nothing to adopt.
	if err := db.Exec(ctx, "CREATE TABLE planned AS SELECT * FROM (VALUES ('A'), ('B')) t(sku)"); err != nil {
		t.Fatal(err)
	}
	if n, err := rf.Adopt(ctx, db, "planned"); err != nil || n != 0 {
		t.Errorf("adopt: %d, %v; want nothing (the plan changes A and B)", n, err)
	}
	// A plan that leaves A alone (the desired value is now the target's): A is adopted as the target has it.
	if err := db.Exec(ctx, "DELETE FROM planned WHERE sku = 'A'"); err != nil {
		t.Fatal(err)
	}
	if n, err := rf.Adopt(ctx, db, "planned"); err != nil || n != 1 {
		t.Fatalf("adopt: %d, %v; want A", n, err)
	}
	if got := rows(t, db, AdoptTable); got != "A n 99" {
		t.Errorf("adopted %q, want A n 99", got)
	}
	// A plan that changes neither (B no longer desired): B, gone from the target, leaves the state too.
	if err := db.Exec(ctx, "DELETE FROM planned"); err != nil {
		t.Fatal(err)
	}
	if n, err := rf.Adopt(ctx, db, "planned"); err != nil || n != 2 {
		t.Fatalf("adopt: %d, %v; want A and B", n, err)
	}
	var ops []string
	if err := db.Query(ctx, "SELECT __op || ' ' || sku AS x FROM "+AdoptTable+" ORDER BY sku", func(b arrow.RecordBatch) error {
		for i := 0; i < int(b.NumRows()); i++ {
			ops = append(ops, record.RowRecord(b, i)["x"].(string))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ops, ", "); got != "update A, delete B" {
		t.Errorf("adopted %q, want update A, delete B", got)
	}
}

// A field the target does not report for a record (connectors.Unreported) keeps its last-applied value:
// neither drift nor put back. diff.ignore fields are never drift.
func TestRunUnreportedAndIgnoredFields(t *testing.T) {
	db, in := setup(t)
	listed := arrow.NewSchema(append(recordSchema.Fields(), arrow.Field{Name: connectors.Unreported, Type: arrow.BinaryTypes.String, Nullable: true}), nil)
	in.Sink = &lister{schema: listed, records: []record.Record{
		{"sku": "A", "name": "renamed", "qty": nil, connectors.Unreported: "qty"},
		{"sku": "B", "name": "n", "qty": int64(5)},
		{"sku": "C", "name": "n", "qty": int64(5)},
	}}
	in.Ignore = []string{"name"}
	rf, err := Run(context.Background(), db, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db, BaseTable); got != "A renamed 5; B n 5; C n 5" {
		t.Errorf("base %q, want A's qty from the snapshot", got)
	}
	if len(rf.Drift) != 0 {
		t.Errorf("drift %+v, want none (qty unreported, name ignored)", rf.Drift)
	}
}

// An empty listing: every record of the snapshot is missing from the target, and the base is empty (the
// plan creates them all again). Before the first apply there is no drift, and the base takes the records'
// columns.
func TestRunEmptyTargetAndFirstApply(t *testing.T) {
	ctx := context.Background()
	db, in := setup(t)
	in.Sink = &lister{schema: recordSchema}
	rf, err := Run(ctx, db, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db, BaseTable); got != "" || len(rf.Drift) != 3 || !rf.Drift[0].Missing {
		t.Errorf("base %q, drift %+v; want an empty base and A, B, C missing", got, rf.Drift)
	}
	in.Snapshot, in.Columns = "", nil
	in.Sink = &lister{schema: recordSchema, records: []record.Record{{"sku": "A", "name": "n", "qty": int64(1)}}}
	rf, err = Run(ctx, db, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db, BaseTable); got != "A n 1" || len(rf.Drift) != 0 || len(rf.Columns) != 3 {
		t.Errorf("first apply: base %q, drift %+v, columns %+v", got, rf.Drift, rf.Columns)
	}
	if n, err := rf.Adopt(ctx, db, "desired"); n != 0 || err != nil {
		t.Errorf("adopt before the first apply: %d, %v", n, err)
	}
}

// A sink that cannot list, or lists records without the key, is an error naming the sink.
func TestRunRefusals(t *testing.T) {
	db, in := setup(t)
	in.Sink = notLister{}
	if _, err := Run(context.Background(), db, in); err == nil || !strings.Contains(err.Error(), "the test sink cannot list its records") {
		t.Errorf("not a lister: %v", err)
	}
	noKey := arrow.NewSchema([]arrow.Field{{Name: "name", Type: arrow.BinaryTypes.String}}, nil)
	in.Sink = &lister{schema: noKey, records: []record.Record{{"name": "a"}}}
	if _, err := Run(context.Background(), db, in); err == nil || !strings.Contains(err.Error(), `records have no key field "sku"`) {
		t.Errorf("no key: %v", err)
	}
}
