package main

// `possync connectors --markdown DIR`: the component reference as Markdown pages (docs/components), from
// pipelines.MarkdownDocs. `make generate` runs it.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/possync/possync/pipelines"
)

// writeMarkdownDocs writes the reference's pages under dir and removes the pages of components that no
// longer exist (every other .md file in its kind folders), so that the folder is exactly what the binary
// generates.
func writeMarkdownDocs(dir string, stderr io.Writer) int {
	pages := pipelines.MarkdownDocs(pipelines.DefaultCatalog())
	for name, body := range pages {
		file := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			fmt.Fprintln(stderr, "possync connectors:", err)
			return 1
		}
		if err := os.WriteFile(file, body, 0o644); err != nil {
			fmt.Fprintln(stderr, "possync connectors:", err)
			return 1
		}
	}
	stale, err := filepath.Glob(filepath.Join(dir, "*", "*.md"))
	if err != nil {
		fmt.Fprintln(stderr, "possync connectors:", err)
		return 1
	}
	for _, f := range stale {
		rel, _ := filepath.Rel(dir, f)
		if _, ok := pages[filepath.ToSlash(rel)]; !ok && !strings.HasPrefix(rel, ".") {
			if err := os.Remove(f); err != nil {
				fmt.Fprintln(stderr, "possync connectors:", err)
				return 1
			}
		}
	}
	return 0
}
