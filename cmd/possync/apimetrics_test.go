package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/examples"
)

// TestAPIMetricsAndPushgateway runs into an eCom store that answers the first three requests with 429: the
// run report and the metrics file count the sink's requests (every one the store saw), its three retries and
// three 429s; the file passes promtool; and --pushgateway POSTs the same exposition to
// URL/metrics/job/possync/pipeline/NAME, without the URL's password in any output when the push fails.
func TestAPIMetricsAndPushgateway(t *testing.T) {
	const tok = "secret_metrics-token-31"
	srv := ecomtest.New(ecomtest.Options{Token: tok})
	defer srv.Close()
	srv.FailNext(3, http.StatusTooManyRequests, "0")
	f := newFixture(t, genRows(0, 5))
	if err := os.WriteFile(f.path("ecom.yaml"), []byte(ecomPipeline(srv.URL())), 0o644); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		pushed []string
		paths  []string
		ctype  string
		refuse bool
	)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if refuse { // echoing what it was sent, as some proxies do
			http.Error(w, "no space for "+r.URL.RequestURI()+" ("+r.Header.Get("Authorization")+")", http.StatusInternalServerError)
			return
		}
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		pushed, paths, ctype = append(pushed, string(b)), append(paths, r.URL.Path), r.Header.Get("Content-Type")
	}))
	defer gw.Close()

	metrics := f.path("possync.prom")
	r := f.run(t, []string{"TOK=" + tok}, "run", "ecom.yaml", "--metrics-file", metrics, "--pushgateway", gw.URL+"/base")
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	var raw struct {
		API []map[string]any `json:"api"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil || len(raw.API) != 1 {
		t.Fatalf("report api: %v\n%s", err, r.stdout)
	}
	sent := len(srv.Requests())
	if a := raw.API[0]; a["connector"] != "sink" || a["type"] != "ecom" || a["requests"] != float64(sent) || a["retries"] != 3.0 || a["rate_limited"] != 3.0 {
		t.Fatalf("report api = %v; want the sink's %d requests, 3 retries, 3 rate-limited", a, sent)
	}
	promtool(t, metrics)
	m := metricValues(t, metrics)
	lbl := `{pipeline="` + pipelineName + `",connector="sink",type="ecom"}`
	for name, want := range map[string]float64{
		"possync_api_requests" + lbl: float64(sent), "possync_api_retries" + lbl: 3, "possync_api_rate_limited" + lbl: 3,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("metric %s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	file, _ := os.ReadFile(metrics)
	mu.Lock()
	if len(pushed) != 1 || paths[0] != "/base/metrics/job/possync/pipeline/"+pipelineName || pushed[0] != string(file) ||
		!strings.HasPrefix(ctype, "text/plain; version=0.0.4") {
		t.Errorf("pushed %d times to %v (%s); want once to /base/metrics/job/possync/pipeline/%s with the file's text", len(pushed), paths, ctype, pipelineName)
	}
	// A gateway that refuses, echoing the request: the run says so (exit 1) naming the gateway without the
	// URL's password or query, which it masks in the answer too (the token, the Basic authorization).
	refuse = true
	mu.Unlock()
	u := strings.Replace(gw.URL, "http://", "http://ops:hunter2-pw@", 1) + "/?token=Gw-Tok-77x9q"
	for _, args := range [][]string{{"--report", "rep.json"}, {"--log-format", "json", "--log-level", "debug"}} {
		r = f.run(t, []string{"TOK=" + tok}, append([]string{"run", "ecom.yaml", "--pushgateway", u}, args...)...)
		rep, _ := os.ReadFile(f.path("rep.json"))
		out := r.stderr + r.stdout + string(rep)
		if r.code != 1 || !strings.Contains(out, "push metrics to http://ops@127.0.0.1") || !strings.Contains(out, "/pipeline/"+pipelineName+"?…") ||
			!strings.Contains(out, "HTTP 500: no space for") {
			t.Fatalf("refused push %v: %s", args, r)
		}
		for _, secret := range []string{"hunter2", "Gw-Tok", "77x9q", "bnRlcjIt"} {
			if strings.Contains(out, secret) {
				t.Errorf("refused push %v shows %q:\n%s", args, secret, out)
			}
		}
	}
}

// TestAPICountsPerConnector runs the retail-ecom example against its emulators: the report counts the
// Retail POS source's requests under its source name and the eCom sink's under "sink", each equal to the
// requests its emulator answered.
func TestAPICountsPerConnector(t *testing.T) {
	f := &fixture{dir: t.TempDir(), state: t.TempDir()}
	if err := examples.Extract("retail-ecom", f.dir); err != nil {
		t.Fatal(err)
	}
	env, err := examples.Start("retail-ecom")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	var vars []string
	for k, v := range env.Vars {
		vars = append(vars, k+"="+v)
	}
	r := f.run(t, vars, "run", "catalog.yaml")
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	var rep struct {
		API []struct {
			Connector, Type string
			Requests        int64
		} `json:"api"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	// Keyed by connector: the emulator's token starts with "retailpos", so the report (masked with the
	// pipeline's secrets, prefixes included) shows the source's type as ***.
	got := map[string]int64{}
	for _, a := range rep.API {
		got[a.Connector] = a.Requests
		if a.Connector == "sink" && a.Type != "ecom" {
			t.Errorf("sink type %q, want ecom", a.Type)
		}
	}
	want := map[string]int64{"source source": int64(len(env.RetailPOS.Requests())), "sink": int64(len(env.Ecom.Requests()))}
	if len(got) != 2 || got["source source"] != want["source source"] || got["sink"] != want["sink"] || want["sink"] == 0 || want["source source"] == 0 {
		t.Fatalf("api counts %v, want %v (the requests each emulator answered)", got, want)
	}
}
