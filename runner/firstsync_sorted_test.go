package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/possync/possync/runner/engine"
)

// TestFirstSyncSortedEqualsCopied: a first sync whose last step stores the desired records in apply order
// (the diff then numbers them as they are: diff.Input.Sorted) plans, applies, logs and stores exactly what
// a first sync through the diff's sorted copy does: the same plan changes (order, IDs, values), the same
// records file and change log, byte for byte, and the same state (meta and snapshot), for text, integer and
// composite keys over several batches. A last step that runs in Go keeps the sorted copy, with the same
// results.
func TestFirstSyncSortedEqualsCopied(t *testing.T) {
	at := regexp.MustCompile(`,"at":"[^"]*"\}`)
	for _, c := range exportCases() {
		for _, goStep := range []bool{false, true} {
			t.Run(fmt.Sprint(c.name, " go ", goStep), func(t *testing.T) {
				ctx := context.Background()
				rng := rand.New(rand.NewPCG(23, uint64(len(c.name))))
				rows := map[string][2]string{}
				for i := 0; i < 300; i++ {
					rows[c.id(rng, i)] = [2]string{awkward[rng.IntN(len(awkward))], fmt.Sprint(rng.IntN(9000)) + ".5"}
				}
				var outs [2][]string
				for i, sorted := range []bool{true, false} {
					dir := t.TempDir()
					yaml := batchedExport(c, dir, 41)
					if goStep { // an expression the map cannot state as DuckDB SQL: the step runs in Go
						yaml = strings.Replace(yaml, `title: (name ?? "") + "!"`, `title: (name ?? "") + string(len(name ?? ""))`, 1)
					}
					writeFileT(t, filepath.Join(dir, "pipeline.yaml"), yaml)
					writeExportInput(t, dir, rows)
					sortFirstSyncs = sorted
					pl, err := Plan(ctx, loadExport(t, dir), Options{})
					if err != nil {
						sortFirstSyncs = true
						t.Fatal(err)
					}
					var log bytes.Buffer
					rep, err := Apply(ctx, loadExport(t, dir), Options{Log: &log}, nil)
					sortFirstSyncs = true
					if err != nil {
						t.Fatal(err)
					}
					took := strings.Contains(log.String(), "numbers them as they are")
					if took != (sorted && !goStep) {
						t.Fatalf("sorted %v, Go step %v: the diff took the desired table: %v; log:\n%s", sorted, goStep, took, log.String())
					}
					if rep.Applied.Create != 300 || rep.PlanHash != pl.Hash {
						t.Fatalf("applied %+v under plan %s, want 300 creates under the plan's %s", rep.Applied, rep.PlanHash, pl.Hash)
					}
					changes, err := json.Marshal(pl.Changes)
					if err != nil {
						t.Fatal(err)
					}
					records, err := os.ReadFile(filepath.Join(dir, "out", "records."+c.format))
					if err != nil {
						t.Fatal(err)
					}
					changeLog, err := os.ReadFile(filepath.Join(dir, "out", "records.changes.jsonl"))
					if err != nil {
						t.Fatal(err)
					}
					outs[i] = []string{"plan " + string(changes), "records " + string(records),
						"change log " + at.ReplaceAllString(string(changeLog), "}"), "state " + firstSyncState(t, statePathMeta(t, dir))}
				}
				for j := range outs[0] {
					if outs[0][j] != outs[1][j] {
						t.Errorf("through the sorted desired table:\n%.3000s\nthrough the sorted copy:\n%.3000s", outs[0][j], outs[1][j])
					}
				}
			})
		}
	}
}

// statePathMeta is the state file of the pipeline in dir and its meta (records, serial, columns) as JSON,
// separated by a NUL.
func statePathMeta(t *testing.T, dir string) string {
	t.Helper()
	p := loadExport(t, dir)
	v, err := ReadState(context.Background(), p.State, p.Name, p.Merchant, nil, 0)
	if err != nil || v.Path == "" {
		t.Fatalf("state of %s: %+v, %v", dir, v, err)
	}
	meta, err := json.Marshal(struct{ Records, Serial, Columns any }{v.Meta.Records, v.Meta.Serial, v.Meta.Columns})
	if err != nil {
		t.Fatal(err)
	}
	return v.Path + "\x00" + string(meta)
}

// firstSyncState is the state's meta (statePathMeta) and its snapshot's rows, in key order, as text.
func firstSyncState(t *testing.T, pathMeta string) string {
	t.Helper()
	ctx := context.Background()
	path, meta, _ := strings.Cut(pathMeta, "\x00")
	db, err := engine.Open(ctx, engine.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec(ctx, "ATTACH "+engine.Lit(path)+" AS st (READ_ONLY)"); err != nil {
		t.Fatal(err)
	}
	rs, err := db.Rows(ctx, "SELECT CAST(s AS VARCHAR) FROM st.snapshot s ORDER BY ALL")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var b strings.Builder
	b.WriteString(meta)
	for rs.Next() {
		var row string
		if err := rs.Scan(&row); err != nil {
			t.Fatal(err)
		}
		b.WriteString("\n" + row)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestFirstSyncWithAFieldNamedRowid: a first sync whose desired records have a field named rowid (here
// the price, which repeats and exceeds the record count) applies every record once, in key order, as a
// first sync without the field does: the last step still sorts, and the diff numbers a copy instead of
// taking the table (whose rowid would be the field).
func TestFirstSyncWithAFieldNamedRowid(t *testing.T) {
	ctx := context.Background()
	c := exportCases()[0]
	dir := t.TempDir()
	yaml := strings.Replace(batchedExport(c, dir, 41), "      price: price\n", "      price: price\n      rowid: price * 1000\n", 1)
	writeFileT(t, filepath.Join(dir, "pipeline.yaml"), yaml)
	rng := rand.New(rand.NewPCG(29, 1))
	rows := map[string][2]string{}
	for i := 0; i < 300; i++ {
		rows[c.id(rng, i)] = [2]string{"name", fmt.Sprint(rng.IntN(20)) + ".5"}
	}
	writeExportInput(t, dir, rows)
	pl, err := Plan(ctx, loadExport(t, dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, ch := range pl.Changes {
		keys = append(keys, fmt.Sprint(ch.Key["sku"]))
	}
	if len(keys) != 300 || !slices.IsSorted(keys) {
		t.Fatalf("the plan has %d changes, in key order %v; want the 300 records in key order", len(keys), slices.IsSorted(keys))
	}
	var log bytes.Buffer
	rep, err := Apply(ctx, loadExport(t, dir), Options{Log: &log}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Applied.Create != 300 || rep.PlanHash != pl.Hash {
		t.Fatalf("applied %+v under plan %s, want 300 creates under the plan's %s", rep.Applied, rep.PlanHash, pl.Hash)
	}
	if strings.Contains(log.String(), "numbers them as they are") {
		t.Errorf("the diff took a desired table with a field named rowid; log:\n%s", log.String())
	}
	v, err := ReadState(ctx, loadExport(t, dir).State, "exp", "", nil, 0)
	if err != nil || v.Meta.Records != 300 {
		t.Fatalf("the state holds %d records (%v), want 300", v.Meta.Records, err)
	}
}
