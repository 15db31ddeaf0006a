package diff

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// variantRank is the eCom sink's order (connectors/ecom): product creates, variant creates, the rest,
// variant deletes, product deletes.
var variantRank = connectors.Rank{Field: "parent_sku", Default: 2, Rules: []connectors.RankRule{
	{Action: connectors.Create, Set: false, Rank: 0}, {Action: connectors.Create, Set: true, Rank: 1},
	{Action: connectors.Delete, Set: true, Rank: 3}, {Action: connectors.Delete, Set: false, Rank: 4}}}

// runOrder diffs desired against snapshot (SQL VALUES rows of sku, parent_sku, price, active) and returns
// the changes in __seq order as "action:sku", with their sink forms.
func runOrder(t *testing.T, d *engine.DB, in Input, snapshot, desired string) ([]string, []connectors.Change) {
	t.Helper()
	ctx := context.Background()
	cols := "(sku, parent_sku, price, active)"
	for name, rows := range map[string]string{"snap": snapshot, "want": desired} {
		q := fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT * FROM (VALUES %s) AS v%s", name, rows, cols)
		if rows == "" {
			q = "CREATE OR REPLACE TABLE " + name + " (sku VARCHAR, parent_sku VARCHAR, price DOUBLE, active BOOLEAN)"
		}
		if err := d.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	in.Desired, in.Key = "want", []string{"sku"}
	if snapshot != "" {
		in.Snapshot = "snap"
		in.Columns = []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "parent_sku", Type: "VARCHAR"},
			{Name: "price", Type: "DOUBLE"}, {Name: "active", Type: "BOOLEAN"}}
	}
	l, err := Run(ctx, d, in)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := Read(ctx, d, l, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	var sink []connectors.Change
	for i := range changes {
		if changes[i].Seq != int64(i) {
			t.Fatalf("change %d has __seq %d", i, changes[i].Seq)
		}
		cc := l.SinkChange(&changes[i], l.PlanChange(&changes[i], plan.State{}).ID)
		sink = append(sink, cc)
		order = append(order, string(cc.Action)+":"+cc.Key["sku"].(string))
	}
	return order, sink
}

// TestRankOrdersTheDiff: with a sink's rank, the diff numbers the changes exactly in the order the sink's
// Sequence would give the runner's own order (a stable sort by rank of creates, updates, deactivations and
// deletions by key), whether the rank's field is compared, ignored, or a key; without one, in the runner's
// order. So a streamed apply, which reads the diff a batch at a time in __seq order, sends them in the
// sink's order across batches.
func TestRankOrdersTheDiff(t *testing.T) {
	d, err := engine.Open(context.Background(), engine.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	snapshot := "('P1', NULL, 1.0, true), ('P1-A', 'P1', 1.0, true), ('P2', NULL, 1.0, true), ('P2-A', 'P2', 1.0, true), " +
		"('P3', '', 1.0, true), ('P4', NULL, 1.0, true), ('P5-A', 'P5', 1.0, true), ('P6', 'X', 1.0, true), ('P7-A', 'P7', 1.0, true)"
	desired := "('A0', NULL, 1.0, true), ('A0-B', 'A0', 1.0, true), ('A0-C', 'A0', 1.0, true), ('A1', '', 1.0, true), " +
		"('P1', NULL, 2.0, true), ('P1-A', 'P1', 2.0, true), ('P4', 'P1', 1.0, true), ('P5-A', 'P5', 1.0, false), " +
		"('P6', NULL, 1.0, true), ('P7-A', 'P7', 1.0, true), ('Z0', NULL, 1.0, true), ('Z0-A', 'Z0', 1.0, true)"
	first := "('B-1', 'B', 1.0, true), ('A', NULL, 1.0, true), ('B', NULL, 1.0, true), ('A-1', 'A', 1.0, true), ('C', '', 1.0, true)"
	cases := []struct {
		name              string
		diff              pipelines.Diff
		snapshot, desired string
		want              string // with the rank
	}{
		{"compared field", pipelines.Diff{ActiveField: "active"}, snapshot, desired,
			"create:A0 create:A1 create:Z0 create:A0-B create:A0-C create:Z0-A update:P1 update:P1-A update:P4 update:P6 " +
				"deactivate:P5-A delete:P2-A delete:P2 delete:P3"},
		{"ignored field", pipelines.Diff{ActiveField: "active", Ignore: []string{"parent_sku"}}, snapshot, desired,
			"create:A0 create:A1 create:Z0 create:A0-B create:A0-C create:Z0-A update:P1 update:P1-A " +
				"deactivate:P5-A delete:P2 delete:P2-A delete:P3"},
		{"missing records deactivated", pipelines.Diff{ActiveField: "active", OnMissing: pipelines.MissingDeactivate}, snapshot, desired,
			"create:A0 create:A1 create:Z0 create:A0-B create:A0-C create:Z0-A update:P1 update:P1-A update:P4 update:P6 " +
				"deactivate:P2 deactivate:P2-A deactivate:P3 deactivate:P5-A"},
		{"first sync", pipelines.Diff{}, "", first, "create:A create:B create:C create:A-1 create:B-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plain, _ := runOrder(t, d, Input{Diff: c.diff}, c.snapshot, c.desired)
			rank := variantRank
			ranked, sink := runOrder(t, d, Input{Diff: c.diff, Rank: &rank}, c.snapshot, c.desired)
			if got := strings.Join(ranked, " "); got != c.want {
				t.Errorf("ranked order\n %s\nwant\n %s", got, c.want)
			}
			// The Go form of the same order: the runner's order, then the sink's stable sort by rank.
			_, held := runOrder(t, d, Input{Diff: c.diff}, c.snapshot, c.desired)
			variantRank.Sort(held)
			for i := range held {
				if held[i].Action != sink[i].Action || held[i].Key["sku"] != sink[i].Key["sku"] {
					t.Fatalf("change %d: diff gives %s:%s, the sink's Sort %s:%s", i, sink[i].Action, sink[i].Key["sku"],
						held[i].Action, held[i].Key["sku"])
				}
			}
			if len(plain) != len(ranked) {
				t.Errorf("%d changes without the rank, %d with it", len(plain), len(ranked))
			}
		})
	}
}

// TestNumberingFollowsRankThenKey: the diff's __seq is exactly the row_number of its rows ordered by the
// sink's rank, the action order and the key (the order a window over the diff's rows gives), on a first
// sync and against a snapshot, whatever order the desired rows come in: here reverse key order, a
// composite key, a rank whose field is NULL, empty or set, NULL-able compared columns, protected keys, and
// enough rows for DuckDB to read and sort them on several threads and spill part of them, which is where
// a numbering that followed the order rows reach it (instead of the sort's) would show.
func TestNumberingFollowsRankThenKey(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 2, MemoryLimit: "128MB"})
	const n = 300000
	// Rows in descending key order (sku falls as i rises); parent_sku NULL, empty or set; price NULL in a
	// fifth of the rows; a long title so that the sort has payload to move.
	exec(fmt.Sprintf(`CREATE TABLE want AS SELECT 'S' || lpad((%d - i)::VARCHAR, 7, '0') AS sku, (i %% 3)::INTEGER AS site,
		CASE i %% 4 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'P' || (i %% 97)::VARCHAR END AS parent_sku,
		CASE WHEN i %% 5 = 0 THEN NULL ELSE i * 0.5 END AS price, repeat('x', 40) || i::VARCHAR AS title,
		i %% 7 <> 0 AS active
		FROM range(%d) t(i) ORDER BY i`, n, n))
	// Every eleventh key is protected; the snapshot holds every other record (some with another price) and
	// records the desired set no longer has.
	exec("CREATE TABLE prot AS SELECT sku, site FROM want WHERE hash(sku) % 11 = 0")
	exec(`CREATE TABLE snap AS SELECT sku, site, parent_sku, CASE WHEN hash(sku) % 3 = 0 THEN price + 1 ELSE price END AS price,
		title, active FROM want WHERE hash(sku) % 2 = 0
		UNION ALL SELECT 'T' || i::VARCHAR, 1, CASE WHEN i % 2 = 0 THEN 'P1' END, 1.0, 't', true FROM range(20000) t(i)`)
	cols := []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "site", Type: "INTEGER"}, {Name: "parent_sku", Type: "VARCHAR"},
		{Name: "price", Type: "DOUBLE"}, {Name: "title", Type: "VARCHAR"}, {Name: "active", Type: "BOOLEAN"}}
	rank := variantRank
	cases := map[string]Input{
		"first sync":                    {},
		"first sync, rank, protected":   {Rank: &rank, Protected: "prot"},
		"snapshot, rank":                {Snapshot: "snap", Columns: cols, Rank: &rank},
		"snapshot, protected, no rank":  {Snapshot: "snap", Columns: cols, Protected: "prot"},
		"snapshot, deactivate, ignored": {Snapshot: "snap", Columns: cols, Rank: &rank, Diff: pipelines.Diff{ActiveField: "active", OnMissing: pipelines.MissingDeactivate, Ignore: []string{"title"}}},
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			in.Desired, in.Key = "want", []string{"sku", "site"}
			l, err := Run(ctx, db, in)
			if err != nil {
				t.Fatal(err)
			}
			var rows, wrong, firstWrong int64
			q := fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE __seq <> s), coalesce(min(__seq) FILTER (WHERE __seq <> s), -1)
				FROM (SELECT __seq, row_number() OVER (ORDER BY %s%s, %s) - 1 AS s FROM %s)`,
				l.rankOrder(in.Rank), ActionOrder, engine.IdentList(l.Key, ""), Table)
			if err := db.QueryRow(ctx, q).Scan(&rows, &wrong, &firstWrong); err != nil {
				t.Fatal(err)
			}
			if rows < 100000 {
				t.Fatalf("the diff has %d rows: the case tests too little", rows)
			}
			if wrong != 0 {
				t.Errorf("%d of %d changes are numbered out of rank and key order (the first at __seq %d)", wrong, rows, firstWrong)
			}
			var on string
			if err := db.QueryRow(ctx, "SELECT current_setting('preserve_insertion_order')::VARCHAR").Scan(&on); err != nil || on != "false" {
				t.Errorf("preserve_insertion_order is %q after the diff (%v), want the engine's false", on, err)
			}
		})
	}
}
