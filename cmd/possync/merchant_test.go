package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// copyForMerchant writes b/pipeline.yaml, a copy of the fixture's pipeline file for merchant whose name: is
// kept (as an integrator who copies a pipeline file per merchant and edits only merchant: would), with
// b/data/products.csv holding the same rows.
func (f *fixture) copyForMerchant(t *testing.T, merchant string) {
	t.Helper()
	b, err := os.ReadFile(f.path("pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	copied := strings.Replace(string(b), "merchant: test-merchant", "merchant: "+merchant, 1)
	data, err := os.ReadFile(f.path("data/products.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.path("b/data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path("b/pipeline.yaml"), []byte(copied), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path("b/data/products.csv"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCopyForAnotherMerchantIsRefused: a copy of a pipeline file for another merchant that keeps the name,
// reading the same data, run after the first pipeline applied (from the same folder; with PostgreSQL, on
// another worker with a state folder of its own, sharing the installation's schema): its apply, run, plan,
// explain, state show and state history are all refused before anything is read, with one message naming
// the state (no password), both merchants and what to do; its sink gets nothing, its metrics no success of
// the other merchant's, and the first pipeline's state is left as it was.
func TestCopyForAnotherMerchantIsRefused(t *testing.T) {
	for _, backend := range []string{"local", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			rows := genRows(0, 20)
			f := newFixture(t, rows)
			var env, envB []string
			stateName := regexp.QuoteMeta(filepath.Join(f.state, pipelineName+".duckdb"))
			const pw = "pw-should-not-print"
			if backend == "postgres" {
				pg := pgEnv(t)
				schema := strings.TrimPrefix(pg[1], "POSSYNC_TEST_SCHEMA=")
				url := strings.Replace(strings.TrimPrefix(pg[0], "POSSYNC_STATE_URL="), "://possync@", "://possync:"+pw+"@", 1)
				b, _ := os.ReadFile(f.path("pipeline.yaml"))
				if err := os.WriteFile(f.path("pipeline.yaml"), append(b, []byte("\nstate:\n  schema: "+schema+"\n")...), 0o644); err != nil {
					t.Fatal(err)
				}
				env = []string{"POSSYNC_STATE_URL=" + url}
				envB = append(env, "POSSYNC_STATE_DIR="+t.TempDir())
				stateName = `postgres://\S+ \(schema ` + schema + `, pipeline ` + pipelineName + `\)`
			}
			f.copyForMerchant(t, "other-merchant")
			if r := f.run(t, env, "apply", "pipeline.yaml"); r.code != 0 {
				t.Fatalf("first pipeline's apply: %s", r)
			}
			want := regexp.MustCompile(`state ` + stateName + ` belongs to merchant "test-merchant", but pipeline ` + pipelineName +
				` names merchant "other-merchant": refusing to use another merchant's state \(nothing was read or sent\)\. ` +
				`If this pipeline file is a copy for merchant "other-merchant", give it a name of its own \(name:\) or its own state\.(dir|schema); ` +
				`if merchant "test-merchant" was renamed to "other-merchant" on purpose .*` + "`possync state set-merchant b/pipeline.yaml`")
			metrics := filepath.Join(t.TempDir(), "metrics.prom")
			for _, tc := range []struct {
				args []string
				code int
			}{
				{[]string{"apply", "b/pipeline.yaml"}, 2},
				{[]string{"run", "b/pipeline.yaml", "--metrics-file", metrics}, 2},
				{[]string{"plan", "b/pipeline.yaml"}, 1},
				{[]string{"explain", "b/pipeline.yaml", rows[0].SKU}, 2},
				{[]string{"state", "show", "b/pipeline.yaml"}, 1},
				{[]string{"state", "history", "b/pipeline.yaml"}, 1},
			} {
				r := f.run(t, envB, tc.args...)
				if r.code != tc.code || !want.MatchString(r.stderr) || strings.Count(r.stderr, "belongs to merchant") != 1 {
					t.Errorf("%s: want exit %d and the refusal once on stderr (%s), got %s", tc.args[0], tc.code, want, r)
				}
				if strings.Contains(r.stdout+r.stderr, pw) {
					t.Errorf("%s printed the state's password: %s", tc.args[0], r)
				}
				if tc.args[0] == "run" {
					if rep := parseReport(t, r); rep.ExitReason != "invalid_config" || rep.ExitCode != 2 {
						t.Errorf("run report: %+v, want invalid_config, 2", rep)
					}
				}
			}
			if _, err := os.Stat(f.path("b/out")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the copy's sink got something (b/out: %v)", err)
			}
			if b, err := os.ReadFile(metrics); err != nil || strings.Contains(string(b), "possync_last_success") {
				t.Errorf("metrics of the refused run: %v\n%s; want no last success (the other merchant's)", err, b)
			}
			r := f.run(t, env, "state", "show", "pipeline.yaml", "--json")
			var v struct{ Meta struct{ Merchant string } }
			if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Meta.Merchant != "test-merchant" {
				t.Fatalf("the first pipeline's state: %v %s", err, r)
			}
			if r := f.run(t, env, "plan", "pipeline.yaml"); r.code != 0 || !strings.Contains(r.stdout, "No changes. 20 records up to date") {
				t.Errorf("the first pipeline's plan after the refusals: %s", r)
			}
		})
	}
}

// TestRenamedMerchantIsAcceptedWithSetMerchant: a pipeline whose merchant: was renamed on purpose is refused
// its own state until `possync state set-merchant` records the new name; then it plans against the same
// state (nothing to change) and the old name is refused. A pipeline without state has nothing to rename.
func TestRenamedMerchantIsAcceptedWithSetMerchant(t *testing.T) {
	f := newFixture(t, genRows(0, 10))
	if r := f.run(t, nil, "run", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	b, _ := os.ReadFile(f.path("pipeline.yaml"))
	renamed := strings.Replace(string(b), "merchant: test-merchant", "merchant: renamed-merchant", 1)
	if err := os.WriteFile(f.path("renamed.yaml"), []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := f.run(t, nil, "plan", "renamed.yaml"); r.code != 1 || !strings.Contains(r.stderr, "possync state set-merchant renamed.yaml") {
		t.Fatalf("plan of the renamed merchant before set-merchant: %s", r)
	}
	r := f.run(t, nil, "state", "set-merchant", "renamed.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, `merchant "test-merchant" replaced by "renamed-merchant"`) {
		t.Fatalf("set-merchant: %s", r)
	}
	if r := f.run(t, nil, "plan", "renamed.yaml"); r.code != 0 || !strings.Contains(r.stdout, "No changes. 10 records up to date") {
		t.Errorf("plan of the renamed merchant after set-merchant: %s", r)
	}
	if r := f.run(t, nil, "plan", "pipeline.yaml"); r.code != 1 || !strings.Contains(r.stderr, `belongs to merchant "renamed-merchant"`) {
		t.Errorf("plan of the old merchant after set-merchant: %s", r)
	}
	if r := f.run(t, nil, "state", "list"); r.code != 0 ||
		!regexp.MustCompile(`(?m)^`+pipelineName+`\s+renamed-merchant\s+2\s+10\s`).MatchString(r.stdout) {
		t.Errorf("state list: %s", r)
	}
	other := strings.Replace(string(b), "name: "+pipelineName, "name: never-run", 1)
	if err := os.WriteFile(f.path("never.yaml"), []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := f.run(t, nil, "state", "set-merchant", "never.yaml"); r.code != 1 || !strings.Contains(r.stderr, "pipeline never-run has no state") {
		t.Errorf("set-merchant without state: %s", r)
	}
	if _, err := os.Stat(filepath.Join(f.state, "never-run.duckdb")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("set-merchant without state created one: %v", err)
	}
}

// TestStateWithoutMerchantAdoptsIt: a state written before possync recorded merchants (its file holds no
// merchant) serves its pipeline as before, quietly: a plan leaves it without one (nothing on stderr), and the
// next run that commits records the pipeline's merchant (one line in its -v log, no warning), after which a
// copy for another merchant is refused.
func TestStateWithoutMerchantAdoptsIt(t *testing.T) {
	rows := genRows(0, 10)
	f := newFixture(t, rows)
	if r := f.run(t, nil, "run", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	db, err := sql.Open("duckdb", filepath.Join(f.state, pipelineName+".duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM meta WHERE k = 'merchant'"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	merchantOf := func() string {
		t.Helper()
		r := f.run(t, nil, "state", "show", "pipeline.yaml", "--json")
		var v struct{ Meta struct{ Merchant string } }
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 {
			t.Fatalf("state show: %v %s", err, r)
		}
		return v.Meta.Merchant
	}
	if m := merchantOf(); m != "" {
		t.Fatalf("the state records merchant %q after it was removed", m)
	}
	if r := f.run(t, nil, "plan", "pipeline.yaml"); r.code != 0 || r.stderr != "" {
		t.Fatalf("plan of the state without merchant: %s", r)
	}
	if m := merchantOf(); m != "" {
		t.Fatalf("a plan recorded merchant %q", m)
	}
	rows[0].Price++
	f.writeRows(t, rows)
	if r := f.run(t, nil, "run", "pipeline.yaml", "-v"); r.code != 0 || parseReport(t, r).Applied.Update != 1 ||
		strings.Count(r.stderr, "state: recorded merchant test-merchant in the state") != 1 || strings.Contains(r.stderr, "WARN") {
		t.Fatalf("run of the state without merchant: want it applied, one log line saying it recorded the merchant and no warning; got %s", r)
	}
	if m := merchantOf(); m != "test-merchant" {
		t.Fatalf("after the run's commit the state records merchant %q, want test-merchant", m)
	}
	f.copyForMerchant(t, "other-merchant")
	if r := f.run(t, nil, "plan", "b/pipeline.yaml"); r.code != 1 || !strings.Contains(r.stderr, `belongs to merchant "test-merchant"`) {
		t.Errorf("plan of a copy for another merchant after the adoption: %s", r)
	}
}
