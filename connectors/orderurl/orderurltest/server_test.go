package orderurltest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, s *Server, params map[string]string) (int, string) {
	t.Helper()
	q := url.Values{"ver": {"2.00"}, "merchant": {s.Merchant()}, "URLkey": {s.URLKey()}}
	for k, v := range params {
		q.Set(k, v)
	}
	resp, err := http.Get(s.URL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEmulatorProtocol(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	orders := Generate(2, 1, time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC), "")
	s.Add(orders...)

	if code, body := get(t, s, map[string]string{"method": "Orders", "URLkey": "guess"}); code != http.StatusForbidden || strings.Contains(body, "<WebOrders") {
		t.Fatalf("wrong key: %d %q", code, body)
	}
	if code, _ := get(t, s, map[string]string{"method": "Orders", "ver": "1.00"}); code != http.StatusBadRequest {
		t.Fatalf("version 1.00 asked: %d", code)
	}
	code, body := get(t, s, map[string]string{"method": "Orders"})
	if code != 200 || !strings.Contains(body, "<NumberOfOrders>2</NumberOfOrders>") || !strings.Contains(body, orders[1].ID) {
		t.Fatalf("download: %d %q", code, body)
	}
	if _, body := get(t, s, map[string]string{"method": "UpdateOrder", "OrderNumber": orders[0].ID}); !strings.Contains(body, "<Success>true") {
		t.Fatalf("UpdateOrder: %q", body)
	}
	if o, _ := s.Order(orders[0].ID); o.Status != "Being Processed" {
		t.Fatalf("status after the confirm %q: the site's Status Change was not applied", o.Status)
	}
	if _, body := get(t, s, map[string]string{"method": "UpdateStatus", "OrderNumber": "nope", "OrderStatus": "Completed"}); !strings.Contains(body, "<Success>false") {
		t.Fatalf("UpdateStatus of an unknown order: %q", body)
	}
	if _, body := get(t, s, map[string]string{"method": "Orders"}); strings.Contains(body, orders[0].ID) || !strings.Contains(body, "<NumberOfOrders>1<") {
		t.Fatalf("a confirmed order is served again: %q", body)
	}
	s.SetNumberOfOrders(7)
	if _, body := get(t, s, map[string]string{"method": "Orders"}); !strings.Contains(body, "<NumberOfOrders>7<") {
		t.Fatalf("count override not served")
	}
	calls := s.Calls()
	if len(calls) != 7 || calls[0].Status != http.StatusForbidden || calls[3].Method != "UpdateOrder" || calls[3].OrderNumber != orders[0].ID {
		t.Fatalf("calls %+v", calls)
	}
}
