package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
)

// A pipeline whose only source is a CSV file read by a map has the file parsed straight into the map's
// table (a view over DuckDB's reader, stage.Input.Defer); progress events (Options.Observe) read the
// source's table, so with them the file is loaded first. Both must plan the same and fail the same.

// deferPipeline reads sku, name, price and qty; its map reads every column unless mapQty is false.
func deferPipeline(mapQty bool, extra string) string {
	qty := "      qty: qty\n"
	if !mapQty {
		qty = ""
	}
	return `version: 1
name: shop
merchant: test-shop
key: sku
source:
  type: file
  path: input.csv
` + extra + `  columns:
    - {name: sku, type: string}
    - {name: name, type: string}
    - {name: price, type: float}
    - {name: qty, type: int}
transforms:
  - type: map
    fields:
      sku: sku
      title: trim(name)
      price: price
` + qty + `  - type: filter
    expr: price >= 0
sink:
  type: file
  path: out/records.csv
`
}

// viewRead is what the run's log says when a source's files are read through a view.
const viewRead = "its files are parsed by the first step's query"

// planBoth plans the pipeline in dir with the file read through a view and loaded first; viewed says
// whether the first plan staged the file as a view (the second must not: it fails the test).
func planBoth(t *testing.T, dir string) (deferred, loaded *plan.Plan, derr, lerr error, viewed bool) {
	t.Helper()
	var dlog, llog strings.Builder
	deferred, derr = runner.Plan(context.Background(), loadAt(t, dir), runner.Options{Log: &dlog})
	loaded, lerr = runner.Plan(context.Background(), loadAt(t, dir), runner.Options{Log: &llog, Observe: func(runner.Event) {}})
	if strings.Contains(llog.String(), viewRead) {
		t.Fatalf("with progress events, the file was read through a view:\n%s", llog.String())
	}
	return deferred, loaded, derr, lerr, strings.Contains(dlog.String(), viewRead)
}

// planJSON is what a plan says, without when it was made.
func planJSON(t *testing.T, pl *plan.Plan) string {
	t.Helper()
	c := *pl
	c.CreatedAt, c.EvaluatedAt, c.Hash = time.Time{}, time.Time{}, ""
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDeferredReadFailsAsALoadedRead(t *testing.T) {
	cases := []struct {
		name, input string
		mapQty      bool
		want        string
	}{
		{"malformed value", "sku,name,price,qty\nA,a,1,1\nB,b,cheap,2\n", true, "1 malformed row(s)"},
		{"malformed value in a column the map does not read", "sku,name,price,qty\nA,a,1,1\nB,b,2,many\n", false, "1 malformed row(s)"},
		{"row cut short", "sku,name,price,qty\nA,a,1,1\nB,b\n", true, "the row has 2 field(s), the header 4"},
		{"missing column", "sku,name,price\nA,a,1\n", true, `no column "qty"`},
		{"map fails on a row", "sku,name,price,qty\nA,a,1,1\nB,,2,2\n", true, "sku=B"},
		{"map fails and a row is malformed", "sku,name,price,qty\nA,,1,1\nB,b,cheap,2\n", true, "1 malformed row(s)"},
		{"duplicate keys", "sku,name,price,qty\nA,a,1,1\nA,a,1,1\n", true, "1 key(s) appear more than once"},
		{"not UTF-8", "sku,name,price,qty\nA,caf\xe9,1,1\n", true, "not UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "pipeline.yaml"), deferPipeline(c.mapQty, ""))
			writeFile(t, filepath.Join(dir, "input.csv"), c.input)
			_, _, derr, lerr, _ := planBoth(t, dir)
			if derr == nil || lerr == nil {
				t.Fatalf("a plan succeeded on bad input: %v / %v", derr, lerr)
			}
			if derr.Error() != lerr.Error() {
				t.Fatalf("read through a view: %v\nloaded first: %v", derr, lerr)
			}
			if !strings.Contains(derr.Error(), c.want) {
				t.Errorf("error %q does not mention %q", derr, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
				t.Error("bad input wrote output")
			}
		})
	}
}

func TestDeferredReadPlansAsALoadedRead(t *testing.T) {
	dir := t.TempDir()
	// min_rows_percent: the second file's few records are suspect, so its deletions are held (the source's
	// review counts the records the map's query read).
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), deferPipeline(true, "  min_rows_percent: 50\n"))
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price,qty\nA, anchor ,3,1\nB,bottle,2.5,0\nC,cup,1,1\nD,dish,-1,4\n")
	d, l, derr, lerr, viewed := planBoth(t, dir)
	if derr != nil || lerr != nil || !viewed {
		t.Fatalf("plan: %v / %v; read through a view: %t", derr, lerr, viewed)
	}
	if got, want := planJSON(t, d), planJSON(t, l); got != want {
		t.Fatalf("first plan read through a view:\n%s\nloaded first:\n%s", got, want)
	}
	if d.Summary.Create != 3 || d.Inputs[0].Records != 4 {
		t.Fatalf("first plan: %+v, inputs %+v; want 3 creates of 4 records read", d.Summary, d.Inputs)
	}
	mustApply(t, loadAt(t, dir), runner.Options{})

	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price,qty\nA,anchor,4,1\n")
	d, l, derr, lerr, viewed = planBoth(t, dir)
	if derr != nil || lerr != nil || !viewed {
		t.Fatalf("plan: %v / %v; read through a view: %t", derr, lerr, viewed)
	}
	if got, want := planJSON(t, d), planJSON(t, l); got != want {
		t.Fatalf("second plan read through a view:\n%s\nloaded first:\n%s", got, want)
	}
	if d.Summary.Update != 1 || d.Summary.Delete != 0 || d.Inputs[0].Records != 1 || !strings.Contains(fmt.Sprint(d.Notes), "min_rows_percent") {
		t.Fatalf("second plan: %+v, inputs %+v, notes %q; want 1 update, the deletions held", d.Summary, d.Inputs, d.Notes)
	}
}

// TestDeferredOnlyForRowSteps: the source is read through a view only when its steps say they read nothing
// else (the first gives one row per record, the others are row functions of their input); a filter first, a
// sql step after the map (it may read any relation, here the source itself) or a later step reading the
// source by name load the file first, and every variant plans the same with and without progress events.
func TestDeferredOnlyForRowSteps(t *testing.T) {
	const mapStep = "  - type: map\n    name: mapped\n    fields:\n      sku: sku\n      title: trim(name)\n      price: price\n      qty: qty\n"
	for _, c := range []struct {
		name, steps string
		viewed      bool
		creates     int
	}{
		{"map then filter", mapStep + "  - type: filter\n    expr: price >= 0\n", true, 2},
		{"filter first", "  - type: filter\n    expr: price >= 0\n" + mapStep, false, 2},
		{"sql after the map", mapStep + "  - type: sql\n    query: SELECT m.* FROM mapped m JOIN source s USING (sku) WHERE s.price >= 0\n", false, 2},
		{"filter reading the source", mapStep + "  - type: filter\n    input: source\n    expr: price >= 0\n", false, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := deferPipeline(true, "")
			p = p[:strings.Index(p, "transforms:\n")] + "transforms:\n" + c.steps + p[strings.Index(p, "sink:\n"):]
			writeFile(t, filepath.Join(dir, "pipeline.yaml"), p)
			writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price,qty\nA,anchor,3,1\nB,bottle,2.5,0\nD,dish,-1,4\n")
			d, l, derr, lerr, viewed := planBoth(t, dir)
			if derr != nil || lerr != nil || viewed != c.viewed {
				t.Fatalf("plan: %v / %v; read through a view: %t, want %t", derr, lerr, viewed, c.viewed)
			}
			if got, want := planJSON(t, d), planJSON(t, l); got != want {
				t.Fatalf("plan:\n%s\nloaded first:\n%s", got, want)
			}
			if d.Summary.Create != c.creates || d.Inputs[0].Records != 3 {
				t.Errorf("plan %+v, inputs %+v; want %d creates of 3 records read", d.Summary, d.Inputs, c.creates)
			}
		})
	}
}
