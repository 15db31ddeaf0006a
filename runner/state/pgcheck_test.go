package state_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/possync/possync/runner/state"
)

// TestPgDiagnose: `possync check`'s view of a PostgreSQL state, in each situation it must tell apart; it
// never takes the lock (a held lock stays held, with the same fencing token) and never creates the schema.
func TestPgDiagnose(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	commit := func(t *testing.T, schema string) {
		s, c, _, unlock := openLocked(t, url, schema, t.TempDir())
		exec(t, c, `CREATE TABLE ch AS SELECT * FROM (VALUES ('create','A',1)) t(__op, sku, qty)`)
		if _, err := s.Commit(ctx, c, &state.Commit{RunID: "r", Changes: "ch", Key: []string{"sku"}, Columns: cols}); err != nil {
			t.Fatal(err)
		}
		_ = unlock()
	}
	setVersion := func(v string) func(t *testing.T, schema string) {
		return func(t *testing.T, schema string) {
			commit(t, schema)
			if _, err := admin.Exec(ctx, "UPDATE "+schema+".possync_meta SET v = '"+v+"' WHERE k = 'schema_version'"); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, schema string)
		lock    bool // a run holds the lock meanwhile
		version int
		serial  int64
		want    []string // in the one-line diagnosis
		err     string   // Diagnose fails with this
	}{
		{name: "not created", version: 0, want: []string{"schema ", ": not created yet (the first run creates it)"}},
		{name: "created, no state of the pipeline", setup: func(t *testing.T, schema string) {
			s := state.NewPgStore(url, schema, t.TempDir(), "other")
			defer s.Close()
			if _, err := s.Open(ctx, conn(t), false); err != nil {
				t.Fatal(err)
			}
		}, version: state.SchemaVersion, want: []string{"no state of this pipeline yet", "not locked"}},
		{name: "after a commit", setup: commit, version: state.SchemaVersion, serial: 1, want: []string{"serial 1", "not locked"}},
		{name: "locked by a run", setup: commit, lock: true, version: state.SchemaVersion, serial: 1,
			want: []string{"serial 1", "locked by run run-7 (pid 7 on h1, since 2026-01-02T03:04:05Z)"}},
		{name: "older schema", setup: setVersion("2"), version: 2, serial: 1, want: []string{"version 2 (the next run migrates it to "}},
		{name: "newer schema", setup: setVersion("99"), err: "has version 99; this possync knows up to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schema := freshSchema(t, url)
			if tc.setup != nil {
				tc.setup(t, schema)
			}
			var fence int64
			if tc.lock {
				holder := state.NewPgStore(url, schema, t.TempDir(), "p")
				defer holder.Close()
				unlock, err := holder.Lock(state.Holder{PID: 7, Host: "h1", RunID: "run-7", StartedAt: since})
				if err != nil {
					t.Fatal(err)
				}
				defer unlock()
				fence = holder.Fence()
			}
			s := state.NewPgStore(url, schema, t.TempDir(), "p")
			defer s.Close()
			d, err := s.Diagnose(ctx)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("diagnose: %v; want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Version != tc.version || d.Serial != tc.serial || (d.Holder != nil) != tc.lock || !d.OK() {
				t.Errorf("diagnosis %+v; want version %d, serial %d, locked %v, ok", d, tc.version, tc.serial, tc.lock)
			}
			for _, w := range tc.want {
				if !strings.Contains(d.String(), w) {
					t.Errorf("diagnosis %q lacks %q", d.String(), w)
				}
			}
			var reg *string
			if err := admin.QueryRow(ctx, "SELECT to_regclass($1)::text", schema+".possync_meta").Scan(&reg); err != nil || (reg != nil) != (tc.version > 0) {
				t.Errorf("after the diagnosis the schema exists: %v (%v); want %v", reg != nil, err, tc.version > 0)
			}
			if tc.lock {
				var cur int64
				if err := admin.QueryRow(ctx, "SELECT fence FROM "+schema+".locks WHERE pipeline = 'p'").Scan(&cur); err != nil || cur != fence {
					t.Errorf("fencing token %d after the diagnosis (%v), want the holder's %d", cur, err, fence)
				}
			}
		})
	}
}

// TestPgDiagnoseUnreachable: a server that does not answer fails the check with the server named and the
// password masked.
func TestPgDiagnoseUnreachable(t *testing.T) {
	const pw = "s3cret-Diag-pw"
	s := state.NewPgStore("postgres://u:"+pw+"@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "", t.TempDir(), "p")
	_, err := s.Diagnose(context.Background())
	if err == nil || strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("diagnose of a closed port: %v", err)
	}
}

// TestDiagnosisString: the one-line diagnosis for each combination `possync check` prints.
func TestDiagnosisString(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		d    state.Diagnosis
		want string
		ok   bool
	}{
		{state.Diagnosis{Server: "postgres://u:xxxxx@h/db", Schema: "possync", Known: 3, CanCreate: true},
			"postgres://u:xxxxx@h/db, schema possync: not created yet (the first run creates it)", true},
		{state.Diagnosis{Server: "pg", Schema: "s", Known: 3},
			"pg, schema s: not created yet, and this role may not create it (grant it CREATE on the database, or create the schema for it)", false},
		{state.Diagnosis{Server: "pg", Schema: "s", Version: 3, Known: 3, CanCreate: true, Serial: 4},
			"pg, schema s version 3; serial 4; not locked", true},
		{state.Diagnosis{Server: "pg", Schema: "s", Version: 3, Known: 3, Serial: 4},
			"pg, schema s version 3; this role lacks USAGE or CREATE on the schema; serial 4; not locked", false},
		{state.Diagnosis{Server: "pg", Schema: "s", Version: 2, Known: 3, CanCreate: true},
			"pg, schema s version 2 (the next run migrates it to 3); no state of this pipeline yet; not locked", true},
		{state.Diagnosis{Server: "pg", Schema: "s", Version: 3, Known: 3, CanCreate: true, Serial: 9,
			Holder: &state.Holder{PID: 42, Host: "w2", RunID: "20261207T010000Z-ab", StartedAt: at}},
			"pg, schema s version 3; serial 9; locked by run 20261207T010000Z-ab (pid 42 on w2, since 2026-01-02T03:04:05Z)", true},
	} {
		if got := tc.d.String(); got != tc.want || tc.d.OK() != tc.ok {
			t.Errorf("%+v:\n got %q (ok %v)\nwant %q (ok %v)", tc.d, got, tc.d.OK(), tc.want, tc.ok)
		}
	}
}
