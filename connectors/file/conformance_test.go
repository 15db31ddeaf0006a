package file

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/conntest"
	"github.com/possync/possync/record"
)

// TestConformance runs the connector conformance suite against the file source (CSV, TSV and JSON lines, over
// several files and more than one batch) and the file sink.
func TestConformance(t *testing.T) {
	formats := []struct {
		format, ext string
		header      string
		row         func(i int) string
	}{
		{"csv", "csv", "sku,price,stock,active\n", func(i int) string { return fmt.Sprintf("S%05d,%d.5,%d,true\n", i, i, i%7) }},
		{"tsv", "tsv", "sku\tprice\tstock\tactive\n", func(i int) string { return fmt.Sprintf("S%05d\t%d.5\t%d\tfalse\n", i, i, i%7) }},
		{"jsonl", "jsonl", "", func(i int) string {
			return fmt.Sprintf(`{"sku":"S%05d","price":%d.5,"stock":%d,"active":true}`+"\n", i, i, i%7)
		}},
	}
	for _, f := range formats {
		t.Run("source "+f.format, func(t *testing.T) {
			dir := t.TempDir()
			n := 0
			for file, rows := range []int{batchRows + 100, 50} { // two files, the first over one batch
				var b strings.Builder
				b.WriteString(f.header)
				for i := 0; i < rows; i++ {
					b.WriteString(f.row(n))
					n++
				}
				writeFile(t, filepath.Join(dir, "in", fmt.Sprintf("part%d.%s", file, f.ext)), b.String())
			}
			conntest.Source(t, func(t *testing.T) connectors.Source {
				return newSource(t, dir, map[string]any{"path": "in/*." + f.ext, "format": f.format,
					"columns": cols("sku", "string", "price", "float", "stock", "int", "active", "bool")})
			}, conntest.SourceOptions{MinRows: n})
		})
	}

	t.Run("sink", func(t *testing.T) {
		conntest.Sink(t, func(t *testing.T) conntest.SinkTarget {
			dir := t.TempDir()
			return conntest.SinkTarget{
				New: func(t *testing.T) connectors.Sink {
					return newSink(t, dir, map[string]any{"path": "out/products.csv"})
				},
				State: func(t *testing.T) any { return loggedChanges(t, filepath.Join(dir, "out", "products.changes.jsonl")) },
			}
		}, conntest.SinkOptions{Steps: [][]connectors.Change{changes[:1], changes[1:]}, Rejected: []connectors.Change{{
			ID: "nan", Action: connectors.Create, Key: record.Record{"sku": "N1"},
			After: record.Record{"sku": "N1", "price": math.NaN()}, // no JSON for NaN
		}}})
	})
}

// loggedChanges reads a change log as the changes it records, by ID: the log is append-only and a change seen
// again (a replay after a crash the runner's Reconcile did not prevent) is the same change, recognised by its
// ID. The line's "at" (when it was written) is left out.
func loggedChanges(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("change log line %q: %v", sc.Text(), err)
		}
		id, _ := line["id"].(string)
		delete(line, "at")
		b, _ := json.Marshal(line)
		if prev, ok := out[id]; ok && prev != string(b) {
			t.Errorf("change log holds two different lines for change %s:\n%s\n%s", id, prev, b)
		}
		out[id] = string(b)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
