package plan

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// FuzzRead feeds arbitrary bytes to Read, the reader of a saved plan (`possync apply --plan FILE`). It must
// not panic; a refused document gets an error that names the file; a document it accepts re-encodes to a
// plan that reads back with the same hash and writes the same bytes again (Write ∘ Read is idempotent).
func FuzzRead(f *testing.F) {
	golden, _ := filepath.Glob(filepath.Join("..", "testdata", "plan", "*", "want.plan.json"))
	for _, g := range golden {
		if b, err := os.ReadFile(g); err == nil {
			f.Add(b)
		}
	}
	rich := samplePlan(0)
	rich.Inputs = []Input{{Name: "source", Type: "file", Mode: "snapshot", Records: 3, Fingerprint: "xxh3:1"}}
	rich.Notes = []Note{{Kind: spec.NoteHeldRemoval, Message: "a <note> & more"}, {Kind: spec.NotePendingMapping, Subject: "sku=A", Message: "m"},
		{Message: "sku=B: an old plan's note"}}
	rich.Rejects = []connectors.Reject{{Where: "in.csv:3", Reason: "bad", Key: map[string]any{"sku": "Z"}}}
	rich.Changes = []Change{
		{ID: "c1", Action: connectors.Create, Key: map[string]any{"sku": "A\"1"},
			Fields: []FieldChange{{Name: "price", After: 19.99}, {Name: "on", After: true}, {Name: "whole", After: 20.0}, {Name: "qty", After: int64(20)}}},
		{ID: "c2", Action: connectors.Update, Key: map[string]any{"sku": "B<2>"},
			Fields:      []FieldChange{{Name: "qty", Before: int64(1), After: nil}, {Name: "big", Before: 1e21, After: 1e-7}},
			Annotations: map[string]any{"nested": map[string]any{"b": []any{1, "two"}, "a": nil}}},
		{ID: "c3", Action: connectors.Delete, Key: map[string]any{"sku": "C"}},
	}
	rich.Summary = Summary{Create: 1, Update: 1, Delete: 1}
	setIDs(rich)
	for _, p := range []*Plan{samplePlan(0), samplePlan(2), rich} {
		var buf bytes.Buffer
		if err := writeDocument(&buf, p, false, sliceChanges(p.Changes)); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte(""))
	f.Add([]byte("null"))
	f.Add([]byte(`{"format_version":"1.1"}`))
	f.Add([]byte(`{"format_version":"1.1","hash":""}`))
	f.Add([]byte("\xef\xbb\xbf{}"))

	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		in := filepath.Join(dir, "in.plan.json")
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Read(in)
		if err != nil {
			if p != nil {
				t.Fatalf("Read: a plan together with error %v", err)
			}
			if !strings.Contains(err.Error(), in) && !strings.HasPrefix(err.Error(), "read plan") {
				t.Fatalf("Read: error %q does not say what it read", err)
			}
			return
		}
		// Accepted: the hash it checked is the plan's own, and the plan re-encodes stably.
		if p.Hash == "" || p.ComputeHash() != p.Hash {
			t.Fatalf("Read accepted a plan whose hash %q is not its content's %q", p.Hash, p.ComputeHash())
		}
		out := filepath.Join(dir, "out.plan.json")
		if err := Write(out, p); err != nil {
			t.Fatalf("Write of a plan Read accepted: %v", err)
		}
		first, _ := os.ReadFile(out)
		if !json.Valid(first) {
			t.Fatalf("Write produced invalid JSON:\n%s", first)
		}
		back, err := Read(out)
		if err != nil {
			t.Fatalf("a plan Read accepted does not read back after Write: %v\n%s", err, first)
		}
		if back.Hash != p.Hash {
			t.Fatalf("hash changed on re-encoding: %s, then %s", p.Hash, back.Hash)
		}
		if !back.CreatedAt.Equal(p.CreatedAt) && !(back.CreatedAt.IsZero() && p.CreatedAt.IsZero()) {
			t.Fatalf("created_at changed on re-encoding: %v, then %v", p.CreatedAt, back.CreatedAt)
		}
		if err := Write(out, back); err != nil {
			t.Fatal(err)
		}
		second, _ := os.ReadFile(out)
		if !bytes.Equal(first, second) {
			t.Fatalf("re-encoding is not stable:\n%s\nthen:\n%s", first, second)
		}
		var text bytes.Buffer
		if err := WriteText(&text, p, TextOptions{Limit: 10}); err != nil {
			t.Fatalf("WriteText of a plan Read accepted: %v", err)
		}
	})
}
