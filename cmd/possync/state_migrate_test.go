package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestStateMigrateCommand: `possync state migrate` moves a pipeline's local state into PostgreSQL, after
// which a plan against PostgreSQL has nothing to do; the URL's password is never printed; a second move
// into the same target is refused; -h lists the flags.
func TestStateMigrateCommand(t *testing.T) {
	env := pgEnv(t)
	schema := strings.TrimPrefix(env[1], "POSSYNC_TEST_SCHEMA=")
	const pw = "pw-should-not-print"
	url := strings.Replace(strings.TrimPrefix(env[0], "POSSYNC_STATE_URL="), "://possync@", "://possync:"+pw+"@", 1)
	if !strings.Contains(url, pw) {
		t.Skip("the test server's URL has no user possync to give a password to")
	}
	f := newFixture(t, genRows(0, 50))
	b, _ := os.ReadFile(f.path("pipeline.yaml"))
	if err := os.WriteFile(f.path("pipeline.yaml"), append(b, []byte("\nstate:\n  schema: "+schema+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := f.run(t, nil, "run", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("local run: %s", r)
	}
	r := f.run(t, nil, "state", "migrate", "pipeline.yaml", "--from", "local", "--to", url)
	if r.code != 0 || !regexp.MustCompile(`serial [1-9]\d* .*50 records`).MatchString(r.stdout) {
		t.Fatalf("migrate: %s", r)
	}
	if strings.Contains(r.stdout+r.stderr, pw) {
		t.Errorf("migrate printed the password: %s", r)
	}
	if r := f.run(t, []string{"POSSYNC_STATE_URL=" + url, "POSSYNC_STATE_DIR=" + t.TempDir()}, "plan", "pipeline.yaml"); r.code != 0 {
		t.Errorf("plan on postgres after the move: want exit 0 (no changes), got %s", r)
	}
	r = f.run(t, nil, "state", "migrate", "pipeline.yaml", "--to", url)
	if r.code != 1 || !strings.Contains(r.stderr, "already holds state") || strings.Contains(r.stdout+r.stderr, pw) {
		t.Errorf("second migrate: want exit 1, refused, no password; got %s", r)
	}
	r = f.run(t, nil, "state", "migrate", "-h")
	for _, fl := range []string{"from", "to", "json"} {
		if r.code != 0 || !regexp.MustCompile(`(?m)^  -`+fl+`\b`).MatchString(r.stdout) {
			t.Errorf("state migrate -h does not list -%s: %s", fl, r)
		}
	}
}
