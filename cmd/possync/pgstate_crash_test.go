package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

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
