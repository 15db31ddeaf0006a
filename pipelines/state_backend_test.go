package pipelines

import (
	"strings"
	"testing"
)

// TestStateBackend: state.backend selects local (the default) or a PostgreSQL URL, $POSSYNC_STATE_URL
// overrides it, the URL's password and $PGPASSWORD are secrets of the file, and anything else is refused.
func TestStateBackend(t *testing.T) {
	const pw = "hunter2-very-secret"
	p := mustParse(t, head+src+snk+yamlDoc("state: {backend: 'postgres://possync:"+pw+"@db:5432/st', schema: fleet_1}"), nil)
	if p.State.Backend != "postgres://possync:"+pw+"@db:5432/st" || p.State.Schema != "fleet_1" {
		t.Errorf("state %+v", p.State)
	}
	if got := p.Secrets.Redact("connect postgres://possync:" + pw + "@db failed"); strings.Contains(got, pw) {
		t.Errorf("the URL's password is not a secret: %q", got)
	}

	p = mustParse(t, head+src+snk+yamlDoc("state: {backend: local}"),
		map[string]string{"POSSYNC_STATE_URL": "postgres://w@db/st", "PGPASSWORD": "from-the-env-pw"})
	if p.State.Backend != "postgres://w@db/st" {
		t.Errorf("POSSYNC_STATE_URL did not override state.backend: %+v", p.State)
	}
	if got := p.Secrets.Redact("password from-the-env-pw"); strings.Contains(got, "from-the-env-pw") {
		t.Errorf("PGPASSWORD is not a secret: %q", got)
	}

	_, diags := parse(t, head+src+snk+yamlDoc("state: {backend: 'mysql://u:"+pw+"@db/x', schema: 'Bad-Name'}"), nil)
	msgs := diags.Error()
	if !strings.Contains(msgs, "neither local nor a postgres:// URL") || !strings.Contains(msgs, "is not a schema name") || strings.Contains(msgs, pw) {
		t.Errorf("diagnostics: %s", msgs)
	}
}

// TestStateBackendNeverEchoed: a state backend that is refused (key=value pairs, a mistyped URL) is described
// by its form, never quoted, and the passwords it holds are secrets of the file whatever its form.
func TestStateBackendNeverEchoed(t *testing.T) {
	const pw, sslpw = "Kv9zQpW3mXr7", "Ssl7pw99xyzAB"
	for _, c := range []struct{ name, backend, form string }{
		{"key=value", "host=127.0.0.1 port=1 user=possync password=" + pw + " dbname=possync", "key=value pairs"},
		{"missing colon", "postgres//possync:" + pw + "@db/st", "not a URL"},
		{"other scheme", "mysql://possync:" + pw + "@db/st", "a URL of scheme mysql"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, diags := parse(t, head+src+snk+yamlDoc("state: {backend: '${PGURL}'}"), map[string]string{"PGURL": c.backend})
			msgs := diags.Error()
			if p != nil || !strings.Contains(msgs, "neither local nor a postgres:// URL") || !strings.Contains(msgs, c.form) ||
				strings.Contains(msgs, pw) || strings.Contains(msgs, "127.0.0.1") || strings.Contains(msgs, "@db") {
				t.Errorf("diagnostics: %s", msgs)
			}
		})
	}
	p := mustParse(t, head+src+snk+yamlDoc("state: {backend: '${PGURL}'}"),
		map[string]string{"PGURL": "postgres://possync@db/st?sslmode=verify-full&sslpassword=" + sslpw, "PGSSLPASSWORD": "env-ssl-pw-42"})
	if got := p.Secrets.Redact("key " + sslpw + ", env-ssl-pw-42"); strings.Contains(got, sslpw) || strings.Contains(got, "env-ssl-pw") {
		t.Errorf("sslpassword is not a secret: %q", got)
	}
}
