package runner_test

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// builds counts the test_countmatch steps built, by the pipeline's folder (Env.Dir: one per test).
var builds sync.Map // string -> *atomic.Int64

// test_countmatch is the match transform with a constructor that counts its calls (each reads the mappings
// file).
func init() {
	comp, ctor, _ := transforms.Registry.Lookup("match")
	c := *comp
	c.Name = "test_countmatch"
	transforms.Registry.MustRegister(c, func(cfg spec.Config, env transforms.Env) (transforms.Transform, error) {
		n, _ := builds.LoadOrStore(env.Dir, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		return ctor(cfg, env)
	})
}

// TestStepsBuiltOnce: a plan builds each step once, also when the runner built the steps before reading
// the source to decide whether the first step may read its files (a pipeline with one file source), so a
// match step reads its mappings file once per run; the plan is the one of the match step.
func TestStepsBuiltOnce(t *testing.T) {
	cases := []struct{ name, steps string }{
		{"match first", `
  - type: test_countmatch
    name: matched
    products: items
    mappings: mappings.csv
`},
		{"match after a map", `
  - type: map
    name: cleaned
    fields: {sku: sku, gtin14: gtin14, gtin_ambiguous: gtin_ambiguous, mpn: mpn, brand: brand}
  - type: test_countmatch
    name: matched
    products: items
    mappings: mappings.csv
`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "pipeline.yaml"), `version: 1
name: match-once
merchant: bike-shop
key: sku
sources:
  items:
    type: file
    path: items.csv
    columns:
      - {name: sku, type: string}
      - {name: gtin14, type: string}
      - {name: gtin_ambiguous, type: bool}
      - {name: mpn, type: string}
      - {name: brand, type: string}
transforms:`+c.steps+`sink:
  type: file
  path: out/records.csv
`)
			writeFile(t, filepath.Join(dir, "items.csv"), "sku,gtin14,gtin_ambiguous,mpn,brand\nA,,false,,\nB,,false,,\n")
			writeFile(t, filepath.Join(dir, "mappings.csv"), "pos_sku,website_sku\nA,B\n")
			pl := mustPlan(t, loadAt(t, dir))
			var built int64
			if n, ok := builds.Load(dir); ok {
				built = n.(*atomic.Int64).Load()
			}
			if built != 1 {
				t.Errorf("the match step was built %d times, want 1", built)
			}
			got := map[string]string{}
			for _, ch := range pl.Changes {
				for _, f := range ch.Fields {
					if f.Name == "website_sku" {
						got[ch.Key["sku"].(string)] = f.After.(string)
					}
				}
			}
			if len(pl.Changes) != 2 || got["A"] != "B" {
				t.Errorf("planned %d changes, website_sku %v; want 2, A's B (the mappings file's decision)", len(pl.Changes), got)
			}
		})
	}
}
