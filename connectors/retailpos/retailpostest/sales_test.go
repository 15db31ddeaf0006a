package retailpostest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// post sends body as JSON to path (under the server's root, e.g. SalesPath) and decodes the answer.
func post(t *testing.T, s *Server, path string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, strings.TrimSuffix(s.URL(), APIPath)+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func TestSalesEndpoints(t *testing.T) {
	s, _ := newServer(t, Options{})
	o := s.AddOutlet(Outlet{Name: "Main Street"})
	reg := s.AddRegister(Register{Name: "Main 1", OutletID: o.ID})
	tax := s.AddTax(Tax{Name: "No Tax"})
	p := s.Upsert(Product{SKU: "CHAIN-1", Active: true})
	c := s.AddCustomer(Customer{FirstName: "Jane", LastName: "Doe", Email: "Jane@Bikes.test"})
	line := map[string]any{"product": map[string]any{"id": p.ID}, "quantity": 2, "pricing": map[string]any{"price": 24.99},
		"tax": map[string]any{"id": tax.ID, "amount": 0}}
	sale := func(edit func(map[string]any)) map[string]any {
		m := map[string]any{"id": "sale-1", "state": "pending", "attributes": []string{"layby", "pickup"}, "customer_id": c.ID,
			"invoice_number": "WEB-1", "source": map[string]any{"author_id": "u1", "register_id": reg.ID, "id": "1", "type": "possync"},
			"line_items": []any{line}}
		if edit != nil {
			edit(m)
		}
		return m
	}
	for name, tt := range map[string]struct {
		edit func(map[string]any)
		want string
	}{
		"no author":     {func(m map[string]any) { m["source"].(map[string]any)["author_id"] = "" }, "author_id"},
		"layby, nobody": {func(m map[string]any) { delete(m, "customer_id") }, "needs a customer"},
		"both kinds":    {func(m map[string]any) { m["attributes"] = []string{"layby", "onaccount"} }, "mutually exclusive"},
		"unknown product": {func(m map[string]any) {
			m["line_items"] = []any{map[string]any{"product": map[string]any{"id": "nope"}, "quantity": 1,
				"pricing": map[string]any{"price": 1}, "tax": map[string]any{"id": tax.ID}}}
		}, "is not a product"},
		"unknown register": {func(m map[string]any) { m["source"].(map[string]any)["register_id"] = "r?" }, "is not a register"},
	} {
		status, body := post(t, s, SalesPath, sale(tt.edit))
		if status != http.StatusBadRequest || !strings.Contains(body["message"].(string), tt.want) {
			t.Errorf("%s: %d %v, want 400 saying %q", name, status, body, tt.want)
		}
	}
	if status, body := post(t, s, SalesPath, sale(nil)); status != http.StatusOK || body["data"].(map[string]any)["id"] != "sale-1" ||
		body["data"].(map[string]any)["status"] != "LAYBY" || body["data"].(map[string]any)["outlet_id"] != o.ID {
		t.Fatalf("create: %d %v, want the sale with our id, status LAYBY, at the register's outlet", status, body)
	}
	// A second POST with the same id: a second sale with another id (the worst reading of the documentation).
	if _, body := post(t, s, SalesPath, sale(nil)); body["data"].(map[string]any)["id"] == "sale-1" {
		t.Error("a second sale kept the id of the first")
	}
	if n := len(s.Sales()); n != 2 {
		t.Errorf("%d sales, want 2", n)
	}
	if status, _, body := get(t, s, "/sales/sale-1"); status != http.StatusOK || body["data"].(map[string]any)["invoice_number"] != "WEB-1" {
		t.Errorf("GET /sales/sale-1: %d %v", status, body)
	}
	if status, _, _ := get(t, s, "/sales/nope"); status != http.StatusNotFound {
		t.Errorf("GET /sales/nope: %d, want 404", status)
	}
	_, _, body := get(t, s, "/search?type=sales&invoice_number=WEB-1&page_size=1")
	if len(data(body)) != 1 || body["total_count"] != float64(2) {
		t.Errorf("search sales by invoice number: %v, want a page of 1 of 2", body)
	}
	_, _, body = get(t, s, "/search?type=customers&email=jane@bikes.TEST")
	if d := data(body); len(d) != 1 || d[0]["id"] != c.ID {
		t.Errorf("search customers by email: %v, want Jane (case-insensitive)", body)
	}

	// Customers: names required; act-then-fail creates and answers 500.
	if status, _ := post(t, s, CustomersPath, map[string]any{"first_name": "Ann"}); status != http.StatusBadRequest {
		t.Errorf("customer without a last name: %d, want 400", status)
	}
	s.ActThenFail(1, Fail500)
	if status, _ := post(t, s, CustomersPath, map[string]any{"first_name": "Ann", "last_name": "Lee", "customer_code": "WEB-7"}); status != http.StatusInternalServerError {
		t.Errorf("act-then-fail: %d, want 500", status)
	}
	_, _, body = get(t, s, "/search?type=customers&customer_code=WEB-7")
	if len(data(body)) != 1 {
		t.Errorf("the customer of the failed answer is not there: %v", body)
	}
}
