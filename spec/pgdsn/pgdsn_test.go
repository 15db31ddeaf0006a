package pgdsn

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// noPGEnv clears the libpq variables pgx reads, so that the test sees only the connection string (and a
// passfile it writes itself).
func noPGEnv(t *testing.T) {
	for _, k := range []string{"PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGSSLPASSWORD", "PGSERVICE",
		"PGSERVICEFILE", "PGSSLMODE"} {
		t.Setenv(k, "")
	}
	t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
}

// TestSecrets: every password a connection string carries, or makes pgx use, is found, in whichever form
// the state backend accepts it and also when it does not parse.
func TestSecrets(t *testing.T) {
	noPGEnv(t)
	for _, c := range []struct {
		name, dsn string
		want      []string
	}{
		{"key=value", "host=127.0.0.1 port=1 user=possync password=Kv9zQpW3mXr7 dbname=possync", []string{"Kv9zQpW3mXr7"}},
		{"key=value quoted, escaped", `host=h password='Kv9z Qp\'W3' sslpassword = Ssl7pw99xyz`, []string{"Kv9z Qp'W3", "Ssl7pw99xyz"}},
		{"URL user password", "postgres://u:Kv9z%40QpW3@h:5432/db", []string{"Kv9z@QpW3"}},
		{"URL parameters", "postgresql://u@h/db?sslmode=require&password=Kv9zQpW3&sslpassword=Ssl%26pw99", []string{"Kv9zQpW3", "Ssl&pw99"}},
		{"multi-host URL (url.Parse refuses it)", "postgres://u:Kv9zQpW3@h1:5432,h2:5433/db", []string{"Kv9zQpW3"}},
		{"unparsable key=value", "host=h password=Kv9zQpW3 port=notaport", []string{"Kv9zQpW3"}},
		{"unterminated quote", "host=h password='Kv9zQpW3", []string{"Kv9zQpW3"}},
		{"malformed URL", "postgres//u:Kv9zQpW3@h/db", []string{"Kv9zQpW3"}},
		{"URL with a space in the password", "postgres://u:Kv9z QpW3@h/db", []string{"Kv9z QpW3"}},
		{"URL of another scheme", "mysql://u:Kv9zQpW3@db/x", []string{"Kv9zQpW3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Secrets(c.dsn)
			for _, w := range c.want {
				if !slices.Contains(got, w) {
					t.Errorf("Secrets(%q) = %q, lacks %q", c.dsn, got, w)
				}
			}
		})
	}

	t.Setenv("PGPASSWORD", "FromEnv-pw1")
	t.Setenv("PGSSLPASSWORD", "FromEnv-ssl2")
	if got := Secrets("postgres://u@h/db"); !slices.Contains(got, "FromEnv-pw1") || !slices.Contains(got, "FromEnv-ssl2") {
		t.Errorf("Secrets with $PGPASSWORD and $PGSSLPASSWORD = %q", got)
	}
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGSSLPASSWORD", "")
	pass := filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(pass, []byte("h:5432:db:u:FromPassfile-3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSFILE", pass)
	if got := Secrets("host=h port=5432 user=u dbname=db"); !slices.Contains(got, "FromPassfile-3") {
		t.Errorf("Secrets with a passfile = %q", got)
	}
}

// TestDescribe: a connection string is named by host, port, user and database only, whatever its form.
func TestDescribe(t *testing.T) {
	noPGEnv(t)
	for _, c := range []struct{ dsn, want string }{
		{"host=127.0.0.1 port=1 user=possync password=Kv9zQpW3mXr7 dbname=possync", "postgres://possync@127.0.0.1:1/possync"},
		{"postgres://u:Kv9zQpW3@db.internal/st?sslmode=disable&sslpassword=Ssl7pw99&application_name=x",
			"postgres://u@db.internal:5432/st"},
		{"postgres://u:Kv9zQpW3@h1:5432,[::1]:5433/db?sslmode=disable", "postgres://u@h1:5432,[::1]:5433/db"},
		{"host=/run/postgresql user=u dbname=db password=Kv9zQpW3", "postgres://u@/db?host=%2Frun%2Fpostgresql&port=5432"},
		{"host=h password=Kv9zQpW3 port=notaport", Unparsable},
		{"postgres://u:Kv9z QpW3@h/db", Unparsable},
	} {
		got := Describe(c.dsn)
		if got != c.want {
			t.Errorf("Describe(%q) = %q, want %q", c.dsn, got, c.want)
		}
		if strings.Contains(got, "Kv9z") || strings.Contains(got, "Ssl7") {
			t.Errorf("Describe(%q) = %q shows a password", c.dsn, got)
		}
	}
}
