package runner_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/possync/possync/connectors/orderurl/orderurltest"
	"github.com/possync/possync/connectors/retailpos"
	rpt "github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/spec"
)

// defaultStatusesPipeline is a statuses pipeline named %[1]s on the default table (Completed → Shipping), with
// its diff and guards blocks given (%[6]s).
const defaultStatusesPipeline = `version: 1
name: %[1]s
merchant: bike-shop
key: order_id
sources:
  sales:
    type: retailpos_sales
    base_url: %[2]s
    token: %[3]s
    requests_per_minute: 0
    orders_pipeline: bikeshop-orders
transforms:
  - type: order_status
sink:
  type: order_url_status
  url: %[4]q
  merchant: %[5]q
  url_key: "${TEST_ORDER_URL_KEY}"
%[6]s`

// unguardedStatuses are the diff and guards blocks of a statuses pipeline with the mass-change guard
// disabled.
const unguardedStatuses = "diff: {on_missing: keep, active_field: active}\nguards: {max_delete_percent: -1}\n"

// statusesCase starts a POS and an order-URL website (both closed when t ends), puts the website's URL key
// in the environment and writes the statuses pipeline named name, with the diff and guards blocks given,
// into a new directory, which it returns.
func statusesCase(t *testing.T, name, blocks string) (*rpt.Server, *orderurltest.Server, string) {
	t.Helper()
	pos := rpt.New(rpt.Options{})
	t.Cleanup(pos.Close)
	site := orderurltest.New(orderurltest.Options{})
	t.Cleanup(site.Close)
	t.Setenv("TEST_ORDER_URL_KEY", site.URLKey())
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(defaultStatusesPipeline, name, pos.URL(), pos.Token(), site.URL(), site.Merchant(), blocks))
	return pos, site, dir
}

// TestStatusGuardCountsCancels: a status sink's cancellation is irreversible on the website, so the
// mass-change guard counts it like a deletion: a plan that cancels more than max_delete_percent of the
// orders in state is blocked (nothing sent) unless overridden; status changes that are not cancellations
// are not counted; and a statuses pipeline without diff.active_field (where a cancellation would be an
// update no guard sees) is refused before anything is read or sent.
func TestStatusGuardCountsCancels(t *testing.T) {
	const guarded = "diff: {on_missing: keep, active_field: active}\nguards: {max_delete_percent: 10}\n"
	cases := []struct {
		name      string
		blocks    string // the diff and guards blocks
		orders    int    // sales recorded open by a first run
		cancel    int    // then voided in the POS
		complete  int    // then closed in the POS
		allow     bool   // --allow-mass-change
		verdict   string
		value     float64 // the guard's percentage
		sent      int     // UpdateStatus calls of the apply
		refused   string  // a configuration finding instead of a plan
		cancelled int     // Canceled calls
	}{
		{name: "one cancel of 20 passes", blocks: guarded, orders: 20, cancel: 1, verdict: plan.Pass, value: 5, sent: 1, cancelled: 1},
		{name: "two of 20 is the limit", blocks: guarded, orders: 20, cancel: 2, verdict: plan.Pass, value: 10, sent: 2, cancelled: 2},
		{name: "three of 20 is blocked", blocks: guarded, orders: 20, cancel: 3, verdict: plan.Blocked, value: 15},
		{name: "three of 20 overridden", blocks: guarded, orders: 20, cancel: 3, allow: true, verdict: plan.Overridden, value: 15, sent: 3, cancelled: 3},
		{name: "one of 2 is blocked", blocks: guarded, orders: 2, cancel: 1, verdict: plan.Blocked, value: 50},
		{name: "completions are not counted", blocks: guarded, orders: 20, cancel: 1, complete: 10, verdict: plan.Pass, value: 5, sent: 11, cancelled: 1},
		{name: "many completions, no cancel", blocks: guarded, orders: 4, complete: 4, verdict: plan.Pass, value: 0, sent: 4},
		{name: "guard disabled", blocks: unguardedStatuses,
			orders: 4, cancel: 4, verdict: plan.Pass, value: 100, sent: 4, cancelled: 4},
		{name: "no active_field is refused", blocks: "diff: {on_missing: keep}\nguards: {max_delete_percent: 10}\n", orders: 2,
			refused: `set diff.active_field to "active"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pos, site, dir := statusesCase(t, "guard-statuses", tc.blocks)
			var ids []string
			for i := range tc.orders {
				id := fmt.Sprintf("20%02d", i)
				ids = append(ids, id)
				pos.AddSale(rpt.Sale{ID: retailpos.SaleID("bikeshop-orders", id), SourceID: id, State: "pending",
					Attributes: []string{"layby", "delivery"}, Lines: []rpt.SaleLine{{ProductID: "p", Quantity: 1, Price: 10}}})
				site.Add(orderurltest.Order{ID: id, Status: "Being Processed"})
			}

			if tc.refused != "" {
				_, err := runner.Plan(context.Background(), loadAt(t, dir), runner.Options{})
				var diags spec.Diagnostics
				if !errors.As(err, &diags) || !strings.Contains(err.Error(), tc.refused) || diags[0].Code != spec.CodeDiffField {
					t.Fatalf("plan: %v, want the configuration refused with %q", err, tc.refused)
				}
				if d := runner.Check(context.Background(), loadAt(t, dir)); !d.HasErrors() || !strings.Contains(d.Err().Error(), tc.refused) {
					t.Errorf("validate: %v, want the same finding", d)
				}
				if n := len(site.CallsOf("UpdateStatus")); n != 0 {
					t.Errorf("%d UpdateStatus calls", n)
				}
				return
			}
			if rep := mustApply(t, loadAt(t, dir), runner.Options{}); rep.Applied.Create != tc.orders {
				t.Fatalf("first run applied %+v, want the %d open orders recorded", rep.Applied, tc.orders)
			}
			for i, id := range ids {
				switch {
				case i < tc.cancel:
					pos.SetSaleState(retailpos.SaleID("bikeshop-orders", id), "voided")
				case i < tc.cancel+tc.complete:
					pos.SetSaleState(retailpos.SaleID("bikeshop-orders", id), "closed")
				}
			}
			pl, err := runner.Plan(context.Background(), loadAt(t, dir), runner.Options{AllowMassChange: tc.allow})
			if err != nil {
				t.Fatal(err)
			}
			if pl.Summary.Deactivate != tc.cancel || pl.Summary.Update != tc.complete {
				t.Fatalf("plan %+v, want %d cancellations as deactivates and %d updates", pl.Summary, tc.cancel, tc.complete)
			}
			if g := pl.Guards[0]; g.Verdict != tc.verdict || g.Value != tc.value {
				t.Errorf("guard %+v, want %s at %g%%", g, tc.verdict, tc.value)
			}
			rep, err := runner.Apply(context.Background(), loadAt(t, dir), runner.Options{AllowMassChange: tc.allow}, nil)
			var blocked *runner.BlockedError
			if tc.verdict == plan.Blocked {
				if !errors.As(err, &blocked) {
					t.Fatalf("apply: %v, want blocked by the guard", err)
				}
			} else if err != nil || len(rep.Rejected) != 0 {
				t.Fatalf("apply: %v, %+v", err, rep)
			}
			var sent []string
			cancelled := 0
			for _, c := range site.CallsOf("UpdateStatus") {
				sent = append(sent, c.OrderNumber+"="+c.OrderStatus)
				if c.OrderStatus == "Canceled" {
					cancelled++
				}
			}
			if len(sent) != tc.sent || cancelled != tc.cancelled {
				t.Errorf("sent %q, want %d calls, %d of them Canceled", sent, tc.sent, tc.cancelled)
			}
			for i := range tc.cancelled {
				if !slices.Contains(sent, ids[i]+"=Canceled") {
					t.Errorf("order %s was not canceled on the website: %q", ids[i], sent)
				}
			}
		})
	}
}
