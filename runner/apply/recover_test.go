package apply

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/state"
)

// entrySink is a sink that keeps the entries of the changes it applied (connectors.EntryReconciler), as the
// file sink's change log does: landed maps a change ID to its entry.
type entrySink struct {
	connectors.Sink
	landed map[string][]byte
}

func (s entrySink) LandedEntries(_ context.Context, ids []string) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = s.landed[id]
	}
	return out, nil
}

// TestRecoverOldAndPackedIntents: a killed run's intents that hold only their change's ID, recorded the way
// possync did before packed intents (a row each, with an empty change) and packed (a part's IDs in one
// row), are settled alike by the next run's Recover: the changes the sink's entries say landed are
// committed under the killed run's ID, the others dropped (planned again), and no intent is left.
func TestRecoverOldAndPackedIntents(t *testing.T) {
	ctx := context.Background()
	db, store, _ := openStore(t)
	sch := arrow.NewSchema([]arrow.Field{{Name: "sku", Type: arrow.BinaryTypes.String}, {Name: "qty", Type: arrow.PrimitiveTypes.Int64}}, nil)
	ids := []string{"aaaaaaaaaaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaaaaaaaaaa2", "aaaaaaaaaaaaaaaaaaaaaaa3", "aaaaaaaaaaaaaaaaaaaaaaa4"}
	landed := map[string][]byte{}
	for i, sku := range []string{"a", "b", "c", "d"} {
		c := connectors.Change{ID: ids[i], Action: connectors.Create, Key: record.Record{"sku": sku},
			After: record.Record{"sku": sku, "qty": int64(i + 1)}}
		e, err := c.AppendEntry(&record.JSON{UTC: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 { // the first of each form landed
			landed[c.ID] = e
		}
	}
	// The row form: what AddIntents recorded for such a sink before packed intents.
	if err := db.Exec(ctx, `CREATE TABLE old_intents AS SELECT * FROM (VALUES ('`+ids[0]+`', 'killed', ''), ('`+ids[1]+`', 'killed', '')) t(id, run_id, change)`); err != nil {
		t.Fatal(err)
	}
	if err := store.AddIntents(ctx, db.Conn(), "old_intents"); err != nil {
		t.Fatal(err)
	}
	if err := store.AddIntentIDs(ctx, db.Conn(), "killed", ids[2:]); err != nil {
		t.Fatal(err)
	}
	var committed []*state.Commit
	a := &Applier{DB: db, Store: store, Sink: entrySink{landed: landed}, SinkType: "file", Key: []string{"sku"}, Schema: sch, RunID: "next",
		Commit: func(ctx context.Context, c *state.Commit) error {
			committed = append(committed, c)
			_, err := store.Commit(ctx, db.Conn(), c)
			return err
		}}
	n, note, err := a.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || !strings.Contains(note, "settled 4 change(s)") {
		t.Errorf("recovered %d (%q), want 2 of 4 settled", n, note)
	}
	if len(committed) != 1 || committed[0].RunID != "killed" || committed[0].Acked != 2 {
		t.Errorf("commits %+v, want one of 2 changes under the killed run", committed)
	}
	if left, err := store.Intents(ctx, db.Conn()); err != nil || len(left) != 0 {
		t.Errorf("intents left %+v (%v), want none", left, err)
	}
	var got string
	if err := db.QueryRow(ctx, "SELECT string_agg(sku || '=' || qty, ',' ORDER BY sku) FROM "+store.Snapshot()).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "a=1,c=3" {
		t.Errorf("snapshot %q, want the landed changes a=1,c=3", got)
	}
}
