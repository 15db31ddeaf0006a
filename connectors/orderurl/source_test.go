package orderurl

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/connectors/orderurl/orderurltest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// newTestSource builds a source against the emulator; backoff waits are skipped (recorded instead).
func newTestSource(t *testing.T, site *orderurltest.Server, extra map[string]any) (*Source, *[]time.Duration) {
	t.Helper()
	vals := map[string]any{"url": site.URL(), "merchant": site.Merchant(), "url_key": spec.NewSecret(site.URLKey())}
	for k, v := range extra {
		vals[k] = v
	}
	s, err := NewSource(spec.Config{Values: vals}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	s.c.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return s, &waits
}

// readAll reads the source once and returns its records and result.
func readAll(t *testing.T, s *Source) ([]record.Record, connectors.ReadResult, error) {
	t.Helper()
	rd, err := s.Read(t.Context(), connectors.ReadRequest{})
	if err != nil {
		return nil, connectors.ReadResult{}, err
	}
	defer rd.Close()
	var out []record.Record
	for {
		b, err := rd.Next(t.Context())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < int(b.NumRows()); i++ {
			out = append(out, record.RowRecord(b, i))
		}
		b.Release()
	}
	return out, rd.Result(), nil
}

func ids(recs []record.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r[order.ColOrderID].(string))
	}
	return out
}

var day = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

func TestSourceRetries503ThenSucceeds(t *testing.T) {
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	site.Add(orderurltest.Generate(2, 1, day, "")...)
	site.Inject(orderurltest.Fault{Kind: orderurltest.Unavailable, Times: 2})
	s, waits := newTestSource(t, site, nil)
	recs, res, err := readAll(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || res.Mode != connectors.Snapshot || res.Key[0] != order.ColOrderID {
		t.Fatalf("%d records, result %+v", len(recs), res)
	}
	calls := site.CallsOf("Orders")
	if len(calls) != 3 || calls[0].Status != 503 || calls[1].Status != 503 || calls[2].Status != 200 {
		t.Fatalf("calls %+v: want 503, 503, 200", calls)
	}
	if len(*waits) != 2 || (*waits)[1] < (*waits)[0]/2 {
		t.Fatalf("backoff waits %v: want two, growing", *waits)
	}
}

func TestSourceGivesUpAfterRetriesWithoutTheKey(t *testing.T) {
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	site.Inject(orderurltest.Fault{Kind: orderurltest.Unavailable, Times: -1})
	s, _ := newTestSource(t, site, map[string]any{"retries": int64(2)})
	_, _, err := readAll(t, s)
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("err %v: want the 503 after 3 attempts", err)
	}
	if strings.Contains(err.Error(), site.URLKey()) || strings.Contains(err.Error(), "URLkey") {
		t.Fatalf("err %q shows the URL key or the URL", err)
	}
}

func TestSourceRetriesATimeout(t *testing.T) {
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	site.Add(orderurltest.Generate(1, 1, day, "")...)
	site.Inject(orderurltest.Fault{Kind: orderurltest.Hang})
	s, waits := newTestSource(t, site, map[string]any{"timeout": 300 * time.Millisecond})
	recs, _, err := readAll(t, s)
	if err != nil || len(recs) != 1 || len(*waits) != 1 {
		t.Fatalf("read after a timeout: %v, %d records, %d waits; want the order after one retry", err, len(recs), len(*waits))
	}
}

func TestSourceRefusesBadDownloads(t *testing.T) {
	for _, tc := range []struct {
		fault orderurltest.FaultKind
		want  string
	}{
		{orderurltest.Truncated, "malformed at line"},
		{orderurltest.Malformed, "closed by </OrderID>"},
		{orderurltest.WrongVersion, "set API Version to Version 2"},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			site := orderurltest.New(orderurltest.Options{})
			defer site.Close()
			site.Add(orderurltest.Generate(3, 1, day, "")...)
			site.Inject(orderurltest.Fault{Kind: tc.fault})
			s, _ := newTestSource(t, site, nil)
			if _, _, err := readAll(t, s); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if recs, _, err := readAll(t, s); err != nil || len(recs) != 3 {
				t.Fatalf("next read: %v, %d records; want all 3 orders", err, len(recs))
			}
		})
	}
}

func TestSourceWrongKeyIsRefusedWithoutShowingIt(t *testing.T) {
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	s, _ := newTestSource(t, site, map[string]any{"url_key": spec.NewSecret("wrong-key-123")})
	err := s.Check(t.Context())
	var ce *callError
	if !errors.As(err, &ce) || ce.Status != http.StatusForbidden || strings.Contains(err.Error(), "wrong-key-123") {
		t.Fatalf("check with a wrong key: %v", err)
	}
}

func TestConfirmUpdatesOrderThenStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status any // status_after_import; nil: default
		want   string
		calls  int
	}{
		{"default", nil, "Being Processed", 2},
		{"custom", "In Store Queue", "In Store Queue", 2},
		{"off", "", "Being Processed", 1}, // the site's own status change on UpdateOrder only
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := orderurltest.New(orderurltest.Options{})
			defer site.Close()
			orders := orderurltest.Generate(2, 1, day, "")
			site.Add(orders...)
			extra := map[string]any{}
			if tc.status != nil {
				extra["status_after_import"] = tc.status
			}
			s, _ := newTestSource(t, site, extra)
			keys := []record.Record{{order.ColOrderID: orders[0].ID}, {order.ColOrderID: "no-such-order"}}
			out, err := s.Confirm(t.Context(), keys)
			if err != nil || len(out) != 2 || out[0] != nil || out[1] == nil || !strings.Contains(out[1].Error(), "not found") {
				t.Fatalf("confirm: %v, outcomes %v", err, out)
			}
			if got, _ := site.Order(orders[0].ID); !site.Confirmed(orders[0].ID) || got.Status != tc.want {
				t.Fatalf("order: confirmed %t status %q, want %q", site.Confirmed(orders[0].ID), got.Status, tc.want)
			}
			if n := len(site.Calls()); n != tc.calls+1 {
				t.Fatalf("%d calls %+v, want %d for the order and 1 for the unknown one", n, site.Calls(), tc.calls)
			}
			if p := site.Pending(); len(p) != 1 || p[0] != orders[1].ID {
				t.Fatalf("pending %v: the confirmed order must leave the export", p)
			}
			// Idempotent: confirming again is harmless.
			if out, err := s.Confirm(t.Context(), keys[:1]); err != nil || out[0] != nil {
				t.Fatalf("second confirm: %v %v", err, out)
			}
		})
	}
}

func TestConfirmStopsOnARefusedKey(t *testing.T) {
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	orders := orderurltest.Generate(3, 1, day, "")
	site.Add(orders...)
	s, _ := newTestSource(t, site, map[string]any{"url_key": spec.NewSecret("revoked")})
	keys := []record.Record{{order.ColOrderID: orders[0].ID}, {order.ColOrderID: orders[1].ID}}
	out, err := s.Confirm(t.Context(), keys)
	if err == nil || len(site.Calls()) != 1 || !errors.Is(out[1], connectors.ErrNotAttempted) {
		t.Fatalf("confirm with a refused key: %v, outcomes %v, %d calls; want a stop after the first call", err, out, len(site.Calls()))
	}
}

func TestExportModes(t *testing.T) {
	supplier := func(o *orderurltest.Order) {
		o.Items = append(o.Items, orderurltest.Item{ID: "900", Code: "TREK-DROP", Quantity: 1, UnitPrice: 50,
			SupplierFulfilled: true, SupplierStatus: orderurltest.SupplierRequested})
	}
	t.Run("new orders, supplier hold", func(t *testing.T) {
		site := orderurltest.New(orderurltest.Options{Mode: orderurltest.ModeNew})
		defer site.Close()
		orders := orderurltest.Generate(2, 1, day, "")
		supplier(&orders[1])
		site.Add(orders...)
		s, _ := newTestSource(t, site, nil)
		recs, _, _ := readAll(t, s)
		if got := ids(recs); len(got) != 1 || got[0] != orders[0].ID {
			t.Fatalf("read %v: want only %s (the other waits for its supplier)", got, orders[0].ID)
		}
		site.SetSupplierStatus(orders[1].ID, 2, orderurltest.SupplierShipped)
		recs, _, _ = readAll(t, s)
		if len(recs) != 2 {
			t.Fatalf("after the supplier shipped: %v, want both", ids(recs))
		}
		lines, _ := order.DecodeLines(recs[1][order.ColLines].(string))
		if len(lines) != 2 || !lines[1].SupplierFulfilled || lines[0].SupplierFulfilled {
			t.Fatalf("lines %+v: want the supplier line flagged", lines)
		}
	})
	t.Run("all fulfilled", func(t *testing.T) {
		site := orderurltest.New(orderurltest.Options{Mode: orderurltest.ModeFulfilled})
		defer site.Close()
		orders := orderurltest.Generate(2, 1, day, "")
		supplier(&orders[1])
		site.Add(orders...)
		s, _ := newTestSource(t, site, nil)
		if recs, _, _ := readAll(t, s); len(recs) != 0 {
			t.Fatalf("read %v: nothing is fulfilled yet", ids(recs))
		}
		site.SetFulfilled(orders[0].ID, 0)
		site.SetFulfilled(orders[1].ID, 1)
		recs, _, _ := readAll(t, s)
		if got := ids(recs); len(got) != 1 || got[0] != orders[0].ID {
			t.Fatalf("read %v: want %s only (the other has an unfulfilled supplier line)", got, orders[0].ID)
		}
		site.SetFulfilled(orders[1].ID, 2)
		if recs, _, _ := readAll(t, s); len(recs) != 2 {
			t.Fatalf("read %v: want both once every line is fulfilled", ids(recs))
		}
	})
	t.Run("manual", func(t *testing.T) {
		site := orderurltest.New(orderurltest.Options{Mode: orderurltest.ModeManual})
		defer site.Close()
		orders := orderurltest.Generate(2, 1, day, "")
		site.Add(orders...)
		s, _ := newTestSource(t, site, nil)
		if recs, _, _ := readAll(t, s); len(recs) != 0 {
			t.Fatalf("read %v: nothing is ticked for export", ids(recs))
		}
		site.MarkForExport(orders[1].ID)
		if recs, _, _ := readAll(t, s); len(recs) != 1 || recs[0][order.ColOrderID] != orders[1].ID {
			t.Fatalf("read %v: want the ticked order", ids(recs))
		}
	})
}

func TestPickupAndDeliveryByLocation(t *testing.T) {
	site := orderurltest.New(orderurltest.Options{PrimaryLocation: "Main Street"})
	defer site.Close()
	orders := orderurltest.Generate(6, 1, day, "Downtown Store") // 3 and 6 are pickups
	site.Add(orders...)
	for _, tc := range []struct {
		location string
		pickups  int
		total    int
	}{{"", 2, 6}, {"Downtown Store", 2, 2}, {"Main Street", 0, 4}, {"Uptown", 0, 0}} {
		s, _ := newTestSource(t, site, map[string]any{"location": tc.location})
		recs, _, err := readAll(t, s)
		if err != nil {
			t.Fatal(err)
		}
		pickups := 0
		for _, r := range recs {
			switch r[order.ColFulfilment] {
			case order.FulfilPickup:
				pickups++
				if r[order.ColPickupLocation] != "Downtown Store" || r[order.ColShippingMethod] != "In-Store Pickup - FREE" {
					t.Errorf("pickup %v at %v via %v", r[order.ColOrderID], r[order.ColPickupLocation], r[order.ColShippingMethod])
				}
			case order.FulfilDelivery:
				if r[order.ColPickupLocation] != nil || r[order.ColShipAddress1] == nil {
					t.Errorf("delivery %v: pickup location %v, ship-to %v", r[order.ColOrderID], r[order.ColPickupLocation], r[order.ColShipAddress1])
				}
			}
		}
		if len(recs) != tc.total || pickups != tc.pickups {
			t.Errorf("location %q: %d orders, %d pickups; want %d, %d", tc.location, len(recs), pickups, tc.total, tc.pickups)
		}
		calls := site.CallsOf("Orders")
		if last := calls[len(calls)-1]; last.Location != tc.location {
			t.Errorf("location parameter %q, want %q", last.Location, tc.location)
		}
	}
}

func TestNewSourceChecksSettings(t *testing.T) {
	base := map[string]any{"url": "https://shop.example/export", "merchant": "1234", "url_key": spec.NewSecret("k-1")}
	for _, tc := range []struct {
		set  map[string]any
		want string
	}{
		{map[string]any{"url": "ftp://shop"}, "http(s) Download Order URL"},
		{map[string]any{"url": "https://shop.example/export?method=Orders&URLkey=k-1"}, "remove it from url"},
		{map[string]any{"merchant": " "}, "merchant is required"},
		{map[string]any{"url_key": spec.NewSecret("")}, "url_key is required"},
		{map[string]any{"timezone": "Mars/Base"}, "not an IANA time zone"},
	} {
		vals := map[string]any{}
		for k, v := range base {
			vals[k] = v
		}
		for k, v := range tc.set {
			vals[k] = v
		}
		if _, err := NewSource(spec.Config{Values: vals}, connectors.Env{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.set, err, tc.want)
		} else if strings.Contains(err.Error(), "k-1") {
			t.Errorf("%v: err %q shows the URL key", tc.set, err)
		}
	}
}

func TestConfirmLeavesACancelledOrdersStatus(t *testing.T) {
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	orders := orderurltest.Generate(2, 1, day, "")
	orders[1].Status = "Cancelled"
	site.Add(orders...)
	s, _ := newTestSource(t, site, nil)
	if _, _, err := readAll(t, s); err != nil {
		t.Fatal(err)
	}
	keys := []record.Record{{order.ColOrderID: orders[0].ID}, {order.ColOrderID: orders[1].ID}}
	if out, err := s.Confirm(t.Context(), keys); err != nil || out[0] != nil || out[1] != nil {
		t.Fatalf("confirm: %v %v", err, out)
	}
	got, _ := site.Order(orders[1].ID)
	if !site.Confirmed(orders[1].ID) || got.Status != "Cancelled" {
		t.Fatalf("cancelled order: confirmed %t, status %q; want confirmed and still Cancelled", site.Confirmed(orders[1].ID), got.Status)
	}
	if calls := site.CallsOf("UpdateStatus"); len(calls) != 1 || calls[0].OrderNumber != orders[0].ID {
		t.Fatalf("UpdateStatus calls %+v: want one, for the open order", calls)
	}
}

// confirm: false gives a source that reads the export like the default one but is no Confirmer, so the
// runner never confirms an order read by an inventory pipeline; the default is a Confirmer.
func TestConfirmFalseIsReadOnly(t *testing.T) {
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	site.Add(orderurltest.Generate(2, 1, day, "")...)
	_, ctor, ok := connectors.Sources.Lookup("order_url")
	if !ok {
		t.Fatal("order_url is not registered")
	}
	vals := map[string]any{"url": site.URL(), "merchant": site.Merchant(), "url_key": spec.NewSecret(site.URLKey())}
	src, err := ctor(spec.Config{Values: vals}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(connectors.Confirmer); !ok {
		t.Errorf("default order_url source %T is no Confirmer", src)
	}
	vals["confirm"] = false
	src, err = ctor(spec.Config{Values: vals}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(connectors.Confirmer); ok {
		t.Fatalf("order_url with confirm: false (%T) is a Confirmer", src)
	}
	if err := src.(connectors.ConnectionTester).Check(t.Context()); err != nil {
		t.Fatalf("check: %v", err)
	}
	rd, err := src.Read(t.Context(), connectors.ReadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	n := 0
	for {
		b, err := rd.Next(t.Context())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n += int(b.NumRows())
		b.Release()
	}
	if n != 2 || len(site.CallsOf("UpdateOrder")) != 0 || len(site.CallsOf("UpdateStatus")) != 0 {
		t.Errorf("read %d orders, %d UpdateOrder and %d UpdateStatus calls; want 2 orders and no confirmation",
			n, len(site.CallsOf("UpdateOrder")), len(site.CallsOf("UpdateStatus")))
	}
}

// TestErrorBodyCutAfterTheKeyIsMasked: an error answer echoing the URL key where the message is cut (200
// bytes) leaves none of it: the key is masked before the cut, which could otherwise leave a prefix of it
// too short to recognise.
func TestErrorBodyCutAfterTheKeyIsMasked(t *testing.T) {
	const key = "Zq7k&UrlKey9931"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(strings.Repeat("x", 193) + r.URL.Query().Get("URLkey")))
	}))
	defer srv.Close()
	s, err := NewSource(spec.Config{Values: map[string]any{"url": srv.URL + "/export", "merchant": "1234",
		"url_key": spec.NewSecret(key), "retries": int64(0)}}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = readAll(t, s)
	if err == nil || !strings.Contains(err.Error(), "HTTP 403: xxxxx") || strings.Contains(err.Error(), "Zq7k") {
		t.Fatalf("err %v: want the 403 with no part of the key", err)
	}
	err = s.c.accepted("UpdateOrder", "A-1", []byte("ERROR "+strings.Repeat("x", 187)+key))
	if err == nil || strings.Contains(err.Error(), "Zq7k") {
		t.Fatalf("refusal %v: want no part of the key", err)
	}
}
