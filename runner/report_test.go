package runner_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors/memory"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// explain is a test transform: a SQL step that adds an annotation field and reports an upcoming change
// and a note, as the promotions transform does.
type explain struct{ q spec.Expr }

func (e explain) Schema() *arrow.Schema { return nil }
func (e explain) Query() spec.Expr      { return e.q }
func (e explain) Annotations() []string { return []string{"why"} }
func (e explain) ReportSQL(out string) string {
	return `SELECT 'upcoming' AS kind, TIMESTAMPTZ '2026-11-27 08:00:00+00' AS "at", 'sku=' || sku AS subject, 'price drops' AS message FROM ` + out + ` WHERE sku = 'A'
		UNION ALL SELECT 'note', NULL, 'sku=B', 'sale price above regular price, not applied'`
}

func init() {
	transforms.Registry.MustRegister(spec.Component{Kind: spec.KindTransform, Name: "test_explain", Summary: "test only"},
		func(cfg spec.Config, env transforms.Env) (transforms.Transform, error) {
			return explain{q: spec.Expr{Text: "SELECT sku, price, 'because ' || sku AS why FROM source"}}, nil
		})
}

func TestReportsAndAnnotations(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,price\nA,10\nB,20\n")
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), `version: 1
name: rep
merchant: m
key: sku
source:
  type: file
  path: input.csv
  columns: [{name: sku, type: string}, {name: price, type: float}]
transforms:
  - type: test_explain
sink: {type: memory, target: rep}
`)
	memory.Target("rep").Reset()
	p := loadAt(t, dir)
	pl, err := runner.Plan(context.Background(), p, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Upcoming) != 1 || pl.Upcoming[0].Subject != "sku=A" || !pl.Upcoming[0].At.Equal(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("upcoming = %+v", pl.Upcoming)
	}
	if len(pl.NoteTexts()) != 1 || !strings.Contains(pl.NoteTexts()[0], "sku=B: sale price above") {
		t.Fatalf("notes = %v", pl.NoteTexts())
	}
	if pl.Changes[0].Annotations["why"] != "because A" {
		t.Fatalf("annotations = %v", pl.Changes[0].Annotations)
	}
	for _, f := range pl.Changes[0].Fields {
		if f.Name == "why" {
			t.Fatal("an annotation is listed as a record field")
		}
	}
	mustApply(t, p, runner.Options{})
	for _, r := range memory.Target("rep").Records() {
		if _, ok := r["why"]; ok {
			t.Fatalf("the sink received an annotation: %v", r)
		}
	}
	if pl := mustPlan(t, p); pl.Summary.Total() != 0 {
		t.Fatalf("second plan %+v: annotations must not be compared", pl.Summary)
	}
}
