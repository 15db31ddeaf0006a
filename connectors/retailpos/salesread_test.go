package retailpos

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// statusSource builds the retailpos_sales source of the shop's emulator for testPipeline.
func (s *shop) statusSource() *SalesSource {
	s.t.Helper()
	src, err := NewSalesSource(spec.Config{Values: map[string]any{"base_url": s.srv.URL(), "token": spec.NewSecret(s.srv.Token()),
		"requests_per_minute": int64(0), "page_size": int64(2), "orders_pipeline": testPipeline}}, connectors.Env{})
	if err != nil {
		s.t.Fatalf("NewSalesSource: %v", err)
	}
	src.SetSleep(s.clk.sleep)
	return src
}

// statuses reads src from checkpoint cp and returns its records by order id and the read's result.
func statuses(t *testing.T, src *SalesSource, cp []byte) (map[string]record.Record, connectors.ReadResult) {
	t.Helper()
	ctx := context.Background()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r, err := src.Read(ctx, connectors.ReadRequest{Checkpoint: cp, Alloc: alloc})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	defer r.Close()
	out := map[string]record.Record{}
	for {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < int(b.NumRows()); i++ {
			rec := record.RowRecord(b, i)
			out[rec["order_id"].(string)] = rec
		}
		b.Release()
	}
	if alloc.CurrentAlloc() != 0 {
		t.Error("leaked Arrow memory")
	}
	return out, r.Result()
}

// TestSalesSourceStatuses walks the sales possync created through their POS states (orders-apis.md A.7): open,
// partly packed, packed for pickup, completed, voided, reopened; a sale possync did not create is skipped;
// each read returns only what moved since the checkpoint.
func TestSalesSourceStatuses(t *testing.T) {
	s := newShop(t)
	k := s.sink(nil)
	pickup := s.orderOf("2001", s.jane.ID, "Downtown", order.Line{No: 1, ProductID: s.chain.ID, Quantity: 1, UnitPrice: 20},
		order.Line{No: 2, ProductID: s.tube.ID, Quantity: 2, UnitPrice: 8})
	pickup["fulfilment"], pickup["shipping"] = order.FulfilPickup, 0.0
	shipped := s.orderOf("2002", s.jane.ID, "Main Street", order.Line{No: 1, ProductID: s.tube.ID, Quantity: 1, UnitPrice: 8})
	voided := s.orderOf("2003", s.jane.ID, "Main Street", order.Line{No: 1, ProductID: s.chain.ID, Quantity: 1, UnitPrice: 20})
	mustApplySales(t, k, creates(pickup, shipped, voided))
	// A sale rung up at the counter, not by possync.
	counter := s.orderOf("9999", s.jane.ID, "Main Street", order.Line{No: 1, ProductID: s.chain.ID, Quantity: 1, UnitPrice: 20})
	other := s.sink(nil)
	other.pipeline = "another-pipeline"
	mustApplySales(t, other, creates(counter))
	sales := map[string]string{}
	for _, x := range s.srv.Sales() {
		sales[x.SourceID] = x.ID
	}

	src := s.statusSource()
	got, res := statuses(t, src, nil)
	if res.Mode != connectors.Changes || !reflect.DeepEqual(res.Key, []string{"order_id"}) {
		t.Fatalf("result %+v, want changes keyed by order_id", res)
	}
	if len(got) != 3 || got["9999"] != nil {
		t.Fatalf("read %d sales %v, want possync's 3 (not the other pipeline's)", len(got), got)
	}
	for id, r := range got {
		if r["pos_status"] != POSOpen || r["sale_id"] != sales[id] || r["pos_state"] != "pending" {
			t.Errorf("order %s: %v, want an open pending sale %s", id, r, sales[id])
		}
	}
	if got["2001"]["fulfilment"] != order.FulfilPickup || got["2002"]["fulfilment"] != order.FulfilDelivery {
		t.Errorf("fulfilment %v / %v, want pickup / delivery", got["2001"]["fulfilment"], got["2002"]["fulfilment"])
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "1 sales not created by pipeline "+testPipeline) {
		t.Errorf("notes %q do not count the skipped sale", res.Notes)
	}
	cp := res.Checkpoint

	// Nothing moved: nothing read.
	got, res = statuses(t, src, cp)
	if len(got) != 0 {
		t.Errorf("a read with nothing moved returned %v", got)
	}
	cp = res.Checkpoint

	// One line of the pickup packed: open and partial, with the line's fulfilment; the sale's version did not move.
	s.srv.PackForPickup(sales["2001"], 0)
	got, res = statuses(t, src, cp)
	r := got["2001"]
	if len(got) != 1 || r["pos_status"] != POSOpen || r["partial"] != true || r["lines_ready"] != int64(1) || r["lines_total"] != int64(2) {
		t.Fatalf("after packing one line: %v, want order 2001 open, partial, 1 of 2 lines ready", got)
	}
	var lines []lineState
	if err := json.Unmarshal([]byte(r["line_fulfilment"].(string)), &lines); err != nil || len(lines) != 2 ||
		lines[0].Packed != 1 || lines[1].Packed != 0 || lines[1].Quantity != 2 {
		t.Errorf("line_fulfilment %v (%v), want line 1 packed, line 2 (2 units) not", r["line_fulfilment"], err)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "order 2001: 1 of 2 lines ready for pickup") {
		t.Errorf("notes %q do not report the partial fulfilment", res.Notes)
	}
	cp = res.Checkpoint

	// Every line packed: Ready for Pickup. The other sales move too: closed, voided.
	s.srv.PackForPickup(sales["2001"])
	s.srv.SetSaleState(sales["2002"], "closed")
	s.srv.SetSaleState(sales["2003"], "voided")
	got, res = statuses(t, src, cp)
	want := map[string]string{"2001": POSReady, "2002": POSCompleted, "2003": POSRejected}
	if len(got) != 3 {
		t.Fatalf("read %v, want the 3 sales that moved", got)
	}
	for id, st := range want {
		if got[id]["pos_status"] != st || got[id]["partial"] != false {
			t.Errorf("order %s: %v, want %s", id, got[id], st)
		}
	}
	cp = res.Checkpoint

	// Picked up (closed), and the shipped one reopened: read as Completed and open again.
	s.srv.SetSaleState(sales["2001"], "closed")
	s.srv.SetSaleState(sales["2002"], "pending")
	got, _ = statuses(t, src, cp)
	if len(got) != 2 || got["2001"]["pos_status"] != POSCompleted || got["2002"]["pos_status"] != POSOpen {
		t.Errorf("read %v, want 2001 Completed and 2002 open again", got)
	}
}

// TestSalesSourceWithoutOurIDs recognises the sales of a POS that ignores client-given ids by source and
// invoice number.
func TestSalesSourceWithoutOurIDs(t *testing.T) {
	s := newShopWith(t, retailpostest.Options{IgnoreSaleIDs: true})
	k := s.sink(nil)
	mustApplySales(t, k, creates(s.orderOf("3001", s.jane.ID, "Main Street", order.Line{No: 1, ProductID: s.tube.ID, Quantity: 1, UnitPrice: 8})))
	got, _ := statuses(t, s.statusSource(), nil)
	if len(got) != 1 || got["3001"] == nil || got["3001"]["pos_status"] != POSOpen {
		t.Errorf("read %v, want order 3001 found by its invoice number", got)
	}
}

func TestSalesSourceNeedsOrdersPipeline(t *testing.T) {
	_, err := NewSalesSource(spec.Config{Values: map[string]any{"base_url": "http://127.0.0.1:1/api/2.0",
		"token": spec.NewSecret("t")}}, connectors.Env{})
	if err == nil || !strings.Contains(err.Error(), "orders_pipeline is required") {
		t.Errorf("err %v, want orders_pipeline required", err)
	}
}

// TestSalesSourcePickedUpLayby reads a pickup handed over (its fulfillment FULFILLED, so no longer in
// progress) while the layby sale is still pending as Completed: the sale is read again because its
// fulfillment left the states in progress.
func TestSalesSourcePickedUpLayby(t *testing.T) {
	s := newShop(t)
	k := s.sink(nil)
	o := s.orderOf("4001", s.jane.ID, "Downtown", order.Line{No: 1, ProductID: s.tube.ID, Quantity: 2, UnitPrice: 8})
	o["fulfilment"], o["shipping"] = order.FulfilPickup, 0.0
	mustApplySales(t, k, creates(o))
	id := s.srv.Sales()[0].ID
	src := s.statusSource()
	_, res := statuses(t, src, nil)
	f := s.srv.PackForPickup(id)
	got, res := statuses(t, src, res.Checkpoint)
	if got["4001"]["pos_status"] != POSReady {
		t.Fatalf("packed: %v, want Ready for Pickup", got["4001"])
	}
	f.State = retailpostest.FulfilFulfilled
	for i := range f.Lines {
		f.Lines[i].Fulfilled = f.Lines[i].Quantity
	}
	s.srv.SetFulfillment(f)
	got, _ = statuses(t, src, res.Checkpoint)
	if r := got["4001"]; r == nil || r["pos_status"] != POSCompleted || r["pos_state"] != "pending" {
		t.Errorf("handed over, sale still pending: %v, want Completed", r)
	}
}

// TestPageSizeDescriptions: each source that shares the page_size setting says which listings it pages (its
// own endpoints, not the catalog's), as `possync connectors` and docs/components show it.
func TestPageSizeDescriptions(t *testing.T) {
	for _, tc := range []struct {
		c    *spec.Component
		want []string
	}{
		{&sourceSpec, []string{"/products", "/inventory"}},
		{&customersSpec, []string{"/customers"}},
		{&salesSourceSpec, []string{"/sales", "/fulfillments", "at most 100"}},
	} {
		f, ok := tc.c.Field("page_size")
		if !ok {
			t.Fatalf("%s has no page_size", tc.c.Name)
		}
		for _, w := range tc.want {
			if !strings.Contains(f.Description, w) {
				t.Errorf("%s's page_size %q does not name %s", tc.c.Name, f.Description, w)
			}
		}
		if tc.c != &sourceSpec && strings.Contains(f.Description, "/products") {
			t.Errorf("%s's page_size %q names the catalog's listings", tc.c.Name, f.Description)
		}
	}
}
