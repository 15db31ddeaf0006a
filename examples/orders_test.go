package examples

// End-to-end tests of the shipped orders pipeline (orders/orders.yaml): the website's order export emulator
// and the X-Series emulator, seeded as `possync demo orders` seeds them, driven through runner.Plan and
// runner.Apply. And the file-sink variant that docs/orders.md gives for a POS that imports files.

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
)

// ordersCase is the orders example extracted into a temporary folder, with its emulators running.
type ordersCase struct {
	t    *testing.T
	env  *Env
	path string
}

func newOrdersCase(t *testing.T) *ordersCase {
	t.Helper()
	dir := t.TempDir()
	if err := Extract("orders", dir); err != nil {
		t.Fatal(err)
	}
	return &ordersCase{t: t, env: start(t, filepath.Join("orders", "orders.yaml")), path: filepath.Join(dir, "orders.yaml")}
}

// plan plans the pipeline with the state kept in the case's folder.
func (c *ordersCase) plan() *plan.Plan {
	c.t.Helper()
	pl, err := runner.Plan(c.t.Context(), c.load(), runner.Options{})
	if err != nil {
		c.t.Fatalf("plan: %v", err)
	}
	return pl
}

// apply applies the pipeline and fails the test unless every planned change was applied.
func (c *ordersCase) apply() *runner.Report {
	c.t.Helper()
	rep, err := runner.Apply(c.t.Context(), c.load(), runner.Options{}, nil)
	if err != nil {
		c.t.Fatalf("apply: %v", err)
	}
	if rep.ExitCode != runner.ExitOK || len(rep.Rejected) > 0 || rep.Applied.Create != rep.Planned.Create {
		c.t.Fatalf("apply: exit %d (%s), applied %+v of %+v, rejected %+v", rep.ExitCode, rep.ExitReason, rep.Applied,
			rep.Planned, rep.Rejected)
	}
	return rep
}

// load loads the case's pipeline; its state lives next to it, so that runs see each other's state.
func (c *ordersCase) load() *pipelines.Pipeline {
	c.t.Helper()
	p := load(c.t, c.path, c.env)
	p.State.Dir = filepath.Join(filepath.Dir(c.path), ".possync")
	return p
}

// creates lists the order ids a plan creates, sorted, and fails the test on any other action.
func creates(t *testing.T, pl *plan.Plan) []string {
	t.Helper()
	var out []string
	for _, ch := range pl.Changes {
		if ch.Action != "create" {
			t.Errorf("plan has %s %v: an order is only ever created", ch.Action, ch.Key)
		}
		out = append(out, ch.Key["order_id"].(string))
	}
	sort.Strings(out)
	return out
}

// heldBack maps each order a plan holds back (a note "order_id=…: <status>: …") to its status.
func heldBack(pl *plan.Plan) map[string]string {
	out := map[string]string{}
	for _, n := range pl.NoteTexts() {
		if rest, ok := strings.CutPrefix(n, "order_id="); ok {
			parts := strings.SplitN(rest, ": ", 3)
			if len(parts) == 3 {
				out[parts[0]] = parts[1]
			}
		}
	}
	return out
}

// salesPerOrder counts the POS sales per website order.
func salesPerOrder(pos *retailpostest.Server) map[string][]retailpostest.Sale {
	out := map[string][]retailpostest.Sale{}
	for _, x := range pos.Sales() {
		out[x.SourceID] = append(out[x.SourceID], x)
	}
	return out
}

// confirmed lists the orders the website has the POS import confirmed for, sorted.
func confirmed(e *Env) []string {
	var out []string
	for _, id := range e.Orders.IDs() {
		if e.Orders.Confirmed(id) {
			out = append(out, id)
		}
	}
	return out
}

// The demo's story: the plan creates the New delivery and pickup orders and notes the three others with their
// status and fix; apply makes one POS sale per New order, at the routed outlet for the matched customer, and
// confirms exactly those on the website; a rerun plans nothing; once the integrator adds the missing customer
// to the POS, the next run imports that order once, and an imported order served again is not sent again.
func TestOrdersExampleFlow(t *testing.T) {
	c := newOrdersCase(t)
	pos := c.env.RetailPOS

	pl := c.plan()
	if got, want := creates(t, pl), []string{OrderDelivery, OrderPickup}; !slices.Equal(got, want) {
		t.Fatalf("first plan creates %q, want the New orders %q", got, want)
	}
	wantHeld := map[string]string{OrderCancelled: "Cancelled", OrderUnknownProduct: "Product Match Failed",
		OrderUnknownCustomer: "Customer ID Needed"}
	if got := heldBack(pl); !maps.Equal(got, wantHeld) {
		t.Fatalf("first plan holds back %v, want %v (notes %q)", got, wantHeld, pl.NoteTexts())
	}
	for _, n := range pl.NoteTexts() {
		if strings.HasPrefix(n, "order_id="+OrderUnknownCustomer) && !strings.Contains(n, "add the customer to the POS") {
			t.Errorf("note %q does not say what would fix the order", n)
		}
	}
	if n := len(pos.Sales()); n != 0 {
		t.Fatalf("the plan created %d POS sale(s)", n)
	}

	c.apply()
	sales := salesPerOrder(pos)
	if len(sales) != 2 || len(sales[OrderDelivery]) != 1 || len(sales[OrderPickup]) != 1 {
		t.Fatalf("POS sales per order %v, want one for %s and one for %s", sales, OrderDelivery, OrderPickup)
	}
	outlets := map[string]string{}
	for _, o := range pos.Outlets() {
		outlets[o.ID] = o.Name
	}
	customers := map[string]string{}
	for _, cu := range pos.Customers() {
		customers[cu.ID] = cu.Email
	}
	delivery, pickup := sales[OrderDelivery][0], sales[OrderPickup][0]
	if outlets[delivery.OutletID] != "Main Street" || customers[delivery.CustomerID] != "jane.rider@mail.test" ||
		len(delivery.Lines) != 3 || !slices.Contains(delivery.Attributes, "delivery") {
		t.Errorf("sale of the delivery order %+v: want Jane Rider's at Main Street, 2 lines and shipping", delivery)
	}
	if outlets[pickup.OutletID] != "Downtown" || customers[pickup.CustomerID] != "Sam.Okafor@mail.test" ||
		!slices.Contains(pickup.Attributes, "pickup") {
		t.Errorf("sale of the pickup order %+v: want Sam Okafor's at Downtown, a pickup", pickup)
	}
	if got, want := confirmed(c.env), []string{OrderDelivery, OrderPickup}; !slices.Equal(got, want) {
		t.Errorf("website confirmed %q, want only the imported orders %q", got, want)
	}
	if o, _ := c.env.Orders.Order(OrderDelivery); o.Status != "Being Processed" {
		t.Errorf("imported order's website status %q, want Being Processed", o.Status)
	}

	pl = c.plan()
	if len(pl.Changes) != 0 {
		t.Fatalf("rerun plans %q, want nothing", creates(t, pl))
	}
	if got := heldBack(pl); !maps.Equal(got, wantHeld) {
		t.Errorf("rerun holds back %v, want still %v", got, wantHeld)
	}

	// The demo's scenario: Chris Mendez becomes a POS customer; the website serves the delivery order again.
	if err := c.env.Scenario()[0].Do(c.env); err != nil {
		t.Fatal(err)
	}
	pl = c.plan()
	if got, want := creates(t, pl), []string{OrderUnknownCustomer}; !slices.Equal(got, want) {
		t.Fatalf("plan after the fix creates %q, want %q only", got, want)
	}
	if _, ok := heldBack(pl)[OrderUnknownCustomer]; ok {
		t.Errorf("the fixed order is still held back: %q", pl.NoteTexts())
	}
	c.apply()
	sales = salesPerOrder(pos)
	if len(sales) != 3 || len(pos.Sales()) != 3 || len(sales[OrderUnknownCustomer]) != 1 {
		t.Fatalf("POS sales per order %v, want one each for the delivery, the pickup and the fixed order", sales)
	}
	for _, cu := range pos.Customers() {
		customers[cu.ID] = cu.Email
	}
	if x := sales[OrderUnknownCustomer][0]; customers[x.CustomerID] != "chris.mendez@mail.test" {
		t.Errorf("the fixed order's sale is for customer %q (%s), want Chris Mendez, added by the integrator", x.CustomerID,
			customers[x.CustomerID])
	}
	if got, want := confirmed(c.env), []string{OrderDelivery, OrderPickup, OrderUnknownCustomer}; !slices.Equal(got, want) {
		t.Errorf("website confirmed %q, want %q (the re-served order confirmed again)", got, want)
	}
	if pl := c.plan(); len(pl.Changes) != 0 {
		t.Fatalf("final plan %q, want nothing", creates(t, pl))
	}
	if n := len(pos.Sales()); n != 3 {
		t.Errorf("%d POS sales at the end, want 3", n)
	}
}

// fileSinkVariant is orders.yaml with the file sink in place of the POS: the pipeline docs/orders.md gives
// for a POS that imports files (no POS sources, no order_match; every order written, cancelled ones flagged).
func fileSinkVariant(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	from, to := strings.Index(text, "  products:"), strings.Index(text, "\ndiff:")
	if from < 0 || to < from {
		t.Fatalf("%s: no products source before diff:", path)
	}
	text = text[:from] + "\nsink:\n  type: file\n  path: out/orders.jsonl\n  changelog: out/orders.changes.jsonl\n" + text[to:]
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The file-sink variant writes every order of the export once, as one JSON line, confirms them all on the
// website, and a rerun plans nothing; the POS is never called.
func TestOrdersExampleFileSink(t *testing.T) {
	c := newOrdersCase(t)
	fileSinkVariant(t, c.path)
	pl := c.plan()
	want := slices.Sorted(slices.Values(c.env.Orders.IDs()))
	if got := creates(t, pl); !slices.Equal(got, want) || len(want) != 5 {
		t.Fatalf("plan creates %q, want every order of the export %q", got, want)
	}
	c.apply()
	if n := countLines(t, filepath.Join(filepath.Dir(c.path), "out", "orders.jsonl")); n != int64(len(want)) {
		t.Errorf("out/orders.jsonl has %d lines, want %d", n, len(want))
	}
	if got := confirmed(c.env); !slices.Equal(got, want) {
		t.Errorf("website confirmed %q, want %q", got, want)
	}
	if pl := c.plan(); len(pl.Changes) != 0 {
		t.Errorf("rerun plans %q, want nothing", creates(t, pl))
	}
	if n := len(c.env.RetailPOS.Sales()); n != 0 {
		t.Errorf("the file variant made %d POS sales", n)
	}
}
