package apply

import (
	"context"
	"reflect"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// rejectingSink takes entries (connectors.EncodedApplier) and refuses the changes whose IDs it is given,
// keeping the light forms it was sent.
type rejectingSink struct {
	refuse map[string]bool
	got    []connectors.Change
}

func (s *rejectingSink) Apply(context.Context, []connectors.Change) ([]error, error) {
	panic("a sink that takes entries is sent them (ApplyEncoded)")
}

func (s *rejectingSink) ApplyEncoded(_ context.Context, changes []connectors.Change, entries [][]byte) ([]error, error) {
	out := make([]error, len(changes))
	for i, c := range changes {
		s.got = append(s.got, c)
		if s.refuse[c.ID] {
			out[i] = &connectors.ChangeError{Reason: "refused " + string(entries[i][:1])}
		}
	}
	return out, nil
}

func (s *rejectingSink) Close() error { return nil }

// TestBatchEntriesRejectedKeys: a batch read as entries (diff.Entries: light forms without a key) whose
// changes a sink refuses reports each refused change with its key, the same as the change's full form
// gives (diff.KeyJSON of SinkChange's key): a composite key of text, an integer and a date, with escapes.
// The acknowledged changes are committed and the refused ones are not.
func TestBatchEntriesRejectedKeys(t *testing.T) {
	ctx := context.Background()
	db, store, _ := openStore(t)
	if err := db.Exec(ctx, `CREATE TABLE desired AS SELECT * FROM (VALUES
		('a "quoted"', 1::BIGINT, DATE '2026-01-02', 1.5::DOUBLE),
		('b', -2::BIGINT, DATE '1999-12-31', 2.0::DOUBLE),
		('c', 3::BIGINT, DATE '2000-02-29', NULL::DOUBLE)) t(sku, store, since, price)`); err != nil {
		t.Fatal(err)
	}
	sch, err := db.SchemaOf(ctx, "desired")
	if err != nil {
		t.Fatal(err)
	}
	key := []string{"sku", "store", "since"}
	l, err := diff.Run(ctx, db, diff.Input{Desired: "desired", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	all, err := diff.Read(ctx, db, l, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	planned := plan.State{Lineage: "L"}
	batch, entries, seqs, err := diff.Entries(ctx, db, l, 0, int64(len(all)), 2, func(_ int64, r *diff.Row) (string, error) {
		return r.ID(planned, r.Form()), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sink := &rejectingSink{refuse: map[string]bool{batch[0].ID: true, batch[2].ID: true}}
	a := &Applier{DB: db, Store: store, Sink: sink, SinkType: "test", Key: key, Schema: sch, RunID: "run1", NewKeys: true,
		Commit: func(ctx context.Context, c *state.Commit) error {
			_, err := store.Commit(ctx, db.Conn(), c)
			return err
		}}
	var rejected []Rejected
	t.Run("apply", func(t *testing.T) {
		applied := &plan.Summary{}
		if err := a.BatchEntries(ctx, batch, entries, seqs, len(batch), Tally{Applied: applied, Rejected: &rejected}); err != nil {
			t.Fatal(err)
		}
		if applied.Create != 1 || len(rejected) != 2 {
			t.Fatalf("applied %+v, rejected %+v; want 1 applied, 2 refused", applied, rejected)
		}
	})
	for _, c := range sink.got {
		if c.Key != nil {
			t.Errorf("change %s sent with a key %v: the light form has none (the test tests nothing)", c.ID, c.Key)
		}
	}
	for j, i := range []int{0, 2} {
		full := l.SinkChange(&all[i], batch[i].ID)
		want := Rejected{ID: full.ID, Action: full.Action, Key: diff.KeyJSON(key, full.Key), Reason: "refused {"}
		if !reflect.DeepEqual(rejected[j], want) {
			t.Errorf("refused change %d: %+v, want %+v", i, rejected[j], want)
		}
	}
	n, err := db.Count(ctx, "SELECT count(*) FROM "+store.Snapshot())
	if err != nil || n != 1 {
		t.Errorf("the snapshot holds %d records (%v), want the acknowledged one", n, err)
	}
}
