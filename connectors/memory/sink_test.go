package memory

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	amem "github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

func newSink(t *testing.T, target string, env connectors.Env) *Sink {
	t.Helper()
	s, err := NewSink(spec.Config{Values: map[string]any{"target": target}}, env)
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	return s
}

func change(id string, action connectors.Action, sku string, after record.Record) connectors.Change {
	return connectors.Change{ID: id, Action: action, Key: record.Record{"sku": sku}, After: after}
}

func ids(changes []connectors.Change) []string {
	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = c.ID
	}
	return out
}

func TestSinkAppliesChanges(t *testing.T) {
	ctx := context.Background()
	s := newSink(t, t.Name(), connectors.Env{})
	batch := []connectors.Change{
		change("1", connectors.Create, "A1", record.Record{"sku": "A1", "price": 1.0, "active": true}),
		change("2", connectors.Create, "B2", record.Record{"sku": "B2", "price": 2.0, "active": true}),
		change("3", connectors.Create, "C3", record.Record{"sku": "C3", "price": 3.0, "active": true}),
		change("4", connectors.Update, "A1", record.Record{"sku": "A1", "price": 1.5, "active": true}),
		change("5", connectors.Deactivate, "B2", record.Record{"sku": "B2", "price": 2.0, "active": false}),
		change("6", connectors.Delete, "C3", nil),
	}
	outcomes, err := s.Apply(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(outcomes, make([]error, len(batch))) {
		t.Errorf("outcomes = %v, want all nil", outcomes)
	}
	want := map[string]record.Record{
		"sku=A1": {"sku": "A1", "price": 1.5, "active": true},
		"sku=B2": {"sku": "B2", "price": 2.0, "active": false},
	}
	tgt := Target(t.Name())
	if got := tgt.Records(); !reflect.DeepEqual(got, want) {
		t.Errorf("records = %v, want %v", got, want)
	}
	if got := ids(tgt.Applied()); !reflect.DeepEqual(got, []string{"1", "2", "3", "4", "5", "6"}) {
		t.Errorf("applied = %v", got)
	}
	// Records are copies: changing them does not change the target.
	tgt.Records()["sku=A1"]["price"] = 99.0
	if got := tgt.Records()["sku=A1"]["price"]; got != 1.5 {
		t.Errorf("target record changed through a copy: price %v", got)
	}
	tgt.Reset()
	if len(tgt.Records()) != 0 || len(tgt.Applied()) != 0 {
		t.Errorf("after Reset: %v, %v", tgt.Records(), tgt.Applied())
	}
}

func TestKeyString(t *testing.T) {
	tests := []struct {
		key  record.Record
		want string
	}{
		{record.Record{"sku": "A1"}, "sku=A1"},
		{record.Record{"store": int64(1), "sku": "A1"}, "sku=A1,store=1"},
		{record.Record{"sku": nil}, "sku=null"},
	}
	for _, tt := range tests {
		if got := KeyString(tt.key); got != tt.want {
			t.Errorf("KeyString(%v) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestSinkFailureInjection(t *testing.T) {
	ctx := context.Background()
	name := t.Name()
	s := newSink(t, name, connectors.Env{})
	tgt := Target(name)
	tgt.FailKeys(map[string]string{"sku=B2": "price must be positive"})
	boom := errors.New("connection reset")
	tgt.FailAfter(3, boom)

	rec := func(sku string) record.Record { return record.Record{"sku": sku} }
	first := []connectors.Change{
		change("1", connectors.Create, "A1", rec("A1")),
		change("2", connectors.Create, "B2", rec("B2")),
		change("3", connectors.Create, "C3", rec("C3")),
		change("4", connectors.Update, "D4", nil),
		change("5", "rename", "E5", rec("E5")),
	}
	outcomes, err := s.Apply(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	var ce *connectors.ChangeError
	if outcomes[0] != nil || outcomes[2] != nil {
		t.Errorf("outcomes of good changes = %v, %v, want nil", outcomes[0], outcomes[2])
	}
	if !errors.As(outcomes[1], &ce) || ce.Reason != "price must be positive" {
		t.Errorf("outcome of a failed key = %v, want the ChangeError with its reason", outcomes[1])
	}
	if !errors.As(outcomes[3], &ce) || !strings.Contains(ce.Reason, "no record") {
		t.Errorf("outcome of an update without a record = %v", outcomes[3])
	}
	if !errors.As(outcomes[4], &ce) || !strings.Contains(ce.Reason, `unknown action "rename"`) {
		t.Errorf("outcome of an unknown action = %v", outcomes[4])
	}

	// Two changes were acknowledged: one more may be, across calls, then Apply stops.
	second := []connectors.Change{
		change("6", connectors.Create, "F6", rec("F6")),
		change("7", connectors.Create, "G7", rec("G7")),
		change("8", connectors.Create, "H8", rec("H8")),
	}
	outcomes, err = s.Apply(ctx, second)
	if !errors.Is(err, boom) {
		t.Errorf("error = %v, want %v", err, boom)
	}
	if want := []error{nil, connectors.ErrNotAttempted, connectors.ErrNotAttempted}; !reflect.DeepEqual(outcomes, want) {
		t.Errorf("outcomes = %v, want %v", outcomes, want)
	}
	if got := ids(tgt.Applied()); !reflect.DeepEqual(got, []string{"1", "3", "6"}) {
		t.Errorf("applied = %v, want [1 3 6]", got)
	}
	if _, ok := tgt.Records()["sku=B2"]; ok {
		t.Error("a rejected change reached the records")
	}

	landed, err := s.Reconcile(ctx, append(first, second...))
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true, false, false, true, false, false}; !reflect.DeepEqual(landed, want) {
		t.Errorf("landed = %v, want %v", landed, want)
	}

	// Clearing the injections lets the rest through.
	tgt.FailAfter(0, nil)
	tgt.FailKeys(nil)
	if outcomes, err := s.Apply(ctx, second[1:]); err != nil || outcomes[0] != nil || outcomes[1] != nil {
		t.Errorf("Apply after clearing = %v, %v", outcomes, err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	outcomes, err = s.Apply(cctx, second[:1])
	if !errors.Is(err, context.Canceled) || !errors.Is(outcomes[0], connectors.ErrNotAttempted) {
		t.Errorf("Apply with a cancelled context = %v, %v", outcomes, err)
	}
}

func TestSinkList(t *testing.T) {
	ctx := context.Background()
	name := t.Name()
	tgt := Target(name)
	var batch []connectors.Change
	for _, sku := range []string{"C3", "A1", "B2"} {
		batch = append(batch, change(sku, connectors.Create, sku, record.Record{"sku": sku, "price": 1.0, "extra": "x"}))
	}
	if _, err := newSink(t, name, connectors.Env{}).Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if _, err := newSink(t, name, connectors.Env{}).List(ctx, connectors.ReadRequest{}); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Errorf("List without a schema = %v, want an error about the schema", err)
	}
	s := newSink(t, name, connectors.Env{Schema: productSchema})
	recs, sizes, res := drain(t, func(a amem.Allocator) (connectors.Reader, error) {
		return s.List(ctx, connectors.ReadRequest{Alloc: a})
	})
	want := []record.Record{
		{"sku": "A1", "price": 1.0},
		{"sku": "B2", "price": 1.0},
		{"sku": "C3", "price": 1.0},
	}
	if !reflect.DeepEqual(recs, want) || !reflect.DeepEqual(sizes, []int{3}) || res.Mode != connectors.Snapshot {
		t.Errorf("List = %v in batches %v (%v), want %v in one snapshot batch", recs, sizes, res.Mode, want)
	}

	// Many records come in batches of listBatch.
	tgt.Reset()
	batch = batch[:0]
	for i := range 2*listBatch + 1 {
		sku := fmt.Sprintf("S%05d", i)
		batch = append(batch, change(sku, connectors.Create, sku, record.Record{"sku": sku}))
	}
	if _, err := s.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	recs, sizes, _ = drain(t, func(a amem.Allocator) (connectors.Reader, error) {
		return s.List(ctx, connectors.ReadRequest{Alloc: a})
	})
	if !reflect.DeepEqual(sizes, []int{listBatch, listBatch, 1}) {
		t.Errorf("batch sizes = %v, want [%d %d 1]", sizes, listBatch, listBatch)
	}
	if recs[0]["sku"] != "S00000" || recs[len(recs)-1]["sku"] != fmt.Sprintf("S%05d", 2*listBatch) {
		t.Errorf("records not in key order: first %v, last %v", recs[0], recs[len(recs)-1])
	}
}

func TestRegistered(t *testing.T) {
	if _, _, ok := connectors.Sources.Lookup("memory"); !ok {
		t.Error("memory source not registered")
	}
	_, ctor, ok := connectors.Sinks.Lookup("memory")
	if !ok {
		t.Fatal("memory sink not registered")
	}
	if _, err := ctor(spec.Config{Values: map[string]any{}}, connectors.Env{}); err == nil || !strings.Contains(err.Error(), "target is required") {
		t.Errorf("constructor without a target = %v", err)
	}
}
