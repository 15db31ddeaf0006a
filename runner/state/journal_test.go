package state_test

import (
	"context"
	"testing"
	"time"

	"github.com/possync/possync/runner/state"
)

// TestRunsJournalNewestFirstWithCommitSums: Runs lists every run newest first with its commits' serial and
// counts, a run without commits included, and honours the limit.
func TestRunsJournalNewestFirstWithCommitSums(t *testing.T) {
	ctx := context.Background()
	s := state.NewDuckStore(t.TempDir(), "p")
	c := conn(t)
	if _, err := s.Open(ctx, c, false); err != nil {
		t.Fatal(err)
	}
	if runs, err := s.Runs(ctx, c, 0); err != nil || len(runs) != 0 {
		t.Fatalf("fresh store: %v %v", runs, err)
	}
	t0 := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	exec(t, c, `CREATE TABLE ch AS SELECT * FROM (VALUES ('create','A',1), ('create','B',2)) t(__op, sku, qty)`)
	for i, id := range []string{"r1", "r2", "r3"} {
		if err := s.BeginRun(ctx, c, state.Run{ID: id, StartedAt: t0.Add(time.Duration(i) * time.Hour), PlanHash: "h" + id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, cm := range []state.Commit{{RunID: "r1", Acked: 2, Rejected: 1}, {RunID: "r1", Acked: 3}, {RunID: "r3", Acked: 1}} {
		cm.Changes, cm.Key, cm.Columns = "ch", []string{"sku"}, cols
		if _, err := s.Commit(ctx, c, &cm); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FinishRun(ctx, c, state.Run{ID: "r1", FinishedAt: t0.Add(time.Minute), Status: "done", Report: []byte(`{"exit_reason":"ok"}`)}); err != nil {
		t.Fatal(err)
	}
	runs, err := s.Runs(ctx, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[0].ID != "r3" || runs[1].ID != "r2" || runs[2].ID != "r1" {
		t.Fatalf("order: %+v", runs)
	}
	r1 := runs[2]
	if r1.Commits != 2 || r1.Serial != 2 || r1.Acked != 5 || r1.Rejected != 1 || r1.Status != "done" ||
		!r1.FinishedAt.Equal(t0.Add(time.Minute)) || string(r1.Report) != `{"exit_reason":"ok"}` || r1.PlanHash != "hr1" {
		t.Fatalf("r1: %+v", r1)
	}
	if r2 := runs[1]; r2.Commits != 0 || r2.Serial != 0 || r2.Status != "applying" || !r2.FinishedAt.IsZero() || r2.Report != nil {
		t.Fatalf("r2: %+v", r2)
	}
	if runs[0].Serial != 3 || !runs[0].StartedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("r3: %+v", runs[0])
	}
	if runs, err := s.Runs(ctx, c, 1); err != nil || len(runs) != 1 || runs[0].ID != "r3" {
		t.Fatalf("limit 1: %+v %v", runs, err)
	}
}
