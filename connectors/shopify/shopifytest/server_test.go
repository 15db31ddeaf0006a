package shopifytest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type answer struct {
	status     int
	Data       map[string]any `json:"data"`
	Errors     []map[string]any
	Extensions struct {
		Cost struct {
			RequestedQueryCost int
			ActualQueryCost    *int
			ThrottleStatus     struct{ MaximumAvailable, CurrentlyAvailable, RestoreRate float64 }
		}
	}
}

func post(t *testing.T, s *Server, token, query string, vars map[string]any) answer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/admin/api/2025-10/graphql.json", bytes.NewReader(body))
	req.Header.Set("X-Shopify-Access-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	a.status = resp.StatusCode
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return a
}

func newServer(t *testing.T, opts Options) (*Server, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)}
	opts.Now = clk.Now
	s := New(opts)
	t.Cleanup(s.Close)
	s.LoadExample()
	return s, clk
}

// The response holds exactly what was selected (aliases, inline fragments, variables and literals), and
// its cost follows Shopify's rules: requested from first, actual from what was returned, the difference
// refunded to the bucket.
func TestQueryAndCost(t *testing.T) {
	s, _ := newServer(t, Options{})
	q := `query Q($n: Int!) { # comment
	  orders(first: $n, sortKey: CREATED_AT, reverse: true) {
	    edges { cursor node { ... on Order { id num: name customer { legacyResourceId } } } }
	    pageInfo { hasNextPage }
	  }
	}`
	a := post(t, s, s.Token(), q, map[string]any{"n": 3})
	if a.status != 200 || len(a.Errors) > 0 {
		t.Fatalf("answer %d %v", a.status, a.Errors)
	}
	edges := a.Data["orders"].(map[string]any)["edges"].([]any)
	var names []string
	for _, e := range edges {
		node := e.(map[string]any)["node"].(map[string]any)
		names = append(names, node["num"].(string))
		if len(node) != 3 {
			t.Errorf("node has %v, want only id, num and customer", node)
		}
	}
	if strings.Join(names, " ") != "#1004 #1003 #1002" {
		t.Errorf("newest first: %v", names)
	}
	c := a.Extensions.Cost
	// 2 + 3 × (order 1 + customer 1); actual: 2 + 3 orders + 2 customers (#1004 is a guest).
	if c.RequestedQueryCost != 8 || c.ActualQueryCost == nil || *c.ActualQueryCost != 7 ||
		c.ThrottleStatus.CurrentlyAvailable != 993 || c.ThrottleStatus.RestoreRate != 50 {
		t.Errorf("cost %+v, want requested 8, actual 7, 993 available", c)
	}

	a = post(t, s, s.Token(), `{ orders(first: 2) { nodes { id colour } } }`, nil)
	if len(a.Errors) != 1 || !strings.Contains(a.Errors[0]["message"].(string), "Field 'colour' doesn't exist on type 'Order'") {
		t.Errorf("unknown field: %v", a.Errors)
	}
	a = post(t, s, s.Token(), `{ orders(first: 250) { nodes { id lineItems(first: 250) { nodes { id } } } } }`, nil)
	if len(a.Errors) != 1 || a.Errors[0]["extensions"].(map[string]any)["code"] != "MAX_COST_EXCEEDED" ||
		!strings.Contains(a.Errors[0]["message"].(string), "Query cost is 63252, which exceeds the single query max cost limit (1000)") {
		t.Errorf("over the single query limit: %v", a.Errors)
	}
	if a = post(t, s, "wrong", `{ shop { name } }`, nil); a.status != 401 {
		t.Errorf("wrong token: HTTP %d", a.status)
	}
}

// The bucket: a request costing more than is available is THROTTLED (no data, cost extensions); the bucket
// restores at restoreRate on the clock.
func TestThrottling(t *testing.T) {
	for _, status := range []int{0, 429} {
		s, clk := newServer(t, Options{BucketSize: 100, RestoreRate: 10, ThrottleStatus: status})
		// Requests 2 + 10 × 2 = 22; costs 2 + 4 orders + 3 customers = 9 (the rest is refunded).
		q := `{ orders(first: 10) { nodes { id customer { id } } } }`
		for i, want := range []float64{91, 82} {
			a := post(t, s, s.Token(), q, nil)
			if a.Extensions.Cost.RequestedQueryCost != 22 || a.Extensions.Cost.ThrottleStatus.CurrentlyAvailable != want {
				t.Fatalf("call %d: cost %+v, want 22 requested and %v left", i, a.Extensions.Cost, want)
			}
		}
		s.SetAvailable(21.5)
		a := post(t, s, s.Token(), q, nil)
		wantStatus := max(status, 200)
		if a.status != wantStatus || len(a.Errors) != 1 || a.Errors[0]["extensions"].(map[string]any)["code"] != "THROTTLED" ||
			a.Data != nil || a.Extensions.Cost.ActualQueryCost != nil || a.Extensions.Cost.ThrottleStatus.CurrentlyAvailable != 21 {
			t.Fatalf("throttled answer: %+v", a)
		}
		clk.advance(50 * time.Millisecond) // +0.5 point
		if a := post(t, s, s.Token(), q, nil); len(a.Errors) != 0 {
			t.Errorf("after the bucket restored: %v", a.Errors)
		}
		calls := s.Calls()
		if last := calls[len(calls)-2]; !last.Throttled || last.Requested != 22 {
			t.Errorf("recorded throttled call %+v", last)
		}
	}
}

// Search: an unquoted date-time keeps only its date; cursors hold the sort value, so an order updated after
// its page moves behind the cursor and is served again.
func TestSearchAndCursor(t *testing.T) {
	s, _ := newServer(t, Options{})
	q := `query($q: String, $after: String) { orders(first: 2, after: $after, query: $q, sortKey: UPDATED_AT) {
	  nodes { name } pageInfo { hasNextPage endCursor } } }`
	names := func(a answer) string {
		var out []string
		for _, n := range a.Data["orders"].(map[string]any)["nodes"].([]any) {
			out = append(out, n.(map[string]any)["name"].(string))
		}
		return strings.Join(out, " ")
	}
	at := ExampleTime.Add(150 * time.Minute).Format(time.RFC3339)
	if got := names(post(t, s, s.Token(), q, map[string]any{"q": "updated_at:>'" + at + "'"})); got != "#1003 #1004" {
		t.Errorf("quoted filter: %s", got)
	}
	if got := names(post(t, s, s.Token(), q, map[string]any{"q": "updated_at:>" + at})); got != "#1001 #1002" {
		t.Errorf("unquoted filter (date only, whole day): %s", got)
	}
	if got := names(post(t, s, s.Token(), q, map[string]any{"q": "-tag:web"})); got != "#1002 #1003" {
		t.Errorf("-tag:web: %s", got)
	}
	page1 := post(t, s, s.Token(), q, nil)
	cursor := page1.Data["orders"].(map[string]any)["pageInfo"].(map[string]any)["endCursor"]
	s.UpdateOrder(OrderDelivery, ExampleTime.Add(10*time.Hour), func(*Order) {})
	if got := names(post(t, s, s.Token(), q, map[string]any{"after": cursor})); got != "#1003 #1004" {
		t.Errorf("page 2: %s", got)
	}
	all := post(t, s, s.Token(), `{ orders(first: 10, sortKey: UPDATED_AT) { nodes { name } } }`, nil)
	if got := names(all); got != "#1002 #1003 #1004 #1001" {
		t.Errorf("after the update: %s", got)
	}
}

// tagsAdd adds a tag once and moves updatedAt; metafieldsSet is atomic and takes at most 25 inputs.
func TestMutations(t *testing.T) {
	s, clk := newServer(t, Options{})
	m := `mutation($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } } }`
	id := GID("Order", OrderPickup)
	for range 2 {
		a := post(t, s, s.Token(), m, map[string]any{"id": id, "tags": []string{"possync-imported"}})
		if ue := a.Data["tagsAdd"].(map[string]any)["userErrors"].([]any); len(ue) != 0 || a.Extensions.Cost.RequestedQueryCost != 10 {
			t.Fatalf("tagsAdd: %v, cost %d", ue, a.Extensions.Cost.RequestedQueryCost)
		}
		clk.advance(time.Minute)
	}
	o, _ := s.Order(OrderPickup)
	if len(o.Tags) != 1 || !o.UpdatedAt.Equal(time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("tags %v updated %v: one tag, updatedAt moved by the first call only", o.Tags, o.UpdatedAt)
	}
	a := post(t, s, s.Token(), m, map[string]any{"id": GID("Order", 1), "tags": []string{"x"}})
	if ue := a.Data["tagsAdd"].(map[string]any)["userErrors"].([]any); len(ue) != 1 {
		t.Errorf("unknown order: %v", ue)
	}

	ms := `mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { metafields { key } userErrors { field message code } } }`
	in := func(owner int64) map[string]any {
		return map[string]any{"ownerId": GID("Order", owner), "namespace": "possync", "key": "imported_at",
			"type": "single_line_text_field", "value": "2026-11-03T00:00:00Z"}
	}
	a = post(t, s, s.Token(), ms, map[string]any{"m": []any{in(OrderGuest), in(5)}})
	ue := a.Data["metafieldsSet"].(map[string]any)["userErrors"].([]any)
	if len(ue) != 1 || strings.Join(toStrings(ue[0].(map[string]any)["field"]), ".") != "metafields.1.ownerId" {
		t.Errorf("userErrors %v", ue)
	}
	if o, _ := s.Order(OrderGuest); len(o.Metafields) != 0 {
		t.Errorf("metafieldsSet is atomic: %v saved", o.Metafields)
	}
	var many []any
	for range 26 {
		many = append(many, in(OrderGuest))
	}
	if a = post(t, s, s.Token(), ms, map[string]any{"m": many}); len(a.Errors) != 1 {
		t.Errorf("26 inputs: %v", a.Errors)
	}
	a = post(t, s, s.Token(), ms, map[string]any{"m": []any{in(OrderGuest)}})
	if o, _ := s.Order(OrderGuest); o.Metafields["possync.imported_at"].Value != "2026-11-03T00:00:00Z" {
		t.Errorf("metafield not saved: %v %v", a.Errors, o.Metafields)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

// Injected faults answer one matching request each.
func TestFaults(t *testing.T) {
	s, _ := newServer(t, Options{})
	s.Fail(Fault{Operation: "tagsAdd", Status: 500})
	s.Fail(Fault{Malformed: true})
	q := `{ orders(first: 1) { nodes { id } } }`
	body, _ := json.Marshal(map[string]any{"query": q})
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/admin/api/2025-10/graphql.json", bytes.NewReader(body))
	req.Header.Set("X-Shopify-Access-Token", s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.NewDecoder(resp.Body).Decode(&v); err == nil {
		t.Errorf("the malformed fault answered valid JSON")
	}
	resp.Body.Close()
	if a := post(t, s, s.Token(), q, nil); len(a.Errors) != 0 {
		t.Errorf("the next orders query: %v (the tagsAdd fault must wait for a tagsAdd)", a.Errors)
	}
	s.Fail(Fault{GraphQLError: "boom"})
	if a := post(t, s, s.Token(), q, nil); len(a.Errors) != 1 || a.Errors[0]["message"] != "boom" {
		t.Errorf("GraphQL error fault: %v", a.Errors)
	}
	calls := s.Calls()
	if len(calls) != 3 || !calls[0].Fault || calls[1].Fault || !calls[2].Fault {
		t.Errorf("recorded %+v", calls)
	}
}
