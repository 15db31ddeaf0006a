package ecom

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/connectors/internal/httpapi"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// TestStoreOutageIsNotARefusal: a store answering 500 to every creation is failing, not refusing: the sink
// stops sending after the first creation's retry (direct) or after the ticket that met it (batch), reports
// no change as refused, leaves the changes it met to reconcile (unknown outcome) and the others not
// attempted; once the store is back, Reconcile finds nothing was created.
func TestStoreOutageIsNotARefusal(t *testing.T) {
	for _, c := range []struct {
		name      string
		threshold int64
		post      string // the path of the creations' requests
		posts     int    // how many the store saw
		unknown   int    // changes left to reconcile; the others are not attempted
	}{
		{"direct", 50, "/products", 2, 1}, // the creation, then (the lookup finding nothing) once more
		{"batch", 2, "/batch", 1, 10},     // one ticket of all 10 creations, no other
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := ecomtest.New(ecomtest.Options{})
			defer srv.Close()
			srv.Outage(http.MethodPost, "/products", http.StatusInternalServerError)
			s, _ := newTestSink(t, srv, baseFields, map[string]any{"batch_threshold": c.threshold})
			var changes []connectors.Change
			for i := range 10 {
				changes = append(changes, create(record.Record{"sku": fmt.Sprintf("S%02d", i), "name": "N", "price": 1.0}))
			}
			out, err := s.Apply(context.Background(), changes)
			if err == nil || !strings.Contains(err.Error(), "the store API is failing") || !strings.Contains(err.Error(), "HTTP 500") {
				t.Fatalf("Apply: err = %v, want the store failing with its 500", err)
			}
			unknown := 0
			for i, o := range out {
				var ce *connectors.ChangeError
				switch {
				case o == nil || errors.As(o, &ce):
					t.Errorf("change %d: outcome %v, want unknown or not attempted, never applied or refused", i, o)
				case !errors.Is(o, connectors.ErrNotAttempted):
					unknown++
				}
			}
			if unknown != c.unknown {
				t.Errorf("%d changes of unknown outcome, want %d", unknown, c.unknown)
			}
			posts := 0
			for _, r := range srv.Requests() {
				if r.Method == http.MethodPost && r.Path == c.post {
					posts++
				}
			}
			if posts != c.posts {
				t.Errorf("%d POST %s, want %d: the sink must stop sending once the store fails", posts, c.post, c.posts)
			}
			if n := len(srv.Products()); n != 0 {
				t.Fatalf("%d products created during the outage", n)
			}
			// The next run: the store is back; reconciling the unknown changes finds them not applied.
			srv.EndOutage()
			var pending []connectors.Change
			for i, o := range out {
				if !errors.Is(o, connectors.ErrNotAttempted) {
					pending = append(pending, changes[i])
				}
			}
			applied, err := s.Reconcile(context.Background(), pending)
			if err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			for i, ok := range applied {
				if ok {
					t.Errorf("Reconcile says %s was applied during the outage", pending[i].ID)
				}
			}
		})
	}
}

// TestCheckAnswersAtOnce: a connection check fails on the first attempt when nothing listens (naming the
// server), gives a failing store two retries only, and a base_url that is not http(s) is refused up front.
func TestCheckAnswersAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()

	s, sl := newTestSink(t, srv, []string{"sku"}, map[string]any{"base_url": "http://" + closed + "/api/v3"})
	err = s.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "at "+closed+": connection refused") || len(sl.d) != 0 {
		t.Errorf("check of a closed port: err = %v after %d waits; want connection refused at %s, no retry", err, len(sl.d), closed)
	}
	// Applying fails as fast: nothing listens, so nothing can have been created.
	out, err := s.Apply(context.Background(), []connectors.Change{create(record.Record{"sku": "A"})})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || len(sl.d) != 0 || !errors.Is(out[0], connectors.ErrNotAttempted) {
		t.Errorf("apply to a closed port: err = %v, outcome %v, %d waits; want connection refused, not attempted, no retry", err, out[0], len(sl.d))
	}

	srv.Outage("", "/products", http.StatusServiceUnavailable)
	s, sl = newTestSink(t, srv, []string{"sku"}, nil)
	err = s.Check(context.Background())
	var se *httpapi.StatusError
	if !errors.As(err, &se) || se.Status != 503 || se.Attempts != 3 || len(sl.d) != 2 {
		t.Errorf("check of a failing store: err = %v after %d waits; want a 503 after 3 attempts", err, len(sl.d))
	}

	for _, base := range []string{"ftp://" + closed + "/api/v3", "ws://" + closed + "/api"} {
		_, err := NewSink(spec.Config{Values: map[string]any{"store_id": "1", "token": spec.NewSecret("secret_x"), "base_url": base}},
			connectors.Env{Schema: schemaOf("sku"), Key: []string{"sku"}})
		if err == nil || !strings.Contains(err.Error(), "only http and https") {
			t.Errorf("base_url %s: err = %v, want the scheme refused", base, err)
		}
	}
}

// TestUnreachableStoreMidRun: when the store stops listening between two Apply calls, the writes that
// cannot connect are not attempted (nothing left possync, so nothing needs reconciling), without a retry.
func TestUnreachableStoreMidRun(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	s, sl := newTestSink(t, srv, baseFields, nil)
	wantAcked(t, apply(t, s, create(record.Record{"sku": "A", "name": "A", "price": 1.0}),
		create(record.Record{"sku": "B", "name": "B", "price": 1.0})))
	srv.Close()
	out, err := s.Apply(context.Background(), []connectors.Change{
		update(record.Record{"sku": "A", "price": 2.0}, "price"),
		update(record.Record{"sku": "B", "price": 2.0}, "price"),
	})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || len(sl.d) != 0 {
		t.Fatalf("Apply: err = %v after %d waits; want connection refused, no retry", err, len(sl.d))
	}
	for i, o := range out {
		if !errors.Is(o, connectors.ErrNotAttempted) || strings.Contains(o.Error(), "part of the change") {
			t.Errorf("change %d: outcome %v, want not attempted", i, o)
		}
	}
}
