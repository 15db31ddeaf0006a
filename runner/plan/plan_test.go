package plan

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

func samplePlan(n int) *Plan {
	p := &Plan{FormatVersion: FormatVersion, Pipeline: Pipeline{Name: "shop", Merchant: "m"}, Key: []string{"sku"},
		EvaluatedAt: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), Changes: []Change{}}
	for i := 0; i < n; i++ {
		p.Changes = append(p.Changes, Change{Action: connectors.Update, Key: map[string]any{"sku": "A"},
			Fields: []FieldChange{{Name: "description", Before: "<p>old</p>", After: "<p>new</p>"}}})
		p.Summary.Add(connectors.Update)
	}
	setIDs(p)
	return p
}

// setIDs gives p's changes their IDs (ChangeID) and p its hash, as the planner does.
func setIDs(p *Plan) {
	for i := range p.Changes {
		p.Changes[i].ID = ChangeID(p.State, p.Key, &p.Changes[i])
	}
	p.Hash = p.ComputeHash()
}

func TestReadRefusesOtherVersionsAndEdits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "plan.json") // Write creates the folder
	if err := Write(path, samplePlan(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err != nil {
		t.Fatalf("read back: %v", err)
	}
	b, _ := os.ReadFile(path)
	cases := map[string]string{
		"another major version": strings.Replace(string(b), `"format_version": "1.1"`, `"format_version": "2.0"`, 1),
		"an edited change":      strings.Replace(string(b), `"action": "update"`, `"action": "delete"`, 1),
		"a truncated file":      string(b[:len(b)/2]),
	}
	want := map[string]string{"another major version": "format version", "an edited change": "hash does not match",
		"a truncated file": "not a plan document"}
	for name, content := range cases {
		if content == string(b) {
			t.Fatalf("%s: the tampering changed nothing", name)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(path); err == nil || !strings.Contains(err.Error(), want[name]) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, want[name])
		}
	}
}

func TestWriteTextLimitAndColour(t *testing.T) {
	var plain, colour bytes.Buffer
	p := samplePlan(5)
	if err := WriteText(&plain, p, TextOptions{Limit: 2}); err != nil {
		t.Fatal(err)
	}
	out := plain.String()
	if strings.Count(out, "~ update") != 2 || !strings.Contains(out, "... and 3 more changes") {
		t.Errorf("--limit 2 over 5 changes:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") || !strings.Contains(out, `"<p>old</p>" -> "<p>new</p>"`) {
		t.Errorf("plain text has escape codes or escaped HTML:\n%s", out)
	}
	if !strings.HasPrefix(out, "Plan for pipeline shop") || !strings.Contains(out, "Plan: 0 to create, 5 to update") {
		t.Errorf("summary first:\n%s", out)
	}
	if err := WriteText(&colour, p, TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(colour.String(), "\x1b[33m~") {
		t.Errorf("coloured text lacks the update colour")
	}
}

// TestWriteIsMarshalIndent holds the streamed document to json.MarshalIndent of the plan, byte for byte,
// over changes of every shape (maps with keys and strings that need escaping, numbers read back from a file,
// annotations, nested values the fast path hands to encoding/json), and checks the hash reads back.
func TestWriteIsMarshalIndent(t *testing.T) {
	p := samplePlan(0)
	p.Inputs = []Input{{Name: "source", Type: "file", Mode: "snapshot", Records: 3, Fingerprint: "xxh3:1"}}
	p.Notes = []Note{{Kind: spec.NoteInput, Subject: "source <s>", Message: "a <note> & more"}, {Message: "an old plan's note"}}
	p.Changes = []Change{
		{ID: "c1", Action: connectors.Create, Key: map[string]any{"sku": "A\"1", "store": int64(2)},
			Fields: []FieldChange{{Name: "price", After: 19.99}, {Name: "on", After: true}, {Name: "t", After: "2026-01-01T00:00:00Z"}}},
		{ID: "c2", Action: connectors.Update, Key: map[string]any{"sku": "B<2>"},
			Fields:      []FieldChange{{Name: "qty", Before: int64(1), After: nil}, {Name: "big", Before: 1e21, After: 1e-7}},
			Annotations: map[string]any{"promotion": "Summer & Sale", "lost": "x"}},
		{ID: "c3", Action: connectors.Delete, Key: map[string]any{}},
		{ID: "c4", Action: connectors.Delete, Key: nil},
		{ID: "c5", Action: connectors.Update, Key: map[string]any{"sku": "C"},
			Fields:      []FieldChange{{Name: "n", Before: json.Number("12.50"), After: json.Number("3")}},
			Annotations: map[string]any{"nested": map[string]any{"b": []any{1, "two"}, "a": nil}}},
	}
	p.Summary = Summary{Create: 1, Update: 2, Delete: 2}
	p.Hash = p.ComputeHash()
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := Write(path, p); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want, _ := json.MarshalIndent(p, "", "  ")
	if string(got) != string(want)+"\n" {
		t.Fatalf("Write differs from MarshalIndent:\n%s\nwant:\n%s", got, want)
	}
	// Read back, with the changes a planner makes: keys of the plan's key fields, IDs of their content.
	p.Key = []string{"sku", "store"}
	p.Changes[1].Key["store"] = int64(1)
	p.Changes[2].Key = map[string]any{"sku": "C", "store": int64(3)}
	p.Changes[3].Key = map[string]any{"sku": "D", "store": nil}
	p.Changes[4].Key["store"] = int64(5)
	p.Changes[4].Fields[0].Before, p.Changes[4].Fields[0].After = 12.5, int64(3) // a planner's values, not JSON text
	setIDs(p)
	if err := Write(path, p); err != nil {
		t.Fatal(err)
	}
	read, err := Read(path)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if read.Hash != p.Hash || len(read.Changes) != 5 {
		t.Errorf("read back: hash %s (want %s), %d changes", read.Hash, p.Hash, len(read.Changes))
	}
	// A plan without changes is the same document too.
	empty := samplePlan(0)
	if err := Write(path, empty); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	want, _ = json.MarshalIndent(empty, "", "  ")
	if string(got) != string(want)+"\n" {
		t.Fatalf("empty plan:\n%s\nwant:\n%s", got, want)
	}
}

// TestHashCoversChanges checks that the hash moves with any change's content (by its ID, which the
// planner computes from the content, and by its annotations) and not with the plan's creation time or file
// path.
func TestHashCoversChanges(t *testing.T) {
	p := samplePlan(3)
	h := p.ComputeHash()
	p.CreatedAt, p.Pipeline.File = time.Now(), "/elsewhere.yaml"
	if p.ComputeHash() != h {
		t.Error("the hash moved with the creation time or file path")
	}
	p.Changes[2].Fields[0].After = "<p>newer</p>"
	p.Changes[2].ID = ChangeID(p.State, p.Key, &p.Changes[2])
	h2 := p.ComputeHash()
	if h2 == h {
		t.Error("the hash did not move with a change's value")
	}
	p.Changes[2].Annotations = map[string]any{"promotion": "P-1"}
	h3 := p.ComputeHash()
	if h3 == h2 {
		t.Error("the hash did not move with a change's annotations")
	}
	p.Changes[2].Annotations["promotion"] = "P-2"
	if p.ComputeHash() == h3 {
		t.Error("the hash did not move with an annotation's value")
	}
	p.Changes[0], p.Changes[2] = p.Changes[2], p.Changes[0]
	if p.ComputeHash() == h3 {
		t.Error("the hash did not move with the changes' order")
	}
}

// TestReadChecksChangeIDs checks that Read refuses a plan file whose change content was edited while its ID
// and the plan's hash were left as they were (the hash covers changes by their IDs), and accepts every
// number as the planner wrote it, from its JSON text alone: an integral float64 is written as an integer
// (20, not 20.0), large and small ones with an exponent, and a change may hold many of them.
func TestReadChecksChangeIDs(t *testing.T) {
	p := samplePlan(0)
	p.Key = []string{"sku"}
	p.State = State{Lineage: "3c6e5ad74020a3046b6a7fd90d4e1b2c", Serial: 7}
	p.Changes = []Change{
		{Action: connectors.Create, Key: map[string]any{"sku": "A"},
			Fields: []FieldChange{{Name: "price", After: 20.0}, {Name: "qty", After: int64(20)}, {Name: "weight", After: 0.25},
				{Name: "big", After: 1e21}, {Name: "tiny", After: 1e-7}, {Name: "neg", After: int64(-3)}, {Name: "on", After: false},
				{Name: "f1", After: 1.0}, {Name: "f2", After: 2.0}, {Name: "f3", After: -0.0}, {Name: "f4", After: 1e20},
				{Name: "i1", After: int64(1)}, {Name: "i2", After: int64(2)}, {Name: "i3", After: int64(0)}, {Name: "f5", After: 5.0},
				{Name: "f6", After: 6.0}, {Name: "f7", After: 7.0}, {Name: "i4", After: int64(4)}, {Name: "i5", After: int64(5)}}},
		{Action: connectors.Update, Key: map[string]any{"sku": "B"},
			Fields:      []FieldChange{{Name: "qty", Before: int64(9007199254740993), After: float64(9007199254740992)}},
			Annotations: map[string]any{"promotion": "P-7", "rank": int64(2)}},
		{Action: connectors.Delete, Key: map[string]any{"sku": "C"}},
	}
	p.Summary = Summary{Create: 1, Update: 1, Delete: 1}
	setIDs(p)
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := Write(path, p); err != nil {
		t.Fatal(err)
	}
	read, err := Read(path)
	if err != nil {
		t.Fatalf("a plan as written: %v", err)
	}
	if read.Hash != p.Hash {
		t.Fatalf("read back with hash %s, want %s", read.Hash, p.Hash)
	}
	b, _ := os.ReadFile(path)
	edits := map[string][2]string{
		"a value":                   {`"after": 0.25`, `"after": 0.26`},
		"a number's text":           {"\"after\": 20\n", "\"after\": 20.0\n"},
		"a key":                     {`"sku": "C"`, `"sku": "X"`},
		"an action":                 {`"action": "delete"`, `"action": "deactivate"`},
		"a field name":              {`"name": "weight"`, `"name": "width"`},
		"an annotation":             {`"promotion": "P-7"`, `"promotion": "P-8"`},
		"the serial changes hashed": {`"serial": 7`, `"serial": 8`},
	}
	for name, e := range edits {
		edited := strings.Replace(string(b), e[0], e[1], 1)
		if edited == string(b) {
			t.Fatalf("%s: %q not in the document", name, e[0])
		}
		if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "its hash does not match its content") {
			t.Errorf("an edited %s: err = %v, want a refusal", name, err)
		}
	}
	// A plan of format 1.0 (its hash over the whole document) is refused with a request to plan again.
	old := strings.Replace(string(b), `"format_version": "1.1"`, `"format_version": "1.0"`, 1)
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "make the plan again") {
		t.Errorf("a 1.0 plan: err = %v, want a request to make the plan again", err)
	}
}
