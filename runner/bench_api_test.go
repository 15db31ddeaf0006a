package runner

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/plan"
)

// The API-budget benchmark (issue 15): a first sync of BENCH_API_CHANGES creates (products with variants)
// from a CSV file to the eCom emulator with its rate limit on, counting the requests possync sends and the
// rate it achieves against the budget. `make bench-api` runs it.
//
// Time is scaled, not virtual: the real budget is 600 requests per minute, so 50,000 creates would take
// minutes of wall time. The benchmark runs the budget × K (BENCH_API_SCALE, default 20): the emulator
// accepts 600 requests per minute/K window (and answers 429 beyond), the sink is configured with
// requests_per_minute 600·K and polls tickets every second/K. Every rate it reports is divided by K back
// to the real budget where the budget binds; with batch tickets it does not (a few hundred requests), and
// the benchmark reports the share of the budget used and the time the requests alone need at 600/min.
//
// The minimum number of requests the API allows: every create is one write, and a batch ticket takes at
// most 500 writes (domain README §4.3), each ticket one POST /batch and at least one GET /batch to read its
// results, and a variant (a combination) is created under its product's id, so it cannot share a ticket
// with its product's creation; locating the SKUs of a first sync costs one listing page of the (empty)
// store. So minimum = 2·(⌈products/500⌉ + ⌈variants/500⌉) + 1. The emulator completes a ticket at its first poll here (TicketPolls 1), so
// the count measures possync, not the emulator's queue.

// benchAPIWrite writes the catalog: products of four variants each (options Size), creates in all.
func benchAPIWrite(path string, creates int) (products, variants int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "sku,parent_sku,name,price,quantity,enabled,options")
	sizes := []string{"S", "M", "L", "XL"}
	for n := 0; n < creates; {
		parent := fmt.Sprintf("P%07d", products)
		fmt.Fprintf(w, "%s,,Product %d,%d.99,%d,true,\n", parent, products, 10+products%90, products%7)
		products++
		n++
		for _, s := range sizes {
			if n >= creates {
				break
			}
			fmt.Fprintf(w, "%s-%s,%s,,%d.49,%d,true,\"{\"\"Size\"\":\"\"%s\"\"}\"\n", parent, s, parent, 10+products%90, n%5, s)
			variants++
			n++
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, 0, err
	}
	return products, variants, f.Close()
}

// benchAPIPipeline is the CSV file → ecom pipeline of the benchmark, at K times the real budget.
func benchAPIPipeline(work, csvPath string, srv *ecomtest.Server, k, batchThreshold int) (*pipelines.Pipeline, error) {
	y := fmt.Sprintf(`version: 1
name: bench-api
merchant: bench
key: sku
source:
  type: file
  path: %s
  columns:
    - {name: sku, type: string}
    - {name: parent_sku, type: string}
    - {name: name, type: string}
    - {name: price, type: float}
    - {name: quantity, type: int}
    - {name: enabled, type: bool}
    - {name: options, type: string}
sink:
  type: ecom
  base_url: %s
  store_id: %s
  token: ${ECOM_TOKEN}
  requests_per_minute: %d
  poll_interval: %dus
  batch_threshold: %d
diff:
  active_field: enabled
state:
  dir: %s
`, benchYAMLQuote(csvPath), benchYAMLQuote(srv.URL()), benchYAMLQuote(srv.StoreID()), 600*k,
		time.Second.Microseconds()/int64(k), batchThreshold, benchYAMLQuote(filepath.Join(work, "state")))
	env := func(name string) (string, bool) {
		if name == "ECOM_TOKEN" {
			return srv.Token(), true
		}
		return "", false
	}
	p, diags := pipelines.Parse(filepath.Join(work, "api.yaml"), []byte(y), pipelines.Options{LookupEnv: env})
	if diags.HasErrors() {
		return nil, fmt.Errorf("api benchmark pipeline: %w", diags.Err())
	}
	return p, nil
}

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func BenchmarkAPIBudget(b *testing.B) {
	creates := benchEnvInt("BENCH_API_CHANGES", 50_000)
	k := benchEnvInt("BENCH_API_SCALE", 20)
	work := b.TempDir()
	csvPath := filepath.Join(work, "catalog.csv")
	products, variants, err := benchAPIWrite(csvPath, creates)
	if err != nil {
		b.Fatal(err)
	}
	srv := ecomtest.New(ecomtest.Options{RateLimit: 600, Window: time.Minute / time.Duration(k), TicketPolls: 1})
	defer srv.Close()
	p, err := benchAPIPipeline(work, csvPath, srv, k, 50)
	if err != nil {
		b.Fatal(err)
	}
	pl, err := Plan(b.Context(), p, Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv.Reset()
	benchQuiesce()
	b.StartTimer()
	t0 := time.Now()
	var stages []Stage
	rep, err := Apply(b.Context(), p, Options{Stats: &stages}, nil)
	wall := time.Since(t0)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	var apply float64
	for _, st := range stages {
		if st.Name == "apply: sink" || st.Name == "apply" {
			apply = max(apply, st.Seconds)
		}
	}
	reqs := srv.Requests()
	byKind := map[string]int{}
	limited := 0
	for _, r := range reqs {
		kind := r.Method + " " + strings.SplitN(strings.TrimPrefix(r.Path, "/"+srv.StoreID()), "?", 2)[0]
		if strings.HasPrefix(kind, "GET /products") {
			kind = "GET /products"
		}
		byKind[kind]++
		if r.Status == 429 {
			limited++
		}
	}
	// A variant needs its product's id, so products and variants never share a ticket.
	minimum := 2*((products+499)/500+(variants+499)/500) + 1
	ratio := float64(len(reqs)) / float64(minimum)
	// The rate during the apply against the budget of this run (600·K per minute): 1 means bound by it.
	rate := float64(len(reqs)) / apply * 60
	share := rate / float64(600*k)
	// At the real budget the requests alone need len(reqs)/600 minutes; the rest of the apply (our work and
	// the emulator's tickets) does not depend on the budget, so the real apply takes at least the larger.
	budgetOnly := float64(len(reqs)) / 600 * 60
	fmt.Printf("\npossync apply to the eCom emulator (rate limit on, budget 600/min × %d): %d creates (%d products, %d variants)\n",
		k, creates, products, variants)
	fmt.Printf("  requests %d (minimum %d: %.3fx), 429 answers %d, writes %d\n", len(reqs), minimum, ratio, limited, len(srv.Writes()))
	for kind, n := range byKind {
		fmt.Printf("    %-28s %d\n", kind, n)
	}
	fmt.Printf("  apply %.2f s at the budget × %d: %.0f requests/min of %d/min allowed (%.1f%% of the budget)\n",
		apply, k, rate, 600*k, share*100)
	fmt.Printf("  at the real budget (600/min) the requests need %.1f s: the apply takes about max(%.1f, %.1f) = %.1f s\n",
		budgetOnly, apply, budgetOnly, max(apply, budgetOnly))
	if pl.Estimate != nil {
		fmt.Printf("  the plan's estimate (at 600/min × %d): %s\n", k, pl.Estimate.Note)
	}
	fmt.Printf("  total wall %.2f s; plan: %s\n", wall.Seconds(), planLine(pl))
	printStages(stages, wall, stagesPeak(stages))
	if rep.Applied.Create != creates {
		b.Errorf("applied %d creates, want %d", rep.Applied.Create, creates)
	}
	direct, directLimited, directShare := benchAPIDirect(b, k)
	fmt.Printf("  steady state, %d direct requests (batch_threshold above the plan): %.1f%% of the budget, 429 answers %d\n",
		direct, directShare*100, directLimited)
	b.ReportMetric(float64(directLimited), "direct-429s")
	b.ReportMetric(directShare, "direct-budget-share")
	b.ReportMetric(float64(len(reqs)), "requests")
	b.ReportMetric(ratio, "x-min-requests")
	b.ReportMetric(share, "budget-share")
	b.ReportMetric(budgetOnly, "budget-s")
	b.ReportMetric(float64(limited), "429s")
}

func planLine(pl *plan.Plan) string {
	return fmt.Sprintf("%d create", pl.Summary.Create)
}

// benchAPIDirect is the budget-bound case: BENCH_API_DIRECT creates (default 3000) sent as direct requests
// (batch_threshold above the plan), one per change, at the budget × K. It returns the requests sent, the
// 429 answers and the rate achieved during the apply as a share of the budget.
func benchAPIDirect(b *testing.B, k int) (requests, limited int, share float64) {
	n := benchEnvInt("BENCH_API_DIRECT", 3000)
	work := b.TempDir()
	csvPath := filepath.Join(work, "catalog.csv")
	if _, _, err := benchAPIWrite(csvPath, n); err != nil {
		b.Fatal(err)
	}
	srv := ecomtest.New(ecomtest.Options{RateLimit: 600, Window: time.Minute / time.Duration(k)})
	defer srv.Close()
	p, err := benchAPIPipeline(work, csvPath, srv, k, 1_000_000)
	if err != nil {
		b.Fatal(err)
	}
	var stages []Stage
	rep, err := Apply(b.Context(), p, Options{Stats: &stages}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if rep.Applied.Create != n {
		b.Errorf("direct: applied %d creates, want %d", rep.Applied.Create, n)
	}
	var sink float64
	for _, st := range stages {
		if st.Name == "apply" {
			sink = st.Seconds
		}
	}
	for _, r := range srv.Requests() {
		if r.Status == 429 {
			limited++
		}
	}
	requests = len(srv.Requests())
	return requests, limited, float64(requests) / sink * 60 / float64(600*k)
}
