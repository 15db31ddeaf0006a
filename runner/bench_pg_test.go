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
		fmt.Printf("  %-9s %8s %8s %10s %14s %14s\n", "backend", "seed s", "plan s", "cycle s", "bytes in", "bytes out")
		var planLocal, cycleLocal float64
		for _, backend := range []string{"local", "postgres"} {
			r, err := benchBackend(b.Context(), b, set, backend, url)
			if err != nil {
				b.Fatal(err)
			}
			fmt.Printf("  %-9s %8.2f %8.2f %10.2f %14s %14s\n", backend, r.seed, r.plan, r.cycle, benchGroup(r.in), benchGroup(r.out))
			if backend == "local" {
				planLocal, cycleLocal = r.plan, r.cycle
			} else {
				fmt.Printf("  postgres / local: plan %.2fx, cycle %.2fx\n", r.plan/planLocal, r.cycle/cycleLocal)
				b.ReportMetric(r.plan/planLocal, "x-plan")
				b.ReportMetric(r.cycle/cycleLocal, "x-cycle")
				b.ReportMetric(float64(r.in+r.out), "bytes-moved")
			}
		}
	})
}

type backendBench struct {
	seed, plan, cycle float64
	in, out           int64 // bytes moved by the plan and the apply (PostgreSQL only)
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

	store := newStore(p)
	benchQuiesce()
	t0 = time.Now()
	pl, err := Plan(ctx, p, Options{Store: store})
	r.plan = time.Since(t0).Seconds()
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
