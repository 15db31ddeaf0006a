package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
)

var targets = map[string]*TargetState{}

// Target returns the in-process target name, creating an empty one on first use. Memory sinks configured
// with `target: name` apply their changes to it.
func Target(name string) *TargetState {
	mu.Lock()
	defer mu.Unlock()
	t, ok := targets[name]
	if !ok {
		t = &TargetState{}
		t.reset()
		targets[name] = t
	}
	return t
}

// TargetState is the content of an in-process target and its failure injections; get one from Target. It is
// safe for concurrent use.
type TargetState struct {
	mu      sync.Mutex
	records map[string]record.Record
	applied []connectors.Change
	landed  map[string]bool // IDs of acknowledged changes
	// failKeys maps a key string to the reason its changes are rejected.
	failKeys map[string]string
	// failErr, when set, stops Apply once failLeft more changes have been acknowledged.
	failErr  error
	failLeft int
}

// KeyString formats a change key as the target keys its records: connectors.FormatKey over the key's fields in
// sorted order, e.g. "sku=A1" or "sku=A1,store=1".
func KeyString(key record.Record) string {
	return connectors.FormatKey(slices.Sorted(maps.Keys(key)), key)
}

// Records returns a copy of the target's records, keyed by KeyString of their change keys.
func (t *TargetState) Records() map[string]record.Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]record.Record, len(t.records))
	for k, r := range t.records {
		out[k] = maps.Clone(r)
	}
	return out
}

// Edit changes the target behind the pipeline's back, as a merchant editing the store directly would: it
// sets the record stored under key (a KeyString) to r, or removes it when r is nil. Applied and Reconcile do
// not see it.
func (t *TargetState) Edit(key string, r record.Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r == nil {
		delete(t.records, key)
		return
	}
	t.records[key] = maps.Clone(r)
}

// Applied returns every acknowledged change, in the order Apply received them (a change applied twice appears
// twice). The changes' records are shared and must not be modified.
func (t *TargetState) Applied() []connectors.Change {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.applied)
}

// FailKeys makes Apply reject every change whose KeyString is a key of reasons, with a *connectors.ChangeError
// carrying the reason. It replaces earlier FailKeys settings; nil clears them.
func (t *TargetState) FailKeys(reasons map[string]string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failKeys = maps.Clone(reasons)
}

// FailAfter makes Apply stop once n more changes have been acknowledged (counted from this call, across
// Apply calls): the change that would exceed n and those after it get connectors.ErrNotAttempted, and Apply
// returns err. Rejected changes do not count. A nil err clears the setting.
func (t *TargetState) FailAfter(n int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failErr, t.failLeft = err, n
}

// Reset empties the target and clears its failure injections.
func (t *TargetState) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reset()
}

func (t *TargetState) reset() {
	t.records = map[string]record.Record{}
	t.applied = nil
	t.landed = map[string]bool{}
	t.failKeys = nil
	t.failErr, t.failLeft = nil, 0
}

// apply applies changes in order; see Sink.Apply.
func (t *TargetState) apply(ctx context.Context, changes []connectors.Change) ([]error, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	outcomes := make([]error, len(changes))
	for i, c := range changes {
		stop := ctx.Err()
		if stop == nil && t.failErr != nil && t.failLeft <= 0 {
			stop = t.failErr
		}
		if stop != nil {
			for j := i; j < len(changes); j++ {
				outcomes[j] = connectors.ErrNotAttempted
			}
			return outcomes, stop
		}
		key := KeyString(c.Key)
		if reason, ok := t.failKeys[key]; ok {
			outcomes[i] = &connectors.ChangeError{Reason: reason}
			continue
		}
		switch {
		case c.Action == connectors.Delete:
			delete(t.records, key)
		case c.Action != connectors.Create && c.Action != connectors.Update && c.Action != connectors.Deactivate:
			outcomes[i] = &connectors.ChangeError{Reason: fmt.Sprintf("unknown action %q", c.Action)}
			continue
		case c.After == nil:
			outcomes[i] = &connectors.ChangeError{Reason: fmt.Sprintf("%s of %s has no record", c.Action, key)}
			continue
		default:
			t.records[key] = maps.Clone(c.After)
		}
		t.applied = append(t.applied, c)
		t.landed[c.ID] = true
		t.failLeft--
	}
	return outcomes, nil
}

// reconcile reports which changes were acknowledged.
func (t *TargetState) reconcile(changes []connectors.Change) []bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	landed := make([]bool, len(changes))
	for i, c := range changes {
		landed[i] = t.landed[c.ID]
	}
	return landed
}

// sortedRecords returns copies of the records, sorted by key string.
func (t *TargetState) sortedRecords() []record.Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := slices.Sorted(maps.Keys(t.records))
	out := make([]record.Record, len(keys))
	for i, k := range keys {
		out[i] = maps.Clone(t.records[k])
	}
	return out
}
