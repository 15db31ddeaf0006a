package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// stateLine is the state line of `possync check`'s output ("" without one).
func stateLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "state ") {
			return l
		}
	}
	return ""
}

// TestCheckStateBackend: `possync check` ends with a line on the state backend, and fails (exit 1) when a run
// could not use it: a state folder that is a file, a PostgreSQL server that does not answer (its password
// never printed), a schema of a newer possync.
func TestCheckStateBackend(t *testing.T) {
	const pw = "s3cret-Check-pw"
	f := newFixture(t, genRows(0, 3))
	notDir := f.path("state-file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		code int
		want []string
	}{
		{"local", nil, 0, []string{"state  local", "ok: state folder " + f.state}},
		{"local folder to be created", []string{"POSSYNC_STATE_DIR=" + f.path("new/state")}, 0, []string{"ok: state folder " + f.path("new/state")}},
		{"local folder is a file", []string{"POSSYNC_STATE_DIR=" + notDir}, 1, []string{"FAILED", "is not a folder"}},
		{"postgres unreachable", []string{"POSSYNC_STATE_URL=postgres://u:" + pw + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"}, 1,
			[]string{"state  postgres", "FAILED", "127.0.0.1:1/db"}},
		{"postgres password from the environment", []string{"POSSYNC_STATE_URL=postgres://u@127.0.0.1:1/db?sslmode=disable&connect_timeout=2",
			"PGPASSWORD=" + pw}, 1, []string{"FAILED", "127.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.run(t, tc.env, "check", "pipeline.yaml")
			line := stateLine(r.stdout)
			if r.code != tc.code || strings.Contains(r.stdout+r.stderr, pw) {
				t.Fatalf("want exit %d and no password in the output, got %s", tc.code, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("state line %q lacks %q", line, w)
				}
			}
		})
	}
}

// TestCheckStatePostgres: on a shared state, `possync check` names the run holding the pipeline's lock
// without taking it (that run goes on and applies), reports the serial, and fails on a schema of a newer
// possync.
func TestCheckStatePostgres(t *testing.T) {
	f, ms := newFleetFixture(t, genRows(0, 30), 2)
	a, b := ms[0], ms[1]
	r := b.run(t, nil, "check", "pipeline.yaml")
	if line := stateLine(r.stdout); r.code != 0 || !strings.Contains(line, "schema "+b.schema+": not created yet (the first run creates it)") {
		t.Fatalf("check before the first run: %s", r)
	}
	if r := a.run(t, nil, "run", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("first run: %s", r)
	}
	f.writeRows(t, genRows(0, 31))
	cmdA, doneA, release := a.held(t, "after-lock", "run", "pipeline.yaml")
	r = b.run(t, nil, "check", "pipeline.yaml")
	line := stateLine(r.stdout)
	if r.code != 0 || !strings.Contains(line, "ok: ") || !strings.Contains(line, "version ") || !strings.Contains(line, "; serial ") ||
		!strings.Contains(line, "locked by run ") || !strings.Contains(line, "(pid "+strconv.Itoa(cmdA.Process.Pid)+" on ") {
		t.Fatalf("check while A holds the lock: want exit 0 naming A (pid %d), got %s", cmdA.Process.Pid, r)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ra := <-doneA; ra.code != 0 || parseReport(t, ra).Applied.Create != 1 {
		t.Fatalf("A after the check: want exit 0 and its one create applied, got %s", ra)
	}
	if r := b.run(t, nil, "check", "pipeline.yaml"); r.code != 0 || !strings.Contains(stateLine(r.stdout), "; not locked") {
		t.Fatalf("check after A: %s", r)
	}
	psql(t, b.stateURL, "UPDATE "+b.schema+".possync_meta SET v = '99' WHERE k = 'schema_version'")
	if r := b.run(t, nil, "check", "pipeline.yaml"); r.code != 1 || !strings.Contains(stateLine(r.stdout), "upgrade possync") {
		t.Fatalf("check of a newer schema: want exit 1 and upgrade possync, got %s", r)
	}
}
