package plan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/spec"
)

// TestReadExplainsBrokenDocuments checks that a file that is not a plan document says what is wrong with it
// in terms of the file (empty, truncated, UTF-16, where the JSON breaks, the wrong shape), not Go's decoder.
func TestReadExplainsBrokenDocuments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.json")
	tests := []struct{ name, content, want string }{
		{"empty", "", "the file is empty"},
		{"blank", " \n\t\n", "the file is empty"},
		{"truncated", "{\n  \"format_version\": \"1.0\",\n  \"pipeline\": {\n    \"name\": \"sh", "the file ends in the middle of the document (truncated after 60 bytes?)"},
		{"UTF-16", "\xff\xfe{\x00}\x00", "the file is UTF-16 text"},
		{"binary", "{\"format_version\": \"1.0\",\n \x00\x01", "not JSON at line 2, column 2: invalid character '\\x00'"},
		{"garbage", "\xe9\x12PK", "not JSON at line 1, column 1"},
		{"an array", "[1, 2]", "want a JSON object, have an array"},
		{"a number", "42", "want a JSON object, have a number"},
		{"a field of the wrong type", "{\n  \"format_version\": \"1.0\",\n  \"key\": \"sku\"\n}", "key (line 3) is a string"},
	}
	for _, tt := range tests {
		if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Read(path)
		if err == nil || !strings.Contains(err.Error(), "read plan "+path+": not a plan document: "+tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestReadRefusesTailsAndUnhashable checks two documents FuzzRead found Read accepting: one whose changes
// did not add up to its summary and that had no hash (the hash it recomputed was "" too), and one with more
// after its closing brace (ignored until then).
func TestReadRefusesTailsAndUnhashable(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := Write(good, samplePlan(2)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	unhashable := strings.Replace(string(b), `"update": 2`, `"update": 3`, 1)
	unhashable = unhashable[:strings.Index(unhashable, `  "hash"`)] + "  \"hash\": \"\"\n}\n"
	tests := []struct{ name, content, want string }{
		{"changes that do not add up, no hash", unhashable, "its hash does not match its content"},
		{"data after the document", string(b) + "{}\n", "more data follows the document, from byte"},
		{"two documents", string(b) + string(b), "more data follows the document"},
	}
	path := filepath.Join(dir, "plan.json")
	for _, tt := range tests {
		if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(path); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := Read(good); err != nil {
		t.Errorf("a plan as written: %v", err)
	}
}

// TestReadNotesOldAndNew: a note is written as an object with its kind; a plan written before notes had
// kinds (each note a plain string) still reads, its hash still holds, its notes are of kind "other", and
// it is written back to the same bytes. A note that is neither says where it is.
func TestReadNotesOldAndNew(t *testing.T) {
	dir := t.TempDir()
	p := samplePlan(1)
	p.Notes = []Note{{Kind: spec.NotePendingMapping, Subject: "sku=A", Message: "pending mapping: decide"}}
	p.Hash = p.ComputeHash()
	path := filepath.Join(dir, "new.json")
	if err := Write(path, p); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if want := "\"notes\": [\n    {\n      \"kind\": \"pending_mapping\",\n      \"subject\": \"sku=A\",\n      \"message\": \"pending mapping: decide\"\n    }\n  ]"; !strings.Contains(string(b), want) {
		t.Fatalf("the note is not written as an object with its kind:\n%s", b)
	}
	if got, err := Read(path); err != nil || len(got.Notes) != 1 || got.Notes[0] != p.Notes[0] {
		t.Fatalf("read back: %v, %+v", err, got)
	}

	// An old plan: the document (and so its hash) as possync wrote it before notes had kinds.
	old := strings.Replace(string(b), "{\n      \"kind\": \"pending_mapping\",\n      \"subject\": \"sku=A\",\n      \"message\": \"pending mapping: decide\"\n    }",
		`"sku=A: pending mapping: decide"`, 1)
	var legacy Plan
	if err := json.Unmarshal([]byte(old), &legacy); err != nil {
		t.Fatal(err)
	}
	legacy.Hash = "" // the hash an old possync computed: over the same document, without the hash
	old = strings.Replace(old, p.Hash, legacy.ComputeHash(), 1)
	path = filepath.Join(dir, "old.json")
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatalf("an old plan with string notes: %v", err)
	}
	if n := got.Notes; len(n) != 1 || n[0].Kind != "" || n[0].KindOrOther() != spec.NoteOther || n[0].String() != "sku=A: pending mapping: decide" {
		t.Errorf("the old note reads as %+v", n)
	}
	again := filepath.Join(dir, "again.json")
	if err := Write(again, got); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(again); string(b) != old {
		t.Errorf("the old plan is not written back as it was:\n%s\nwant:\n%s", b, old)
	}

	bad := strings.Replace(old, `"sku=A: pending mapping: decide"`, "42", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "notes (line") {
		t.Errorf("a note that is a number: %v, want the notes named", err)
	}
}
