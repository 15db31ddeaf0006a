package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
)

// retailPipeline is the shipped Retail POS → eCom pipeline.
const retailPipeline = "retail-ecom/catalog.yaml"

// retail is the shipped Retail POS → eCom pipeline running against its own emulators: the POS holds the example
// catalog (retailpostest.LoadExample), the store starts empty.
type retail struct {
	t   testing.TB
	env *Env
	p   *pipelines.Pipeline
}

// newRetail starts fresh emulators, stopped when the test ends, and loads the shipped pipeline with its state in
// a temporary folder. edits are pairs of old and new text applied to a copy of the YAML (each old text must
// occur exactly once), for what a merchant configures differently.
func newRetail(tb testing.TB, edits ...string) *retail {
	tb.Helper()
	env, err := Start("retail-ecom")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(env.Close)
	r := &retail{t: tb, env: env}
	r.p = r.load(editedPipeline(tb, edits...))
	return r
}

// load loads a pipeline file with the emulators' environment (as it is now), sharing r's state: a fresh
// temporary folder for the first pipeline.
func (r *retail) load(path string) *pipelines.Pipeline {
	r.t.Helper()
	p, diags := pipelines.Load(path, pipelines.Options{LookupEnv: r.env.Lookup})
	if diags.HasErrors() || p == nil {
		r.t.Fatalf("%s does not load: %v", path, diags.Err())
	}
	if r.p != nil {
		p.State.Dir = r.p.State.Dir
	} else {
		p.State.Dir = r.t.TempDir()
	}
	return p
}

// fastSink edits the pipeline's sink to pace its requests at 60,000 a minute instead of 600, for the setup of
// tests that are not about the first sync.
var fastSink = []string{"  token: ${ECOM_TOKEN}\n", "  token: ${ECOM_TOKEN}\n  requests_per_minute: 60000\n"}

// syncedRetail is newRetail after a first apply has mirrored the POS catalog into the store (through a copy
// of the pipeline with a fast-paced sink, sharing its state); the store's record of writes and requests is
// then cleared, so that a test sees only the calls its change causes.
func syncedRetail(t *testing.T, edits ...string) *retail {
	t.Helper()
	r := newRetail(t, edits...)
	setup := &retail{t: t, env: r.env, p: r.load(editedPipeline(t, append(edits, fastSink...)...))}
	rep := setup.apply(runner.Options{})
	if rep.Applied.Create != 8 {
		t.Fatalf("first apply created %d records, want the example's 8 (6 products, 2 variants)", rep.Applied.Create)
	}
	r.env.Ecom.Reset()
	return r
}

// editedPipeline returns the path of the shipped pipeline, or of an edited copy of it in a temporary folder.
func editedPipeline(tb testing.TB, edits ...string) string {
	tb.Helper()
	if len(edits) == 0 {
		return retailPipeline
	}
	if len(edits)%2 != 0 {
		tb.Fatalf("pipeline edits come in old, new pairs: %q", edits)
	}
	b, err := os.ReadFile(retailPipeline)
	if err != nil {
		tb.Fatal(err)
	}
	text := string(b)
	for i := 0; i < len(edits); i += 2 {
		if n := strings.Count(text, edits[i]); n != 1 {
			tb.Fatalf("pipeline edit: %q occurs %d times in %s, want once", edits[i], n, retailPipeline)
		}
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	path := filepath.Join(tb.TempDir(), filepath.Base(retailPipeline))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// apply runs `possync apply` and fails the test unless every planned change was applied.
func (r *retail) apply(opts runner.Options) *runner.Report {
	r.t.Helper()
	rep, err := runner.Apply(r.t.Context(), r.p, opts, nil)
	if err != nil {
		r.t.Fatalf("apply: %v", err)
	}
	if rep.ExitCode != runner.ExitOK || len(rep.Rejected) > 0 {
		r.t.Fatalf("apply: exit %d (%s), rejected %+v", rep.ExitCode, rep.ExitReason, rep.Rejected)
	}
	if pl, ap := rep.Planned, rep.Applied; pl.Create != ap.Create || pl.Update != ap.Update ||
		pl.Deactivate != ap.Deactivate || pl.Delete != ap.Delete {
		r.t.Fatalf("apply: applied %+v of planned %+v", rep.Applied, rep.Planned)
	}
	return rep
}

// plan runs `possync plan`.
func (r *retail) plan(opts runner.Options) *plan.Plan {
	r.t.Helper()
	pl, err := runner.Plan(r.t.Context(), r.p, opts)
	if err != nil {
		r.t.Fatalf("plan: %v", err)
	}
	return pl
}

// clean fails the test unless a plan (with opts) finds nothing to change and no drift.
func (r *retail) clean(opts runner.Options) {
	r.t.Helper()
	pl := r.plan(opts)
	if pl.Summary.Total() != 0 || len(pl.Drift) != 0 {
		r.t.Fatalf("plan (refresh %v): %+v, drift %+v; want no changes and no drift", opts.Refresh, pl.Summary, pl.Drift)
	}
}

// posEdit changes a product of the POS, as the merchant does in the back office.
func (r *retail) posEdit(sku string, f func(*retailpostest.Product)) retailpostest.Product {
	r.t.Helper()
	p, ok := r.env.RetailPOS.ProductBySKU(sku)
	if !ok {
		r.t.Fatalf("no %s in the POS", sku)
	}
	f(&p)
	return r.env.RetailPOS.Upsert(p)
}

// storeEdit changes a product of the store, as the merchant does in the eCom admin.
func (r *retail) storeEdit(sku string, f func(*ecomtest.Product)) {
	r.t.Helper()
	if !r.env.Ecom.Edit(sku, f) {
		r.t.Fatalf("no %s in the store", sku)
	}
}

// product returns the store's product holding sku (its own or a combination's).
func (r *retail) product(sku string) ecomtest.Product {
	r.t.Helper()
	p, ok := r.env.Ecom.Find(sku)
	if !ok {
		r.t.Fatalf("no %s in the store", sku)
	}
	return p
}

// productPath is the API path of the store's product holding sku.
func (r *retail) productPath(sku string) string {
	r.t.Helper()
	return fmt.Sprintf("/products/%d", r.product(sku).ID)
}

// combinationPath is the API path of the combination with sku.
func (r *retail) combinationPath(sku string) string {
	r.t.Helper()
	p := r.product(sku)
	for _, c := range p.Combinations {
		if c.SKU == sku {
			return fmt.Sprintf("/products/%d/combinations/%d", p.ID, c.ID)
		}
	}
	r.t.Fatalf("%s is not a combination in the store", sku)
	return ""
}

// skuCount counts the products and combinations of the store with sku (a duplicate makes it more than 1).
func (r *retail) skuCount(sku string) int {
	n := 0
	for _, p := range r.env.Ecom.Products() {
		if p.SKU == sku {
			n++
		}
		for _, c := range p.Combinations {
			if c.SKU == sku {
				n++
			}
		}
	}
	return n
}

// call is an API write the store is expected to receive: method, path and JSON body ("" for none). Bodies
// are compared as JSON values, so key order and number formatting do not matter.
type call struct {
	Method, Path, Body string
}

func (c call) String() string { return c.Method + " " + c.Path + " " + c.Body }

// expectWrites fails the test unless the store received exactly the writes want, in order, each answered
// with a 2xx status.
func expectWrites(t testing.TB, got []ecomtest.Write, want ...call) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], want[i]
		ok = g.Method == w.Method && g.Path == w.Path && g.Status/100 == 2 && sameJSON(t, g.Body, w.Body)
	}
	if ok {
		return
	}
	var b strings.Builder
	for _, w := range got {
		fmt.Fprintf(&b, "\n  %s %s %s -> %d", w.Method, w.Path, w.Body, w.Status)
	}
	var e strings.Builder
	for _, w := range want {
		fmt.Fprintf(&e, "\n  %s", w)
	}
	t.Fatalf("the store received:%s\nwant exactly:%s", b.String(), e.String())
}

// sameJSON compares a received body with an expected one.
func sameJSON(t testing.TB, got json.RawMessage, want string) bool {
	t.Helper()
	if len(bytes.TrimSpace(got)) == 0 || want == "" {
		return len(bytes.TrimSpace(got)) == 0 && want == ""
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expected body %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// body decodes a write's JSON body.
func body(t testing.TB, w ecomtest.Write) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body, &m); err != nil {
		t.Fatalf("%s %s: body %s: %v", w.Method, w.Path, w.Body, err)
	}
	return m
}

// postsOf counts the creations (POST /products, POST .../combinations) of sku among writes.
func postsOf(t testing.TB, writes []ecomtest.Write, sku string) int {
	t.Helper()
	n := 0
	for _, w := range writes {
		if w.Method == http.MethodPost && strings.HasPrefix(w.Path, "/products") && body(t, w)["sku"] == sku {
			n++
		}
	}
	return n
}

// killSwitch sits between the sink and the store and stops a run the way a killed process stops: the nth
// request that matches reaches the store, then the run's context is cancelled and the answer is lost.
type killSwitch struct {
	mu     sync.Mutex
	n      int
	match  func(*http.Request) bool
	cancel context.CancelFunc
}

// arm makes the nth matching request from now on kill the run through cancel.
func (k *killSwitch) arm(n int, match func(*http.Request) bool, cancel context.CancelFunc) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.n, k.match, k.cancel = n, match, cancel
}

// trips counts a request and reports whether it is the one that kills the run.
func (k *killSwitch) trips(r *http.Request) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.n <= 0 || !k.match(r) {
		return false
	}
	k.n--
	return k.n == 0
}

// newKillSwitch routes the store's API through a kill switch (it changes ECOM_BASE_URL: load the pipeline
// again after it).
func newKillSwitch(t *testing.T, env *Env) *killSwitch {
	t.Helper()
	target, err := url.Parse(env.Ecom.URL())
	if err != nil {
		t.Fatal(err)
	}
	target.Path = ""
	proxy := httputil.NewSingleHostReverseProxy(target)
	k := &killSwitch{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !k.trips(r) {
			proxy.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(httptest.NewRecorder(), r) // the store applies the write
		k.cancel()
		panic(http.ErrAbortHandler) // and the answer never comes back
	}))
	t.Cleanup(srv.Close)
	env.Vars["ECOM_BASE_URL"] = srv.URL + "/api/v3"
	return k
}
