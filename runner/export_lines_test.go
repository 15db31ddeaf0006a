package runner

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/runner/export"
)

// linesPipeline is a first sync into a records file (format csv or tsv, batches of 7) of records with a field
// of every type a snapshot holds.
func linesPipeline(dir, format string) string {
	return fmt.Sprintf(`version: 1
name: lines
merchant: m
key: sku
source:
  type: file
  path: input.csv
  columns:
    - {name: sku, type: string}
    - {name: title, type: string}
    - {name: qty, type: int}
    - {name: price, type: float}
    - {name: active, type: bool}
    - {name: launched, type: date}
    - {name: updated_at, type: timestamp}
transforms:
  - type: map
    fields:
      sku: sku
      title: title
      blank: title ?? ""
      qty: qty
      price: price
      active: active
      launched: launched
      updated_at: updated_at
sink:
  type: file
  path: out/records.%s
  batch_size: 7
state:
  dir: %s
`, format, filepath.Join(dir, "state"))
}

// linesInput is 60 records of awkward values: text that needs quoting, the empty text against NULL,
// (blank: the empty text where title is NULL), extreme integers, doubles DuckDB writes in either notation, dates and times before 1970 and with
// fractions.
func linesInput(rng *rand.Rand) string {
	texts := append(append([]string(nil), awkward...), "#hash", "a#b", "NULL", "NULL\u00a0", "\r", "")
	prices := []string{"0.1", "1e20", "1e-7", "123456789012345680000", "-0.0", "5e-324", "1.7976931348623157e308", "100",
		"0.30000000000000004", "1e15", "1e16", "0.0001", "-2.5", "", "9007199254740993"}
	qtys := []string{"0", "-9223372036854775808", "9223372036854775807", "42", ""}
	days := []string{"1969-12-31", "0001-01-01", "2024-02-29", "1900-01-01", "9999-12-31", ""}
	times := []string{"1969-12-31 23:59:59.999999", "2024-01-02T03:04:05.5Z", "1970-01-01 00:00:00", "0001-01-01 00:00:00",
		"9999-12-31 23:59:59.123", "2026-06-30 12:00:00.000001", ""}
	var b strings.Builder
	b.WriteString("sku,title,qty,price,active,launched,updated_at\n")
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	for i := range 60 {
		price := prices[rng.IntN(len(prices))]
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s\n", q(fmt.Sprintf("%s-%02d", texts[rng.IntN(len(texts))], i)), q(texts[rng.IntN(len(texts))]),
			qtys[rng.IntN(len(qtys))], price, []string{"true", "false", ""}[rng.IntN(3)], days[rng.IntN(len(days))], times[rng.IntN(len(times))])
	}
	return b.String()
}

// TestExportLinesEqualCopy applies a first sync of 60 records of every snapshot type in batches of 7 three
// ways: with the records file's parts written from the batches' lines (diff.EntriesCSV), with every part
// DuckDB's COPY, and after the apply; the three files must be the same bytes, and every part of the first
// must be lines.
func TestExportLinesEqualCopy(t *testing.T) {
	for _, tc := range []struct {
		name, format, log string
	}{
		{"csv", "csv", "in 9 parts written while the apply committed (9 from the batches' lines)"},
		{"tsv", "tsv", "in 9 parts written while the apply committed (9 from the batches' lines)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input := linesInput(rand.New(rand.NewPCG(31, uint64(len(tc.name)))))
			var files [3][]byte
			for i, mode := range []string{"lines", "copy", "after"} {
				dir := t.TempDir()
				writeFileT(t, filepath.Join(dir, "pipeline.yaml"), linesPipeline(dir, tc.format))
				writeFileT(t, filepath.Join(dir, "input.csv"), input)
				restore := export.SetLineParts(mode == "lines")
				earlyExports = mode != "after"
				var log bytes.Buffer
				_, err := Apply(context.Background(), loadExport(t, dir), Options{Log: &log}, nil)
				earlyExports = true
				restore()
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case mode == "lines" && !strings.Contains(log.String(), tc.log):
					t.Errorf("%s: log lacks %q:\n%s", mode, tc.log, log.String())
				case mode == "copy" && !strings.Contains(log.String(), "in 9 parts written while the apply committed (0 from the batches' lines)"):
					t.Errorf("%s: log:\n%s", mode, log.String())
				}
				if files[i], err = os.ReadFile(filepath.Join(dir, "out", "records."+tc.format)); err != nil {
					t.Fatal(err)
				}
			}
			if bytes.Count(files[0], []byte("\n")) < 61 {
				t.Fatalf("records file:\n%s", files[0])
			}
			for i, mode := range []string{"copy", "after"} {
				if !bytes.Equal(files[0], files[i+1]) {
					t.Fatalf("records file written from the lines differs from the one written by %s:\n%q\nwant:\n%q", mode, files[0], files[i+1])
				}
			}
		})
	}
}
