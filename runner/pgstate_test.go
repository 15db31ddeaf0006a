package runner_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/state"
)

// testPG is the test PostgreSQL and a schema of the test's own (dropped at its end); tests skip without
// POSSYNC_TEST_PG_URL (runner/state/testdata/start-postgres.sh prints it) and fail without it under CI=true.
func testPG(t *testing.T) (url, schema string) {
	t.Helper()
	url = os.Getenv("POSSYNC_TEST_PG_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("POSSYNC_TEST_PG_URL is not set under CI: .ci/run must start PostgreSQL")
		}
		t.Skip("POSSYNC_TEST_PG_URL not set: start PostgreSQL with runner/state/testdata/start-postgres.sh")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema = "t_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), url); err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	return url, schema
}

// onPG points a loaded pipeline at PostgreSQL, with a local folder of its own (another "machine").
func onPG(t *testing.T, p *pipelines.Pipeline, url, schema string) *pipelines.Pipeline {
	p.State.Backend, p.State.Schema, p.State.Dir = url, schema, t.TempDir()
	return p
}

// TestPostgresStateConverges: a pipeline planned and applied with its state in PostgreSQL converges, a rerun
// (on another machine: another local folder) plans nothing, and changes of the input go through as only
// the changed rows.
func TestPostgresStateConverges(t *testing.T) {
	url, schema := testPG(t)
	dir := csvCase(t, "sku,name,price\nA,anchor,3\nB,bottle,2.5\nC,cup,1\n")
	if last, err := runner.LastSuccess(context.Background(), onPG(t, loadAt(t, dir), url, schema)); err != nil || !last.IsZero() {
		t.Fatalf("last success before any run (no schema yet): %v %v", last, err)
	}
	if pl := mustPlan(t, onPG(t, loadAt(t, dir), url, schema)); pl.Summary.Create != 3 {
		t.Fatalf("first plan: %+v", pl.Summary)
	}
	rep := mustApply(t, onPG(t, loadAt(t, dir), url, schema), runner.Options{})
	if rep.Applied.Create != 3 || rep.ExitReason != runner.ReasonOK || rep.State == nil || rep.State.BytesOut == 0 {
		t.Fatalf("first apply: %+v (state %+v)", rep, rep.State)
	}
	// Another worker, another local folder: nothing to do; it read the snapshot in.
	rep = mustApply(t, onPG(t, loadAt(t, dir), url, schema), runner.Options{})
	if rep.Planned.Total() != 0 || rep.ExitReason != runner.ReasonNoop || rep.State == nil || rep.State.BytesIn == 0 || rep.State.BytesOut != 0 {
		t.Fatalf("second apply: planned %+v (%s), state %+v", rep.Planned, rep.ExitReason, rep.State)
	}
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,3\nB,bottle,2.75\nD,dish,4\n")
	rep = mustApply(t, onPG(t, loadAt(t, dir), url, schema), runner.Options{AllowMassChange: true})
	if rep.Applied.Create != 1 || rep.Applied.Update != 1 || rep.Applied.Delete != 1 {
		t.Fatalf("third apply: %+v", rep.Applied)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out/records.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "sku,title,price\nA,ANCHOR,3.0\nB,BOTTLE,2.75\nD,DISH,4.0\n"; string(got) != want {
		t.Fatalf("records file:\n%s\nwant:\n%s", got, want)
	}
	pl := mustPlan(t, onPG(t, loadAt(t, dir), url, schema))
	if pl.Summary.Total() != 0 || pl.State.Serial != 3 || pl.State.Records != 3 {
		t.Fatalf("plan after: %+v, state %+v", pl.Summary, pl.State)
	}
	// The local folder of the pipeline was never used for state.
	if _, err := os.Stat(filepath.Join(dir, ".state", "shop.duckdb")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the PostgreSQL backend wrote a local state file: %v", err)
	}
	last, err := runner.LastSuccess(context.Background(), onPG(t, loadAt(t, dir), url, schema))
	if err != nil || last.IsZero() {
		t.Errorf("last success from the PostgreSQL journal: %v %v", last, err)
	}
}

// TestPostgresStateLockedRunExits75: a run while another worker holds the pipeline's lock in PostgreSQL
// fails with a LockedError naming the holder (exit 75), and changes nothing.
func TestPostgresStateLockedRunExits75(t *testing.T) {
	url, schema := testPG(t)
	dir := csvCase(t, "sku,name,price\nA,anchor,3\n")
	holder := state.NewPgStore(url, schema, t.TempDir(), "shop")
	defer holder.Close()
	unlock, err := holder.Lock(state.Holder{PID: 4242, Host: "worker-7", RunID: "run-held"})
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	rep, err := runner.Apply(context.Background(), onPG(t, loadAt(t, dir), url, schema), runner.Options{}, nil)
	var le *state.LockedError
	if !errors.As(err, &le) || le.Holder.Host != "worker-7" || le.Holder.PID != 4242 || rep.ExitCode != runner.ExitLocked {
		t.Fatalf("apply while locked: %v (exit %d)", err, rep.ExitCode)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a locked run wrote output: %v", err)
	}
}

// journalOf lists a pipeline's runs and commits through its store.
func journalOf(t *testing.T, p *pipelines.Pipeline) (runs []state.Run, commits []state.JournalEntry) {
	t.Helper()
	ctx := context.Background()
	st := state.New(state.Config{Backend: p.State.Backend, Schema: p.State.Schema, Dir: p.State.Dir}, p.Name)
	defer state.Close(st)
	db, err := engine.Open(ctx, engine.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := db.Conn()
	if _, err := st.Open(ctx, d, true); err != nil {
		t.Fatal(err)
	}
	j := st.(state.Journaled)
	runs, err = j.RunLog(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	commits, err = j.CommitLog(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	return runs, commits
}

// TestMigrateStateRoundTrip: local → PostgreSQL → local keeps lineage, serial, the run and commit journals
// and the snapshot (a plan after each move has nothing to do), and a target holding state is refused.
func TestMigrateStateRoundTrip(t *testing.T) {
	ctx := context.Background()
	url, schema := testPG(t)
	dir := csvCase(t, "sku,name,price\nA,anchor,3\nB,bottle,2.5\nC,cup,1\n")
	local := loadAt(t, dir)
	mustApply(t, local, runner.Options{})
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,3\nB,bottle,2.75\nC,cup,1\nD,dish,4\n")
	mustApply(t, loadAt(t, dir), runner.Options{})
	before := mustPlan(t, loadAt(t, dir))
	runs0, commits0 := journalOf(t, loadAt(t, dir))
	if before.State.Serial == 0 || len(runs0) != 2 || int64(len(commits0)) != before.State.Serial {
		t.Fatalf("local state before: serial %d, %d runs, %d commits", before.State.Serial, len(runs0), len(commits0))
	}

	withSchema := func(p *pipelines.Pipeline) *pipelines.Pipeline { p.State.Schema = schema; return p }
	m, err := runner.MigrateState(ctx, withSchema(loadAt(t, dir)), "local", url)
	if err != nil {
		t.Fatal(err)
	}
	if m.Serial != before.State.Serial || m.Records != 4 || m.Runs != 2 || m.Commits != len(commits0) || m.BytesMoved == 0 {
		t.Errorf("migration to postgres: %+v", m)
	}
	// Another worker (no local mirror) opens it from the snapshot's image the move wrote.
	coldStore := state.NewPgStore(url, schema, t.TempDir(), loadAt(t, dir).Name)
	defer coldStore.Close()
	if v, err := runner.ReadState(ctx, pipelines.State{Dir: t.TempDir()}, loadAt(t, dir).Name, "", coldStore, 0); err != nil || v.Meta.Records != 4 ||
		v.Meta.Serial != before.State.Serial {
		t.Fatalf("cold read after the move: %+v %v", v, err)
	}
	if img, copied := coldStore.OpenedFrom(); img != 1 || copied != 0 {
		t.Errorf("cold read after the move: %d relations from their image, %d copied; want 1, 0", img, copied)
	}
	onDefault := func() *pipelines.Pipeline { return onPG(t, loadAt(t, dir), url, schema) }
	pl := mustPlan(t, onDefault())
	if pl.Summary.Total() != 0 || pl.State.Serial != before.State.Serial || pl.State.Lineage != before.State.Lineage || pl.State.Records != 4 {
		t.Fatalf("plan on postgres after the move: %+v, state %+v (before %+v)", pl.Summary, pl.State, before.State)
	}
	runs1, commits1 := journalOf(t, onDefault())
	if len(runs1) != 2 || len(commits1) != len(commits0) || runs1[1].ID != runs0[1].ID || string(runs1[1].Report) != string(runs0[1].Report) ||
		!runs1[1].FinishedAt.Equal(runs0[1].FinishedAt) || commits1[1].Serial != commits0[1].Serial || commits1[1].Acked != commits0[1].Acked {
		t.Fatalf("journals on postgres: %+v %+v", runs1, commits1)
	}
	// A second move into the same target is refused.
	if _, err := runner.MigrateState(ctx, withSchema(loadAt(t, dir)), "local", url); !errors.Is(err, state.ErrNotEmpty) {
		t.Errorf("migration into a target holding state: %v", err)
	}

	// One more run on PostgreSQL, then back to a fresh local folder.
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,3\nB,bottle,2.75\nC,cup,1.5\nD,dish,4\n")
	mustApply(t, onDefault(), runner.Options{})
	back := onDefault()
	back.State.Dir = t.TempDir()
	if _, err := runner.MigrateState(ctx, back, url, "local"); err != nil {
		t.Fatal(err)
	}
	localAgain := loadAt(t, dir)
	localAgain.State.Dir = back.State.Dir
	pl = mustPlan(t, localAgain)
	if pl.Summary.Total() != 0 || pl.State.Serial <= before.State.Serial || pl.State.Lineage != before.State.Lineage {
		t.Fatalf("plan on local after the move back: %+v, state %+v", pl.Summary, pl.State)
	}
	runs2, commits2 := journalOf(t, localAgain)
	if len(runs2) != 3 || int64(len(commits2)) != pl.State.Serial || commits2[len(commits2)-1].Serial != pl.State.Serial {
		t.Fatalf("journals after the move back: %d runs, %d commits", len(runs2), len(commits2))
	}
}

// TestPostgresPlanOnAnotherWorkerThenApply: `plan --out` on a worker without a current local mirror, then
// `apply plan.json` on yet another fresh worker: the plan reads the state from PostgreSQL (its snapshot's
// image and the changes since) and leaves nothing in its worker's state folder; the saved plan applies as
// planned (it is not stale: both workers saw the same state); the plan's worker then converges with nothing
// to do, and a plan there after its own apply reads nothing from PostgreSQL (its mirror is current).
func TestPostgresPlanOnAnotherWorkerThenApply(t *testing.T) {
	ctx := context.Background()
	url, schema := testPG(t)
	dir := csvCase(t, "sku,name,price\nA,anchor,3\nB,bottle,2.5\nC,cup,1\n")
	on := func(worker string) *pipelines.Pipeline {
		p := loadAt(t, dir)
		p.State.Backend, p.State.Schema, p.State.Dir = url, schema, filepath.Join(dir, worker)
		return p
	}
	mustApply(t, on("w0"), runner.Options{})
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,3\nB,bottle,2.75\nC,cup,1\n")
	mustApply(t, on("w0"), runner.Options{}) // a change since the snapshot's image
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA,anchor,3.5\nB,bottle,2.75\nD,dish,4\n")

	pl, err := runner.Plan(ctx, on("w1"), runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	serial := pl.State.Serial
	if pl.Summary.Create != 1 || pl.Summary.Update != 1 || pl.Summary.Delete != 1 || serial < 2 || pl.State.Records != 3 {
		t.Fatalf("plan on another worker: %+v, state %+v", pl.Summary, pl.State)
	}
	left, err := os.ReadDir(filepath.Join(dir, "w1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		if e.Name() != "tmp" { // the planner's spill folder
			t.Fatalf("the plan left %s in its worker's state folder", e.Name())
		}
	}

	rep, err := runner.Apply(ctx, on("w2"), runner.Options{AllowMassChange: true}, pl)
	if err != nil {
		t.Fatalf("apply the saved plan on a third worker: %v", err)
	}
	if rep.Applied.Create != 1 || rep.Applied.Update != 1 || rep.Applied.Delete != 1 || rep.PlanHash != pl.Hash {
		t.Fatalf("apply the saved plan: %+v (plan %s, saved %s)", rep.Applied, rep.PlanHash, pl.Hash)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out/records.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "sku,title,price\nA,ANCHOR,3.5\nB,BOTTLE,2.75\nD,DISH,4.0\n"; string(got) != want {
		t.Fatalf("records file:\n%s\nwant:\n%s", got, want)
	}

	rep = mustApply(t, on("w1"), runner.Options{})
	if rep.Planned.Total() != 0 || rep.State == nil || rep.State.BytesIn == 0 {
		t.Fatalf("apply on the plan's worker after the other's: planned %+v, state %+v", rep.Planned, rep.State)
	}
	store := state.NewPgStore(url, schema, filepath.Join(dir, "w1"), "shop")
	defer store.Close()
	pl, err = runner.Plan(ctx, on("w1"), runner.Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := store.BytesMoved(); in != 0 || pl.Summary.Total() != 0 || pl.State.Serial <= serial {
		t.Fatalf("plan on the worker that committed last: %d bytes in, %+v, state %+v", in, pl.Summary, pl.State)
	}
}
