package examples

// End-to-end test of the shipped statuses pipeline (orders/statuses.yaml) in the demo's story: the orders
// pipeline imports the website's orders into the X-Series emulator, the store works the sales in the POS
// (the demo scenario's steps), and the statuses pipeline sends each website status once, through the
// mass-change guard for the cancellation, and nothing on a rerun.

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
)

// pathOf is the path of another pipeline file of the case's folder.
func (c *ordersCase) pathOf(name string) string {
	return filepath.Join(filepath.Dir(c.path), name)
}

// statusesPlan plans statuses.yaml with the case's state folder.
func (c *ordersCase) statusesPlan() *plan.Plan {
	c.t.Helper()
	p := load(c.t, c.pathOf("statuses.yaml"), c.env)
	p.State.Dir = filepath.Join(filepath.Dir(c.path), ".possync")
	pl, err := runner.Plan(c.t.Context(), p, runner.Options{})
	if err != nil {
		c.t.Fatalf("plan statuses.yaml: %v", err)
	}
	return pl
}

// statusesApply applies statuses.yaml with the case's state folder.
func (c *ordersCase) statusesApply(opts runner.Options) (*runner.Report, error) {
	c.t.Helper()
	p := load(c.t, c.pathOf("statuses.yaml"), c.env)
	p.State.Dir = filepath.Join(filepath.Dir(c.path), ".possync")
	return runner.Apply(c.t.Context(), p, opts, nil)
}

// sentStatuses returns the UpdateStatus calls the order site received since the last call, as sorted
// "order=status" strings, and forgets them.
func sentStatuses(e *Env) []string {
	var out []string
	for _, call := range e.Orders.CallsOf("UpdateStatus") {
		out = append(out, call.OrderNumber+"="+call.OrderStatus)
	}
	e.Orders.ResetCalls()
	slices.Sort(out)
	return out
}

// actions maps each planned order to its action.
func actions(pl *plan.Plan) map[string]string {
	out := map[string]string{}
	for _, ch := range pl.Changes {
		out[ch.Key["order_id"].(string)] = string(ch.Action)
	}
	return out
}

// The demo's status story: open sales are recorded and nothing is sent; once the store packs the pickup,
// completes the delivery and voids the third order, the plan holds two status updates and a cancellation
// the guard blocks (1 of 3 orders); the blocked apply sends nothing; with the override every status is sent
// exactly once (Ready for Pickup, Shipping, Canceled, as the example's table says); a rerun sends nothing.
func TestOrdersExampleStatuses(t *testing.T) {
	c := newOrdersCase(t)
	site := c.env.Orders
	scenario := c.env.Scenario()
	if len(scenario) != 2 || len(scenario[1].Commands) == 0 {
		t.Fatalf("the orders scenario has %d steps; want the customer fix and the POS working the sales", len(scenario))
	}

	c.apply()
	site.ResetCalls() // the orders pipeline's confirmations (Being Processed)
	if pl := c.statusesPlan(); pl.Summary.Create != 2 || pl.Summary.Total() != 2 {
		t.Fatalf("first statuses plan %+v, want the 2 open sales recorded", pl.Summary)
	}
	if rep, err := c.statusesApply(runner.Options{}); err != nil || rep.Applied.Create != 2 {
		t.Fatalf("first statuses apply: %v, %+v", err, rep)
	}
	if got := sentStatuses(c.env); len(got) != 0 {
		t.Errorf("open sales sent %q, want nothing", got)
	}

	// The integrator adds the missing customer: the orders pipeline imports its order, the statuses
	// pipeline records the new sale, open: nothing sent.
	if err := scenario[0].Do(c.env); err != nil {
		t.Fatal(err)
	}
	c.apply()
	site.ResetCalls()
	if rep, err := c.statusesApply(runner.Options{}); err != nil || rep.Applied.Create != 1 || rep.Applied.Total() != 1 {
		t.Fatalf("statuses apply after the new sale: %v, %+v", err, rep)
	}
	if got := sentStatuses(c.env); len(got) != 0 {
		t.Errorf("a new open sale sent %q, want nothing", got)
	}

	// The store works the sales.
	if err := scenario[1].Do(c.env); err != nil {
		t.Fatal(err)
	}
	pl := c.statusesPlan()
	want := map[string]string{OrderDelivery: "update", OrderPickup: "update", OrderUnknownCustomer: "deactivate"}
	if got := actions(pl); len(got) != len(want) || got[OrderDelivery] != "update" || got[OrderPickup] != "update" ||
		got[OrderUnknownCustomer] != "deactivate" {
		t.Fatalf("plan after the POS worked the sales: %v, want %v", got, want)
	}
	if len(pl.Guards) != 1 || pl.Guards[0].Verdict != plan.Blocked {
		t.Errorf("guards %+v: the cancellation of 1 of 3 orders must trip max_delete_percent (10%%)", pl.Guards)
	}
	_, err := c.statusesApply(runner.Options{})
	var blocked *runner.BlockedError
	if !errors.As(err, &blocked) {
		t.Fatalf("apply without the override: %v, want blocked by the guard", err)
	}
	if got := sentStatuses(c.env); len(got) != 0 {
		t.Errorf("a blocked apply sent %q", got)
	}

	rep, err := c.statusesApply(runner.Options{AllowMassChange: true})
	if err != nil || rep.Applied.Update != 2 || rep.Applied.Deactivate != 1 || len(rep.Rejected) != 0 {
		t.Fatalf("apply with the override: %v, %+v", err, rep)
	}
	wantSent := []string{OrderDelivery + "=Shipping", OrderPickup + "=Ready for Pickup", OrderUnknownCustomer + "=Canceled"}
	slices.Sort(wantSent)
	if got := sentStatuses(c.env); !slices.Equal(got, wantSent) {
		t.Errorf("sent %q, want exactly once each %q", got, wantSent)
	}
	for id, status := range map[string]string{OrderDelivery: "Shipping", OrderPickup: "Ready for Pickup", OrderUnknownCustomer: "Canceled"} {
		if o, _ := site.Order(id); o.Status != status {
			t.Errorf("website status of %s: %q, want %q", id, o.Status, status)
		}
	}

	// A rerun: nothing planned, nothing sent; the orders pipeline does not import anything again either.
	if rep, err := c.statusesApply(runner.Options{}); err != nil || rep.Planned.Total() != 0 {
		t.Fatalf("rerun: %v, planned %+v, want nothing", err, rep)
	}
	if got := sentStatuses(c.env); len(got) != 0 {
		t.Errorf("rerun sent %q", got)
	}
	if pl := c.plan(); len(pl.Changes) != 0 {
		t.Errorf("orders pipeline after the status changes plans %q: our own writes must not re-import", creates(t, pl))
	}
}
