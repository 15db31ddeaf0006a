package orderurl

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/orderurl/orderurltest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

func statusSink(t *testing.T, site *orderurltest.Server, key string) *StatusSink {
	t.Helper()
	k, err := NewStatusSink(spec.Config{Values: map[string]any{"url": site.URL(), "merchant": site.Merchant(),
		"url_key": spec.NewSecret(key)}}, connectors.Env{Key: []string{"order_id"}})
	if err != nil {
		t.Fatal(err)
	}
	k.SetSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() })
	return k
}

func setStatus(action connectors.Action, id string, status any, before any) connectors.Change {
	return connectors.Change{ID: id, Action: action, Key: record.Record{"order_id": id},
		After: record.Record{"order_id": id, "status": status}, Before: record.Record{"order_id": id, "status": before}}
}

// The sink sends UpdateStatus for a new status only; an unknown order is a rejected change naming the site's
// answer; a deletion is refused; a refused URL key stops the run without revealing the key.
func TestStatusSink(t *testing.T) {
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	site.Add(orderurltest.Order{ID: "A1"}, orderurltest.Order{ID: "A2"}, orderurltest.Order{ID: "A3"})
	k := statusSink(t, site, site.URLKey())
	changes := []connectors.Change{
		setStatus(connectors.Update, "A1", "Ready for Pickup", nil),
		setStatus(connectors.Create, "A2", nil, nil),                   // open: nothing to tell
		setStatus(connectors.Update, "A3", "Shipping", "Shipping"),     // the website has it
		setStatus(connectors.Deactivate, "A3", "Canceled", "Shipping"), // a cancellation
		setStatus(connectors.Update, "NOPE", "Shipping", nil),
		{ID: "d", Action: connectors.Delete, Key: record.Record{"order_id": "A1"}},
	}
	out, err := k.Apply(context.Background(), changes)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if out[i] != nil {
			t.Errorf("change %d: %v", i, out[i])
		}
	}
	for i, want := range map[int]string{4: "Order NOPE not found", 5: "never deletes"} {
		var ce *connectors.ChangeError
		if !errors.As(out[i], &ce) || !strings.Contains(ce.Reason, want) {
			t.Errorf("change %d: %v, want a rejection saying %q", i, out[i], want)
		}
	}
	var sent []string
	for _, c := range site.CallsOf("UpdateStatus") {
		sent = append(sent, c.OrderNumber+"="+c.OrderStatus)
	}
	if got := strings.Join(sent, ", "); got != "A1=Ready for Pickup, A3=Canceled, NOPE=Shipping" {
		t.Errorf("UpdateStatus calls %s", got)
	}
	if o, _ := site.Order("A3"); o.Status != "Canceled" {
		t.Errorf("A3 status %q, want Canceled", o.Status)
	}

	bad := statusSink(t, site, "wrong-key-123")
	out, err = bad.Apply(context.Background(), changes[:1])
	if err == nil || out[0] == nil || strings.Contains(err.Error(), "wrong-key-123") {
		t.Errorf("wrong key: outcome %v, err %v; want the run stopped without the key in the error", out[0], err)
	}
}

// A cancellation (active turning false) is sent only as a deactivate, which the mass-change guard counts: as
// a create or an update it is refused, named, and never sent. A canceled order's later change is no new
// cancellation.
func TestStatusSinkSendsCancelsOnlyAsDeactivates(t *testing.T) {
	cases := []struct {
		name          string
		action        connectors.Action
		before, after any // active
		status        string
		sent          bool
	}{
		{"deactivate cancels", connectors.Deactivate, true, false, "Canceled", true},
		{"update that cancels", connectors.Update, true, false, "Canceled", false},
		{"update that cancels, active unknown before", connectors.Update, nil, false, "Canceled", false},
		{"create that is canceled", connectors.Create, nil, false, "Canceled", false},
		{"update of an active order", connectors.Update, true, true, "Shipping", true},
		{"update of a canceled order", connectors.Update, false, false, "Cancelled", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			site := orderurltest.New(orderurltest.Options{})
			defer site.Close()
			site.Add(orderurltest.Order{ID: "C1"})
			k := statusSink(t, site, site.URLKey())
			if k.CancelField() != "active" {
				t.Fatalf("CancelField %q, want active (order_status's field)", k.CancelField())
			}
			c := connectors.Change{ID: "c", Action: tc.action, Key: record.Record{"order_id": "C1"},
				After: record.Record{"order_id": "C1", "status": tc.status, "active": tc.after}}
			if tc.action != connectors.Create {
				c.Before = record.Record{"order_id": "C1", "status": "Being Processed", "active": tc.before}
			}
			out, err := k.Apply(context.Background(), []connectors.Change{c})
			if err != nil {
				t.Fatal(err)
			}
			calls := site.CallsOf("UpdateStatus")
			if tc.sent {
				if out[0] != nil || len(calls) != 1 || calls[0].OrderStatus != tc.status {
					t.Errorf("outcome %v, calls %+v; want %s sent once", out[0], calls, tc.status)
				}
				return
			}
			var ce *connectors.ChangeError
			if !errors.As(out[0], &ce) || !strings.Contains(ce.Reason, "order C1: a cancellation planned as a "+string(tc.action)) ||
				!strings.Contains(ce.Reason, "diff.active_field: active") {
				t.Errorf("outcome %v, want the cancellation refused, naming the order and the fix", out[0])
			}
			if len(calls) != 0 {
				t.Errorf("a refused cancellation sent %+v", calls)
			}
		})
	}
}
