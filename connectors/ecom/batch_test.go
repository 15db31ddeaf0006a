package ecom

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/record"
)

// TestBatchTickets checks a plan of 501 creations: the SKUs are located by listing the store, the shared
// category is created once, and the creations go in two tickets (500 + 1).
func TestBatchTickets(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	s, _ := newTestSink(t, srv, []string{"sku", "name", "price", "category"}, nil)
	var changes []connectors.Change
	for i := 0; i < 501; i++ {
		changes = append(changes, create(record.Record{"sku": fmt.Sprintf("B%03d", i), "name": "B", "price": 1.0, "category": "Bulk"}))
	}
	wantAcked(t, apply(t, s, changes...))
	counts := map[string]int{}
	tickets := map[string]int{}
	for _, r := range srv.Requests() {
		counts[r.Method+" "+r.Path]++
	}
	for _, w := range srv.Writes() {
		tickets[w.Ticket]++
	}
	if counts["GET /products"] != 1 || counts["POST /categories"] != 1 || counts["POST /batch"] != 2 || counts["GET /batch"] != 6 {
		t.Errorf("requests = %v, want 1 listing page, 1 category, 2 tickets polled 3 times each", counts)
	}
	if len(tickets) != 3 || tickets[""] != 1 {
		t.Errorf("writes per ticket = %v, want two tickets of 500 and 1 (and the category outside)", tickets)
	}
	if n := len(srv.Products()); n != 501 {
		t.Errorf("%d products, want 501", n)
	}
}

// TestBatchCreationLost checks that a POST /batch whose answer is lost is sent again with the same
// deduplication key, so the store runs the ticket once: no duplicate product.
func TestBatchCreationLost(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	s, _ := newTestSink(t, srv, []string{"sku", "name", "price"}, map[string]any{"batch_threshold": int64(2)})
	srv.DropNext(1)
	var changes []connectors.Change
	for i := 0; i < 4; i++ {
		changes = append(changes, create(record.Record{"sku": fmt.Sprintf("D%d", i), "name": "D", "price": 1.0}))
	}
	wantAcked(t, apply(t, s, changes...))
	posts := 0
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPost && r.Path == "/batch" {
			posts++
		}
	}
	if posts != 2 || len(srv.Products()) != 4 || len(srv.Writes()) != 4 {
		t.Errorf("%d POST /batch, %d products, %d writes; want 2 (one lost, one repeated), 4, 4", posts, len(srv.Products()), len(srv.Writes()))
	}
}

// TestGatewayErrorAfterCreateMakesNoDuplicate: the store creates a category and a product but the gateway
// answers 502. The client must not send either POST again (it would create a second category; products are
// unique by SKU): the sink looks the outcome up and goes on.
func TestGatewayErrorAfterCreateMakesNoDuplicate(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	srv.Fail(ecomtest.Failure{Method: http.MethodPost, Path: "/categories", Times: 1, Status: http.StatusBadGateway, AfterActing: true})
	s, _ := newTestSink(t, srv, []string{"sku", "name", "price", "category"}, nil)
	wantAcked(t, apply(t, s, create(record.Record{"sku": "G1", "name": "Gear", "price": 5.0, "category": "Gears"})))
	if cats := srv.Categories(); len(cats) != 1 || cats[0].Name != "Gears" {
		t.Errorf("categories = %+v, want one Gears", cats)
	}
	if n := len(srv.Products()); n != 1 {
		t.Errorf("%d products, want 1", n)
	}
}
