package runner

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// TestExportCrashInMerge kills an apply (SIGKILL) whose records file is being merged, once the run's
// checkpoint, which runs beside the merge's pass over the file (export.Input.Beside), is done: at
// "beside-merge" (the merge perhaps still writing the temporary file) and at "during-export" (the file
// merged, before its rename). The kill must leave the records file as the last export wrote it; the next
// run, with nothing left to apply, must write it in full (the state moved since that export) to the bytes
// of the same runs uninterrupted, with no temporary file left behind; and the run after it merges again.
func TestExportCrashInMerge(t *testing.T) {
	for _, point := range []string{"beside-merge", "during-export"} {
		for _, c := range exportCases() {
			t.Run(point+" "+c.name, func(t *testing.T) {
				crashed, clean := twinDirs(t, func(d string) string { return exportPipeline(c, d) })
				apply := func(dir string) (string, int) {
					t.Helper()
					var log bytes.Buffer
					rep, err := Apply(context.Background(), loadExport(t, dir), Options{Log: &log}, nil)
					if err != nil {
						t.Fatalf("apply in %s: %v", dir, err)
					}
					return log.String(), rep.Planned.Total()
				}
				rng := rand.New(rand.NewPCG(12, uint64(len(c.name))))
				rows := exportRows(c, rng)
				for _, d := range []string{crashed, clean} { // the first sync: written in full
					writeExportInput(t, d, rows)
					apply(d)
				}
				n := 0
				for id := range rows { // 5 of 60 records changed: the next export merges
					switch n++; {
					case n <= 3:
						rows[id] = [2]string{"changed, \"" + id + "\"", "7"}
					case n == 4:
						delete(rows, id)
					}
				}
				rows[c.id(rng, 100)] = [2]string{"new\nline", "1"}
				writeExportInput(t, crashed, rows)
				writeExportInput(t, clean, rows)
				before, err := os.ReadFile(c.records(crashed))
				if err != nil {
					t.Fatal(err)
				}

				killedExportApply(t, crashed, point)
				if after, err := os.ReadFile(c.records(crashed)); err != nil || !bytes.Equal(before, after) {
					t.Fatalf("the kill changed the records file (%v)", err)
				}

				log, planned := apply(crashed)
				if planned != 0 || !strings.Contains(log, "written in full (the state moved since the last export") {
					t.Errorf("rerun planned %d changes, log:\n%s\nwant none, and the records file written in full", planned, log)
				}
				if log, _ := apply(clean); !strings.Contains(log, "merged 5 changed record(s)") {
					t.Errorf("uninterrupted apply did not merge:\n%s", log)
				}
				got, err := os.ReadFile(c.records(crashed))
				if err != nil {
					t.Fatal(err)
				}
				if want, _ := os.ReadFile(c.records(clean)); !bytes.Equal(got, want) {
					t.Fatalf("records file after the rerun differs from the uninterrupted runs':\n%s\nwant:\n%s", got, want)
				}
				if _, err := os.Stat(c.records(crashed) + ".possync-tmp"); !os.IsNotExist(err) {
					t.Errorf("temporary file left behind: %v", err)
				}

				rows[c.id(rng, 101)] = [2]string{"after", "2"} // the next change merges again
				writeExportInput(t, crashed, rows)
				if log, _ := apply(crashed); !strings.Contains(log, "merged 1 changed record(s)") {
					t.Errorf("the run after the rerun did not merge:\n%s", log)
				}
			})
		}
	}
}
