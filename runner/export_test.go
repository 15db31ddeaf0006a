package runner

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/export"
)

// SetStreamAbove makes applies stream plans of more than n changes (tests of the streamed path use small
// plans); the returned function restores the default.
func SetStreamAbove(n int) (restore func()) {
	was := streamAbove
	streamAbove = n
	return func() { streamAbove = was }
}

// exportCase is a pipeline whose records file the export tests compare.
type exportCase struct {
	name   string
	key    string // the pipeline's key: YAML
	format string // the sink's records file format
	// keyOf makes record i's key fields (id, and for composite keys store).
	id func(rng *rand.Rand, i int) string
}

// awkward are text values that need CSV quoting or sort unusually.
var awkward = []string{"plain", "with, comma", `with "quotes"`, "two\nlines", "  padded  ", "naïve ünïcode", "日本",
	"", "tab\there", "comma,\"and quote\"\nand line", "Z", "a", "~tilde"}

// records is the records file of c's pipeline in dir.
func (c exportCase) records(dir string) string { return filepath.Join(dir, "out", "records."+c.format) }

// twinDirs makes two pipeline folders, one for a run to be killed and one for the same runs uninterrupted,
// each with pipeline(dir) as its pipeline.yaml (pipeline may write the folder's input too).
func twinDirs(t *testing.T, pipeline func(dir string) string) (crashed, clean string) {
	t.Helper()
	crashed, clean = t.TempDir(), t.TempDir()
	for _, d := range []string{crashed, clean} {
		writeFileT(t, filepath.Join(d, "pipeline.yaml"), pipeline(d))
	}
	return crashed, clean
}

func exportCases() []exportCase {
	return []exportCase{
		{name: "text key csv", key: "sku", format: "csv", id: func(rng *rand.Rand, i int) string {
			return fmt.Sprintf("%s-%d", awkward[rng.IntN(len(awkward))], i)
		}},
		{name: "integer key csv", key: "sku", format: "csv", id: func(rng *rand.Rand, i int) string { return fmt.Sprint(i*7 - 300) }},
		{name: "composite key tsv", key: "[store, sku]", format: "tsv", id: func(rng *rand.Rand, i int) string {
			return fmt.Sprintf("%d\x00%s%d", rng.IntN(3), awkward[rng.IntN(len(awkward))], i)
		}},
	}
}

func exportPipeline(c exportCase, dir string) string {
	skuType := "string"
	if c.name == "integer key csv" {
		skuType = "int"
	}
	return fmt.Sprintf(`version: 1
name: exp
merchant: m
key: %s
source:
  type: file
  path: input.csv
  columns:
    - {name: store, type: int}
    - {name: sku, type: %s}
    - {name: name, type: string}
    - {name: price, type: float}
transforms:
  - type: map
    fields:
      store: store
      sku: sku
      title: (name ?? "") + "!"
      price: price
sink:
  type: file
  path: out/records.%s
state:
  dir: %s
`, c.key, skuType, c.format, filepath.Join(dir, "state"))
}

// writeExportInput writes the catalog (id → name, price) as the pipeline's input CSV.
func writeExportInput(t *testing.T, dir string, rows map[string][2]string) {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"store", "sku", "name", "price"})
	for id, r := range rows {
		store, sku := "1", id
		if s, k, ok := strings.Cut(id, "\x00"); ok {
			store, sku = s, k
		}
		_ = w.Write([]string{store, sku, r[0], r[1]})
	}
	w.Flush()
	if err := os.WriteFile(filepath.Join(dir, "input.csv"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestExportMergeEqualsFullExport applies the same random sequence of catalogs (creates, updates, deletes,
// keys and values that need quoting, newlines inside fields) to two pipelines, one merging its records file
// and one writing it in full, and requires the two files to be byte for byte equal after every apply, and
// the merge to have been used whenever it could be.
func TestExportMergeEqualsFullExport(t *testing.T) {
	for _, c := range exportCases() {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(7, uint64(len(c.name))))
			dirs := [2]string{t.TempDir(), t.TempDir()}
			var ps [2]*pipelines.Pipeline
			for _, d := range dirs {
				writeFileT(t, filepath.Join(d, "pipeline.yaml"), exportPipeline(c, d))
			}
			rows := map[string][2]string{}
			next := 0
			for step := 0; step < 6; step++ {
				switch {
				case step == 0:
					for ; next < 400; next++ {
						rows[c.id(rng, next)] = [2]string{awkward[rng.IntN(len(awkward))], fmt.Sprint(rng.IntN(9000)) + ".5"}
					}
				default:
					for id := range rows {
						switch r := rng.IntN(100); {
						case r < 4:
							delete(rows, id)
						case r < 12:
							rows[id] = [2]string{awkward[rng.IntN(len(awkward))] + "*", fmt.Sprint(rng.IntN(9000))}
						}
					}
					for k := 0; k < 15; k++ {
						rows[c.id(rng, next)] = [2]string{awkward[rng.IntN(len(awkward))], "1"}
						next++
					}
				}
				var logs [2]bytes.Buffer
				for i, d := range dirs {
					writeExportInput(t, d, rows)
					p, diags := pipelines.Load(filepath.Join(d, "pipeline.yaml"), pipelines.Options{LookupEnv: func(string) (string, bool) { return "", false }})
					if diags.HasErrors() {
						t.Fatal(diags.Err())
					}
					ps[i] = p
					mergeExports = i == 0
					_, err := Apply(ctx, p, Options{Log: &logs[i]}, nil)
					mergeExports = true
					if err != nil {
						t.Fatalf("step %d: apply: %v", step, err)
					}
				}
				merged, err := os.ReadFile(filepath.Join(dirs[0], "out", "records."+c.format))
				if err != nil {
					t.Fatal(err)
				}
				full, err := os.ReadFile(filepath.Join(dirs[1], "out", "records."+c.format))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(merged, full) {
					t.Fatalf("step %d: merged export differs from the full export\nmerged:\n%s\nfull:\n%s", step, merged, full)
				}
				if step > 0 && !strings.Contains(logs[0].String(), "merged") || step > 0 && !strings.Contains(logs[0].String(), "records read from the commits") {
					t.Errorf("step %d: the export was not merged from the commits' records:\n%s", step, logs[0].String())
				}
				if strings.Contains(logs[1].String(), "merged") {
					t.Errorf("step %d: merging is off but the log says merged", step)
				}
			}
		})
	}
}

// TestExportFallsBackToFull checks that a records file edited since the last export, or an export whose
// columns changed, is written in full, and comes out right.
func TestExportFallsBackToFull(t *testing.T) {
	ctx := context.Background()
	c := exportCases()[0]
	dir := t.TempDir()
	yaml := exportPipeline(c, dir)
	writeFileT(t, filepath.Join(dir, "pipeline.yaml"), yaml)
	rows := map[string][2]string{"A": {"anchor", "1"}, "B": {"bolt, steel", "2"}, "C": {"cap", "3"}, "D": {"disc", "4"}, "E": {"e", "5"}}
	apply := func(want string) string {
		t.Helper()
		writeExportInput(t, dir, rows)
		p, diags := pipelines.Load(filepath.Join(dir, "pipeline.yaml"), pipelines.Options{LookupEnv: func(string) (string, bool) { return "", false }})
		if diags.HasErrors() {
			t.Fatal(diags.Err())
		}
		var log bytes.Buffer
		if _, err := Apply(ctx, p, Options{Log: &log}, nil); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, log.String())
		}
		b, err := os.ReadFile(filepath.Join(dir, "out", "records.csv"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	apply("written in full (no earlier export)")
	rows["B"] = [2]string{"bolt", "2"}
	apply("merged 1 changed record(s)")

	// Someone edits the records file: the next export must not build on it.
	path := filepath.Join(dir, "out", "records.csv")
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, bytes.Replace(b, []byte("anchor!"), []byte("EDITED"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	rows["C"] = [2]string{"cup", "3"}
	got := apply("written in full (the file or the columns changed since the last export)")
	want := "store,sku,title,price\n1,A,anchor!,1.0\n1,B,bolt!,2.0\n1,C,cup!,3.0\n1,D,disc!,4.0\n1,E,e!,5.0\n"
	if got != want {
		t.Errorf("records file after an edit:\n%s\nwant:\n%s", got, want)
	}

	// A new column changes every line: written in full.
	writeFileT(t, filepath.Join(dir, "pipeline.yaml"), strings.Replace(yaml, "      price: price\n", "      price: price\n      cents: int(price * 100)\n", 1))
	got = apply("written in full (the file or the columns changed since the last export)")
	if !strings.HasPrefix(got, "store,sku,title,price,cents\n1,A,anchor!,1.0,100\n") {
		t.Errorf("records file after a new column:\n%s", got)
	}
}

// exportCrashEnv names the pipeline folder for TestExportCrashHelper, which applies it in a child process
// that a failpoint kills in the middle of its export; exportRangesEnv set has it sort every full export.
const (
	exportCrashEnv  = "POSSYNC_TEST_EXPORT_CRASH_DIR"
	exportRangesEnv = "POSSYNC_TEST_EXPORT_CRASH_RANGES"
)

// TestExportCrashHelper is not a test: it applies the pipeline in $POSSYNC_TEST_EXPORT_CRASH_DIR with full
// exports sorted in key ranges of 7 records (with $POSSYNC_TEST_EXPORT_CRASH_RANGES set, even a snapshot
// stored in key order), for TestExportCrashInKeyRanges and TestExportCrashInKeyOrder.
func TestExportCrashHelper(t *testing.T) {
	dir := os.Getenv(exportCrashEnv)
	if dir == "" {
		t.Skip("run by TestExportCrashInKeyRanges")
	}
	defer export.SetPartRows(7)()
	if os.Getenv(exportRangesEnv) != "" {
		defer export.SetInOrder(false)()
	}
	if _, err := Apply(t.Context(), loadExport(t, dir), Options{}, nil); err != nil {
		t.Fatal(err)
	}
}

// killedExportApply applies the pipeline in dir in a child process (TestExportCrashHelper) with the failpoint
// point, env adding variables, and fails t unless the child died of SIGKILL there.
func killedExportApply(t *testing.T, dir, point string, env ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestExportCrashHelper$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), exportCrashEnv+"="+dir, "POSSYNC_FAILPOINT="+point), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child apply: %v, want death by SIGKILL at %s; output:\n%s", err, point, out)
	}
}

// exportRows is 60 records of case c (awkward names, prices), drawn from rng.
func exportRows(c exportCase, rng *rand.Rand) map[string][2]string {
	rows := map[string][2]string{}
	for i := 0; i < 60; i++ {
		rows[c.id(rng, i)] = [2]string{awkward[rng.IntN(len(awkward))], fmt.Sprint(rng.IntN(9000)) + ".5"}
	}
	return rows
}

// TestExportCrashInKeyRanges kills an apply (SIGKILL) in the middle of a full export written in key ranges,
// after its second range, in a first sync and again in a run that changes a third of the records. The kill must
// leave the records file as the last export wrote it (or absent, before the first), and the next run, with
// nothing left to apply, must bring it up to date: byte for byte the file of the same runs uninterrupted,
// with no temporary file left behind.
func TestExportCrashInKeyRanges(t *testing.T) {
	defer export.SetInOrder(false)()
	exportCrash(t, "during-export-part:2", []string{"key ranges", "key ranges"})
}

// TestExportCrashInKeyOrder is TestExportCrashInKeyRanges with the export of a snapshot stored in key order
// left on, killed once the temporary file is written, before its rename: the first sync's snapshot is in
// key order (the records file is written without a sort), the second run's is not (sorted in key ranges).
func TestExportCrashInKeyOrder(t *testing.T) {
	exportCrash(t, "during-export", []string{"which is key order (no sort)", "key ranges"})
}

// exportCrash runs the two rounds of TestExportCrashInKeyRanges with the failpoint point; way[r] is what
// the rerun of round r+1 logs of how it wrote the records file.
func exportCrash(t *testing.T, point string, way []string) {
	defer export.SetPartRows(7)()
	ranges := ""
	if way[0] == "key ranges" {
		ranges = "1"
	}
	for _, c := range exportCases() {
		t.Run(c.name, func(t *testing.T) {
			crashed, clean := twinDirs(t, func(d string) string { return exportPipeline(c, d) })
			rng := rand.New(rand.NewPCG(11, uint64(len(c.name))))
			rows := exportRows(c, rng)
			for round := 1; round <= 2; round++ {
				if round == 2 {
					n := 0
					for id := range rows {
						switch n++; {
						case n%15 == 0:
							delete(rows, id)
						case n%3 == 1: // a third: too many to merge, so a full export again
							rows[id] = [2]string{"changed, \"" + id + "\"", "7"}
						}
					}
					for i := 100; i < 105; i++ {
						rows[c.id(rng, i)] = [2]string{"new", "1"}
					}
				}
				writeExportInput(t, crashed, rows)
				writeExportInput(t, clean, rows)
				before, beforeErr := os.ReadFile(c.records(crashed))

				killedExportApply(t, crashed, point, exportRangesEnv+"="+ranges)
				if _, err := os.Stat(c.records(crashed) + ".possync-tmp"); err != nil {
					t.Errorf("round %d: the killed export left no partial temporary file (%v): the kill was not mid-export", round, err)
				}
				after, afterErr := os.ReadFile(c.records(crashed))
				if (beforeErr == nil) != (afterErr == nil) || !bytes.Equal(before, after) {
					t.Fatalf("round %d: the kill changed the records file (before: %v, after: %v)", round, beforeErr, afterErr)
				}

				var log bytes.Buffer
				rep, err := Apply(context.Background(), loadExport(t, crashed), Options{Log: &log}, nil)
				if err != nil {
					t.Fatalf("round %d: rerun: %v", round, err)
				}
				if rep.Planned.Total() != 0 || !strings.Contains(log.String(), way[round-1]) {
					t.Errorf("round %d: rerun planned %d changes, log:\n%s\nwant none, and the records file written %q", round, rep.Planned.Total(), log.String(), way[round-1])
				}
				if _, err := Apply(context.Background(), loadExport(t, clean), Options{}, nil); err != nil {
					t.Fatalf("round %d: uninterrupted apply: %v", round, err)
				}
				got, err := os.ReadFile(c.records(crashed))
				if err != nil {
					t.Fatal(err)
				}
				if want, _ := os.ReadFile(c.records(clean)); !bytes.Equal(got, want) {
					t.Fatalf("round %d: records file after the rerun differs from the uninterrupted runs':\n%s\nwant:\n%s", round, got, want)
				}
				for _, left := range []string{".possync-tmp", ".possync-tmp.part"} {
					if _, err := os.Stat(c.records(crashed) + left); !os.IsNotExist(err) {
						t.Errorf("round %d: %s left behind: %v", round, left, err)
					}
				}
			}
		})
	}
}

func loadExport(t *testing.T, dir string) *pipelines.Pipeline {
	t.Helper()
	p, diags := pipelines.Load(filepath.Join(dir, "pipeline.yaml"), pipelines.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	return p
}

func writeFileT(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// batchedExport is exportPipeline with the sink's batches of batch changes.
func batchedExport(c exportCase, dir string, batch int) string {
	return strings.Replace(exportPipeline(c, dir), "  path: out/records."+c.format+"\n",
		fmt.Sprintf("  path: out/records.%s\n  batch_size: %d\n", c.format, batch), 1)
}

// TestExportEarlyEqualsAfter applies a first sync of 60 records in batches of 7 to two pipelines, one
// writing its records file as the commits go (startEarly) and one after them, and requires the same bytes
// (records that need quoting, newlines inside fields, text, integer and composite keys), and the first to
// say it wrote the file in parts during the apply.
func TestExportEarlyEqualsAfter(t *testing.T) {
	for _, c := range exportCases() {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, uint64(len(c.name))))
			rows := exportRows(c, rng)
			var files [2][]byte
			for i, early := range []bool{true, false} {
				dir := t.TempDir()
				writeFileT(t, filepath.Join(dir, "pipeline.yaml"), batchedExport(c, dir, 7))
				writeExportInput(t, dir, rows)
				var log bytes.Buffer
				earlyExports = early
				_, err := Apply(context.Background(), loadExport(t, dir), Options{Log: &log}, nil)
				earlyExports = true
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Contains(log.String(), "in 9 parts written while the apply committed"); got != early {
					t.Errorf("early %v: log:\n%s", early, log.String())
				}
				if files[i], err = os.ReadFile(filepath.Join(dir, "out", "records."+c.format)); err != nil {
					t.Fatal(err)
				}
				if entries, err := os.ReadDir(filepath.Join(dir, "out")); err != nil || len(entries) != 2 { // and the change log
					t.Errorf("out/ holds %v (%v), want the records file and the change log", entries, err)
				}
			}
			if !bytes.Equal(files[0], files[1]) {
				t.Fatalf("records file written during the apply differs from the one written after:\n%s\nwant:\n%s", files[0], files[1])
			}
		})
	}
}

// TestExportCrashMidApply kills a first sync (SIGKILL) in the middle of its apply, once the second of its
// records file's parts was written while the apply committed (startEarly), and requires no records file
// (nor a staging file of the batches' lines) then; the rerun applies the rest and writes the records file byte for byte as an uninterrupted run does,
// leaving no temporary or part file behind.
func TestExportCrashMidApply(t *testing.T) {
	for _, c := range exportCases() {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(17, uint64(len(c.name))))
			rows := exportRows(c, rng)
			crashed, clean := twinDirs(t, func(d string) string {
				writeExportInput(t, d, rows)
				return batchedExport(c, d, 7)
			})
			killedExportApply(t, crashed, "early-export-part:2")
			if _, err := os.Stat(c.records(crashed)); !os.IsNotExist(err) {
				t.Fatalf("a records file after the kill mid-apply (%v)", err)
			}
			if _, err := os.Stat(c.records(crashed) + ".possync-tmp"); err != nil {
				t.Errorf("no temporary file after the kill (%v): the parts were not written", err)
			}
			// The batches' lines staged for their parts were in an unlinked file: the kill leaves none.
			if staged, err := filepath.Glob(filepath.Join(crashed, "out", ".possync-lines-*")); err != nil || len(staged) > 0 {
				t.Errorf("staging files after the kill: %v (%v)", staged, err)
			}
			var log bytes.Buffer
			rep, err := Apply(context.Background(), loadExport(t, crashed), Options{Log: &log}, nil)
			if err != nil {
				t.Fatalf("rerun: %v", err)
			}
			if rep.Recovered+rep.Planned.Total() == 0 {
				t.Errorf("the rerun found nothing to apply: the kill was not mid-apply; log:\n%s", log.String())
			}
			if _, err := Apply(context.Background(), loadExport(t, clean), Options{}, nil); err != nil {
				t.Fatalf("uninterrupted apply: %v", err)
			}
			got, err := os.ReadFile(c.records(crashed))
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := os.ReadFile(c.records(clean)); !bytes.Equal(got, want) {
				t.Fatalf("records file after the rerun differs from the uninterrupted run's:\n%s\nwant:\n%s", got, want)
			}
			for _, left := range []string{".possync-tmp", ".possync-tmp.part"} {
				if _, err := os.Stat(c.records(crashed) + left); !os.IsNotExist(err) {
					t.Errorf("%s left behind: %v", left, err)
				}
			}
		})
	}
}

// TestExportCrashEarlyBeforeRename kills a first sync (SIGKILL) once its records file, written in parts while
// the apply committed (startEarly), is complete under its temporary name and about to be renamed
// ("during-export"): the kill must leave no records file (the temporary one holds the whole export); the
// rerun, with nothing left to apply, must write the records file anew, byte for byte the uninterrupted
// run's, leaving no temporary or part file behind.
func TestExportCrashEarlyBeforeRename(t *testing.T) {
	for _, c := range exportCases() {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(23, uint64(len(c.name))))
			rows := exportRows(c, rng)
			crashed, clean := twinDirs(t, func(d string) string {
				writeExportInput(t, d, rows)
				return batchedExport(c, d, 7)
			})
			killedExportApply(t, crashed, "during-export")
			if _, err := Apply(context.Background(), loadExport(t, clean), Options{}, nil); err != nil {
				t.Fatalf("uninterrupted apply: %v", err)
			}
			want, err := os.ReadFile(c.records(clean))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(c.records(crashed)); !os.IsNotExist(err) {
				t.Fatalf("a records file after the kill before the rename (%v)", err)
			}
			if tmp, err := os.ReadFile(c.records(crashed) + ".possync-tmp"); err != nil || !bytes.Equal(tmp, want) {
				t.Fatalf("temporary file after the kill (%v):\n%s\nwant the whole export, written during the apply:\n%s", err, tmp, want)
			}
			var log bytes.Buffer
			rep, err := Apply(context.Background(), loadExport(t, crashed), Options{Log: &log}, nil)
			if err != nil {
				t.Fatalf("rerun: %v", err)
			}
			if rep.Recovered+rep.Planned.Total() != 0 || !strings.Contains(log.String(), "written in full") {
				t.Errorf("rerun: %d recovered, %d planned, want nothing left to apply and the file written in full; log:\n%s",
					rep.Recovered, rep.Planned.Total(), log.String())
			}
			got, err := os.ReadFile(c.records(crashed))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("records file after the rerun differs from the uninterrupted run's:\n%s\nwant:\n%s", got, want)
			}
			for _, left := range []string{".possync-tmp", ".possync-tmp.part"} {
				if _, err := os.Stat(c.records(crashed) + left); !os.IsNotExist(err) {
					t.Errorf("%s left behind: %v", left, err)
				}
			}
		})
	}
}
