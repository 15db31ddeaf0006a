package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/possync/possync/pipelines"
)

// docsDir is the committed component reference, relative to this package.
var docsDir = filepath.Join("..", "..", filepath.FromSlash(pipelines.MarkdownDocsDir))

// TestComponentDocsUpToDate fails when docs/components differs from what the component declarations
// generate: a page changed, missing, or left over from a component that no longer exists.
func TestComponentDocsUpToDate(t *testing.T) {
	pages := pipelines.MarkdownDocs(pipelines.DefaultCatalog())
	for name, want := range pages {
		got, err := os.ReadFile(filepath.Join(docsDir, filepath.FromSlash(name)))
		if err != nil {
			t.Errorf("%s/%s: %v: run make generate", pipelines.MarkdownDocsDir, name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s/%s is stale: run make generate", pipelines.MarkdownDocsDir, name)
		}
	}
	committed, err := filepath.Glob(filepath.Join(docsDir, "*", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range committed {
		rel, _ := filepath.Rel(docsDir, f)
		if _, ok := pages[filepath.ToSlash(rel)]; !ok {
			t.Errorf("%s/%s documents no registered component: run make generate", pipelines.MarkdownDocsDir, rel)
		}
	}
	if len(pages) < 10 {
		t.Fatalf("only %d pages generated", len(pages))
	}
}

// TestConnectorsMarkdown runs `possync connectors --markdown DIR`: it writes every page and removes a page
// of a component that does not exist.
func TestConnectorsMarkdown(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "sources", "gone.md")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, stale, "# gone\n")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"connectors", "--markdown", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("the page of a component that does not exist was kept (%v)", err)
	}
	var got []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	var want []string
	for name := range pipelines.MarkdownDocs(pipelines.DefaultCatalog()) {
		want = append(want, name)
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("wrote %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("wrote %v, want %v", got, want)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, "sources", "retailpos.md"))
	if err != nil || !bytes.Contains(page, []byte("| `token` | string | **yes** |  | **Secret:**")) {
		t.Fatalf("sources/retailpos.md lacks its secret token row (%v):\n%s", err, page)
	}
}
