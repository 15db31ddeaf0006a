package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgEnv points possync at the test PostgreSQL (POSSYNC_TEST_PG_URL; skipped without it, failed under
// CI=true) in a schema of the test's own, dropped at its end.
func pgEnv(t *testing.T) []string {
	t.Helper()
	url := os.Getenv("POSSYNC_TEST_PG_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("POSSYNC_TEST_PG_URL is not set under CI: .ci/run must start PostgreSQL")
		}
		t.Skip("POSSYNC_TEST_PG_URL not set: start PostgreSQL with runner/state/testdata/start-postgres.sh")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), url); err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	// The schema goes into the pipeline file (state.schema); the second entry only carries it to the test.
	return []string{"POSSYNC_STATE_URL=" + url, "POSSYNC_TEST_SCHEMA=" + schema}
}

// waitLockReleased returns once PostgreSQL has released the pipeline lock that a run which is no longer
// running (killed, or its lock session terminated from outside) held in schema. The server releases a
// session's advisory lock only when that session's backend ends: for a killed client, once the backend
// notices the closed connection; after pg_terminate_backend, once it handles the signal. Either comes a
// moment after the test saw the process die, and the next run never waits for the lock (it exits 75), so a
// test that starts one "after" a kill must wait for the release first. It takes each lock the dead run's
// session holds (blocking in the server until it is free) and gives it back at once.
func waitLockReleased(t *testing.T, url, schema string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a bound for a hung server only
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	// The advisory locks of the sessions the schema's lock table names (a bigint key shows as classid, objid).
	rows, err := c.Query(ctx, fmt.Sprintf(`SELECT DISTINCT (k.classid::bigint << 32) | k.objid::bigint FROM pg_locks k
		JOIN %s.locks l ON k.pid = l.backend_pid WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 1`, pgx.Identifier{schema}.Sanitize()))
	if err != nil {
		t.Fatalf("the pipeline locks in schema %s: %v", schema, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("the pipeline locks in schema %s: %v", schema, err)
	}
	for _, k := range keys {
		if _, err := c.Exec(ctx, "SELECT pg_advisory_lock($1)", k); err != nil {
			t.Fatalf("waiting for the dead run's lock %d in schema %s to be released: %v", k, schema, err)
		}
		if _, err := c.Exec(ctx, "SELECT pg_advisory_unlock($1)", k); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrashRecoveryOnPostgres kills a worker (SIGKILL, through a failpoint) at points of an apply with its
// state in PostgreSQL, then runs the pipeline on another worker (another local state folder): every change
// reaches the sink exactly once, the records file matches, and a plan afterwards has nothing to do.
func TestCrashRecoveryOnPostgres(t *testing.T) {
	cases := []struct {
		point     string
		recovered int
	}{
		{"after-intents:1", 0},
		{"after-sink:2", 5000},
		{"after-commit:1", 0},
	}
	for _, tc := range cases {
		t.Run(tc.point, func(t *testing.T) {
			env := pgEnv(t)
			schema := strings.TrimPrefix(env[1], "POSSYNC_TEST_SCHEMA=")
			rows := genRows(0, 12000)
			f := newFixture(t, rows)
			b, err := os.ReadFile(f.path("pipeline.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.path("pipeline.yaml"), append(b, []byte("\nstate:\n  schema: "+schema+"\n")...), 0o644); err != nil {
				t.Fatal(err)
			}
			if r := f.run(t, append(env, "POSSYNC_FAILPOINT="+tc.point), "run", "pipeline.yaml"); !r.killed {
				t.Fatalf("run with failpoint %s: want death by SIGKILL, got %s", tc.point, r)
			}
			waitLockReleased(t, strings.TrimPrefix(env[0], "POSSYNC_STATE_URL="), schema)
			other := append(env, "POSSYNC_STATE_DIR="+t.TempDir()) // another machine
			r := f.run(t, other, "run", "pipeline.yaml")
			if r.code != 0 {
				t.Fatalf("rerun on another worker after kill at %s: %s", tc.point, r)
			}
			if rep := parseReport(t, r); rep.Recovered != tc.recovered || rep.ExitCode != 0 {
				t.Errorf("rerun after kill at %s: recovered %d, exit code %d; want %d, 0", tc.point, rep.Recovered, rep.ExitCode, tc.recovered)
			}
			if r := f.run(t, other, "plan", "pipeline.yaml"); r.code != 0 {
				t.Fatalf("plan after the rerun: want exit 0 (no changes), got %s", r)
			}
			creates := map[string]string{}
			for _, r := range rows {
				creates[r.SKU] = "create"
			}
			checkChanges(t, f.changeLog(t), creates, want(rows))
			f.checkRecords(t, want(rows))
			if _, err := os.Stat(f.state + "/" + pipelineName + ".duckdb"); err == nil {
				t.Errorf("the PostgreSQL backend wrote a local state file")
			}
		})
	}
}
