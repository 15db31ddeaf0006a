package diff

import (
	"encoding/json"
	"testing"

	"github.com/possync/possync/connectors"
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
