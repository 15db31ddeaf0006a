package file

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
)

// TestApplyEncodedWritesApplysLines: given the runner's entries (connectors.Change.AppendEntry, written as
// the runner writes its intents), the sink writes exactly the change log Apply writes, so a change is
// encoded once without the log changing by a byte.
func TestApplyEncodedWritesApplysLines(t *testing.T) {
	enc := &record.JSON{UTC: true}
	entries := make([][]byte, len(changes))
	for i := range changes {
		b, err := changes[i].AppendEntry(enc, nil)
		if err != nil {
			t.Fatal(err)
		}
		entries[i] = b
	}
	s := newSink(t, t.TempDir(), map[string]any{"path": "out/products.csv"})
	outcomes, err := s.ApplyEncoded(context.Background(), changes, entries)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(outcomes, make([]error, len(changes))) {
		t.Errorf("outcomes = %v, want all nil", outcomes)
	}
	if got := readString(t, s.Changelog()); got != changeLines {
		t.Errorf("change log:\n%s\nwant:\n%s", got, changeLines)
	}
	// Entries it cannot use (not one per change) make it encode the changes itself: same lines again.
	if _, err := s.ApplyEncoded(context.Background(), changes, entries[:1]); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, s.Changelog()); got != changeLines+changeLines {
		t.Errorf("change log after entries it could not use:\n%s\nwant the lines twice", got)
	}
}

// TestEntryDecodesToTheChange: an entry, as intents store it, decodes with encoding/json into the change it
// was written from (recovery reads intents so).
func TestEntryDecodesToTheChange(t *testing.T) {
	for _, c := range changes {
		b, err := c.AppendEntry(&record.JSON{UTC: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var back connectors.Change
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if back.ID != c.ID || back.Action != c.Action || len(back.Key) != len(c.Key) || len(back.After) != len(c.After) ||
			len(back.Before) != len(c.Before) || len(back.Fields) != len(c.Fields) {
			t.Errorf("entry %s decodes to %+v, want %+v", b, back, c)
		}
	}
}
