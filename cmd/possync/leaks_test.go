package main

// End-to-end hunts for secrets that servers echo or that possync's own messages quote: each runs the commands
// a user runs and greps everything they show for every fragment of the secret.

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/possync/possync/connectors/ascend/ftptest"
)

// userOutputs runs what a user runs on file — validate, check, plan as text and as JSON, saved (--out) and as
// HTML (--html), run with its report, HTML page, metrics file and JSON debug logs — and returns everything
// they showed, by name: each command's stdout and stderr, the files it wrote, and the state folder's files.
// Exit codes are not checked: the pipelines of these tests fail on purpose.
func (f *fixture) userOutputs(t *testing.T, env []string, file string) map[string]string {
	t.Helper()
	out := f.path("leak-out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	outs := map[string]string{}
	for _, args := range [][]string{
		{"validate", file},
		{"validate", "--json", file},
		{"check", file},
		{"plan", file, "--out", filepath.Join(out, "plan.json"), "--html", filepath.Join(out, "plan.html")},
		{"plan", file, "--json"},
		{"run", file, "--report", filepath.Join(out, "report.json"), "--html", filepath.Join(out, "run.html"),
			"--metrics-file", filepath.Join(out, "metrics.prom"), "--log-format", "json", "--log-level", "debug"},
		{"run", file},
	} {
		r := f.run(t, env, args...)
		name := "possync " + strings.Join(args, " ")
		outs[name+": stdout"], outs[name+": stderr"] = r.stdout, r.stderr
	}
	for _, dir := range []string{out, f.state} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(p)
				outs[p] = string(b)
			}
			return nil
		})
	}
	return outs
}

// assertHidden fails the test for each output holding one of fragments (pieces of a secret that any escaping
// of it leaves intact), naming the output and quoting around the first hit.
func assertHidden(t *testing.T, outs map[string]string, fragments ...string) {
	t.Helper()
	names := make([]string, 0, len(outs))
	for n := range outs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, frag := range fragments {
			if i := strings.Index(outs[n], frag); i >= 0 {
				t.Errorf("%s shows the secret (%q): …%s…", n, frag, outs[n][max(0, i-120):min(len(outs[n]), i+60)])
				break
			}
		}
	}
}

// assertShown fails the test unless some output holds want (the message a user needs instead).
func assertShown(t *testing.T, outs map[string]string, want string) {
	t.Helper()
	for _, o := range outs {
		if strings.Contains(o, want) {
			return
		}
	}
	t.Errorf("no output says %q; check says: %s", want, outs["possync check "+leakFile+": stdout"]+outs["possync check "+leakFile+": stderr"])
}

const leakFile = "leak.yaml"

// writeLeakPipeline writes leak.yaml: the fixture's pipeline with its source, sink or state replaced.
func (f *fixture) writeLeakPipeline(t *testing.T, body string) {
	t.Helper()
	if err := os.WriteFile(f.path(leakFile), []byte("version: 1\nname: leak-test\nmerchant: test-merchant\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStateBackendPasswordsNeverShown: the PostgreSQL password of a state backend, in whatever form it is
// given (key=value pairs, a mistyped URL, an sslpassword parameter), shows nowhere: validate describes the
// form it refuses, and a server that does not answer is named by host, port, user and database.
func TestStateBackendPasswordsNeverShown(t *testing.T) {
	const pw = "Kv9zQpW3mXr7"
	f := newFixture(t, genRows(0, 3))
	b, _ := os.ReadFile(f.path("pipeline.yaml"))
	f.writeLeakPipeline(t, strings.SplitN(string(b), "\n", 4)[3]+"\nstate:\n  backend: ${PGURL}\n")
	for _, c := range []struct{ name, backend, want string }{
		{"key=value", "host=127.0.0.1 port=1 user=possync password=" + pw + " dbname=possync",
			"neither local nor a postgres:// URL: it looks like key=value pairs"},
		{"mistyped URL", "postgres//possync:" + pw + "@127.0.0.1:1/possync", "neither local nor a postgres:// URL"},
		{"sslpassword", "postgres://possync@127.0.0.1:1/possync?sslmode=disable&connect_timeout=2&sslpassword=" + pw,
			"postgres://possync@127.0.0.1:1/possync"},
		{"URL password and parameter", "postgres://possync:" + pw + "@127.0.0.1:1/possync?sslmode=disable&connect_timeout=2&password=" + pw,
			"postgres://possync@127.0.0.1:1/possync"},
	} {
		t.Run(c.name, func(t *testing.T) {
			outs := f.userOutputs(t, []string{"PGURL=" + c.backend}, leakFile)
			assertHidden(t, outs, pw, "Kv9zQp", "mXr7")
			assertShown(t, outs, c.want)
		})
	}
}

// TestStateMigratePasswordNeverShown: `state migrate --to` key=value pairs whose server does not answer
// names it without the password.
func TestStateMigratePasswordNeverShown(t *testing.T) {
	const pw = "Kv9zQpW3mXr7"
	f := newFixture(t, genRows(0, 3))
	if r := f.run(t, nil, "run", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	for _, to := range []string{
		"host=127.0.0.1 port=1 user=possync password=" + pw + " dbname=possync sslmode=disable connect_timeout=2",
		"postgres://possync@127.0.0.1:1/possync?sslmode=disable&connect_timeout=2&sslpassword=" + pw,
	} {
		r := f.run(t, nil, "state", "migrate", "pipeline.yaml", "--to", to)
		if r.code == 0 || strings.Contains(r.stdout+r.stderr, "Kv9zQp") || !strings.Contains(r.stderr, "postgres://possync@127.0.0.1:1/possync") {
			t.Errorf("migrate --to %s: want a failure naming postgres://possync@127.0.0.1:1/possync, no password; got %s", to, r)
		}
	}
}

// TestFTPReplyEchoingThePassword: an FTP server whose refusals echo the password (with a quote, which Go
// escapes when it quotes the reply) has it masked in every output.
func TestFTPReplyEchoingThePassword(t *testing.T) {
	const pw = `Pw7"Rt9xLm2Qa`
	srv, err := ftptest.New(ftptest.Options{User: "1234", Password: pw, Refuse: func(cmd, _ string) string {
		if cmd == "FEAT" || cmd == "TYPE" || cmd == "OPTS" {
			return ""
		}
		return "Permission denied, user password " + pw
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	host, port, _ := strings.Cut(srv.Addr(), ":")
	f := newFixture(t, nil)
	f.writeLeakPipeline(t, `key: sku
source:
  type: ascend
  host: `+host+`
  port: `+port+`
  user: "1234"
  password: ${ASCEND_FTP_PASSWORD}
  timeout: 5s
  mode: multi-site
  locations:
    - {short_name: Downtown, status: multi-site}
sink:
  type: file
  path: out/x.jsonl
`)
	outs := f.userOutputs(t, []string{"ASCEND_FTP_PASSWORD=" + pw}, leakFile)
	assertHidden(t, outs, "Rt9xLm2Qa", "Pw7")
	assertShown(t, outs, `550 "Permission denied, user password ***"`)
}

// ordersPipeline is an order_url source of url reading ${ORDER_URL_KEY}, into a file.
func ordersPipeline(url string) string {
	return `key: order_id
source:
  type: order_url
  url: "` + url + `"
  merchant: "1234"
  url_key: ${ORDER_URL_KEY}
  retries: 0
  timeout: 5s
sink:
  type: file
  path: out/orders.jsonl
diff:
  on_missing: keep
  on_change: keep
`
}

// TestOrderExportEchoingTheKey: an order export that echoes the URL key (holding an &, which JSON escapes)
// into an order's quantity and the order count, or into an error body cut short after it, and an order URL
// that carries the key in its query: no output shows any of it; the reject and the note say what was wrong.
func TestOrderExportEchoingTheKey(t *testing.T) {
	const key = "Zq7k&UrlKey9931"
	const order = `<WebOrder><Order><OrderId>120526-091244-101</OrderId><Currency>USD</Currency>
<Time>Sat Dec  5 09:12:44 2026</Time><CustomerId>48151</CustomerId><Status>Received</Status>
<Items><Item num="1"><Id>5021</Id><Code>787879</Code><Quantity>URLkey=Zq7k&amp;UrlKey9931</Quantity>
<Unit-Price>999.00</Unit-Price><Description>Bravo 29er</Description></Item></Items></Order></WebOrder>`
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/denied"):
			w.WriteHeader(http.StatusForbidden) // the key ends past the 200 bytes an error message keeps
			_, _ = w.Write([]byte(strings.Repeat("x", 193) + r.URL.Query().Get("URLkey")))
		case r.URL.Query().Get("method") == "Orders":
			w.Header().Set("Content-Type", "text/xml")
			_, _ = w.Write([]byte(`<?xml version="1.0"?><WebOrders><NumberOfOrders>URLkey=Zq7k&amp;UrlKey9931</NumberOfOrders>` +
				order + `</WebOrders>`))
		default:
			_, _ = w.Write([]byte("OK"))
		}
	}))
	defer site.Close()
	env := []string{"ORDER_URL_KEY=" + key}
	for _, c := range []struct{ name, url, want string }{
		{"echoed in the orders", site.URL + "/export/orders", `Quantity "URLkey=***" is not a number`},
		{"echoed in an error body", site.URL + "/denied", "HTTP 403: xxxxx"},
		{"in the URL's query", "www.example-bikes.com/export/orders?method=Orders&merchant=1234&URLkey=Other-Key-4242",
			"`www.example-bikes.com/export/orders?…` is not an absolute http(s) URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.writeLeakPipeline(t, ordersPipeline(c.url))
			outs := f.userOutputs(t, env, leakFile)
			assertHidden(t, outs, "UrlKey9931", "Zq7k", "Other-Key")
			assertShown(t, outs, c.want)
		})
	}
}
