package runner_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/tcache"
)

// TestTransformCacheInStateDir: a map that runs in Go keeps its transform cache under
// <state.dir>/tcache/<pipeline>/, and plans the same changes with it as without; --no-transform-cache
// (Options.NoTransformCache), POSSYNC_TRANSFORM_CACHE=off and the pipeline's `state.transform_cache: false`
// read and write none (no tcache folder at all), and `transform_cache: true` does not override the option or
// the environment.
func TestTransformCacheInStateDir(t *testing.T) {
	goMap := strings.Replace(csvPipeline, "title: upper(name)", `title: 'replace(name, "a", "4")'`, 1)
	cases := []struct {
		name    string
		opts    runner.Options
		env     string
		setting string // the pipeline's state.transform_cache, when set
		cache   bool
	}{
		{"default", runner.Options{}, "", "", true},
		{"option off", runner.Options{NoTransformCache: true}, "", "", false},
		{"env off", runner.Options{}, "off", "", false},
		{"pipeline on", runner.Options{}, "", "true", true},
		{"pipeline off", runner.Options{}, "", "false", false},
		{"pipeline on, option off", runner.Options{NoTransformCache: true}, "", "true", false},
		{"pipeline on, env off", runner.Options{}, "off", "true", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(tcache.EnvVar, c.env)
			dir := csvCase(t, "sku,name,price\nA,anchor,3\nB,bottle,2.5\n")
			pipeline := goMap
			if c.setting != "" {
				pipeline += "state:\n  transform_cache: " + c.setting + "\n"
			}
			writeFile(t, filepath.Join(dir, "pipeline.yaml"), pipeline)
			p := loadAt(t, dir)
			mustApply(t, p, c.opts)
			writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,4\nB,bottle,2.5\nC,cap,1\n")
			pl, _ := planStages(t, loadAt(t, dir), c.opts)
			if pl.Summary.Create != 1 || pl.Summary.Update != 1 || pl.Summary.Total() != 2 {
				t.Errorf("plan %+v, want 1 create and 1 update", pl.Summary)
			}
			title := ""
			for _, ch := range pl.Changes {
				if ch.Key["sku"] == "C" {
					for _, f := range ch.Fields {
						if f.Name == "title" {
							title = fmt.Sprint(f.After)
						}
					}
				}
			}
			if title != "c4p" {
				t.Errorf("the created record's title is %q, want c4p", title)
			}
			got := 0
			entries, err := os.ReadDir(filepath.Join(p.State.Dir, "tcache", p.Name))
			if err == nil {
				got = len(entries)
			}
			if (got > 0) != c.cache {
				t.Errorf("%d cache files under the state dir (%v), want files: %v", got, err, c.cache)
			}
			if _, err := os.Stat(filepath.Join(p.State.Dir, "tcache")); !c.cache && !os.IsNotExist(err) {
				t.Errorf("a tcache folder under the state dir with the cache off (%v)", err)
			}
		})
	}
}
