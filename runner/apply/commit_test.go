package apply

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// generations are the desired records of three runs, over the types a desired table takes from SQL steps
// and sources (32-bit integers and floats, dates, timestamps without a zone, text with NULLs, booleans):
// the second updates, adds and drops records; the third drops a column and retypes one.
var generations = []string{
	`SELECT * FROM (VALUES
		('a', 1::INTEGER, 1.5::REAL, DATE '2026-01-02', TIMESTAMP '2026-01-02 03:04:05.123456', 'x, "quoted"', true),
		('b', 2::INTEGER, NULL::REAL, NULL::DATE, NULL::TIMESTAMP, NULL, false),
		('c', -3::INTEGER, 0.1::REAL, DATE '1999-12-31', TIMESTAMP '1970-01-01 00:00:00', 'naïve', NULL))
		AS t(sku, qty, price, since, seen, note, active)`,
	`SELECT * FROM (VALUES
		('a', 10::INTEGER, 1.5::REAL, DATE '2026-01-02', TIMESTAMP '2026-06-30 23:59:59', 'x, "quoted"', true),
		('c', -3::INTEGER, 0.25::REAL, DATE '2000-01-01', TIMESTAMP '1970-01-01 00:00:00', '', NULL),
		('d', 4::INTEGER, 3.75::REAL, DATE '2026-02-28', TIMESTAMP '2026-02-28 12:00:00', 'two
lines', false))
		AS t(sku, qty, price, since, seen, note, active)`,
	`SELECT * FROM (VALUES
		('a', 10::BIGINT, DATE '2026-01-02', 'x'),
		('e', 5::BIGINT, DATE '2026-03-01', NULL))
		AS t(sku, qty, since, note)`,
}

// snapshotAfter runs the generations through diff and a commit of every change as acknowledged, from the
// diff table (fromDiff) or from the sink's changes decoded in Go, and returns the snapshot's columns and
// rows as text after each generation.
func snapshotAfter(t *testing.T, fromDiff bool) string {
	t.Helper()
	ctx := context.Background()
	db, store, meta := openStore(t)
	key := []string{"sku"}
	var out strings.Builder
	dump := func(g int) {
		t.Helper()
		fmt.Fprintf(&out, "after generation %d\n", g)
		var cols []string
		for _, c := range meta.Columns {
			cols = append(cols, c.Name+" "+c.Type)
		}
		fmt.Fprintf(&out, "columns: %s\n", strings.Join(cols, ", "))
		rows, err := db.Rows(ctx, "SELECT CAST(COLUMNS(*) AS VARCHAR) FROM "+store.Snapshot()+" ORDER BY sku")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		names, _ := rows.Columns()
		for rows.Next() {
			vals := make([]*string, len(names))
			ptrs := make([]any, len(names))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if v == nil {
					fmt.Fprintf(&out, "%s=NULL ", names[i])
				} else {
					fmt.Fprintf(&out, "%s=%q ", names[i], *v)
				}
			}
			out.WriteString("\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	for g, q := range generations {
		if err := db.Exec(ctx, "CREATE OR REPLACE TABLE desired AS "+q); err != nil {
			t.Fatal(err)
		}
		sch, err := db.SchemaOf(ctx, "desired")
		if err != nil {
			t.Fatal(err)
		}
		l, err := diff.Run(ctx, db, diff.Input{Desired: "desired", Key: key, Diff: pipelines.Diff{OnMissing: pipelines.MissingDelete},
			Snapshot: store.Snapshot(), Columns: meta.Columns})
		if err != nil {
			t.Fatal(err)
		}
		chs, err := diff.Read(ctx, db, l, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		if len(chs) == 0 {
			t.Fatalf("generation %d: no changes", g)
		}
		// The diff is against the snapshot: its creates are of new keys, which the commit from the diff
		// table inserts without looking them up (state.Commit.NewKeys).
		a := &Applier{DB: db, Store: store, Key: key, Schema: sch, RunID: fmt.Sprint("run", g), NewKeys: fromDiff,
			Commit: func(ctx context.Context, c *state.Commit) error {
				meta, err = store.Commit(ctx, db.Conn(), c)
				return err
			}}
		if fromDiff {
			if !FromDiff(sch) {
				t.Fatalf("generation %d: the schema %s does not commit from the diff table", g, sch)
			}
			// Generation 1 commits alternate changes in two commits (lists of sequence numbers, not ranges);
			// the others commit the usual whole range. A commit of creates alone says so (generation 0:
			// the store inserts them without a removal).
			var parts [][]int64
			n := 1
			if g == 1 {
				n = 2
			}
			parts = make([][]int64, n)
			creates := make([]bool, n)
			for i := range creates {
				creates[i] = true
			}
			for i := range chs {
				parts[i%n] = append(parts[i%n], chs[i].Seq)
				creates[i%n] = creates[i%n] && chs[i].Action == connectors.Create
			}
			for i, p := range parts {
				if err = a.commitSeqs(ctx, p, creates[i], nil, 0, false); err != nil {
					break
				}
			}
		} else {
			ccs := make([]connectors.Change, len(chs))
			for i := range chs {
				ccs[i] = l.SinkChange(&chs[i], l.PlanChange(&chs[i], plan.State{}).ID)
			}
			err = a.CommitChanges(ctx, a.RunID, ccs, nil, 0)
		}
		if err != nil {
			t.Fatalf("generation %d: %v", g, err)
		}
		dump(g)
	}
	return out.String()
}

// TestCommitFromDiffTable holds the commit of acknowledged changes straight from the diff table to the
// snapshot the sink's changes themselves give: same columns, same types, same values, across creates,
// updates, deletes, a dropped column and a retyped one.
func TestCommitFromDiffTable(t *testing.T) {
	goPath, diffPath := snapshotAfter(t, false), snapshotAfter(t, true)
	if goPath != diffPath {
		t.Fatalf("snapshot committed from the diff table:\n%s\nwant (committed from the sink's changes):\n%s", diffPath, goPath)
	}
	for _, want := range []string{`sku="a" qty="10"`, `sku="e" qty="5"`, `seen="2026-06-30 23:59:59+00"`, `price="0.25"`} {
		if !strings.Contains(diffPath, want) {
			t.Errorf("snapshot lacks %s:\n%s", want, diffPath)
		}
	}
	last := diffPath[strings.LastIndex(diffPath, "after generation"):]
	if strings.Contains(last, `sku="b"`) || strings.Contains(last, `sku="c"`) || strings.Contains(last, `price=`) {
		t.Errorf("the last snapshot keeps a deleted record or a dropped column:\n%s", last)
	}
}
