package match

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/possync/possync/spec"
)

// mapping is one decision made by hand: the POS item Pos is the website product Web, or, with Web empty, is
// no website product.
type mapping struct {
	Pos, Web string
}

// mappingsHint is the hint of every mappings file diagnostic.
const mappingsHint = "a CSV file with the header pos_sku,website_sku and one decision per line (website_sku empty: " +
	"not a match); lines starting with # are comments"

// readMappings reads the mappings file at path (relative to dir): a CSV file with the header
// pos_sku,website_sku (names matched case-insensitively), one decision per line. Values are trimmed; a UTF-8
// BOM, blank lines and lines starting with # are skipped. An empty pos_sku or a pos_sku listed twice is a
// *spec.Diagnostic at pos naming the file and lines.
func readMappings(path, dir string, pos spec.Pos) ([]mapping, error) {
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(dir, path)
	}
	fail := func(format string, args ...any) error {
		return spec.Errorf(pos, spec.CodeMatchMappings, mappingsHint, "mappings file %s: %s", path, fmt.Sprintf(format, args...))
	}
	b, err := os.ReadFile(full)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fail("no such file (looked for %s)", full)
		}
		return nil, fail("%v", err)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF"))))
	r.Comment, r.FieldsPerRecord, r.TrimLeadingSpace = '#', 2, true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fail("empty: want the header pos_sku,website_sku")
	}
	if err != nil {
		return nil, fail("%v", err)
	}
	if !strings.EqualFold(strings.TrimSpace(header[0]), "pos_sku") || !strings.EqualFold(strings.TrimSpace(header[1]), "website_sku") {
		return nil, fail("the header is %q, want pos_sku,website_sku", strings.Join(header, ","))
	}
	var out []mapping
	seen := map[string]int{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fail("%v", err)
		}
		line, _ := r.FieldPos(0)
		m := mapping{Pos: strings.TrimSpace(rec[0]), Web: strings.TrimSpace(rec[1])}
		switch first, dup := seen[m.Pos]; {
		case m.Pos == "":
			return nil, fail("line %d: pos_sku is empty", line)
		case dup:
			return nil, fail("lines %d and %d both decide pos_sku %q: keep one", first, line, m.Pos)
		}
		seen[m.Pos] = line
		out = append(out, m)
	}
}
