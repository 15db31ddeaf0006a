package runner_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/orderurl/orderurltest"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// ordersCase writes an order_url → file (JSON lines) pipeline against the emulator, keyed by order_id, with
// on_missing and on_change keep, and returns it loaded.
func ordersCase(t *testing.T, site *orderurltest.Server, diff string) (*pipelines.Pipeline, string) {
	t.Helper()
	dir := t.TempDir()
	if diff == "" {
		diff = "diff: {on_missing: keep, on_change: keep}"
	}
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(`version: 1
name: orders
merchant: bikeshop
key: order_id
sources:
  orders: {type: order_url, url: %q, merchant: %q, url_key: "${TEST_ORDER_URL_KEY}"}
sink: {type: file, path: out/orders.jsonl, changelog: out/changes.jsonl}
%s
guards: {max_delete_percent: -1}
`, site.URL(), site.Merchant(), diff))
	t.Setenv("TEST_ORDER_URL_KEY", site.URLKey())
	return loadAt(t, dir), dir
}

// changeLines reads the file sink's change log: action per line, keyed by order id, in order.
func changeLines(t *testing.T, dir string) (ids []string, actions map[string][]string) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "out", "changes.jsonl"))
	if os.IsNotExist(err) {
		return nil, map[string][]string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	actions = map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var l struct {
			Action string         `json:"action"`
			Key    map[string]any `json:"key"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("change log line %q: %v", sc.Text(), err)
		}
		id, _ := l.Key["order_id"].(string)
		ids = append(ids, id)
		actions[id] = append(actions[id], l.Action)
	}
	return ids, actions
}

func threeOrders() []orderurltest.Order {
	return orderurltest.Generate(3, 1, time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC), "Downtown Store")
}

func noteWith(notes []string, part string) string {
	for _, n := range notes {
		if strings.Contains(n, part) {
			return n
		}
	}
	return ""
}

func TestOrdersAreImportedOnceThenConfirmed(t *testing.T) {
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	orders := threeOrders()
	site.Add(orders...)
	p, dir := ordersCase(t, site, "")

	pl := mustPlan(t, p)
	if pl.Summary.Create != 3 || pl.Summary.Total() != 3 {
		t.Fatalf("plan %+v, want 3 creates", pl.Summary)
	}
	if n := len(site.CallsOf("UpdateOrder")); n != 0 {
		t.Fatalf("plan confirmed %d orders: a plan must not touch the site", n)
	}

	rep := mustApply(t, p, runner.Options{})
	if rep.Applied.Create != 3 || rep.ExitCode != runner.ExitOK {
		t.Fatalf("apply: %+v exit %d", rep.Applied, rep.ExitCode)
	}
	for _, o := range orders {
		got, _ := site.Order(o.ID)
		if !site.Confirmed(o.ID) || got.Status != "Being Processed" {
			t.Errorf("order %s: confirmed %t, status %q; want confirmed, Being Processed", o.ID, site.Confirmed(o.ID), got.Status)
		}
	}
	if n := noteWith(rep.Notes, "confirmed 3 of 3"); n == "" {
		t.Errorf("notes %q: want the confirmation outcome", rep.Notes)
	}
	if u, s := len(site.CallsOf("UpdateOrder")), len(site.CallsOf("UpdateStatus")); u != 3 || s != 3 {
		t.Errorf("%d UpdateOrder and %d UpdateStatus calls, want 3 and 3", u, s)
	}
	for _, c := range site.CallsOf("UpdateStatus") {
		if c.OrderStatus != "Being Processed" {
			t.Errorf("UpdateStatus %s to %q", c.OrderNumber, c.OrderStatus)
		}
	}

	// The confirmed orders leave the export: a rerun plans and confirms nothing, and deletes nothing.
	site.ResetCalls()
	rep = mustApply(t, p, runner.Options{})
	if rep.Planned.Total() != 0 || rep.ExitReason != runner.ReasonNoop {
		t.Fatalf("rerun planned %+v (%s), want nothing", rep.Planned, rep.ExitReason)
	}
	if n := len(site.CallsOf("UpdateOrder")); n != 0 {
		t.Errorf("rerun confirmed %d orders, want none (none was served)", n)
	}
	ids, _ := changeLines(t, dir)
	if len(ids) != 3 {
		t.Errorf("change log has %d lines, want the 3 creates", len(ids))
	}
}

// An order whose confirm failed is served again; it is not imported twice, even when the website edited it
// meanwhile, and the next run confirms it.
func TestReservedOrderAfterFailedConfirmIsNotImportedTwice(t *testing.T) {
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	orders := threeOrders()
	site.Add(orders...)
	bad := orders[1].ID
	site.Inject(orderurltest.Fault{Method: "UpdateOrder", Kind: orderurltest.Refuse, OrderID: bad})
	p, dir := ordersCase(t, site, "")

	rep := mustApply(t, p, runner.Options{})
	if rep.Applied.Create != 3 || rep.ExitCode != runner.ExitOK {
		t.Fatalf("apply: %+v exit %d: a failed confirm must not fail the run", rep.Applied, rep.ExitCode)
	}
	if site.Confirmed(bad) || !site.Confirmed(orders[0].ID) {
		t.Fatalf("confirmed: %s %t, %s %t", bad, site.Confirmed(bad), orders[0].ID, site.Confirmed(orders[0].ID))
	}
	if n := noteWith(rep.Notes, "not confirmed: order_id="+bad); !strings.Contains(n, "could not be updated") {
		t.Errorf("notes %q: want the failed confirm of %s with the site's message", rep.Notes, bad)
	}
	if got := site.Pending(); len(got) != 1 || got[0] != bad {
		t.Fatalf("pending after the run: %v, want only %s", got, bad)
	}
	site.Edit(bad, func(o *orderurltest.Order) { o.Comments = "please gift wrap"; o.Total += 5 })

	rep = mustApply(t, p, runner.Options{})
	if rep.Planned.Total() != 0 {
		t.Fatalf("rerun planned %+v: an imported order was planned again", rep.Planned)
	}
	if !site.Confirmed(bad) {
		t.Fatalf("the rerun did not confirm %s; notes %q", bad, rep.Notes)
	}
	if got, _ := site.Order(bad); got.Status != "Being Processed" {
		t.Errorf("status of %s: %q", bad, got.Status)
	}
	_, actions := changeLines(t, dir)
	for _, o := range orders {
		if a := actions[o.ID]; len(a) != 1 || a[0] != "create" {
			t.Errorf("order %s: change log actions %v, want exactly one create", o.ID, a)
		}
	}
}

// Without on_change: keep, an edit of an order still in the export is an update; with it, never.
func TestOnChangeKeep(t *testing.T) {
	for _, tc := range []struct {
		diff    string
		updates int
	}{
		{"diff: {on_missing: keep}", 1},
		{"diff: {on_missing: keep, on_change: keep}", 0},
	} {
		t.Run(tc.diff, func(t *testing.T) {
			site := orderurltest.New(orderurltest.Options{})
			defer site.Close()
			orders := threeOrders()
			site.Add(orders...)
			site.Inject(orderurltest.Fault{Method: "UpdateOrder", Kind: orderurltest.Refuse, OrderID: orders[0].ID})
			p, _ := ordersCase(t, site, tc.diff)
			mustApply(t, p, runner.Options{})
			site.Edit(orders[0].ID, func(o *orderurltest.Order) { o.Comments = "changed" })
			if pl := mustPlan(t, p); pl.Summary.Update != tc.updates || pl.Summary.Create != 0 || pl.Summary.Delete != 0 {
				t.Fatalf("plan %+v, want %d update(s) and nothing else", pl.Summary, tc.updates)
			}
		})
	}
}

// A bad download (truncated XML) fails the run, plans nothing and confirms nothing.
func TestTruncatedDownloadImportsNothing(t *testing.T) {
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	site.Add(threeOrders()...)
	site.Inject(orderurltest.Fault{Kind: orderurltest.Truncated})
	p, dir := ordersCase(t, site, "")
	rep, err := runner.Apply(t.Context(), p, runner.Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), "malformed at line") || rep.Applied.Total() != 0 {
		t.Fatalf("apply of a truncated download: %v, applied %+v; want the position and nothing applied", err, rep.Applied)
	}
	if ids, _ := changeLines(t, dir); len(ids) != 0 || len(site.CallsOf("UpdateOrder")) != 0 {
		t.Fatalf("a failed download wrote %d changes and made %d confirms", len(ids), len(site.CallsOf("UpdateOrder")))
	}
	rep = mustApply(t, p, runner.Options{})
	if rep.Applied.Create != 3 {
		t.Fatalf("the next run applied %+v, want the 3 orders", rep.Applied)
	}
}

// A 5,000-order backlog goes through the file sink once, and every order is confirmed.
func TestOrderBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 orders")
	}
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	site.Add(orderurltest.Generate(5000, 1, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "Downtown Store")...)
	p, dir := ordersCase(t, site, "")
	start := time.Now()
	rep := mustApply(t, p, runner.Options{})
	took := time.Since(start)
	if rep.Applied.Create != 5000 || rep.ExitCode != runner.ExitOK {
		t.Fatalf("apply: %+v exit %d", rep.Applied, rep.ExitCode)
	}
	if got := site.Pending(); len(got) != 0 {
		t.Fatalf("%d orders left unconfirmed", len(got))
	}
	ids, actions := changeLines(t, dir)
	if len(ids) != 5000 || len(actions) != 5000 {
		t.Fatalf("change log: %d lines for %d orders, want 5000 and 5000", len(ids), len(actions))
	}
	t.Logf("5,000 orders: apply with confirmation took %s (read %.2fs, sink %.2fs, confirm %.2fs)", took.Round(time.Millisecond),
		rep.Durations["read orders"], rep.Durations["apply"], rep.Durations["confirm orders"])
	if rep := mustApply(t, p, runner.Options{}); rep.Planned.Total() != 0 {
		t.Fatalf("rerun planned %+v", rep.Planned)
	}
}

// _applied: a SQL step reads the last-applied snapshot (empty before the first apply, with the sources'
// columns), e.g. to remember a value across runs.
func TestAppliedRelation(t *testing.T) {
	p, tgt := memoryCase(t, "")
	dir := filepath.Dir(p.File)
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(`version: 1
name: mem
merchant: test-shop
key: sku
sources:
  src: {type: memory, dataset: %s}
transforms:
  - type: sql
    name: out
    query: SELECT s.sku, s.qty, a.qty AS prev_qty FROM src s LEFT JOIN _applied a USING (sku)
sink: {type: memory, target: %s}
`, strings.NewReplacer("/", "_").Replace(t.Name()), strings.NewReplacer("/", "_").Replace(t.Name())))
	p = loadAt(t, dir)
	setDataset(t, records(2, 5), connectors.Snapshot)
	if diags := runner.Check(t.Context(), p); diags.HasErrors() {
		t.Fatalf("validate with _applied: %v", diags.Err())
	}
	mustApply(t, p, runner.Options{})
	for _, r := range tgt.Records() {
		if r["prev_qty"] != nil {
			t.Fatalf("first run: prev_qty %v, want null (nothing applied yet)", r["prev_qty"])
		}
	}
	setDataset(t, records(2, 7), connectors.Snapshot)
	mustApply(t, p, runner.Options{})
	for _, r := range tgt.Records() {
		if r["qty"] != int64(7) || r["prev_qty"] != int64(5) {
			t.Fatalf("second run: record %v, want qty 7 and prev_qty 5 (the applied value)", r)
		}
	}
}

// rememberStep is a test SQL transform that reads a column of _applied its output adds: it declares it
// (AppliedFields), so _applied has it before the first apply.
type rememberStep struct{ q string }

func (r *rememberStep) Schema() *arrow.Schema { return nil }
func (r *rememberStep) Query() spec.Expr      { return spec.Expr{Text: r.q} }
func (r *rememberStep) AppliedFields() []arrow.Field {
	return []arrow.Field{{Name: "first_qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}
}

func init() {
	transforms.Registry.MustRegister(spec.Component{Kind: spec.KindTransform, Name: "test_remember", Summary: "test only",
		Fields: []spec.Field{{Name: "from", Type: spec.TypeString, Required: true, Description: "input relation"}},
		Config: struct {
			From string `spec:"from"`
		}{}},
		func(cfg spec.Config, env transforms.Env) (transforms.Transform, error) {
			from, _ := cfg.Values["from"].(string)
			return &rememberStep{q: "SELECT s.sku, s.qty, coalesce(a.first_qty, s.qty) AS first_qty FROM " + from +
				" s LEFT JOIN _applied a USING (sku)"}, nil
		})
}

// A transform that declares the _applied fields it reads works from the first run on, and keeps the value
// the first apply recorded.
func TestAppliedFieldsDeclaredByATransform(t *testing.T) {
	p, tgt := memoryCase(t, "")
	dir := filepath.Dir(p.File)
	name := strings.NewReplacer("/", "_").Replace(t.Name())
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(`version: 1
name: mem
merchant: test-shop
key: sku
sources:
  src: {type: memory, dataset: %s}
transforms:
  - {type: test_remember, from: src}
sink: {type: memory, target: %s}
`, name, name))
	p = loadAt(t, dir)
	setDataset(t, records(2, 5), connectors.Snapshot)
	if diags := runner.Check(t.Context(), p); diags.HasErrors() {
		t.Fatalf("validate: %v", diags.Err())
	}
	mustApply(t, p, runner.Options{})
	setDataset(t, records(2, 9), connectors.Snapshot)
	mustApply(t, p, runner.Options{})
	for _, r := range tgt.Records() {
		if r["qty"] != int64(9) || r["first_qty"] != int64(5) {
			t.Fatalf("record %v, want qty 9 and first_qty 5 (remembered from the first apply)", r)
		}
	}
}
