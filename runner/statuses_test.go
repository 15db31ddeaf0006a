package runner_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/connectors/orderurl/orderurltest"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/spec"
)

// End-to-end test of the status flow back to the website (issue 11): the sales the orders pipeline created
// in the Retail POS emulator move through their POS states; the statuses pipeline (retailpos_sales →
// order_status → order_url_status) sends each website status once, never again on a rerun, never takes one
// back, reports partial fulfilment and reopened sales, and plans a cancellation as a deactivation the
// mass-change guard counts.

const statusesPipeline = `version: 1
name: bikeshop-statuses
merchant: bike-shop
key: order_id
sources:
  sales:
    type: retailpos_sales
    base_url: %[1]s
    token: %[2]s
    requests_per_minute: 0
    orders_pipeline: bikeshop-orders
transforms:
  - type: order_status
    statuses: {Completed: Dealer Delivery}
sink:
  type: order_url_status
  url: %[3]q
  merchant: %[4]q
  url_key: "${TEST_ORDER_URL_KEY}"
diff:
  on_missing: keep
  active_field: active
guards:
  max_delete_percent: 10
`

// statusCalls returns the UpdateStatus calls the site received as "order=status", in order, and forgets them.
func statusCalls(site *orderurltest.Server) string {
	var out []string
	for _, c := range site.CallsOf("UpdateStatus") {
		out = append(out, c.OrderNumber+"="+c.OrderStatus)
	}
	site.ResetCalls()
	return strings.Join(out, ", ")
}

func TestStatusesGoBackOnce(t *testing.T) {
	// The orders pipeline imports 1001 (delivery) and 1002 (pickup at Downtown) as sales.
	c := posOrdersCase(t)
	mustApply(t, loadAt(t, c.dir), runner.Options{})
	sales := map[string]string{}
	for _, x := range c.srv.Sales() {
		sales[x.SourceID] = x.ID
	}
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	site.Add(orderurltest.Order{ID: "1001", Status: "Being Processed"}, orderurltest.Order{ID: "1002", Status: "Being Processed"})
	t.Setenv("TEST_ORDER_URL_KEY", site.URLKey())
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(statusesPipeline, c.srv.URL(), c.srv.Token(), site.URL(), site.Merchant()))
	apply := func(opts runner.Options) *runner.Report { t.Helper(); return mustApply(t, loadAt(t, dir), opts) }

	// Both sales are open: recorded, nothing sent.
	if rep := apply(runner.Options{}); rep.Applied.Create != 2 {
		t.Fatalf("first run applied %+v, want the 2 open orders recorded", rep.Applied)
	}
	if got := statusCalls(site); got != "" {
		t.Errorf("open orders sent %s, want nothing", got)
	}

	// One line of the pickup packed: no status, a note.
	c.srv.PackForPickup(sales["1002"], 0)
	pl := mustPlan(t, loadAt(t, dir))
	if len(pl.Changes) != 0 || noteWith(notesOf(pl, spec.NoteOrderStatus), "order_id=1002: 1 of 2 lines are ready for pickup") == "" {
		t.Errorf("partial pickup: %d changes, notes %q; want none and a note", len(pl.Changes), pl.NoteTexts())
	}

	// Every line packed: Ready for Pickup, once; the delivery completed: Dealer Delivery (the merchant's table).
	c.srv.PackForPickup(sales["1002"])
	c.srv.SetSaleState(sales["1001"], "closed")
	if rep := apply(runner.Options{}); rep.Applied.Update != 2 {
		t.Errorf("applied %+v, want 2 status updates", rep.Applied)
	}
	if got := statusCalls(site); got != "1001=Dealer Delivery, 1002=Ready for Pickup" && got != "1002=Ready for Pickup, 1001=Dealer Delivery" {
		t.Errorf("sent %q, want 1001 Dealer Delivery and 1002 Ready for Pickup", got)
	}
	for id, want := range map[string]string{"1001": "Dealer Delivery", "1002": "Ready for Pickup"} {
		if o, _ := site.Order(id); o.Status != want {
			t.Errorf("website status of %s %q, want %q", id, o.Status, want)
		}
	}

	// A rerun sends nothing.
	if rep := apply(runner.Options{}); rep.Planned.Total() != 0 {
		t.Errorf("rerun planned %+v, want nothing", rep.Planned)
	}
	if got := statusCalls(site); got != "" {
		t.Errorf("rerun sent %s", got)
	}

	// The completed sale is reopened: the website keeps Dealer Delivery, the plan says so.
	c.srv.SetSaleState(sales["1001"], "pending")
	pl = mustPlan(t, loadAt(t, dir))
	if len(pl.Changes) != 0 || noteWith(notesOf(pl, spec.NoteOrderStatus), "order_id=1001: the POS sale is open again after the website was told Dealer Delivery") == "" {
		t.Errorf("reopened: %d changes, notes %q; want none and a note", len(pl.Changes), pl.NoteTexts())
	}

	// The pickup is voided: a cancellation, planned as a deactivation; 1 of 2 orders is over the 10%% guard.
	c.srv.SetSaleState(sales["1002"], "voided")
	pl = mustPlan(t, loadAt(t, dir))
	if len(pl.Changes) != 1 || pl.Changes[0].Action != "deactivate" || pl.Changes[0].Key["order_id"] != "1002" {
		t.Fatalf("voided: changes %+v, want 1002 deactivated", pl.Changes)
	}
	if len(pl.Guards) != 1 || pl.Guards[0].Verdict != plan.Blocked {
		t.Errorf("guards %+v, want the cancellation to trip max_delete_percent", pl.Guards)
	}
	_, err := runner.Apply(context.Background(), loadAt(t, dir), runner.Options{}, nil)
	var blocked *runner.BlockedError
	if !errors.As(err, &blocked) {
		t.Fatalf("apply of a guarded cancellation: %v, want blocked", err)
	}
	if got := statusCalls(site); got != "" {
		t.Errorf("a blocked apply sent %s", got)
	}
	if rep := apply(runner.Options{AllowMassChange: true}); rep.Applied.Deactivate != 1 {
		t.Errorf("applied %+v, want the cancellation", rep.Applied)
	}
	if got := statusCalls(site); got != "1002=Canceled" {
		t.Errorf("sent %q, want 1002=Canceled", got)
	}
	// Canceled is final: reopening the voided sale changes nothing on the website.
	c.srv.SetSaleState(sales["1002"], "pending")
	if rep := apply(runner.Options{}); rep.Planned.Total() != 0 {
		t.Errorf("after cancel and reopen planned %+v, want nothing", rep.Planned)
	}
	if got := statusCalls(site); got != "" {
		t.Errorf("sent %s after the cancellation", got)
	}
}

// A sale voided before the statuses pipeline first saw it is recorded open, with a note, and its
// cancellation is the next run's deactivation, which the guard counts: never a create that slips past it.
func TestStatusesCancelBeforeFirstSeen(t *testing.T) {
	c := posOrdersCase(t)
	mustApply(t, loadAt(t, c.dir), runner.Options{})
	for _, x := range c.srv.Sales() {
		if x.SourceID == "1001" {
			c.srv.SetSaleState(x.ID, "voided")
		}
	}
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	site.Add(orderurltest.Order{ID: "1001"}, orderurltest.Order{ID: "1002"})
	t.Setenv("TEST_ORDER_URL_KEY", site.URLKey())
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(statusesPipeline, c.srv.URL(), c.srv.Token(), site.URL(), site.Merchant()))

	first := mustPlan(t, loadAt(t, dir))
	if first.Summary.Create != 2 || first.Summary.Deactivate != 0 ||
		noteWith(notesOf(first, spec.NoteOrderStatus), "order_id=1001: the POS sale was voided before possync recorded the order") == "" {
		t.Errorf("first plan %+v, notes %q; want both recorded as creates and a note for 1001", first.Summary, first.NoteTexts())
	}
	if rep := mustApply(t, loadAt(t, dir), runner.Options{}); rep.Applied.Create != 2 {
		t.Errorf("first run applied %+v, want both recorded", rep.Applied)
	}
	if got := statusCalls(site); got != "" {
		t.Errorf("first run sent %s, want nothing", got)
	}
	pl := mustPlan(t, loadAt(t, dir))
	if len(pl.Changes) != 1 || pl.Changes[0].Action != "deactivate" || len(pl.Guards) != 1 || pl.Guards[0].Verdict != plan.Blocked {
		t.Fatalf("second plan: changes %+v, guards %+v; want 1001 deactivated and the guard blocking", pl.Changes, pl.Guards)
	}
	if rep := mustApply(t, loadAt(t, dir), runner.Options{AllowMassChange: true}); rep.Applied.Deactivate != 1 {
		t.Errorf("applied %+v", rep.Applied)
	}
	if got := statusCalls(site); got != "1001=Canceled" {
		t.Errorf("sent %q, want 1001=Canceled", got)
	}
}
