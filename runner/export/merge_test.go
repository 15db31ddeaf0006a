package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/possync/possync/runner/internal/proctime"
)

// mergeRec is a record of a generated records file: its key (a text field, then an integer one) and line.
type mergeRec struct {
	key  csvKey
	line string
}

// csvField writes a field as DuckDB's COPY does: quoted when it holds the delimiter, a quote or a newline
// (or is empty), quotes doubled.
func csvField(s string, delim byte) string {
	if s != "" && !strings.ContainsAny(s, string(delim)+"\"\n\r") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// genRecords returns n records in key order whose keys and values hold delimiters, quotes and newlines.
func genRecords(r *rand.Rand, n int, delim byte, tag string) []mergeRec {
	texts := []string{"a", "b,c", `q"x`, "n\nl", "t\tt", "é", "Z", ""}
	seen := map[string]bool{}
	var out []mergeRec
	for len(out) < n {
		text := texts[r.IntN(len(texts))] + strconv.Itoa(r.IntN(50))
		num := r.Int64N(2000) - 1000
		if r.IntN(10) == 0 {
			num = r.Int64() - r.Int64() // 19 digits, either sign
		}
		id := text + "\x00" + strconv.FormatInt(num, 10)
		if seen[id] {
			continue
		}
		seen[id] = true
		note := strings.Repeat("x", r.IntN(300)) + texts[r.IntN(len(texts))] + tag
		line := csvField(text, delim) + string(delim) + strconv.FormatInt(num, 10) + string(delim) + csvField(note, delim) + "\n"
		out = append(out, mergeRec{key: csvKey{{text: []byte(text)}, {num: num}}, line: line})
	}
	sortRecs(out)
	return out
}

var mergeNumeric = []bool{false, true}

func sortRecs(recs []mergeRec) {
	slices.SortFunc(recs, func(a, b mergeRec) int { return compareKeys(a.key, b.key, mergeNumeric) })
}

func writeRecs(t *testing.T, path, header string, recs []mergeRec) {
	t.Helper()
	var b strings.Builder
	b.WriteString(header)
	for _, r := range recs {
		b.WriteString(r.line)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMergeRecordFilesInChunks: the merge of a records file with changed records gives exactly the file
// written from the records after the change (changed lines replaced, deleted ones dropped, created ones in
// key order), whatever the size of the chunks it reads: records, quoted keys with newlines and runs of kept
// records cross the chunks' ends, and records longer than a chunk grow it.
func TestMergeRecordFilesInChunks(t *testing.T) {
	dir := t.TempDir()
	for _, delim := range []byte{',', '\t'} {
		header := "sku" + string(delim) + "id" + string(delim) + "note\n"
		for seed := range uint64(6) {
			r := rand.New(rand.NewPCG(seed, uint64(delim)))
			all := genRecords(r, 600, delim, "")
			var base, changed, want []mergeRec
			var touched []csvKey
			act := make([]int, len(all))
			for i := range act {
				act[i] = r.IntN(8)
			}
			if seed == 0 { // the first record updated, the last one deleted
				act[0], act[len(act)-1] = 2, 1
			}
			for i, rec := range all {
				switch act[i] {
				case 0: // created by the run
					touched = append(touched, rec.key)
					changed = append(changed, rec)
					want = append(want, rec)
				case 1: // deleted
					base = append(base, rec)
					touched = append(touched, rec.key)
				case 2: // updated
					base = append(base, rec)
					touched = append(touched, rec.key)
					upd := mergeRec{key: rec.key, line: strings.TrimSuffix(rec.line, "\n") + csvField("new, \"value\"\n", delim) + "\n"}
					changed = append(changed, upd)
					want = append(want, upd)
				default:
					base = append(base, rec)
					want = append(want, rec)
				}
			}
			slices.SortFunc(touched, func(a, b csvKey) int { return compareKeys(a, b, mergeNumeric) })
			touched = slices.CompactFunc(touched, func(a, b csvKey) bool { return compareKeys(a, b, mergeNumeric) == 0 })
			bp, cp, wp, op := filepath.Join(dir, "base"), filepath.Join(dir, "changed"), filepath.Join(dir, "want"), filepath.Join(dir, "out")
			writeRecs(t, bp, header, base)
			writeRecs(t, cp, header, changed)
			writeRecs(t, wp, header, want)
			for _, chunk := range []int{1, 2, 7, 64, 333, 4096, 1 << 20} {
				t.Run(fmt.Sprintf("delim %q seed %d chunk %d", delim, seed, chunk), func(t *testing.T) {
					t.Cleanup(SetReadChunk(chunk))
					if err := mergeRecordFiles(bp, cp, op, delim, []int{0, 1}, mergeNumeric, touched); err != nil {
						t.Fatal(err)
					}
					if got, want := read(t, op), read(t, wp); !bytes.Equal(got, want) {
						t.Fatalf("merged file (%d bytes) differs from the records after the change (%d bytes)", len(got), len(want))
					}
				})
			}
		}
	}
}

// TestMergeRecordFilesRefuses: inputs the merge cannot trust give errNoMerge (the export is then written in
// full) and leave no output file, whatever the chunk size.
func TestMergeRecordFilesRefuses(t *testing.T) {
	dir := t.TempDir()
	const header = "sku,id,note\n"
	key := func(s string, n int64) csvKey { return csvKey{{text: []byte(s)}, {num: n}} }
	for _, tc := range []struct {
		name, base, changed string
		touched             []csvKey
	}{
		{"base out of order", header + "a,1,x\na,10,x\na,9,x\n", header + "b,1,y\n", []csvKey{key("b", 1)}},
		{"base has a key twice", header + "a,1,x\na,1,y\n", header + "b,1,y\n", []csvKey{key("b", 1)}},
		{"changed out of order", header + "a,1,x\n", header + "c,1,y\nb,1,y\n", []csvKey{key("b", 1), key("c", 1)}},
		{"changed key is an untouched line", header + "a,1,x\nb,1,x\n", header + "b,1,y\n", nil},
		{"headers differ", header + "a,1,x\n", "sku,id,other\nb,1,y\n", []csvKey{key("b", 1)}},
		{"base ends inside a quoted field", header + "a,1,\"x\n", header + "b,1,y\n", []csvKey{key("b", 1)}},
		{"base's last record has no newline", header + "a,1,x\nb,2,x", header + "c,1,y\n", []csvKey{key("c", 1)}},
		{"base is empty", "", header + "b,1,y\n", []csvKey{key("b", 1)}},
		{"integer key is not an integer", header + "a,1x,x\n", header + "b,1,y\n", []csvKey{key("b", 1)}},
		{"integer key overflows", header + "a,99999999999999999999,x\n", header + "b,1,y\n", []csvKey{key("b", 1)}},
		{"too few fields", header + "a\n", header + "b,1,y\n", []csvKey{key("b", 1)}},
	} {
		for _, chunk := range []int{1, 5, 1 << 20} {
			t.Run(fmt.Sprintf("%s chunk %d", tc.name, chunk), func(t *testing.T) {
				t.Cleanup(SetReadChunk(chunk))
				bp, cp, op := filepath.Join(dir, "base"), filepath.Join(dir, "changed"), filepath.Join(dir, "out")
				if err := os.WriteFile(bp, []byte(tc.base), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(cp, []byte(tc.changed), 0o644); err != nil {
					t.Fatal(err)
				}
				err := mergeRecordFiles(bp, cp, op, ',', []int{0, 1}, mergeNumeric, tc.touched)
				if !errors.Is(err, errNoMerge) {
					t.Fatalf("err = %v, want errNoMerge", err)
				}
				if _, err := os.Stat(op); !os.IsNotExist(err) {
					t.Errorf("output left behind: %v", err)
				}
			})
		}
	}
}

// BenchmarkMergeRecordFiles merges 30,000 changed records into a records file of 1M (about 135 MB, lines
// like the benchmark catalog's), and, for the floor, copies the file (io.Copy: copy_file_range on Linux).
func BenchmarkMergeRecordFiles(b *testing.B) {
	dir := b.TempDir()
	const n, every = 1_000_000, 33
	header := "sku,title,vendor,price,qty,upc,updated\n"
	line := func(i int, tag string) string {
		return fmt.Sprintf("SKU-%08d,\"Product %d, size %d%s\",Vendor %d,%d.%02d,%d,%012d,2026-12-0%d 10:%02d:00+00\n",
			i, i, i%13, tag, i%97, i%500, i%100, i%1000, i*7919, i%9+1, i%60)
	}
	var base, changed strings.Builder
	var touched []csvKey
	base.WriteString(header)
	changed.WriteString(header)
	for i := range n {
		base.WriteString(line(i, ""))
		if i%every == 0 {
			touched = append(touched, csvKey{{text: fmt.Appendf(nil, "SKU-%08d", i)}})
			changed.WriteString(line(i, " (new)"))
		}
	}
	bp, cp, op := filepath.Join(dir, "base.csv"), filepath.Join(dir, "changed.csv"), filepath.Join(dir, "out.csv")
	if err := os.WriteFile(bp, []byte(base.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(cp, []byte(changed.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("merge", func(b *testing.B) {
		b.SetBytes(int64(base.Len()))
		c0 := proctime.Seconds()
		for b.Loop() {
			if err := mergeRecordFiles(bp, cp, op, ',', []int{0}, []bool{false}, touched); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric((proctime.Seconds()-c0)/float64(b.N), "cpu-s/op")
	})
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(int64(base.Len()))
		c0 := proctime.Seconds()
		for b.Loop() {
			in, err := os.Open(bp)
			if err != nil {
				b.Fatal(err)
			}
			out, err := os.Create(op)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(out, in); err != nil {
				b.Fatal(err)
			}
			in.Close()
			if err := out.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric((proctime.Seconds()-c0)/float64(b.N), "cpu-s/op")
	})
}

// TestAsyncWriterFails: a write that fails (here to a file opened read-only) fails a later Write or the flush
// with its error, and the writer's goroutine ends; what was written before is in the file, in order.
func TestAsyncWriterFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := newAsyncWriter(f, 8)
	for i := range 10 {
		if _, err := w.Write([]byte(fmt.Sprintf("line %d\n", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var want strings.Builder
	for i := range 10 {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if got := string(read(t, path)); got != want.String() {
		t.Fatalf("written %q, want %q", got, want.String())
	}

	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	w = newAsyncWriter(ro, 8)
	var werr error
	for i := 0; i < 100 && werr == nil; i++ {
		_, werr = w.Write([]byte("more bytes than a block\n"))
	}
	ferr := w.flush()
	if ferr == nil || werr != nil && werr.Error() != ferr.Error() {
		t.Fatalf("Write: %v, flush: %v; want the write's error from both", werr, ferr)
	}
	if err := w.stop(); err == nil {
		t.Error("stop after a failed write: no error")
	}
}
