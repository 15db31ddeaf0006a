package runner_test

import (
	"strings"
	"testing"

	"github.com/possync/possync/connectors/orderurl/orderurltest"
	"github.com/possync/possync/connectors/retailpos"
	rpt "github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/runner"
)

// pickupLines sets the PICKUP fulfillment of a 2-line sale: each line's packed and fulfilled (handed over)
// quantity, of 1.
type pickupLines struct{ packed, fulfilled [2]float64 }

// TestStatusesPartialAndBack walks one pickup order of two lines through POS sequences and checks, after
// each POS move, what the website is sent (at most one status per change) and the plan note that reports
// what is not sent: partial fulfilment waits for every line, and a sale that goes back (unpacked,
// reopened) keeps the website's status with a note naming the order. Nothing is guessed.
func TestStatusesPartialAndBack(t *testing.T) {
	const id = "3001"
	type move struct {
		what  string
		state string       // the sale's new state ("" = unchanged)
		lines *pickupLines // the pickup fulfillment's new lines (nil = unchanged)
		sent  string       // the UpdateStatus sent by the run ("" = none)
		note  string       // a plan note naming the order ("" = none about it)
	}
	fstate := func(l pickupLines) string {
		switch {
		case l.fulfilled == [2]float64{1, 1}:
			return rpt.FulfilFulfilled
		case l.packed == [2]float64{1, 1}:
			return rpt.FulfilPacked
		case l.packed != [2]float64{} || l.fulfilled != [2]float64{}:
			return rpt.FulfilPicked
		}
		return rpt.FulfilOpen
	}
	cases := []struct {
		name  string
		moves []move
	}{
		{"partial, then every line packed", []move{
			{what: "line 1 packed", lines: &pickupLines{packed: [2]float64{1, 0}}, note: "1 of 2 lines are ready for pickup"},
			{what: "line 2 packed", lines: &pickupLines{packed: [2]float64{1, 1}}, sent: "Ready for Pickup"},
		}},
		{"one line handed over, the other not packed, then the rest", []move{
			{what: "line 1 handed over", lines: &pickupLines{packed: [2]float64{1, 0}, fulfilled: [2]float64{1, 0}}, note: "1 of 2 lines are ready for pickup"},
			{what: "line 2 packed", lines: &pickupLines{packed: [2]float64{1, 1}, fulfilled: [2]float64{1, 0}}, sent: "Ready for Pickup"},
			{what: "line 2 handed over", lines: &pickupLines{packed: [2]float64{1, 1}, fulfilled: [2]float64{1, 1}}, sent: "Shipping"},
		}},
		{"ready, unpacked, packed again", []move{
			{what: "packed", lines: &pickupLines{packed: [2]float64{1, 1}}, sent: "Ready for Pickup"},
			{what: "unpacked", lines: &pickupLines{}, note: "the POS sale is open again after the website was told Ready for Pickup"},
			{what: "packed again", lines: &pickupLines{packed: [2]float64{1, 1}}},
		}},
		{"ready, then one line unpacked", []move{
			{what: "packed", lines: &pickupLines{packed: [2]float64{1, 1}}, sent: "Ready for Pickup"},
			{what: "line 2 unpacked", lines: &pickupLines{packed: [2]float64{1, 0}}, note: "the POS sale is open again after the website was told Ready for Pickup"},
		}},
		{"completed, reopened, completed again", []move{
			{what: "closed", state: "closed", sent: "Shipping"},
			{what: "reopened", state: "pending", note: "the POS sale is open again after the website was told Shipping"},
			{what: "closed again", state: "closed"},
		}},
		{"completed, reopened while partly packed", []move{
			{what: "closed", state: "closed", sent: "Shipping"},
			{what: "reopened, one line packed", state: "pending", lines: &pickupLines{packed: [2]float64{1, 0}},
				note: "the POS sale is open again after the website was told Shipping"},
		}},
		{"completed, reopened, voided", []move{
			{what: "closed", state: "closed", sent: "Shipping"},
			{what: "reopened", state: "pending", note: "the POS sale is open again after the website was told Shipping"},
			{what: "voided", state: "voided", sent: "Canceled"},
		}},
		{"voided, then reopened", []move{
			{what: "voided", state: "voided", sent: "Canceled"},
			{what: "reopened", state: "pending", note: "the POS sale is open again after the website was told Canceled"},
			{what: "closed", state: "closed", note: "the POS sale is Completed again after the website was told Canceled"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The guard disabled: these tests are about what is sent, and what is only reported.
			pos, site, dir := statusesCase(t, "back-statuses", unguardedStatuses)
			saleID := retailpos.SaleID("bikeshop-orders", id)
			outlet := pos.AddOutlet(rpt.Outlet{Name: "Downtown"})
			pos.AddSale(rpt.Sale{ID: saleID, SourceID: id, State: "pending", OutletID: outlet.ID, Attributes: []string{"layby", "pickup"},
				Lines: []rpt.SaleLine{{ProductID: "p1", Quantity: 1, Price: 10}, {ProductID: "p2", Quantity: 1, Price: 5}}})
			site.Add(orderurltest.Order{ID: id, Status: "Being Processed"})
			if rep := mustApply(t, loadAt(t, dir), runner.Options{}); rep.Applied.Create != 1 || len(site.CallsOf("UpdateStatus")) != 0 {
				t.Fatalf("first run applied %+v, sent %+v; want the open order recorded, nothing sent", rep.Applied, site.CallsOf("UpdateStatus"))
			}
			var f rpt.Fulfillment
			for _, m := range tc.moves {
				if m.state != "" {
					pos.SetSaleState(saleID, m.state)
				}
				if m.lines != nil {
					if f.ID == "" {
						f = rpt.Fulfillment{SaleID: saleID, OutletID: outlet.ID, Type: rpt.FulfilPickup}
					}
					f.State, f.Lines = fstate(*m.lines), nil
					for i := range 2 {
						f.Lines = append(f.Lines, rpt.FulfillmentLine{SaleLineItemID: rpt.SaleLineID(saleID, i), Quantity: 1,
							Picked: m.lines.packed[i], Packed: m.lines.packed[i], Fulfilled: m.lines.fulfilled[i]})
					}
					f = pos.SetFulfillment(f)
				}
				pl := mustPlan(t, loadAt(t, dir))
				got := noteWith(pl.NoteTexts(), "order_id="+id+": ")
				switch {
				case m.note == "" && got != "":
					t.Errorf("%s: note %q, want none", m.what, got)
				case m.note != "" && !strings.Contains(got, m.note):
					t.Errorf("%s: notes %q, want one naming order %s: %q", m.what, pl.NoteTexts(), id, m.note)
				}
				site.ResetCalls()
				rep := mustApply(t, loadAt(t, dir), runner.Options{})
				var sent []string
				for _, c := range site.CallsOf("UpdateStatus") {
					sent = append(sent, c.OrderNumber+"="+c.OrderStatus)
				}
				want := ""
				if m.sent != "" {
					want = id + "=" + m.sent
				}
				if strings.Join(sent, ", ") != want || len(rep.Rejected) != 0 {
					t.Errorf("%s: sent %q (rejected %+v), want %q", m.what, sent, rep.Rejected, want)
				}
				// A rerun after each move sends nothing.
				site.ResetCalls()
				if rep := mustApply(t, loadAt(t, dir), runner.Options{}); rep.Planned.Total() != 0 || len(site.CallsOf("UpdateStatus")) != 0 {
					t.Errorf("%s: rerun planned %+v, sent %+v", m.what, rep.Planned, site.CallsOf("UpdateStatus"))
				}
			}
		})
	}
}
