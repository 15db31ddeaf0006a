package diff

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// TestPlanChangeIntoReusedEqualsPlanChange: one plan.Change reused across changes of every action, with and
// without annotations (the streamed hash pass), gives each change exactly the document form and ID a fresh
// PlanChange gives it: nothing of the previous change leaks into the next.
func TestPlanChangeIntoReusedEqualsPlanChange(t *testing.T) {
	l := &Layout{Key: []string{"sku"},
		Desired:  []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "price", Type: "DOUBLE"}, {Name: "qty", Type: "BIGINT"}},
		Compared: []state.Column{{Name: "price", Type: "DOUBLE"}, {Name: "qty", Type: "BIGINT"}},
		Annot:    []state.Column{{Name: "why", Type: "VARCHAR"}},
		compIdx:  []int{1, 2}}
	changes := []Change{
		{Seq: 0, Action: connectors.Create, Key: []any{"A"}, After: []any{"A", 1.5, int64(2)}, Annotations: []any{"promo X"}},
		{Seq: 1, Action: connectors.Create, Key: []any{"B"}, After: []any{"B", nil, int64(0)}, Annotations: []any{nil}},
		{Seq: 2, Action: connectors.Update, Key: []any{"C"}, After: []any{"C", 2.0, int64(1)}, Annotations: []any{nil},
			Before: []any{1.0, int64(1)}, Changed: []bool{true, false}},
		{Seq: 3, Action: connectors.Update, Key: []any{"D"}, After: []any{"D", 2.0, int64(5)}, Annotations: []any{"won"},
			Before: []any{2.0, int64(1)}, Changed: []bool{false, true}},
		{Seq: 4, Action: connectors.Delete, Key: []any{"E"}, Before: []any{3.0, int64(1)}, Changed: []bool{false, false}},
		{Seq: 5, Action: connectors.Create, Key: []any{"F"}, After: []any{"F", 9.0, nil}, Annotations: []any{nil}},
	}
	planned := plan.State{Lineage: "L", Serial: 3}
	var reused plan.Change
	ids := map[string]bool{}
	for i := range changes {
		want := l.PlanChange(&changes[i], planned)
		l.PlanChangeInto(&changes[i], planned, &reused)
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(reused)
		if string(wj) != string(gj) {
			t.Errorf("change %d: reused form\n %s\nwant\n %s", i, gj, wj)
		}
		if ids[want.ID] {
			t.Errorf("change %d: ID %s given twice", i, want.ID)
		}
		ids[want.ID] = true
	}
}

// BenchmarkChangeID is the per-change cost of a change's ID (every planned change has one: 1M on a first
// sync of 1M records).
func BenchmarkChangeID(b *testing.B) {
	st := plan.State{Lineage: "3c6e5ad74020a3046b6a7fd90d4e1b2c", Serial: 42}
	pc := &plan.Change{Action: "update", Key: map[string]any{"sku": "SK0000012345"},
		Fields: []plan.FieldChange{{Name: "price", Before: 10.0, After: 12.5}, {Name: "qty", Before: int64(3), After: int64(4)}}}
	b.ReportAllocs()
	for b.Loop() {
		_ = ChangeID(st, []string{"sku"}, pc)
	}
}

// TestChangeIDStable pins the ID of one change: the ID is stored in intents and plans, so a change of its
// encoding would make a plan saved before an upgrade look stale and an interrupted apply's intents unknown.
// Plan format 1.1 changed it once, deliberately, for integral float64 values only: they take an int64's form
// (JSON writes both as 10, and plan.Read recomputes IDs from the JSON), so price 10.0 below reads "i10" (it
// was "f10": ID 343ab7d7b0959b3aa02224ed); an ID without an integral float is as before (the second pin,
// computed with the 1.0 encoding).
func TestChangeIDStable(t *testing.T) {
	st := plan.State{Lineage: "3c6e5ad74020a3046b6a7fd90d4e1b2c", Serial: 42}
	pc := &plan.Change{Action: "update", Key: map[string]any{"sku": "SK0000012345"},
		Fields: []plan.FieldChange{{Name: "price", Before: 10.0, After: 12.5}, {Name: "qty", Before: int64(3), After: nil}}}
	got := ChangeID(st, []string{"sku"}, pc)
	other := ChangeID(plan.State{Lineage: st.Lineage, Serial: 43}, []string{"sku"}, pc)
	if got != "07d9f5ca95c61665b74688cd" || len(other) != 24 || got == other {
		t.Fatalf("ChangeID = %q (serial 43: %q): want 07d9f5ca95c61665b74688cd, another 24 hex digits at serial 43", got, other)
	}
	asInt := &plan.Change{Action: "update", Key: pc.Key,
		Fields: []plan.FieldChange{{Name: "price", Before: int64(10), After: 12.5}, {Name: "qty", Before: int64(3), After: nil}}}
	if id := ChangeID(st, []string{"sku"}, asInt); id != got {
		t.Errorf("price 10 as an int64: ID %s, as a float64 %s; JSON writes both as 10, the IDs must agree", id, got)
	}
	pc.Fields[0].Before = 10.5
	if id := ChangeID(st, []string{"sku"}, pc); id != "1184040531e7c6c9f197e08e" {
		t.Errorf("ChangeID without an integral float = %q, want 1184040531e7c6c9f197e08e (as format 1.0 gave it)", id)
	}
}

// TestChangeIDOfEqualsPlanChange: the ID computed straight from a change's values (the streamed apply's
// path) is the ID of its plan form, for every action and value type (times become RFC 3339 text in the
// plan form, and so in the ID), with one IDForm reused across changes.
func TestChangeIDOfEqualsPlanChange(t *testing.T) {
	l := &Layout{Key: []string{"store", "sku"},
		Desired: []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "store", Type: "BIGINT"}, {Name: "price", Type: "DOUBLE"},
			{Name: "qty", Type: "BIGINT"}, {Name: "on", Type: "BOOLEAN"}, {Name: "at", Type: "TIMESTAMP"}},
		Compared: []state.Column{{Name: "price", Type: "DOUBLE"}, {Name: "qty", Type: "BIGINT"}, {Name: "on", Type: "BOOLEAN"}, {Name: "at", Type: "TIMESTAMP"}},
		compIdx:  []int{2, 3, 4, 5}}
	at := time.Date(2026, 12, 7, 2, 30, 0, 123_000_000, time.UTC)
	changes := []Change{
		{Action: connectors.Create, Key: []any{int64(1), "A"}, After: []any{"A", int64(1), 1.5, int64(2), true, at}},
		{Action: connectors.Create, Key: []any{int64(1), "B"}, After: []any{"B", int64(1), nil, int64(0), nil, nil}},
		{Action: connectors.Update, Key: []any{int64(2), "C"}, After: []any{"C", int64(2), 2.0, int64(1), false, at},
			Before: []any{1.0, int64(1), true, nil}, Changed: []bool{true, false, true, true}},
		{Action: connectors.Deactivate, Key: []any{int64(2), "D"}, After: []any{"D", int64(2), 2.0, int64(5), false, nil},
			Before: []any{2.0, int64(1), false, at}, Changed: []bool{false, true, false, true}},
		{Action: connectors.Delete, Key: []any{int64(3), "E<&>\x00"}, Before: []any{3.0, int64(1), nil, nil}, Changed: []bool{false, false, false, false}},
	}
	var f plan.IDForm
	for _, planned := range []plan.State{{}, {Lineage: "L", Serial: 3}} {
		for i := range changes {
			want := l.PlanChange(&changes[i], planned).ID
			if got := l.ChangeIDOf(&changes[i], planned, &f); got != want {
				t.Errorf("serial %d, change %d: ID %s, PlanChange's %s", planned.Serial, i, got, want)
			}
		}
	}
}

// BenchmarkChangeIDOf is the per-change cost of a create's ID from its values (the streamed apply), against
// BenchmarkPlanChangeInto, the plan form and its ID.
func BenchmarkChangeIDOf(b *testing.B) {
	l, c := benchCreate()
	var f plan.IDForm
	st := plan.State{Serial: 0}
	b.ReportAllocs()
	for b.Loop() {
		_ = l.ChangeIDOf(c, st, &f)
	}
}

func BenchmarkPlanChangeInto(b *testing.B) {
	l, c := benchCreate()
	var pc plan.Change
	st := plan.State{Serial: 0}
	b.ReportAllocs()
	for b.Loop() {
		l.PlanChangeInto(c, st, &pc)
	}
}

// benchCreate is a create of the benchmark catalog's shape (a key and 11 fields).
func benchCreate() (*Layout, *Change) {
	l := &Layout{Key: []string{"sku"}}
	c := &Change{Action: connectors.Create, Key: []any{"SK0000012345"}}
	l.Desired = append(l.Desired, state.Column{Name: "sku", Type: "VARCHAR"})
	c.After = append(c.After, "SK0000012345")
	for i, v := range []any{"Deck shoe Navy 41", "Harbor", 49.99, int64(12), true, "0001234567890", "shoes", 0.45, "EUR", "active", int64(3)} {
		l.Desired = append(l.Desired, state.Column{Name: string(rune('a' + i)), Type: "VARCHAR"})
		c.After = append(c.After, v)
	}
	return l, c
}

// TestEachPlanEqualsPlanChange: the plan form decoded straight from the diff's columns (a plan only shown
// or saved) is, change for change and in the same order, what PlanChange gives for Each's Change: same
// document form and ID, for creates, updates, deactivations and deletions, NULL before- and after-values,
// annotations, composite keys of several types, times, and any range of the changes.
func TestEachPlanEqualsPlanChange(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 2})
	exec(`CREATE TABLE desired AS SELECT * FROM (VALUES
		('B', 2, 'bottle', 2.5, 3::BIGINT, true, 'promo', TIMESTAMPTZ '2026-01-02 03:04:05.25+00'),
		('A', 1, NULL, 1.0, NULL, false, NULL, NULL),
		('A', 2, 'anchor', NULL, 0::BIGINT, NULL, 'x', TIMESTAMPTZ '2026-01-01 00:00:00+00'),
		('C', 1, 'cup', 4.0, 7::BIGINT, true, NULL, NULL),
		('E', 1, 'ewer', 1e300, -1::BIGINT, false, 'gone dark', TIMESTAMPTZ '2026-03-01 00:00:00+00'),
		('D', 9, 'dish', 5.0, 1::BIGINT, true, NULL, NULL))
		AS t(sku, site, name, price, qty, active, why, seen)`)
	exec(`CREATE TABLE snap AS SELECT * FROM (VALUES
		('A', 1, 'apple', 1.0, 4::BIGINT, true, NULL),
		('C', 1, 'cup', 4.0, 7::BIGINT, true, NULL),
		('D', 9, 'dish', 6.0, NULL, true, TIMESTAMPTZ '2025-01-01 00:00:00+00'),
		('E', 1, 'ewer', 2.0, 1::BIGINT, true, TIMESTAMPTZ '2026-03-01 00:00:00+00'),
		('F', 4, 'fork', 1.0, 1::BIGINT, true, NULL),
		('G', 4, NULL, NULL, NULL, false, NULL))
		AS t(sku, site, name, price, qty, active, seen)`)
	snapCols := []state.Column{{Name: "sku", Type: "VARCHAR"}, {Name: "site", Type: "INTEGER"}, {Name: "name", Type: "VARCHAR"},
		{Name: "price", Type: "DECIMAL(2,1)"}, {Name: "qty", Type: "BIGINT"}, {Name: "active", Type: "BOOLEAN"}, {Name: "seen", Type: "TIMESTAMP WITH TIME ZONE"}}
	cases := []Input{
		{Key: []string{"sku", "site"}, Annotations: []string{"why"}, Snapshot: "snap", Columns: snapCols},
		{Key: []string{"sku", "site"}, Snapshot: "snap", Columns: snapCols,
			Diff: pipelines.Diff{OnMissing: pipelines.MissingDeactivate, ActiveField: "active"}},
		{Key: []string{"site", "sku"}, Annotations: []string{"why"}},
	}
	planned := plan.State{Lineage: "L", Serial: 7}
	for i, in := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			in.Desired = "desired"
			l, err := Run(ctx, db, in)
			if err != nil {
				t.Fatal(err)
			}
			actions := map[connectors.Action]bool{}
			for _, r := range [][2]int64{{0, -1}, {1, 3}, {2, -1}} {
				var want, got []string
				err := Each(ctx, db, l, r[0], r[1], func(c *Change) error {
					actions[c.Action] = true
					j, err := json.Marshal(l.PlanChange(c, planned))
					want = append(want, string(j))
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				var kept []plan.Change // kept past the batches they were read from, as the plan keeps them
				err = EachPlan(ctx, db, l, r[0], r[1], planned, func(pc plan.Change) error {
					kept = append(kept, pc)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				exec("CREATE OR REPLACE TABLE scratch AS SELECT repeat('x', 100) || range AS s FROM range(10000)") // reuses freed memory
				for _, pc := range kept {
					j, err := json.Marshal(pc)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, string(j))
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("changes %d..%d straight from the columns:\n%s\nwant (PlanChange):\n%s", r[0], r[1],
						strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
			if len(actions) < 3 && in.Snapshot != "" {
				t.Errorf("the case plans only %v: it tests too little", actions)
			}
		})
	}
}
