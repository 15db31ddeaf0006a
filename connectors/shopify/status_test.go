package shopify

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/shopify/shopifytest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// statusSink builds the shopify_status sink of the emulator on the fake clock.
func (e *env) statusSink(values map[string]any) *StatusSink {
	e.t.Helper()
	cfg := map[string]any{"base_url": e.srv.URL(), "token": spec.NewSecret(e.srv.Token())}
	for k, v := range values {
		cfg[k] = v
	}
	s, err := NewStatusSink(spec.Config{Values: cfg}, connectors.Env{Key: []string{"order_id"}})
	if err != nil {
		e.t.Fatalf("NewStatusSink: %v", err)
	}
	s.SetClock(e.clk.Now, e.clk.sleep)
	return s
}

func statusChange(action connectors.Action, id, stage, status string) connectors.Change {
	after := record.Record{"order_id": id, "stage": stage, "status": nil, "active": stage != "canceled"}
	if status != "" {
		after["status"] = status
	}
	return connectors.Change{ID: "c-" + id + "-" + stage, Action: action, Key: record.Record{"order_id": id}, After: after}
}

// mutations counts the mutation calls by their top-level field.
func (e *env) mutations() map[string]int {
	out := map[string]int{}
	for _, c := range e.srv.Calls() {
		if c.Kind == "mutation" && len(c.Fields) > 0 {
			out[c.Fields[0]]++
		}
	}
	return out
}

// TestStatusSinkMutations takes orders to ready, completed and canceled with the documented mutations, and
// sends nothing for an open order or for a stage the shop already shows.
func TestStatusSinkMutations(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	add := func(id int64, method, foStatus, fulfilment string, cancelled bool) {
		o := shopifytest.Order{ID: id, Name: "#" + strconv.FormatInt(id, 10), CreatedAt: at,
			FulfillmentStatus: fulfilment, FinancialStatus: "PAID",
			FulfillmentOrders: []shopifytest.FulfillmentOrder{{ID: id * 10, Status: foStatus, MethodType: method}}}
		if cancelled {
			o.CancelledAt = &at
		}
		e.srv.AddOrder(o)
	}
	add(1001, "PICK_UP", "OPEN", "UNFULFILLED", false)
	add(1002, "SHIPPING", "OPEN", "UNFULFILLED", false)
	add(1003, "SHIPPING", "OPEN", "UNFULFILLED", false)
	add(1004, "SHIPPING", "CLOSED", "FULFILLED", false)
	add(1005, "SHIPPING", "CANCELLED", "UNFULFILLED", true)
	add(1006, "SHIPPING", "OPEN", "UNFULFILLED", false)
	k := e.statusSink(nil)
	changes := []connectors.Change{
		statusChange(connectors.Update, "#1001", "ready", "Ready for Pickup"),
		statusChange(connectors.Update, "#1002", "completed", "Shipping"),
		statusChange(connectors.Deactivate, "#1003", "canceled", "Canceled"),
		statusChange(connectors.Update, "#1004", "completed", "Shipping"),
		statusChange(connectors.Deactivate, "#1005", "canceled", "Canceled"),
		statusChange(connectors.Create, "#1006", "open", ""),
		statusChange(connectors.Update, "#1006", "ready", "Ready for Pickup"), // not a pickup order on the shop
		{ID: "d", Action: connectors.Delete, Key: record.Record{"order_id": "#1002"}},
	}
	out, err := k.Apply(context.Background(), changes)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out[:6] {
		if o != nil {
			t.Errorf("change %d (%v): %v", i, changes[i].Key, o)
		}
	}
	for i, want := range map[int]string{6: "no open pickup fulfillment order", 7: "never deletes"} {
		if ce, ok := out[i].(*connectors.ChangeError); !ok || !strings.Contains(ce.Reason, want) {
			t.Errorf("change %d: %v, want a rejection saying %q", i, out[i], want)
		}
	}
	if m := e.mutations(); m["fulfillmentOrderLineItemsPreparedForPickup"] != 1 || m["fulfillmentCreate"] != 1 || m["orderCancel"] != 1 || len(m) != 3 {
		t.Errorf("mutations %v, want one of each (nothing for the open order and the stages the shop already shows)", m)
	}
	if o, _ := e.srv.Order(1001); !o.FulfillmentOrders[0].ReadyForPickup {
		t.Errorf("#1001 %+v: want its pickup fulfillment order prepared", o.FulfillmentOrders)
	}
	if o, _ := e.srv.Order(1002); o.FulfillmentStatus != "FULFILLED" || len(o.Fulfillments) != 1 || !o.Fulfillments[0].NotifyCustomer {
		t.Errorf("#1002 %+v: want fulfilled with the customer notified", o)
	}
	o, _ := e.srv.Order(1003)
	if o.CancelledAt == nil || o.Cancellation == nil || !o.Cancellation.Refund || !o.Cancellation.Restock || !o.Cancellation.Notify ||
		o.Cancellation.Reason != "OTHER" {
		t.Errorf("#1003 cancellation %+v: want cancelled with refund, restock and notification", o.Cancellation)
	}

	// Replayed (a crash before the state commit): the shop already shows fulfilled and cancelled.
	before := e.mutations()
	if out, err := k.Apply(context.Background(), changes[1:3]); err != nil || out[0] != nil || out[1] != nil {
		t.Fatalf("replay: %v %v", out, err)
	}
	if after := e.mutations(); after["fulfillmentCreate"] != before["fulfillmentCreate"] || after["orderCancel"] != before["orderCancel"] {
		t.Errorf("replay sent mutations: %v after %v", after, before)
	}
}

// TestStatusSinkOlderAPIRefund cancels with refund: true before API 2025-10.
func TestStatusSinkOlderAPIRefund(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	e.srv.AddOrder(shopifytest.Order{ID: 7, Name: "#7", CreatedAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
		FulfillmentOrders: []shopifytest.FulfillmentOrder{{ID: 70, Status: "OPEN", MethodType: "SHIPPING"}}})
	k := e.statusSink(map[string]any{"api_version": "2024-04", "order_id": "id", "notify_customer": false})
	if out, err := k.Apply(context.Background(), []connectors.Change{statusChange(connectors.Deactivate, "7", "canceled", "Canceled")}); err != nil || out[0] != nil {
		t.Fatalf("apply: %v %v", out, err)
	}
	var vars map[string]any
	for _, c := range e.srv.Calls() {
		if c.Kind == "mutation" {
			vars = c.Variables
		}
	}
	if vars["refund"] != true || vars["refundMethod"] != nil || vars["notifyCustomer"] != false {
		t.Errorf("orderCancel variables %v, want refund true, no refundMethod, no notification", vars)
	}
	if o, _ := e.srv.Order(7); o.Cancellation == nil || !o.Cancellation.Refund || o.Cancellation.Notify {
		t.Errorf("cancellation %+v", o.Cancellation)
	}
}

// A cancellation (stage canceled, or active turning false) reaches the shop only as a deactivate, which the
// mass-change guard counts: as a create or an update it is refused, named, and orderCancel is never called.
func TestStatusSinkCancelsOnlyAsDeactivates(t *testing.T) {
	cases := []struct {
		name        string
		action      connectors.Action
		beforeStage string // "" = no record before (a create)
		stage       string
		active      bool
		cancelled   bool // orderCancel sent
		refused     bool
	}{
		{"deactivate cancels", connectors.Deactivate, "open", "canceled", false, true, false},
		{"update to canceled", connectors.Update, "completed", "canceled", false, false, true},
		{"update to canceled, active left true", connectors.Update, "open", "canceled", true, false, true},
		{"create canceled", connectors.Create, "", "canceled", false, false, true},
		{"update of a canceled order", connectors.Update, "canceled", "canceled", false, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, shopifytest.Options{})
			e.srv.AddOrder(shopifytest.Order{ID: 9, Name: "#9", CreatedAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
				FulfillmentOrders: []shopifytest.FulfillmentOrder{{ID: 90, Status: "OPEN", MethodType: "SHIPPING"}}})
			k := e.statusSink(nil)
			if k.CancelField() != "active" {
				t.Fatalf("CancelField %q, want active", k.CancelField())
			}
			c := statusChange(tc.action, "#9", tc.stage, "Canceled")
			c.After["active"] = tc.active
			if tc.beforeStage != "" {
				c.Before = record.Record{"order_id": "#9", "stage": tc.beforeStage, "active": tc.beforeStage != "canceled"}
			}
			out, err := k.Apply(context.Background(), []connectors.Change{c})
			if err != nil {
				t.Fatal(err)
			}
			if got := e.mutations()["orderCancel"]; got != map[bool]int{true: 1}[tc.cancelled] {
				t.Errorf("%d orderCancel calls, want cancelled=%v", got, tc.cancelled)
			}
			ce, _ := out[0].(*connectors.ChangeError)
			if tc.refused != (ce != nil && strings.Contains(ce.Reason, "order #9: a cancellation planned as a "+string(tc.action))) {
				t.Errorf("outcome %v, want refused=%v", out[0], tc.refused)
			}
			if !tc.refused && out[0] != nil {
				t.Errorf("outcome %v", out[0])
			}
		})
	}
}
