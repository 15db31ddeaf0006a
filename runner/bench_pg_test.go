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
		fmt.Printf("  %-9s %8s %12s %12s %10s %14s %14s\n", "backend", "seed s", "plan cold s", "plan warm s", "cycle s", "bytes in", "bytes out")
		var local *backendBench
		for _, backend := range []string{"local", "postgres"} {
			r, err := benchBackend(b.Context(), b, set, backend, url)
			if err != nil {
				b.Fatal(err)
			}
			fmt.Printf("  %-9s %8.2f %12.2f %12.2f %10.2f %14s %14s\n", backend, r.seed, r.planCold, r.plan, r.cycle, benchGroup(r.in), benchGroup(r.out))
			if backend == "local" {
				local = r
				continue
			}
			fmt.Printf("  postgres / local: plan on another worker %.2fx, plan on the worker that committed last %.2fx, cycle %.2fx\n",
				r.planCold/local.plan, r.plan/local.plan, r.cycle/local.cycle)
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
	in, out                     int64 // bytes moved by the plans and the apply (PostgreSQL only)
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

	// A plan on another worker (an empty local folder: PostgreSQL copies everything in), then on this one.
	cold := *p
	cold.State.Dir = filepath.Join(work, "other-worker")
	runs := []*pipelines.Pipeline{&cold, p}
	if backend == "local" {
		runs = runs[1:] // a local state has no other worker
	}
	for _, pp := range runs {
		store := newStore(pp)
		benchQuiesce()
		t0 = time.Now()
		var stages []Stage
		pl, err := Plan(ctx, pp, Options{Store: store, Stats: &stages})
		secs := time.Since(t0).Seconds()
		if os.Getenv("BENCH_STAGES") != "" {
			fmt.Printf("  %s plan (%s) %.2f s: %v\n", backend, pp.State.Dir, secs, stages)
		}
		if err != nil {
			return nil, fmt.Errorf("plan on %s: %w", backend, err)
		}
		if pl.Summary.Update != set.Truth.Updated {
			return nil, fmt.Errorf("plan on %s: %d updates, want %d", backend, pl.Summary.Update, set.Truth.Updated)
		}
		if t := stateTransfer(store); t != nil {
			r.in += t.BytesIn
		}
		_ = state.Close(store)
		if pp == p {
			r.plan = secs
		} else {
			r.planCold = secs
		}
	}
	if backend == "local" {
		r.planCold = r.plan // a local state has no other worker
	}

	benchQuiesce()
	t0 = time.Now()
	rep, err := Apply(ctx, p, Options{AllowMassChange: true}, nil)
	r.cycle = time.Since(t0).Seconds()
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
