package shopify

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/connectors/shopify/shopifytest"
	"github.com/possync/possync/record"
)

// fuzzToken is the access token of the fuzzed client: error texts must mask it.
const fuzzToken = "shpat_0123456789abcdef0123456789abcdef"

// FuzzOrdersPage feeds arbitrary bytes to the decoding of an orders page answer, as client.do decodes a 200
// answer (the GraphQL envelope, its errors, then data into ordersData), and maps every order as the reading
// does (its id, then orderRecord with the page's line items). None of it may panic, and:
//   - the error text of the answer never holds the token, whole or cut short;
//   - an order orderRecord refuses gets an error that says why (the reading rejects it);
//   - an order it maps has the id it was given, origin shopify, a UTC updated_at (returned too), a UTC
//     placed_at when set, a known fulfilment, cancelled exactly when cancelledAt is set, finite amounts,
//     lines numbered 1, 2, … that re-encode to the same text, and fits order.Schema().
func FuzzOrdersPage(f *testing.F) {
	for _, metafield := range []bool{false, true} { // answers of the emulator, as the source asks for them
		f.Add(emulatorAnswer(f, ordersQuery(metafield), map[string]any{"first": 10, "lines": 5, "query": nil, "after": nil,
			"ns": "possync", "key": "imported"}))
	}
	for _, s := range []string{
		`{"data":{"orders":{"pageInfo":{"hasNextPage":false},"nodes":[{"id":"gid://shopify/Order/1","name":"#1",` +
			`"updatedAt":"2026-11-02T15:04:05Z","cancelledAt":"2026-11-02T16:00:00Z","currentTotalPriceSet":{"shopMoney":{"amount":"NaN"}},` +
			`"lineItems":{"nodes":[{"quantity":1,"currentQuantity":0,"originalUnitPriceSet":{"shopMoney":{"amount":"1e400"}}}]}}]}}}`,
		`{"data":{"orders":{"nodes":[{"id":"gid://shopify/Order/2","updatedAt":"2026-11-02T15:04:05Z",` +
			`"currentTotalTaxSet":{"shopMoney":{"amount":"NaN"}},"currentTotalPriceSet":{"shopMoney":{"amount":"+Inf"}}}]}}}`,
		`{"data":{"orders":{"nodes":[{"id":"x","updatedAt":"0000-01-01T00:00:00+23:59","processedAt":"not a time"}]}}}`,
		`{"errors":[{"message":"Access denied for ` + fuzzToken + `","extensions":{"code":"ACCESS_DENIED"}}]}`,
		strings.Repeat("<p>", 60) + fuzzToken + "</p>", // an error page echoing the token where errorText cuts it
		`{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`,
		`{"data":{"orders":null}}`, `{"data":null}`, `null`, `{}`, ``, `{"data":{"orders":{"nodes":[null,{}]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var resp response
		jerr := json.Unmarshal(body, &resp)
		c := &client{}
		c.redact.Add(fuzzToken)
		var errs []gqlError
		if jerr == nil && len(resp.Errors) > 0 && resp.Errors[0] == '[' {
			_ = json.Unmarshal(resp.Errors, &errs)
		}
		// As for an answer that is not a 2xx: the text never holds the token, whole or cut short (its first 8
		// characters, spec.Redactor's mark of an echo).
		if msg := c.errorText(resp.Errors, errs, body); strings.Contains(strings.ToLower(msg), fuzzToken[:8]) {
			t.Fatalf("error text %q holds the token", msg)
		}
		if jerr != nil {
			return
		}
		var data ordersData
		if err := json.Unmarshal(resp.Data, &data); err != nil || data.Orders == nil {
			return
		}
		var recs []record.Record
		for i := range data.Orders.Nodes {
			o := &data.Orders.Nodes[i]
			id := o.LegacyResourceID
			if id == "" {
				id = gidTail(o.ID)
			}
			if id == "" || o.ID == "" {
				continue // the reading rejects it before mapping
			}
			r, updated, err := orderRecord(o, o.LineItems.Nodes, id)
			if err != nil {
				if err.Error() == "" {
					t.Fatalf("order %d: an empty reason", i)
				}
				continue
			}
			if r[order.ColOrderID] != id || r[order.ColOrigin] != Origin {
				t.Fatalf("order %q: order_id %v, origin %v", id, r[order.ColOrderID], r[order.ColOrigin])
			}
			if updated.IsZero() || updated.Location() != time.UTC || r[order.ColUpdatedAt] != updated {
				t.Fatalf("order %q: updated %v, updated_at %v", id, updated, r[order.ColUpdatedAt])
			}
			if v, set := r[order.ColPlacedAt]; set {
				if at, ok := v.(time.Time); !ok || at.Location() != time.UTC {
					t.Fatalf("order %q: placed_at %#v is not a UTC time", id, v)
				}
			}
			if fl := r[order.ColFulfilment]; fl != order.FulfilPickup && fl != order.FulfilDelivery {
				t.Fatalf("order %q: fulfilment %v", id, fl)
			}
			if r[order.ColCancelled] != (o.CancelledAt != "") {
				t.Fatalf("order %q: cancelled %v with cancelledAt %q", id, r[order.ColCancelled], o.CancelledAt)
			}
			for _, col := range []string{order.ColSubtotal, order.ColDiscount, order.ColShipping, order.ColTax, order.ColTotal} {
				if v, set := r[col]; set {
					if x, ok := v.(float64); !ok || math.IsNaN(x) || math.IsInf(x, 0) {
						t.Fatalf("order %q: %s = %#v", id, col, v)
					}
				}
			}
			text, _ := r[order.ColLines].(string)
			lines, err := order.DecodeLines(text)
			if err != nil || text == "" {
				t.Fatalf("order %q: lines %q do not decode: %v", id, text, err)
			}
			for n, l := range lines {
				if l.No != n+1 || math.IsNaN(l.UnitPrice) || math.IsInf(l.UnitPrice, 0) || math.IsNaN(l.Tax) || math.IsInf(l.Tax, 0) {
					t.Fatalf("order %q: line %d is %+v", id, n+1, l)
				}
			}
			if again, err := order.EncodeLines(lines); err != nil || again != text {
				t.Fatalf("order %q: lines %s re-encode to %s (%v)", id, text, again, err)
			}
			recs = append(recs, r)
		}
		alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer alloc.AssertSize(t, 0)
		b, err := record.BuildBatch(alloc, order.Schema(), recs)
		if err != nil {
			t.Fatalf("a mapped order does not fit order.Schema(): %v", err)
		}
		b.Release()
	})
}

// emulatorAnswer is the body the emulator, loaded with its example orders, answers to query.
func emulatorAnswer(f *testing.F, query string, vars map[string]any) []byte {
	f.Helper()
	srv := shopifytest.New(shopifytest.Options{})
	defer srv.Close()
	srv.LoadExample()
	base, err := url.Parse(srv.URL())
	if err != nil {
		f.Fatal(err)
	}
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		f.Fatal(err)
	}
	status, body, _, err := newClient(base, defaultAPIVersion, secret(srv.Token()), 10*time.Second).post(context.Background(), payload)
	if err != nil || status != 200 {
		f.Fatalf("emulator: HTTP %d, %v: %s", status, err, body)
	}
	return body
}
