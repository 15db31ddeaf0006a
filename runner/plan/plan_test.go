package plan

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
)

func samplePlan(n int) *Plan {
	p := &Plan{FormatVersion: FormatVersion, Pipeline: Pipeline{Name: "shop", Merchant: "m"}, Key: []string{"sku"},
		EvaluatedAt: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), Changes: []Change{}}
	for i := 0; i < n; i++ {
		p.Changes = append(p.Changes, Change{ID: "id", Action: connectors.Update, Key: map[string]any{"sku": "A"},
			Fields: []FieldChange{{Name: "description", Before: "<p>old</p>", After: "<p>new</p>"}}})
		p.Summary.Add(connectors.Update)
	}
	p.Hash = p.ComputeHash()
	return p
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
		"another major version": strings.Replace(string(b), `"format_version": "1.0"`, `"format_version": "2.0"`, 1),
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
