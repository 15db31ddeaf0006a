package file

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// formats are the file formats the file source reads and the file sink writes.
var formats = []string{"csv", "tsv", "jsonl", "parquet"}

// extFormats maps a lower-case file extension to the format it implies.
var extFormats = map[string]string{
	".csv":     "csv",
	".tsv":     "tsv",
	".txt":     "tsv",
	".jsonl":   "jsonl",
	".ndjson":  "jsonl",
	".parquet": "parquet",
}

// formatOf returns the configured format, or else the one path's extension implies.
func formatOf(configured, path string) (string, error) {
	if configured != "" {
		if !slices.Contains(formats, configured) {
			return "", fmt.Errorf("format %q is not one of %s", configured, strings.Join(formats, ", "))
		}
		return configured, nil
	}
	ext := strings.ToLower(filepath.Ext(path))
	if f, ok := extFormats[ext]; ok {
		return f, nil
	}
	return "", fmt.Errorf("cannot tell the format of %s from its extension: set format to one of %s",
		path, strings.Join(formats, ", "))
}

// resolve returns path as an absolute path, a relative one being taken relative to dir.
func resolve(dir, path string) (string, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", path, err)
	}
	return abs, nil
}

// isGlob reports whether path holds glob metacharacters.
func isGlob(path string) bool {
	return strings.ContainsAny(path, `*?[`)
}

// expand returns the files a path or glob pattern names, sorted, after checking that each is a readable file.
// A pattern matching no file is an error naming the pattern; folders matched by a pattern are skipped.
func expand(pattern string) ([]string, error) {
	paths := []string{pattern}
	if isGlob(pattern) {
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("path pattern %s: %w", pattern, err)
		}
		paths = paths[:0]
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				continue
			}
			paths = append(paths, m)
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("no file matches %s", pattern)
		}
		slices.Sort(paths)
	}
	for _, p := range paths {
		if err := checkReadable(p); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// checkReadable opens path for reading and checks it is not a folder.
func checkReadable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("input file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("input file: %w", err)
	}
	if fi.IsDir() {
		return fmt.Errorf("input file %s is a folder", path)
	}
	return nil
}
