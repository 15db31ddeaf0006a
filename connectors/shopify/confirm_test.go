package shopify

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/connectors/shopify/shopifytest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

func keys(ids ...string) []record.Record {
	out := make([]record.Record, len(ids))
	for i, id := range ids {
		out[i] = record.Record{order.ColOrderID: id}
	}
	return out
}

func callsOf(calls []shopifytest.Call, field string) []shopifytest.Call {
	var out []shopifytest.Call
	for _, c := range calls {
		if len(c.Fields) > 0 && c.Fields[0] == field {
			out = append(out, c)
		}
	}
	return out
}

// Confirm tags each order once: a second Confirm, and a Confirm after a read that sees the tag, write
// nothing. The tag moves updatedAt, so the next read serves the orders again; they are read (the state,
// not the tag, decides) and not tagged again.
func TestConfirmTagsOnce(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	e.srv.LoadExample()
	s := e.source(nil)
	first := mustRead(t, s, nil)

	outcomes, err := s.Confirm(context.Background(), keys("#1001", "#1002", "#9999"))
	if err != nil {
		t.Fatal(err)
	}
	if outcomes[0] != nil || outcomes[1] != nil {
		t.Errorf("outcomes %v, want #1001 and #1002 confirmed", outcomes)
	}
	if outcomes[2] == nil || !strings.Contains(outcomes[2].Error(), "#9999") {
		t.Errorf("outcome of an order the read did not see: %v", outcomes[2])
	}
	for _, id := range []int64{shopifytest.OrderDelivery, shopifytest.OrderPickup} {
		o, _ := e.srv.Order(id)
		if !slices.Contains(o.Tags, "possync-imported") {
			t.Errorf("order %s tags %v, want possync-imported", o.Name, o.Tags)
		}
	}
	if n := len(callsOf(e.srv.Calls(), "tagsAdd")); n != 2 {
		t.Fatalf("%d tagsAdd calls, want 2", n)
	}
	if out, err := s.Confirm(context.Background(), keys("#1001", "#1002")); err != nil || out[0] != nil || out[1] != nil {
		t.Fatalf("second Confirm: %v %v", out, err)
	}
	second := mustRead(t, s, first.res.Checkpoint)
	if _, ok := second.byID["#1001"]; !ok {
		t.Fatalf("tagged orders must still be read (updatedAt moved): got %v", second.order)
	}
	if out, err := s.Confirm(context.Background(), keys("#1001", "#1002")); err != nil || out[0] != nil || out[1] != nil {
		t.Fatalf("Confirm after the re-read: %v %v", out, err)
	}
	if n := len(callsOf(e.srv.Calls(), "tagsAdd")); n != 2 {
		t.Errorf("%d tagsAdd calls in all, want each order tagged once", n)
	}
	o, _ := e.srv.Order(shopifytest.OrderDelivery)
	if strings.Count(strings.Join(o.Tags, ","), "possync-imported") != 1 {
		t.Errorf("tags %v", o.Tags)
	}
}

// userErrors become the order's outcome; a refused token stops Confirm with an error and outcomes for all.
func TestConfirmFailures(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	e.srv.LoadExample()
	s := e.source(map[string]any{"order_id": "id", "mark_tag": "pos-done"})
	mustRead(t, s, nil)
	outcomes, err := s.Confirm(context.Background(), keys("820982911946154500", "12345", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if outcomes[0] != nil {
		t.Errorf("#1001: %v", outcomes[0])
	}
	if outcomes[1] == nil || !strings.Contains(outcomes[1].Error(), "tagsAdd 12345") ||
		!strings.Contains(outcomes[1].Error(), "Order does not exist") {
		t.Errorf("unknown order: %v, want the userError naming the mutation", outcomes[1])
	}
	if outcomes[2] == nil || !strings.Contains(outcomes[2].Error(), "not a Shopify order id") {
		t.Errorf("bad id: %v", outcomes[2])
	}

	// A 500 on one order fails that order only (after retries); the next is tagged.
	for range 6 {
		e.srv.Fail(shopifytest.Fault{Operation: "tagsAdd", Status: 500})
	}
	outcomes, err = s.Confirm(context.Background(), keys("820982911946154501", "820982911946154502"))
	if err != nil || outcomes[0] == nil || !strings.Contains(outcomes[0].Error(), "HTTP 500") || outcomes[1] != nil {
		t.Errorf("500 on the first order: outcomes %v, err %v", outcomes, err)
	}

	bad := e.source(map[string]any{"order_id": "id", "token": secret("shpat_revoked_99")})
	outcomes, err = bad.Confirm(context.Background(), keys("820982911946154503", "820982911946154500"))
	if err == nil || strings.Contains(err.Error(), "shpat_revoked_99") || outcomes[0] == nil || outcomes[1] == nil {
		t.Errorf("refused token: outcomes %v err %v, want an error (without the token) and both orders failed", outcomes, err)
	}
	if n := len(callsOf(e.srv.Calls(), "tagsAdd")); n != 1+1+6+1+1 {
		// #1001, 12345, six 500s for #1002, #1003, one refused (the second order is not attempted)
		t.Errorf("%d tagsAdd calls, want 10", n)
	}
}

// With mark: metafield, Confirm sets the metafield 25 orders per call; an input Shopify refuses fails its
// order only (metafieldsSet is atomic, so the others are sent again); a later read sees the metafield and
// Confirm writes nothing.
func TestConfirmMetafield(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	e.srv.Generate(1, 30, shopifytest.ExampleTime, 0)
	s := e.source(map[string]any{"order_id": "id", "mark": "metafield"})
	first := mustRead(t, s, nil)
	var ids []string
	for i := 1; i <= 30; i++ {
		ids = append(ids, itoa(i))
	}
	ids = append(ids[:3], append([]string{"424242"}, ids[3:]...)...) // an unknown order in the first call
	outcomes, err := s.Confirm(context.Background(), keys(ids...))
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range outcomes {
		if (ids[i] == "424242") != (o != nil) {
			t.Errorf("order %s: outcome %v", ids[i], o)
		}
	}
	if !strings.Contains(outcomes[3].Error(), "Owner does not exist") {
		t.Errorf("refused input: %v", outcomes[3])
	}
	calls := callsOf(e.srv.Calls(), "metafieldsSet")
	if len(calls) != 3 { // 25 refused for one input, the 24 others again, then 6
		t.Errorf("%d metafieldsSet calls, want 3", len(calls))
	}
	for i := int64(1); i <= 30; i++ {
		if o, _ := e.srv.Order(i); o.Metafields["possync.imported_at"].Value == "" {
			t.Fatalf("order %d has no possync.imported_at metafield", i)
		}
	}
	mustRead(t, s, first.res.Checkpoint)
	if _, err := s.Confirm(context.Background(), keys(ids[:3]...)); err != nil {
		t.Fatal(err)
	}
	if n := len(callsOf(e.srv.Calls(), "metafieldsSet")); n != 3 {
		t.Errorf("metafieldsSet called again for orders that carry the metafield (%d calls)", n)
	}
}

// confirm: false gives a source that is no Confirmer and whose records say whether the order carries the
// mark (an order pipeline imported it), so an inventory pipeline can reserve exactly the orders not imported.
func TestConfirmFalseReadsTheMark(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	e.srv.LoadExample()
	if !e.srv.UpdateOrder(shopifytest.OrderDelivery, e.clk.Now(), func(o *shopifytest.Order) {
		o.Tags = append(o.Tags, "possync-imported")
	}) {
		t.Fatal("no delivery order in the example")
	}
	_, ctor, ok := connectors.Sources.Lookup("shopify_orders")
	if !ok {
		t.Fatal("shopify_orders is not registered")
	}
	src, err := ctor(spec.Config{Values: map[string]any{"base_url": e.srv.URL(), "token": spec.NewSecret(e.srv.Token()),
		"confirm": false}}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(connectors.Confirmer); ok {
		t.Fatalf("shopify_orders with confirm: false (%T) is a Confirmer", src)
	}
	inner, ok := src.(interface{ Unwrap() connectors.Source }).Unwrap().(*Source)
	if !ok {
		t.Fatalf("confirm: false wraps %T, want *Source", src)
	}
	inner.api.sleep, inner.api.now = e.clk.sleep, e.clk.Now
	if got := src.Schema().FieldIndices(order.ColImported); len(got) != 1 {
		t.Fatalf("schema %v has no %s column", src.Schema(), order.ColImported)
	}
	r := mustRead(t, inner, nil)
	for id, rec := range r.byID {
		want := id == "#1001"
		if rec[order.ColImported] != want {
			t.Errorf("order %s: imported %v, want %t", id, rec[order.ColImported], want)
		}
	}
	if n := len(callsOf(e.srv.Calls(), "tagsAdd")); n != 0 {
		t.Errorf("%d tagsAdd calls from a read-only source", n)
	}
	if _, ok := connectors.Source(e.source(nil)).(connectors.Confirmer); !ok || len(e.source(nil).Schema().FieldIndices(order.ColImported)) != 0 {
		t.Error("the default source must be a Confirmer without the imported column")
	}
}
