package main

import (
	"encoding/json"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/connectors/ecom/ecomtest"
)

// ecomPipeline is a pipeline from data/products.csv into an eCom store at base (token from $TOK).
func ecomPipeline(base string) string {
	return `version: 1
name: ` + pipelineName + `
merchant: test-merchant
key: sku
` + productsSourceYAML + `transforms:
  - type: map
    fields:
      sku: sku
      name: name
      price: price
sink:
  type: ecom
  store_id: "1003"
  token: ${TOK}
  base_url: ` + base + `
`
}

// TestCheckAndValidateFailFast: possync check against a port nothing listens on fails with the cause and
// the server, against a failing store it makes three attempts only (the check's own budget), and validate
// rejects an ftp:// base URL at its line and column, so check never tries it.
func TestCheckAndValidateFailFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	f := newFixture(t, genRows(0, 3))
	env := []string{"TOK=secret_check-token-0001"}

	write := func(name, yaml string) {
		if err := os.WriteFile(f.path(name), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("closed.yaml", ecomPipeline("http://"+closed+"/api/v3"))
	r := f.run(t, env, "check", "closed.yaml")
	if r.code != 1 || !strings.Contains(r.stdout, "at "+closed+": connection refused") {
		t.Errorf("check of a closed port: want exit 1 and connection refused at %s, got %s", closed, r)
	}

	srv := ecomtest.New(ecomtest.Options{Token: "secret_check-token-0001"})
	defer srv.Close()
	srv.Outage("", "/products", http.StatusServiceUnavailable)
	write("failing.yaml", ecomPipeline(srv.URL()))
	r = f.run(t, env, "check", "failing.yaml")
	if r.code != 1 || !strings.Contains(r.stdout, "HTTP 503") || !strings.Contains(r.stdout, "gave up after 3 attempts") {
		t.Errorf("check of a failing store: want exit 1 and a 503 after 3 attempts, got %s", r)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("check sent %d requests to a failing store, want 3", n)
	}

	yaml := ecomPipeline("ftp://" + closed + "/api/v3")
	write("ftp.yaml", yaml)
	line := strings.Count(yaml[:strings.Index(yaml, "ftp://")], "\n") + 1
	for _, cmd := range []string{"validate", "check"} {
		r = f.run(t, env, cmd, "ftp.yaml")
		want := "ftp.yaml:" + itoa(line) + ":13"
		if r.code != 2 || !strings.Contains(r.stderr+r.stdout, want) || !strings.Contains(r.stderr+r.stdout, "the scheme ftp is not supported") {
			t.Errorf("%s of an ftp:// base_url: want exit 2 and the scheme refused at %s, got %s", cmd, want, r)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestEchoedSecretNeverStored: a store whose refusals echo the token transformed (a prefix, upper-cased)
// never gets it into stdout, stderr, the report or the state.
func TestEchoedSecretNeverStored(t *testing.T) {
	const tok = "secret_EchoMe-4242-abcdef"
	srv := ecomtest.New(ecomtest.Options{Token: tok})
	defer srv.Close()
	srv.Fail(ecomtest.Failure{Method: http.MethodPost, Path: "/products", Times: -1, Status: http.StatusBadRequest,
		Message: "token " + strings.ToUpper(tok[:12]) + "... may not create; also " + strings.ToLower(tok)})
	f := newFixture(t, genRows(0, 3))
	if err := os.WriteFile(f.path("ecom.yaml"), []byte(ecomPipeline(srv.URL())), 0o644); err != nil {
		t.Fatal(err)
	}
	r := f.run(t, []string{"TOK=" + tok}, "run", "ecom.yaml", "--report", "report.json")
	if r.code != 1 {
		t.Fatalf("run: want exit 1 (changes refused), got %s", r)
	}
	leaks := func(what string, b []byte) {
		low := strings.ToLower(string(b))
		if strings.Contains(low, strings.ToLower(tok[:8])) {
			t.Errorf("%s holds the token's first 8 characters", what)
		}
	}
	leaks("stdout", []byte(r.stdout))
	leaks("stderr", []byte(r.stderr))
	rep, err := os.ReadFile(f.path("report.json"))
	if err != nil || !strings.Contains(string(rep), "may not create") {
		t.Fatalf("report: %v\n%s", err, rep)
	}
	leaks("the report", rep)
	_ = filepath.WalkDir(f.state, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			leaks("state file "+filepath.Base(p), b)
		}
		return nil
	})
}

// TestGuardOverrideAtApply: a plan saved without --allow-mass-change and applied with it is the reviewed
// plan, not a stale one: it is applied and the override is recorded in the report (and so the journal).
// Saved with the flag and applied without, it is blocked with what to do.
func TestGuardOverrideAtApply(t *testing.T) {
	rows := genRows(0, 40)
	for _, c := range []struct {
		name               string
		planArgs, applyArg []string
		code               int
		want               []string
	}{
		{"flag at apply only", nil, []string{"--allow-mass-change"}, 0,
			[]string{"guard max_delete_percent overridden with --allow-mass-change",
				"the saved plan was blocked by it; the override was given at apply time"}},
		{"flag at plan only", []string{"--allow-mass-change"}, nil, 3,
			[]string{"blocked by guard", "rerun with --allow-mass-change"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, rows)
			if r := f.run(t, nil, "run", "pipeline.yaml"); r.code != 0 {
				t.Fatalf("first run: %s", r)
			}
			f.writeRows(t, rows[:32]) // 8 of 40 deleted: 20%, over the 10% guard
			r := f.run(t, nil, append([]string{"plan", "pipeline.yaml", "--out", "saved.json"}, c.planArgs...)...)
			if _, err := os.Stat(f.path("saved.json")); err != nil {
				t.Fatalf("plan --out saved no plan: %s", r)
			}
			before := f.snapshot(t)
			r = f.run(t, nil, append([]string{"apply", "pipeline.yaml", "--plan", "saved.json", "--report", "report.json"}, c.applyArg...)...)
			rep, _ := os.ReadFile(f.path("report.json"))
			out := r.stdout + r.stderr + string(rep)
			if r.code != c.code || strings.Contains(out, "stale") {
				t.Fatalf("apply: want exit %d and no stale plan, got %s\nreport: %s", c.code, r, rep)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("apply: want %q in the output or report, got %s\nreport: %s", w, r, rep)
				}
			}
			if c.code == 0 {
				f.checkRecords(t, want(rows[:32]))
			} else {
				f.unchanged(t, before)
			}
		})
	}
}

// TestStoreOutageIsNoRefusal: a run against an eCom store answering 500 to every creation stops after the
// first product (POSTed twice, with a lookup between), reports no change as refused, and the next run, with
// the store back, creates every product once.
func TestStoreOutageIsNoRefusal(t *testing.T) {
	const tok = "secret_outage-token-77"
	srv := ecomtest.New(ecomtest.Options{Token: tok})
	defer srv.Close()
	srv.Outage(http.MethodPost, "/products", http.StatusInternalServerError)
	f := newFixture(t, genRows(0, 5))
	if err := os.WriteFile(f.path("ecom.yaml"), []byte(ecomPipeline(srv.URL())), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"TOK=" + tok}
	var rep struct {
		Rejected   []json.RawMessage `json:"rejected"`
		Error      string            `json:"error"`
		ExitReason string            `json:"exit_reason"`
		Applied    struct{ Create int }
	}
	readReport := func() {
		b, err := os.ReadFile(f.path("report.json"))
		if err != nil {
			t.Fatal(err)
		}
		rep.Rejected, rep.Error = nil, ""
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("report: %v\n%s", err, b)
		}
	}
	r := f.run(t, env, "run", "ecom.yaml", "--report", "report.json")
	readReport()
	if r.code != 1 || len(rep.Rejected) != 0 || !strings.Contains(rep.Error, "the store API is failing") ||
		!strings.Contains(rep.Error, "HTTP 500") {
		t.Fatalf("run during the outage: want exit 1, no rejected change and the store failing; got %s\nreport %+v", r, rep)
	}
	posts := 0
	for _, q := range srv.Requests() {
		if q.Method == http.MethodPost && q.Path == "/products" {
			posts++
		}
	}
	if posts != 2 {
		t.Errorf("%d POST /products during the outage, want 2 (one product, sent again once)", posts)
	}
	srv.EndOutage()
	r = f.run(t, env, "run", "ecom.yaml", "--report", "report.json")
	readReport()
	if r.code != 0 || rep.Applied.Create != 5 || len(srv.Products()) != 5 {
		t.Errorf("run after the outage: want exit 0 and 5 products created, got %s\nreport %+v, %d products", r, rep, len(srv.Products()))
	}
}
