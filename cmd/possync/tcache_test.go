package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTransformCacheSwitches: `possync plan` keeps a Go-run map's transform cache under the state folder
// unless --no-transform-cache, POSSYNC_TRANSFORM_CACHE=off or the pipeline's `state.transform_cache: false`
// turns it off; `transform_cache: true` turns neither of the others back on. Off, no tcache folder is made.
func TestTransformCacheSwitches(t *testing.T) {
	goMap := strings.Replace(pipelineYAML, "title: upper(name)", `title: 'replace(name, "a", "4")'`, 1)
	if goMap == pipelineYAML {
		t.Fatal("the fixture's map changed: no title: upper(name) to replace")
	}
	for _, c := range []struct {
		name    string
		setting string // state.transform_cache, when set
		env     []string
		flag    bool
		cache   bool
	}{
		{"default", "", nil, false, true},
		{"flag", "", nil, true, false},
		{"env", "", []string{"POSSYNC_TRANSFORM_CACHE=off"}, false, false},
		{"pipeline off", "false", nil, false, false},
		{"pipeline on", "true", nil, false, true},
		{"pipeline on, flag", "true", nil, true, false},
		{"pipeline on, env", "true", []string{"POSSYNC_TRANSFORM_CACHE=off"}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, genRows(0, 20))
			y := goMap
			if c.setting != "" {
				y += "state:\n  transform_cache: " + c.setting + "\n"
			}
			if err := os.WriteFile(f.path("pipeline.yaml"), []byte(y), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"plan", "pipeline.yaml"}
			if c.flag {
				args = append(args, "--no-transform-cache")
			}
			env := append([]string{"POSSYNC_TRANSFORM_CACHE="}, c.env...)
			if r := f.run(t, env, args...); r.code != 2 || !strings.Contains(r.stdout, "20 to create") {
				t.Fatalf("plan: want exit 2 (changes) with 20 creates: %v", r)
			}
			entries, err := os.ReadDir(filepath.Join(f.state, "tcache", pipelineName))
			if got := len(entries) > 0; got != c.cache {
				t.Errorf("cache files under the state folder: %v (%d, %v), want %v", got, len(entries), err, c.cache)
			}
			if _, err := os.Stat(filepath.Join(f.state, "tcache")); !c.cache && !os.IsNotExist(err) {
				t.Errorf("a tcache folder with the cache off (%v)", err)
			}
		})
	}
}
