package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/connectors/shopify/shopifytest"
)

// The next read asks for orders updated since the checkpoint minus the overlap, with the time quoted, and
// gets the orders changed since plus the ones inside the window.
func TestReadIncrementalQuotedFilter(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	e.srv.LoadExample()
	s := e.source(nil)
	first := mustRead(t, s, nil)
	last := shopifytest.ExampleTime.Add(4 * time.Hour) // #1004's update, the checkpoint

	// #1001 is edited after the first read; #1002 was updated two minutes before the checkpoint (inside the
	// window); #1003 an hour before it (outside).
	e.srv.UpdateOrder(shopifytest.OrderDelivery, last.Add(time.Hour), func(o *shopifytest.Order) { o.Note = "Ring twice" })
	e.srv.UpdateOrder(shopifytest.OrderPickup, last.Add(-2*time.Minute), func(*shopifytest.Order) {})
	second := mustRead(t, s, first.res.Checkpoint)

	calls := ordersCalls(e.srv.Calls())
	want := "updated_at:>='" + last.Add(-5*time.Minute).Format(time.RFC3339) + "'"
	if got := calls[len(calls)-1].Variables["query"]; got != want {
		t.Errorf("second read's filter %v, want %s", got, want)
	}
	if got := strings.Join(second.order, " "); got != "#1002 #1004 #1001" {
		t.Errorf("second read got %q, want #1002 #1004 (inside the overlap) and #1001 (edited)", got)
	}
	if second.byID["#1001"][order.ColComments] != "Ring twice" {
		t.Errorf("#1001 comments %v, want the edit", second.byID["#1001"][order.ColComments])
	}
	var cp checkpoint
	if err := json.Unmarshal(second.res.Checkpoint, &cp); err != nil || !cp.UpdatedAt.Equal(last.Add(time.Hour)) {
		t.Errorf("checkpoint %s, want %s", second.res.Checkpoint, last.Add(time.Hour))
	}
	// Nothing new: the window still re-reads the last order, and the checkpoint stays.
	third := mustRead(t, s, second.res.Checkpoint)
	if got := strings.Join(third.order, " "); got != "#1001" || string(third.res.Checkpoint) != string(second.res.Checkpoint) {
		t.Errorf("third read got %q checkpoint %s, want #1001 and the same checkpoint", got, third.res.Checkpoint)
	}
}

// Quoting matters: Shopify (and the emulator) keep only the date of an unquoted date-time, so an unquoted
// filter would re-read the whole day; the emulator's behaviour is the reason the source quotes.
func TestUnquotedFilterLosesTheTime(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	e.srv.LoadExample()
	s := e.source(nil)
	var data ordersData
	q := "updated_at:>=" + shopifytest.ExampleTime.Add(3*time.Hour).Format(time.RFC3339)
	err := s.api.do(context.Background(), "orders", "orders", ordersQuery(false),
		map[string]any{"first": 10, "query": q, "lines": 5}, &data)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(data.Orders.Nodes); n != 4 {
		t.Errorf("unquoted filter matched %d orders, want all 4 of the day", n)
	}
}

// An order updated while the pages are read moves behind them and is read again at the end: the read keeps
// its newer version once. An order whose update becomes visible late (Shopify's search index lags), with an
// updatedAt behind the read's cursor, is read by the next run thanks to the overlap window; without the
// window it would be lost.
func TestReadOrderUpdatedDuringRead(t *testing.T) {
	for _, overlap := range []time.Duration{5 * time.Minute, 0} {
		t.Run("overlap "+overlap.String(), func(t *testing.T) {
			e := newEnv(t, shopifytest.Options{})
			start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
			e.srv.Generate(1, 100, start, 30*time.Second) // updated 08:00:00 … 08:49:30, 20 pages of 5
			late := shopifytest.Order{ID: 500, Name: "#500", CreatedAt: start.Add(46 * time.Minute), Subtotal: 3, Total: 3}
			pages := 0
			e.srv.BeforeServe(func(c shopifytest.Call) {
				if c.Fields[0] != "orders" {
					return
				}
				switch pages++; pages {
				case 3: // #1 (on page 1) is edited now
					e.srv.UpdateOrder(1, start.Add(50*time.Minute), func(o *shopifytest.Order) { o.Note = "edited" })
				case 20: // the cursor is at 08:47:00; #500, updated at 08:46:00, reaches the index only now
					e.srv.AddOrder(late)
				}
			})
			s := e.source(map[string]any{"page_size": int64(5), "overlap": overlap})
			first := mustRead(t, s, nil)
			if len(first.byID) != 100 || first.byID["#1"][order.ColComments] != "edited" || first.order[99] != "#1" {
				t.Fatalf("first read: %d orders, #1 comments %v, last %s; want 100 with #1's edit, read last",
					len(first.byID), first.byID["#1"][order.ColComments], first.order[len(first.order)-1])
			}
			if _, ok := first.byID["#500"]; ok {
				t.Fatalf("#500 should be behind the cursor in the first read")
			}
			var cp checkpoint
			if err := json.Unmarshal(first.res.Checkpoint, &cp); err != nil || !cp.UpdatedAt.Equal(start.Add(50*time.Minute)) {
				t.Fatalf("checkpoint %s, want #1's edit at 08:50", first.res.Checkpoint)
			}
			e.srv.BeforeServe(nil)
			second := mustRead(t, s, first.res.Checkpoint)
			_, got := second.byID["#500"]
			if want := overlap != 0; got != want {
				t.Errorf("with overlap %s the next read has #500: %v, want %v", overlap, got, want)
			}
		})
	}
}

// Failures: a 500 is retried; a malformed answer, a GraphQL error and a refused token fail the read with an
// error naming the request, never the token.
func TestReadFailures(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	e.srv.LoadExample()
	s := e.source(nil)

	e.srv.Fail(shopifytest.Fault{Status: 500})
	e.srv.Fail(shopifytest.Fault{Status: 502})
	if r := mustRead(t, s, nil); len(r.byID) != 4 {
		t.Errorf("after two 5xx the read got %d orders, want 4", len(r.byID))
	}
	if got := e.clk.sleeps(); len(got) != 2 || got[0] != time.Second || got[1] != 2*time.Second {
		t.Errorf("backoff %v, want 1s then 2s", got)
	}

	cases := []struct {
		name  string
		fault shopifytest.Fault
		want  []string
	}{
		{"malformed", shopifytest.Fault{Malformed: true}, []string{"shopify orders page 1", "malformed JSON"}},
		{"graphql error", shopifytest.Fault{GraphQLError: "Internal error. Looks like something went wrong on our end."},
			[]string{"shopify orders page 1", "GraphQL error: Internal error", "INTERNAL_SERVER_ERROR"}},
		{"token echoed", shopifytest.Fault{GraphQLError: "bad token " + e.srv.Token(), Code: "ACCESS_DENIED"},
			[]string{"shopify orders page 1", "bad token ***"}},
		{"server down", shopifytest.Fault{Status: 503}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := 1
			if c.fault.Status != 0 {
				n = 6 // every attempt
			}
			for range n {
				e.srv.Fail(c.fault)
			}
			_, err := read(context.Background(), s, nil)
			if err == nil {
				t.Fatal("read succeeded")
			}
			if c.want == nil {
				c.want = []string{"shopify orders page 1", "HTTP 503", "after 6 attempts"}
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), e.srv.Token()) {
				t.Errorf("error %q reveals the token", err)
			}
		})
	}

	bad := e.source(map[string]any{"token": secret("shpat_wrong_token_42")})
	_, err := read(context.Background(), bad, nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "Invalid API key") ||
		strings.Contains(err.Error(), "shpat_wrong_token_42") {
		t.Errorf("refused token: %v, want HTTP 401 naming the problem, not the token", err)
	}
	if err := bad.Check(context.Background()); err == nil || strings.Contains(err.Error(), "shpat_wrong_token_42") {
		t.Errorf("Check with a refused token: %v", err)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// Cancellation ends the read between pages and during a wait for the bucket.
func TestReadCancellation(t *testing.T) {
	e := newEnv(t, shopifytest.Options{})
	e.srv.Generate(1, 50, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	pages := 0
	e.srv.BeforeServe(func(c shopifytest.Call) {
		if pages++; pages == 2 {
			cancel()
		}
	})
	_, err := read(ctx, e.source(map[string]any{"page_size": int64(5)}), nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v, want context.Canceled", err)
	}
	if pages > 2 {
		t.Errorf("%d pages requested, want none after the cancel", pages)
	}

	// Cancelled while waiting for the bucket to restore.
	ctx2, cancel2 := context.WithCancel(context.Background())
	s := e.source(map[string]any{"page_size": int64(5)})
	e.srv.BeforeServe(func(c shopifytest.Call) { e.srv.SetAvailable(0) })
	waits := 0
	s.api.sleep = func(ctx context.Context, d time.Duration) error {
		waits++
		cancel2()
		return e.clk.sleep(ctx, d)
	}
	_, err = read(ctx2, s, nil)
	if waits != 1 {
		t.Errorf("%d waits, want the one for the throttled page", waits)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("read cancelled during a throttle wait: %v, want context.Canceled", err)
	}
}
