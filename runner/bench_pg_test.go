package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/internal/proctime"
	"github.com/possync/possync/runner/state"
)

// BenchmarkStateBackends compares the local state file with PostgreSQL (POSSYNC_TEST_PG_URL; skipped
// without it) on the plan benchmark's catalog (BENCH_SIZES rows, about 2% updated, 0.5% inserted, 0.5%
// deleted): the plan, and the full cycle (plan, apply through the file sink, commit), with the bytes the
// PostgreSQL store moved. Run it with -benchtime 1x:
//
//	BENCH_SIZES=100000,1000000 go test -tags duckdb_arrow -run '^$' -bench '^BenchmarkStateBackends$' -benchtime 1x ./runner
func BenchmarkStateBackends(b *testing.B) {
	url := os.Getenv("POSSYNC_TEST_PG_URL")
	if url == "" {
		b.Skip("POSSYNC_TEST_PG_URL not set: start PostgreSQL with runner/state/testdata/start-postgres.sh")
	}
	benchEachSize(b, func(b *testing.B, n int, set benchSet) {
		fmt.Printf("\nstate backends: %d rows (%d update, %d create, %d delete)\n", n, set.Truth.Updated, set.Truth.Inserted, set.Truth.Deleted)
		fmt.Printf("  %-9s %8s %12s %12s %10s %14s %14s %14s\n", "backend", "seed s", "plan cold s", "plan warm s", "cycle s", "bytes in", "(cold plan)", "bytes out")
		var local *backendBench
		for _, backend := range []string{"local", "postgres"} {
			r, err := benchBackend(b.Context(), b, set, backend, url)
			if err != nil {
				b.Fatal(err)
			}
			fmt.Printf("  %-9s %8.2f %12.2f %12.2f %10.2f %14s %14s %14s\n", backend, r.seed, r.planCold, r.plan, r.cycle, benchGroup(r.in),
				benchGroup(r.inCold), benchGroup(r.out))
			fmt.Printf("  %-9s cpu s: plan cold %.2f, plan warm %.2f, cycle %.2f; lock and open (outside the plan's stages): cold %.2f s, warm %.2f s\n",
				backend, r.planColdCPU, r.planCPU, r.cycleCPU, r.openCold, r.open)
			if backend == "local" {
				local = r
				continue
			}
			fmt.Printf("  postgres without the image: plan cold %.2f s (cpu %.2f), lock and open %.2f s, %s bytes in\n",
				r.planCopy, r.planCopyCPU, r.openCopy, benchGroup(r.inCopy))
			fmt.Printf("  postgres / local: plan on another worker %.2fx (cpu %.2fx; without the image %.2fx, cpu %.2fx), plan on the worker that committed last %.2fx (cpu %.2fx), cycle %.2fx (cpu %.2fx)\n",
				r.planCold/local.plan, r.planColdCPU/local.planCPU, r.planCopy/local.plan, r.planCopyCPU/local.planCPU,
				r.plan/local.plan, r.planCPU/local.planCPU, r.cycle/local.cycle, r.cycleCPU/local.cycleCPU)
			b.ReportMetric(r.planCopy/local.plan, "x-plan-cold-noimage")
			b.ReportMetric(r.planCold/local.plan, "x-plan-cold")
			b.ReportMetric(r.plan/local.plan, "x-plan-warm")
			b.ReportMetric(r.cycle/local.cycle, "x-cycle")
			b.ReportMetric(float64(r.in+r.out), "bytes-moved")
		}
	})
}

type backendBench struct {
	// planCold is a plan on a worker without a local mirror of the state (PostgreSQL only; local: = plan).
	seed, planCold, plan, cycle float64
	// The same in processor time of the whole process (DuckDB's threads included).
	planColdCPU, planCPU, cycleCPU float64
	// openCold and open are the plans' seconds outside their stages: the lock and the state's open.
	openCold, open float64
	in, out        int64 // bytes moved by the plans and the apply (PostgreSQL only)
	inCold         int64 // bytes moved in by the cold plan
	// planCopy… are a cold plan on PostgreSQL without the image (the whole table copied in).
	planCopy, planCopyCPU, openCopy float64
	inCopy                          int64
}

// benchHideImages moves the PostgreSQL images of a schema aside (hide) or back, so that a cold open copies
// the tables whole, as before images.
func benchHideImages(ctx context.Context, url, schema string, hide bool) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	q := "CREATE TABLE %[1]s.images_hidden AS SELECT * FROM %[1]s.images; DELETE FROM %[1]s.images"
	if !hide {
		q = "INSERT INTO %[1]s.images SELECT * FROM %[1]s.images_hidden; DROP TABLE %[1]s.images_hidden"
	}
	if _, err := c.Exec(ctx, fmt.Sprintf(q, pgx.Identifier{schema}.Sanitize())); err != nil {
		return fmt.Errorf("hide images: %w", err)
	}
	return nil
}

// benchBackend seeds a state on backend with set's old rows, then times a plan and a full apply of its new
// rows.
func benchBackend(ctx context.Context, b *testing.B, set benchSet, backend, url string) (*backendBench, error) {
	work := b.TempDir()
	stateDir := filepath.Join(work, "state")
	pOld, err := benchPipeline(work, set.Old(), stateDir)
	if err != nil {
		return nil, err
	}
	p, err := benchPipeline(work, set.New(), stateDir)
	if err != nil {
		return nil, err
	}
	if backend == "postgres" {
		rb := make([]byte, 6)
		_, _ = rand.Read(rb)
		schema := "bench_" + hex.EncodeToString(rb)
		defer func() {
			if c, err := pgx.Connect(context.Background(), url); err == nil {
				_, _ = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
				c.Close(context.Background())
			}
		}()
		for _, q := range []*struct{ b, s *string }{{&pOld.State.Backend, &pOld.State.Schema}, {&p.State.Backend, &p.State.Schema}} {
			*q.b, *q.s = url, schema
		}
	}
	r := &backendBench{}
	t0 := time.Now()
	if err := benchSeed(ctx, pOld); err != nil {
		return nil, err
	}
	r.seed = time.Since(t0).Seconds()

	// A plan on another worker without the snapshot's image (PostgreSQL copies the table: possync before
	// images), on a third worker (from the image), then on this one (its mirror is current).
	noImage, cold := *p, *p
	noImage.State.Dir, cold.State.Dir = filepath.Join(work, "worker-without-image"), filepath.Join(work, "other-worker")
	runs := []*pipelines.Pipeline{&noImage, &cold, p}
	if backend == "local" {
		runs = runs[2:] // a local state has no other worker
	}
	for _, pp := range runs {
		if pp == &noImage {
			if err := benchHideImages(ctx, url, p.State.Schema, true); err != nil {
				return nil, err
			}
		}
		store := newStore(pp)
		benchQuiesce()
		t0 = time.Now()
		cpu0 := proctime.Seconds()
		var stages []Stage
		pl, err := Plan(ctx, pp, Options{Store: store, Stats: &stages})
		secs, cpu := time.Since(t0).Seconds(), proctime.Seconds()-cpu0
		outside := secs
		for _, st := range stages {
			outside -= st.Seconds
		}
		if os.Getenv("BENCH_STAGES") != "" {
			fmt.Printf("  %s plan (%s) %.2f s: %v\n", backend, pp.State.Dir, secs, stages)
		}
		if err != nil {
			return nil, fmt.Errorf("plan on %s: %w", backend, err)
		}
		if pl.Summary.Update != set.Truth.Updated {
			return nil, fmt.Errorf("plan on %s: %d updates, want %d", backend, pl.Summary.Update, set.Truth.Updated)
		}
		var in int64
		if t := stateTransfer(store); t != nil {
			in = t.BytesIn
		}
		_ = state.Close(store)
		switch pp {
		case p:
			r.plan, r.planCPU, r.open = secs, cpu, outside
			r.in += in
		case &cold:
			r.planCold, r.planColdCPU, r.openCold, r.inCold = secs, cpu, outside, in
			r.in += in
		case &noImage:
			r.planCopy, r.planCopyCPU, r.openCopy, r.inCopy = secs, cpu, outside, in
			if err := benchHideImages(ctx, url, p.State.Schema, false); err != nil {
				return nil, err
			}
		}
	}
	if backend == "local" {
		r.planCold, r.planColdCPU, r.openCold = r.plan, r.planCPU, r.open // a local state has no other worker
	}

	benchQuiesce()
	t0 = time.Now()
	cpu0 := proctime.Seconds()
	rep, err := Apply(ctx, p, Options{AllowMassChange: true}, nil)
	r.cycle, r.cycleCPU = time.Since(t0).Seconds(), proctime.Seconds()-cpu0
	if err != nil {
		return nil, fmt.Errorf("apply on %s: %w", backend, err)
	}
	if rep.Applied.Update != set.Truth.Updated {
		return nil, fmt.Errorf("apply on %s: %d updates, want %d", backend, rep.Applied.Update, set.Truth.Updated)
	}
	if rep.State != nil {
		r.in, r.out = r.in+rep.State.BytesIn, rep.State.BytesOut
	}
	if os.Getenv("BENCH_STAGES") != "" {
		fmt.Printf("  %s apply stages: %v\n", backend, rep.Durations)
	}
	return r, nil
}

// BenchmarkFirstSyncPostgres is BenchmarkFirstSync with the state in PostgreSQL (POSSYNC_TEST_PG_URL, a fresh
// schema; skipped without it): the first apply of the catalog into an empty state, every record a create
// sent to the file sink, stage by stage (issue #15: the intents and commits of every batch go to PostgreSQL).
//
//	BENCH_SIZES=1000000 go test -tags duckdb_arrow -run '^$' -bench '^BenchmarkFirstSyncPostgres$' -benchtime 1x ./runner
func BenchmarkFirstSyncPostgres(b *testing.B) {
	url := os.Getenv("POSSYNC_TEST_PG_URL")
	if url == "" {
		b.Skip("POSSYNC_TEST_PG_URL not set: start PostgreSQL with runner/state/testdata/start-postgres.sh")
	}
	benchEachSize(b, func(b *testing.B, n int, set benchSet) {
		work := b.TempDir()
		p, err := benchPipeline(work, set.New(), filepath.Join(work, "state"))
		if err != nil {
			b.Fatal(err)
		}
		rb := make([]byte, 6)
		_, _ = rand.Read(rb)
		p.State.Backend, p.State.Schema = url, "bench_"+hex.EncodeToString(rb)
		defer func() {
			if c, err := pgx.Connect(context.Background(), url); err == nil {
				_, _ = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+p.State.Schema+" CASCADE")
				c.Close(context.Background())
			}
		}()
		c0 := proctime.Seconds()
		rep, stages, wall, peak := benchApply(b, p, true)
		cpu := proctime.Seconds() - c0
		fmt.Printf("\npossync apply (first sync into an empty PostgreSQL state): %s rows, %d creates applied\n", benchGroup(int64(n)), rep.Applied.Create)
		printStages(stages, wall, peak)
		if rep.Applied.Create != set.Truth.NewRows {
			b.Errorf("applied %d creates, want %d", rep.Applied.Create, set.Truth.NewRows)
		}
		fmt.Printf("  %-26s %9s %9.3f\n", "total (cpu)", "", cpu)
		b.ReportMetric(cpu, "cpu-s")
		b.ReportMetric(float64(peak>>20), "peak-MiB")
	})
}
