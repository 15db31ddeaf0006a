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
	if !strings.Contains(msgs, "is not a state backend") || !strings.Contains(msgs, "is not a schema name") || strings.Contains(msgs, pw) {
		t.Errorf("diagnostics: %s", msgs)
	}
}
