package ecomtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// call sends one request to the store and decodes the JSON answer into out (when not nil).
func call(t *testing.T, s *Server, token, method, path string, body any, out any) (int, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.URL()+"/"+s.StoreID()+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	return resp.StatusCode, resp.Header
}

func TestErrorsAsDocumented(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.Seed(DocExamples()...)
	var orange Product
	for _, p := range s.Products() {
		if p.SKU == "00099" {
			orange = p
		}
	}
	cases := []struct {
		name         string
		token        string
		method, path string
		body         any
		status       int
		code         string
	}{
		{"wrong token", "secret_nope", "GET", "/products", nil, 403, "INVALID_API_TOKEN"},
		{"unknown product", s.Token(), "GET", "/products/1", nil, 404, "PRODUCT_NOT_FOUND"},
		{"duplicate SKU", s.Token(), "POST", "/products", map[string]any{"name": "Again", "sku": "00099"}, 409, "SKU_ALREADY_EXISTS"},
		{"duplicate variation SKU", s.Token(), "POST", "/products", map[string]any{"name": "Again", "sku": "00007-S-RED"}, 409, "SKU_ALREADY_EXISTS"},
		{"negative price", s.Token(), "PUT", fmt.Sprintf("/products/%d", orange.ID), map[string]any{"price": -1}, 400, "WRONG_PARAMETER"},
		{"no name", s.Token(), "POST", "/products", map[string]any{"sku": "X"}, 400, "WRONG_PARAMETER"},
		{"unknown category", s.Token(), "POST", "/products", map[string]any{"name": "X", "categoryIds": []int{42}}, 404, "CATEGORIES_NOT_FOUND"},
		{"unknown combination", s.Token(), "PUT", fmt.Sprintf("/products/%d/combinations/9", orange.ID), map[string]any{"price": 1}, 404, "COMBINATION_NOT_FOUND"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e struct{ ErrorMessage, ErrorCode string }
			status, _ := call(t, s, c.token, c.method, c.path, c.body, &e)
			if status != c.status || e.ErrorCode != c.code || e.ErrorMessage == "" {
				t.Errorf("got %d %+v, want %d %s with a message", status, e, c.status, c.code)
			}
		})
	}
	if got := len(s.Products()); got != 2 {
		t.Errorf("refused writes changed the catalog: %d products", got)
	}
}

func TestSearchPagesAndSKU(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	var ps []Product
	for i := 0; i < 250; i++ {
		ps = append(ps, Product{SKU: fmt.Sprintf("P%03d", i), Name: "P", Price: 1})
	}
	s.Seed(ps...)
	s.Seed(DocExamples()...)
	var env Envelope[json.RawMessage]
	call(t, s, s.Token(), "GET", "/products?offset=200&limit=500", nil, &env)
	if env.Total != 252 || env.Count != 52 || env.Limit != 100 || env.Offset != 200 {
		t.Errorf("page = total %d count %d limit %d offset %d, want 252 52 100 200", env.Total, env.Count, env.Limit, env.Offset)
	}
	var bySKU Envelope[Product]
	call(t, s, s.Token(), "GET", "/products?sku=00007-L-WHITE", nil, &bySKU)
	if bySKU.Total != 1 || bySKU.Items[0].SKU != "00007" || len(bySKU.Items[0].Combinations) != 2 {
		t.Errorf("sku of a variation found %+v, want the radish with its 2 combinations", bySKU)
	}
	var raw Envelope[map[string]any]
	call(t, s, s.Token(), "GET", "/products?sku=00099", nil, &raw)
	if _, ok := raw.Items[0]["quantity"]; !ok || raw.Items[0]["inStock"] != true {
		t.Errorf("tracked product lacks quantity or inStock: %v", raw.Items[0])
	}
}

func TestCombinationCreatesOptions(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	id := s.Seed(Product{SKU: "TEE", Name: "Tee", Price: 20})[0]
	var out struct{ ID int64 }
	status, _ := call(t, s, s.Token(), "POST", fmt.Sprintf("/products/%d/combinations", id),
		map[string]any{"sku": "TEE-M", "options": []OptionValue{{Name: "Size", Value: "M"}}, "quantity": 4}, &out)
	if status != 200 || out.ID == 0 {
		t.Fatalf("create combination: %d %+v", status, out)
	}
	p, _ := s.Find("TEE-M")
	if len(p.Options) != 1 || p.Options[0].Name != "Size" || p.Options[0].Type != "SELECT" || p.Options[0].Choices[0].Text != "M" {
		t.Errorf("options = %+v, want a Size drop-down with M", p.Options)
	}
	if c := p.Combinations[0]; c.Quantity != 4 || c.Unlimited {
		t.Errorf("combination stock = %d unlimited %v, want 4 tracked", c.Quantity, c.Unlimited)
	}
}

func TestRateLimitAndFailures(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s := New(Options{RateLimit: 2, Window: time.Minute, Now: func() time.Time { return now }})
	defer s.Close()
	var statuses []int
	for i := 0; i < 3; i++ {
		st, h := call(t, s, s.Token(), "GET", "/products", nil, nil)
		statuses = append(statuses, st)
		if st == 429 && h.Get("Retry-After") != "60" {
			t.Errorf("Retry-After = %q, want 60", h.Get("Retry-After"))
		}
	}
	now = now.Add(time.Minute)
	st, _ := call(t, s, s.Token(), "GET", "/products", nil, nil)
	statuses = append(statuses, st)
	s.FailNext(1, 503, "")
	st, _ = call(t, s, s.Token(), "GET", "/profile", nil, nil)
	statuses = append(statuses, st)
	if fmt.Sprint(statuses) != "[200 200 429 200 503]" {
		t.Errorf("statuses = %v, want [200 200 429 200 503]", statuses)
	}
}

func TestBatchTicket(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	reqs := []map[string]any{
		{"id": "a", "path": "/products", "method": "POST", "body": map[string]any{"name": "A", "sku": "A", "price": 1}},
		{"id": "b", "path": "/products", "method": "POST", "body": `{"name":"B","sku":"B","price":-1}`},
		{"id": "c", "path": "products", "method": "POST", "body": map[string]any{"name": "C", "sku": "C"}},
	}
	var tk struct{ Ticket string }
	call(t, s, s.Token(), "POST", "/batch?stopOnFirstFailure=false&deduplicationKey=k1", reqs, &tk)
	var again struct{ Ticket string }
	call(t, s, s.Token(), "POST", "/batch?deduplicationKey=k1", reqs, &again)
	if tk.Ticket == "" || again.Ticket != tk.Ticket {
		t.Fatalf("tickets %q then %q: a repeated deduplicationKey must return the same ticket", tk.Ticket, again.Ticket)
	}
	var seen []string
	var last struct {
		Status    string
		Responses []SubResponse
	}
	for i := 0; i < 3; i++ {
		call(t, s, s.Token(), "GET", "/batch?ticket="+tk.Ticket, nil, &last)
		seen = append(seen, last.Status)
	}
	if strings.Join(seen, ",") != "QUEUED,IN_PROGRESS,COMPLETED" {
		t.Errorf("statuses = %v", seen)
	}
	var got []string
	for _, r := range last.Responses {
		got = append(got, fmt.Sprintf("%s:%s:%d", r.ID, r.Status, r.HTTPStatusCode))
	}
	if strings.Join(got, " ") != "a:COMPLETED:200 b:FAILED:400 c:COMPLETED:200" {
		t.Errorf("responses = %v", got)
	}
	if n := len(s.Products()); n != 2 {
		t.Errorf("%d products, want 2 (the ticket ran once despite the repeated creation)", n)
	}
	for _, w := range s.Writes() {
		if w.Ticket != tk.Ticket {
			t.Errorf("write %s %s not marked with its ticket", w.Method, w.Path)
		}
	}
}

func TestDropNextAppliesThenDrops(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.DropNext(1)
	req, _ := http.NewRequest("POST", s.URL()+"/"+s.StoreID()+"/products", strings.NewReader(`{"name":"A","sku":"A"}`))
	req.Header.Set("Authorization", "Bearer "+s.Token())
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("got an answer %d, want the connection dropped", resp.StatusCode)
	}
	if _, ok := s.Find("A"); !ok {
		t.Errorf("the dropped write was not applied")
	}
}

// TestOutage: an outage of POST /products answers direct creations and those of batch tickets alike, leaves
// other requests alone, creates nothing, and ends with EndOutage.
func TestOutage(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.Outage("POST", "/products", 500)
	var e struct{ ErrorCode string }
	st, _ := call(t, s, s.Token(), "POST", "/products", map[string]any{"sku": "A", "name": "A"}, &e)
	if st != 500 || e.ErrorCode != "INTERNAL_ERROR" {
		t.Errorf("direct POST: %d %s, want 500 INTERNAL_ERROR", st, e.ErrorCode)
	}
	if st, _ := call(t, s, s.Token(), "GET", "/products", nil, nil); st != 200 {
		t.Errorf("GET during a POST outage: %d", st)
	}
	reqs := []map[string]any{{"id": "b", "path": "/products", "method": "POST", "body": map[string]any{"sku": "B", "name": "B"}}}
	var tk struct{ Ticket string }
	call(t, s, s.Token(), "POST", "/batch?stopOnFirstFailure=false", reqs, &tk)
	var last struct{ Responses []SubResponse }
	for i := 0; i < 3; i++ {
		call(t, s, s.Token(), "GET", "/batch?ticket="+tk.Ticket, nil, &last)
	}
	if len(last.Responses) != 1 || last.Responses[0].HTTPStatusCode != 500 {
		t.Errorf("batch creation during the outage: %+v, want a 500", last.Responses)
	}
	if n := len(s.Products()); n != 0 {
		t.Errorf("%d products created during the outage", n)
	}
	s.EndOutage()
	if st, _ := call(t, s, s.Token(), "POST", "/products", map[string]any{"sku": "A", "name": "A"}, nil); st != 200 {
		t.Errorf("POST after the outage: %d", st)
	}
}
