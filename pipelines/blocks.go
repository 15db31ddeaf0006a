package pipelines

import (
	"math"
	"net/url"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/spec/pgdsn"
)

// block validates the optional top-level block name against fields; an absent block gets the defaults.
func (l *loader) block(nodes map[string]*yaml.Node, name string, fields []spec.Field,
) (map[string]any, map[string]*yaml.Node) {
	if n := nodes[name]; n != nil && !isNull(n) {
		return l.object(n, "/"+name, fields, nil, false)
	}
	values := map[string]any{}
	for i := range fields {
		if d := fields[i].DefaultValue(); d != nil {
			values[fields[i].Name] = d
		}
	}
	return values, nil
}

// state validates the `state` block.
func (l *loader) state(nodes map[string]*yaml.Node) State {
	values, at := l.block(nodes, "state", stateFields)
	var s State
	s.Dir, _ = values["dir"].(string)
	if s.Dir == "" {
		s.Dir, _ = l.env(stateDirEnv)
	}
	if s.Dir == "" {
		s.Dir = defaultStateDir
	}
	s.Backend, s.Schema = l.stateBackend(values, at)
	if m, ok := values["memory_limit"].(string); ok {
		s.MemoryLimit = m
		if !memoryLimitRe.MatchString(m) {
			l.errorf(deref(at["memory_limit"]), "/state/memory_limit", spec.CodeBadValue,
				"write a number and a unit (KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 512MB",
				"`%s` is not a memory size", m)
		}
	}
	if c, ok := values["transform_cache"].(bool); ok {
		s.NoTransformCache = !c
	}
	if t, ok := values["threads"].(int64); ok {
		s.Threads = int(t)
		if t < 0 {
			l.errorf(deref(at["threads"]), "/state/threads", spec.CodeBadValue, "use 0 for one thread per core",
				"threads is negative")
		}
	}
	return s
}

// diff validates the `diff` block.
func (l *loader) diff(nodes map[string]*yaml.Node) Diff {
	values, at := l.block(nodes, "diff", diffFields)
	var d Diff
	if s, ok := values["on_missing"].(string); ok {
		d.OnMissing = OnMissing(s)
	}
	if s, ok := values["on_change"].(string); ok {
		d.OnChange = OnChange(s)
	}
	d.ActiveField, _ = values["active_field"].(string)
	if items, ok := values["ignore"].([]any); ok {
		for _, it := range items {
			d.Ignore = append(d.Ignore, it.(string))
		}
	}
	if d.OnMissing == MissingDeactivate && d.ActiveField == "" {
		l.errorf(deref(at["on_missing"]), "/diff/active_field", spec.CodeMissingField,
			"add `active_field:` naming the boolean field that says whether a record is on sale",
			"on_missing: deactivate needs active_field")
	}
	return d
}

// guards validates the `guards` block.
func (l *loader) guards(nodes map[string]*yaml.Node) Guards {
	values, at := l.block(nodes, "guards", guardFields)
	var g Guards
	g.MaxDeletePercent, _ = values["max_delete_percent"].(float64)
	if m := g.MaxDeletePercent; m > 100 || math.IsNaN(m) {
		l.errorf(deref(at["max_delete_percent"]), "/guards/max_delete_percent", spec.CodeBadValue,
			"write a percentage from 0 to 100 (e.g. 10), or a negative number to disable the guard",
			"max_delete_percent %v is not a percentage", m)
	}
	return g
}

// stateBackend reads `state.backend` ($POSSYNC_STATE_URL overrides it) and `state.schema`.
func (l *loader) stateBackend(values map[string]any, at map[string]*yaml.Node) (backend, schema string) {
	backend, _ = values["backend"].(string)
	if env, _ := l.env(stateURLEnv); env != "" {
		backend = env
	}
	l.addURLSecrets(backend)
	switch {
	case backend == "" || backend == "local":
		backend = "local"
	case strings.HasPrefix(backend, "postgres://") || strings.HasPrefix(backend, "postgresql://"):
	default:
		// Never the value itself: a connection string of another form, or a mistyped URL, may hold a password.
		l.errorf(deref(at["backend"]), "/state/backend", spec.CodeBadValue,
			"use local, or a PostgreSQL URL postgres://user@host:5432/db, the password in $PGPASSWORD (also from $"+
				stateURLEnv+")",
			"the state backend is neither local nor a postgres:// URL: %s (the value is not shown: it may hold a password)",
			backendForm(backend))
	}
	schema, _ = values["schema"].(string)
	if schema == "" {
		schema = "possync"
	} else if !schemaNameRe.MatchString(schema) {
		l.errorf(deref(at["schema"]), "/state/schema", spec.CodeBadValue, "use lower-case letters, digits and _",
			"`%s` is not a schema name", schema)
	}
	return backend, schema
}

var schemaNameRe = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// addURLSecrets registers the passwords of a state backend, in any form PostgreSQL's client accepts (and as
// far as they can be told when it is malformed), and $PGPASSWORD and $PGSSLPASSWORD, as secrets of the file,
// so that diagnostics, errors, reports and logs never show them.
func (l *loader) addURLSecrets(backend string) {
	if backend != "" && backend != "local" {
		l.secrets = append(l.secrets, pgdsn.Secrets(backend)...)
	}
	for _, k := range []string{"PGPASSWORD", "PGSSLPASSWORD"} {
		if pw, ok := l.env(k); ok && pw != "" {
			l.secrets = append(l.secrets, pw)
		}
	}
}

// backendForm says what a refused state backend looks like, without any of its text but a URL's scheme.
func backendForm(backend string) string {
	if u, err := url.Parse(backend); err == nil && u.Scheme != "" && u.Host != "" && schemeRe.MatchString(u.Scheme) {
		return "it is a URL of scheme " + u.Scheme
	}
	if strings.Contains(backend, "=") {
		return "it looks like key=value pairs (host=… dbname=…)"
	}
	return "it is not a URL"
}

var schemeRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]{0,15}$`)
