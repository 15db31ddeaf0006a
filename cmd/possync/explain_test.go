package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/possync/possync/examples"
)

// explanation is the part of `possync explain --json` the tests read.
type explanation struct {
	Sources, Steps []struct {
		Name string
		Rows []map[string]any
	}
	State struct {
		Rows []map[string]any
	}
	Action string
	Change *struct {
		Fields []struct {
			Name          string
			Before, After any
		}
	}
	Rule    string
	Options []string
}

func (f *fixture) explain(t *testing.T, key string) explanation {
	t.Helper()
	r := f.run(t, nil, "explain", "catalog.yaml", key, "--json")
	var x explanation
	if err := json.Unmarshal([]byte(r.stdout), &x); err != nil || r.code != 0 {
		t.Fatalf("explain %s: %v\n%s", key, err, r)
	}
	return x
}

// editFile replaces old with new in the fixture's file rel, which must contain it.
func (f *fixture) editFile(t *testing.T, rel, old, new string) {
	t.Helper()
	b, err := os.ReadFile(f.path(rel))
	if err != nil || !strings.Contains(string(b), old) {
		t.Fatalf("%s lacks %q (%v)", rel, old, err)
	}
	if err := os.WriteFile(f.path(rel), []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestExplainExample explains records of the acme-outdoor example (file source, map step, active_field) as
// the POS changes: a create before the first apply; then an update, a deactivation by the active field, a
// deletion of a row gone from the export and an unchanged record; then, with diff.on_missing: deactivate
// and a filter step that drops one item, the missing record's deactivation and the step that dropped it.
func TestExplainExample(t *testing.T) {
	f := &fixture{dir: t.TempDir(), state: t.TempDir()}
	if err := examples.Extract("acme-outdoor", f.dir); err != nil {
		t.Fatal(err)
	}
	x := f.explain(t, "AO-1001")
	if x.Action != "create" || len(x.Sources) != 1 || len(x.Sources[0].Rows) != 1 || x.Sources[0].Rows[0]["retail_price"] != 129.95 ||
		len(x.Steps) != 1 || x.Steps[0].Name != "products" || x.Steps[0].Rows[0]["price"] != 129.95 || x.Steps[0].Rows[0]["quantity"] != 6.0 ||
		len(x.State.Rows) != 0 || !strings.Contains(x.Rule, "not in the state") {
		t.Fatalf("before the first apply: %+v", x)
	}
	if r := f.run(t, nil, "apply", "catalog.yaml"); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	// Right after an apply nothing changed, so a plan would be the no-change rerun's shortcut; explain still
	// runs the transforms to show the record's path.
	x = f.explain(t, "AO-1001")
	if x.Action != "none" || len(x.Sources) != 1 || len(x.Sources[0].Rows) != 1 || len(x.Steps) != 1 || len(x.Steps[0].Rows) != 1 ||
		len(x.State.Rows) != 1 || !strings.HasPrefix(x.Rule, "unchanged") {
		t.Fatalf("unchanged since the apply: %+v", x)
	}

	f.editFile(t, "data/products.csv", "Footwear > Running,129.95", "Footwear > Running,139.95")                        // AO-1001
	f.editFile(t, "data/products.csv", "Footwear > Running,129.95,61.20,true", "Footwear > Running,129.95,61.20,false") // AO-1002
	b, _ := os.ReadFile(f.path("data/products.csv"))
	var kept []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "AO-1003,") {
			kept = append(kept, l)
		}
	}
	if err := os.WriteFile(f.path("data/products.csv"), []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}

	x = f.explain(t, "sku=AO-1001")
	if x.Action != "update" || x.Change == nil || len(x.Change.Fields) != 1 || x.Change.Fields[0].Name != "price" ||
		x.Change.Fields[0].Before != 129.95 || x.Change.Fields[0].After != 139.95 || x.State.Rows[0]["price"] != 129.95 ||
		!strings.Contains(x.Rule, "different values of price") {
		t.Fatalf("price change: %+v", x)
	}
	x = f.explain(t, "AO-1002")
	if x.Action != "deactivate" || !strings.Contains(x.Rule, "diff.active_field enabled turns false") || x.Steps[0].Rows[0]["enabled"] != false {
		t.Fatalf("deactivated in the POS: %+v", x)
	}
	x = f.explain(t, "AO-1003")
	if x.Action != "delete" || len(x.Sources[0].Rows) != 0 || len(x.State.Rows) != 1 || !strings.Contains(x.Rule, "diff.on_missing is delete") {
		t.Fatalf("gone from the export: %+v", x)
	}
	x = f.explain(t, "AO-1005")
	if x.Action != "none" || !strings.HasPrefix(x.Rule, "unchanged") {
		t.Fatalf("unchanged: %+v", x)
	}
	x = f.explain(t, "NOPE-1")
	if x.Action != "none" || !strings.Contains(x.Rule, "neither in the desired records nor in the state") {
		t.Fatalf("unknown key: %+v", x)
	}

	f.editFile(t, "catalog.yaml", "diff:\n  active_field: enabled", "diff:\n  active_field: enabled\n  on_missing: deactivate")
	f.editFile(t, "catalog.yaml", "transforms:\n", "transforms:\n  - type: filter\n    name: not_1004\n    expr: sku != \"AO-1004\"\n")
	x = f.explain(t, "AO-1003")
	if x.Action != "deactivate" || !strings.Contains(x.Rule, "diff.on_missing is deactivate") || !contains(x.Options, "diff.on_missing: deactivate") {
		t.Fatalf("missing with on_missing deactivate: %+v", x)
	}
	x = f.explain(t, "AO-1004")
	if len(x.Steps) != 2 || x.Steps[0].Name != "not_1004" || len(x.Sources[0].Rows) != 1 || len(x.Steps[0].Rows) != 0 || len(x.Steps[1].Rows) != 0 ||
		len(x.State.Rows) != 1 || x.State.Rows[0]["enabled"] != false || x.Action != "none" || !strings.Contains(x.Rule, "already inactive") {
		// AO-1004 is in-store only (online false): already disabled, so its absence changes nothing.
		t.Fatalf("dropped by the filter: %+v", x)
	}

	// Text output, and the key checked against the pipeline's key.
	r := f.run(t, nil, "explain", "catalog.yaml", "AO-1001")
	if r.code != 0 {
		t.Errorf("explain as text: want exit 0, got %s", r)
	}
	for _, want := range []string{"Record sku=AO-1001 of acme-outdoor-catalog", "Sources:\n  source (file): 1 row(s)",
		"Transforms:\n  not_1004 (filter): 1 row(s)", "State (serial ", "Planned: update\n  price: 129.95 → 139.95\nRule: "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := f.run(t, nil, "explain", "catalog.yaml", "upc=1"); r.code != 2 || !strings.Contains(r.stderr, "not a key field") {
		t.Errorf("explain by a non-key field: %s", r)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestExplainDuplicateKey: when a key appears twice in the desired records, plan refuses and points to
// explain, and explain shows the two source rows and step rows behind the key with why no plan is made.
func TestExplainDuplicateKey(t *testing.T) {
	f := &fixture{dir: t.TempDir(), state: t.TempDir()}
	if err := examples.Extract("acme-outdoor", f.dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.path("data/products.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var dup string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "AO-1001,") {
			dup = strings.Replace(l, "129.95", "119.95", 1)
		}
	}
	if err := os.WriteFile(f.path("data/products.csv"), append(b, []byte(dup+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	r := f.run(t, nil, "plan", "catalog.yaml")
	if r.code != 1 || !strings.Contains(r.stderr, "sku=AO-1001 (2 records)") || !strings.Contains(r.stderr, "possync explain FILE KEY") {
		t.Fatalf("plan with a duplicated key: want exit 1 naming the key and explain, got %s", r)
	}
	x := f.explain(t, "AO-1001")
	if x.Action != "none" || len(x.Sources) != 1 || len(x.Sources[0].Rows) != 2 || len(x.Steps) != 1 || len(x.Steps[0].Rows) != 2 ||
		!strings.HasPrefix(x.Rule, "no plan can be made: 1 key(s) appear more than once") || strings.Contains(x.Rule, "possync explain") {
		t.Fatalf("explain of a duplicated key: %+v", x)
	}
	prices := fmt.Sprint(x.Sources[0].Rows[0]["retail_price"], x.Sources[0].Rows[1]["retail_price"])
	if prices != "129.95 119.95" && prices != "119.95 129.95" {
		t.Errorf("explain of a duplicated key: source rows' prices %s, want 129.95 and 119.95", prices)
	}
}
