package tcache

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/spec"
	_ "github.com/possync/possync/transforms/all" // the declarations transforms.ReadsClock reads
)

func step(typ string, values map[string]any) *pipelines.Step {
	return &pipelines.Step{Component: pipelines.Component{Name: "s", Type: typ, Config: spec.Config{Values: values}}}
}

// TestEligible: maps and filters are cached unless an expression reads the clock; other types never are.
func TestEligible(t *testing.T) {
	for _, c := range []struct {
		st   *pipelines.Step
		want bool
	}{
		{step("map", map[string]any{"fields": map[string]any{"a": spec.Expr{Text: `replace(x, "a", "b")`}}}), true},
		{step("filter", map[string]any{"expr": spec.Expr{Text: `known > 1`}}), true},
		{step("map", map[string]any{"fields": map[string]any{"a": spec.Expr{Text: `now().Year()`}}}), false},
		{step("filter", map[string]any{"expr": spec.Expr{Text: `updated_at > now()`}}), false},
		// Decided on the syntax tree (transforms.ReadsClock), as the no-change rerun decides: a spaced call
		// reads the clock, "now" in a string literal or a declared type does not.
		{step("map", map[string]any{"fields": map[string]any{"a": spec.Expr{Text: `now ()  >= launch`}}}), false},
		{step("filter", map[string]any{"expr": spec.Expr{Text: "launch <= now\n()"}}), false},
		{step("map", map[string]any{"fields": map[string]any{"a": spec.Expr{Text: `"now" + sku`}}}), true},
		{step("map", map[string]any{"fields": map[string]any{"now": spec.Expr{Text: `stamp`}}, "types": map[string]any{"now": "timestamp"}}), true},
		{step("map", map[string]any{"fields": map[string]any{"a": spec.Expr{Text: `now(`}}}), false}, // cannot tell
		{step("sql", map[string]any{"query": spec.Expr{Text: `SELECT 1`}}), false},
		{step("match", nil), false},
		{step("promotions", nil), false},
	} {
		if got, why := Eligible(c.st); got != c.want {
			t.Errorf("%s %v: eligible %v (%s), want %v", c.st.Type, c.st.Config.Values, got, why, c.want)
		}
	}
}

// TestSetReadsNewestGeneration: a cache is the newest base and the delta of its generation; files of older
// generations (a run killed before removing them), other fingerprints and temporary files are not read, and
// a new base removes them all.
func TestSetReadsNewestGeneration(t *testing.T) {
	dir := t.TempDir()
	c := &Cache{Dir: dir, Build: "b"}
	st := step("map", nil)
	write := func(names ...string) {
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s := c.Set(3, st, "fp"); s.Gen != 0 || len(s.Files()) != 0 {
		t.Fatalf("empty folder: %+v", s)
	}
	write("03-s.fp.1.base.parquet", "03-s.fp.1.delta.parquet", "03-s.fp.2.base.parquet", "03-s.other.7.base.parquet",
		"03-s.123.tmp", "04-s.fp.9.base.parquet")
	s := c.Set(3, st, "fp")
	if want := []string{filepath.Join(dir, "03-s.fp.2.base.parquet")}; s.Gen != 2 || !slices.Equal(s.Files(), want) {
		t.Fatalf("Set = gen %d files %v, want gen 2 files %v", s.Gen, s.Files(), want)
	}
	tmp, err := s.Temp()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte("delta"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitDelta(tmp); err != nil {
		t.Fatal(err)
	}
	s = c.Set(3, st, "fp")
	if len(s.Files()) != 2 || s.Delta != filepath.Join(dir, "03-s.fp.2.delta.parquet") {
		t.Fatalf("after a delta: %v", s.Files())
	}
	tmp, err = s.Temp()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte("base"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitBase(tmp); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"03-s.fp.3.base.parquet", "04-s.fp.9.base.parquet"}; !slices.Equal(names, want) {
		t.Errorf("after a new base the folder holds %v, want %v (the other step's file kept)", names, want)
	}
}

// TestFingerprint: the fingerprint moves with the build, the position, the step's name and configuration,
// the input's schema and the zone (a nil zone is UTC).
func TestFingerprint(t *testing.T) {
	a := step("map", map[string]any{"fields": map[string]any{"a": spec.Expr{Text: "x"}}})
	b := step("map", map[string]any{"fields": map[string]any{"a": spec.Expr{Text: "y"}}})
	renamed := step("map", map[string]any{"fields": map[string]any{"a": spec.Expr{Text: "x"}}})
	renamed.Name = "t"
	text := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	number := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	base := Fingerprint("b1", 0, a, text, nil)
	if base != Fingerprint("b1", 0, step("map", map[string]any{"fields": map[string]any{"a": spec.Expr{Text: "x"}}}), text, time.UTC) {
		t.Error("equal steps over equal inputs (a nil zone and UTC) have different fingerprints")
	}
	// Two fields at given positions: moved in the file (or read through another path) the step keeps its
	// fingerprint; with its fields in the other order (a map's output columns) it does not.
	at := func(file string, lineA, lineB int) *pipelines.Step {
		return step("map", map[string]any{"fields": map[string]any{
			"a": spec.Expr{Text: "x", Pos: spec.Pos{File: file, Line: lineA, Col: 9, Path: "/transforms/0/fields/a"}},
			"b": spec.Expr{Text: "y", Pos: spec.Pos{File: file, Line: lineB, Col: 9, Path: "/transforms/0/fields/b"}},
		}})
	}
	placed := Fingerprint("b1", 0, at("p.yaml", 10, 11), text, nil)
	if moved := Fingerprint("b1", 0, at("/srv/p/p.yaml", 14, 17), text, nil); moved != placed {
		t.Error("a step moved in its file, read through another path, has another fingerprint")
	}
	if swapped := Fingerprint("b1", 0, at("p.yaml", 11, 10), text, nil); swapped == placed {
		t.Error("a map with its fields in the other order keeps the fingerprint")
	}
	for name, fp := range map[string]string{
		"build": Fingerprint("b2", 0, a, text, nil), "position": Fingerprint("b1", 1, a, text, nil),
		"expression": Fingerprint("b1", 0, b, text, nil), "name": Fingerprint("b1", 0, renamed, text, nil),
		"input schema": Fingerprint("b1", 0, a, number, nil), "zone": Fingerprint("b1", 0, a, text, time.FixedZone("UTC+1", 3600)),
	} {
		if fp == base {
			t.Errorf("a changed %s keeps the fingerprint", name)
		}
	}
}

// TestPrune: the files of a step that is no longer at its position under its name, or is no longer
// eligible (here: now a SQL step), are removed; the others' stay.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"00-a.fp.1.base.parquet", "01-b.fp.1.base.parquet", "01-b.fp.1.delta.parquet", "02-c.fp.3.base.parquet", "01-old.fp.1.base.parquet"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, b, c := step("map", nil), step("filter", nil), step("sql", nil)
	a.Name, b.Name, c.Name = "a", "b", "c"
	(&Cache{Dir: dir}).Prune([]*pipelines.Step{a, b, c})
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"00-a.fp.1.base.parquet", "01-b.fp.1.base.parquet", "01-b.fp.1.delta.parquet"}; !slices.Equal(names, want) {
		t.Errorf("after Prune the folder holds %v, want %v", names, want)
	}
}
