package planhtml

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGoldenSkeleton holds the page's server-rendered part (header, summary, chart, guards, estimate, tabs)
// to testdata/skeleton.golden.html; the inlined CSS, script and data are left out (the browser tests cover
// them). Run with -update after an intended change, and review the diff.
func TestGoldenSkeleton(t *testing.T) {
	page := render(t, Page{Plan: samplePlan(12)})
	page = regexp.MustCompile(`(?s)<style>.*?</style>`).ReplaceAllString(page, "<style>…</style>")
	page = regexp.MustCompile(`(?s)(<script[^>]*>).*?</script>`).ReplaceAllString(page, "$1…</script>")
	path := filepath.Join("testdata", "skeleton.golden.html")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if page != string(want) {
		t.Errorf("the page's skeleton differs from %s (run with -update if intended):\n%s", path, page)
	}
}
