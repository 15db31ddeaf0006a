package file

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
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
	// Entries it cannot use (not one per change, or not objects) are refused whole: the changes may be
	// light (ID and action only, as a streamed apply sends them), so the sink cannot encode them itself;
	// nothing is written.
	light := make([]connectors.Change, len(changes))
	for i, c := range changes {
		light[i] = connectors.Change{ID: c.ID, Action: c.Action}
	}
	for _, bad := range [][][]byte{entries[:1], {entries[0], []byte("garbage"), entries[2]}} {
		outcomes, err := s.ApplyEncoded(context.Background(), light, bad)
		if err == nil {
			t.Fatalf("entries %q accepted", bad)
		}
		for i, o := range outcomes {
			if o == nil {
				t.Errorf("outcome %d of refused entries is an acknowledgement", i)
			}
		}
		if got := readString(t, s.Changelog()); got != changeLines {
			t.Errorf("change log after refused entries:\n%s\nwant it unchanged", got)
		}
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

// TestApplyEncodedWriteFailure: a write of the entries' lines that fails midway acknowledges none of them
// (each outcome is the error, which is also returned); the complete lines that did reach the log are what
// Reconcile and LandedEntries find on the next run, and the next write first cuts the partial line off.
func TestApplyEncodedWriteFailure(t *testing.T) {
	ctx := context.Background()
	enc := &record.JSON{UTC: true}
	entries := make([][]byte, len(changes))
	for i := range changes {
		b, err := changes[i].AppendEntry(enc, nil)
		if err != nil {
			t.Fatal(err)
		}
		entries[i] = b
	}
	s := newSink(t, t.TempDir(), map[string]any{"path": "p.csv"})
	var events []string
	recording(s, &events, len(strings.SplitAfter(changeLines, "\n")[0])+20)
	outcomes, err := s.ApplyEncoded(ctx, changes, entries)
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("ApplyEncoded error = %v, want disk full", err)
	}
	for i, o := range outcomes {
		if !errors.Is(o, errDiskFull) {
			t.Errorf("outcome %d = %v, want the write error", i, o)
		}
	}
	got, err := s.LandedEntries(ctx, []string{changes[0].ID, changes[1].ID})
	if err != nil || got[0] == nil || got[1] != nil {
		t.Fatalf("landed entries after the failed write: %q, %v; want the first change's only", got, err)
	}
	s.open = openLog
	if _, err := s.ApplyEncoded(ctx, changes[1:], entries[1:]); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, s.Changelog()); got != changeLines {
		t.Errorf("change log after the retry:\n%s\nwant:\n%s", got, changeLines)
	}
}
