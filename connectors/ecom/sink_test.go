package ecom

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

func TestRegistered(t *testing.T) {
	c, ctor, ok := connectors.Sinks.Lookup("ecom")
	if !ok || ctor == nil || c.Kind != spec.KindSink {
		t.Fatalf("ecom sink not registered")
	}
	for _, f := range []string{"store_id", "token", "base_url", "requests_per_minute", "timeout", "batch_threshold", "poll_interval", "owned_fields"} {
		if _, ok := c.Field(f); !ok {
			t.Errorf("field %s not declared", f)
		}
	}
	if f, _ := c.Field("token"); !f.Secret {
		t.Errorf("token is not secret")
	}
}

func TestNewSinkChecksRecords(t *testing.T) {
	base := map[string]any{"store_id": "1003", "token": spec.NewSecret("secret_abcdef")}
	cases := []struct {
		name   string
		schema *arrow.Schema
		key    []string
		extra  map[string]any
		want   string // "" = accepted
	}{
		{"the full model", schemaOf(productFields...), []string{"sku"}, nil, ""},
		{"no schema (connection check)", nil, []string{"sku"}, nil, ""},
		{"unknown fields", arrow.NewSchema(append(schemaOf("sku", "price").Fields(),
			arrow.Field{Name: "cost", Type: arrow.PrimitiveTypes.Float64}, arrow.Field{Name: "tags", Type: arrow.BinaryTypes.String}), nil),
			[]string{"sku"}, nil, `field(s) the ecom sink does not map: "cost", "tags" (accepted: sku, parent_sku, name,`},
		{"key is not sku", schemaOf("sku", "name"), []string{"name"}, nil, "the pipeline key must be sku, not name"},
		{"wrong type", arrow.NewSchema([]arrow.Field{{Name: "sku", Type: arrow.BinaryTypes.String},
			{Name: "price", Type: arrow.BinaryTypes.String}, {Name: "enabled", Type: arrow.PrimitiveTypes.Int64}}, nil),
			[]string{"sku"}, nil, "price is string, want float; enabled is int, want bool"},
		{"int price accepted", arrow.NewSchema([]arrow.Field{{Name: "sku", Type: arrow.BinaryTypes.String},
			{Name: "price", Type: arrow.PrimitiveTypes.Int64}}, nil), []string{"sku"}, nil, ""},
		{"eCom-only field not owned", schemaOf("sku", "subtitle"), []string{"sku"}, nil, "list it in owned_fields"},
		{"owned field not carried", schemaOf("sku", "price"), []string{"sku"},
			map[string]any{"owned_fields": []any{"warning_limit"}}, "owned_fields lists warning_limit, but the records carry no such field"},
		{"owned field not eCom-only", schemaOf("sku", "price"), []string{"sku"},
			map[string]any{"owned_fields": []any{"price"}}, `"price" is not an eCom-only field`},
		{"no sku", schemaOf("name"), nil, nil, "need a sku field"},
		{"no token", schemaOf("sku"), []string{"sku"}, map[string]any{"token": spec.NewSecret("")}, "token is required"},
		{"bad base_url", schemaOf("sku"), []string{"sku"}, map[string]any{"base_url": "app.ecwid.com"}, "not an absolute URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			values := map[string]any{}
			for k, v := range base {
				values[k] = v
			}
			for k, v := range c.extra {
				values[k] = v
			}
			_, err := NewSink(spec.Config{Values: values}, connectors.Env{Schema: c.schema, Key: c.key})
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			case err != nil && strings.Contains(err.Error(), "abcdef"):
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{Token: "secret_RIGHT-token-123"})
	defer srv.Close()
	good, _ := newTestSink(t, srv, []string{"sku"}, nil)
	if err := good.Check(context.Background()); err != nil {
		t.Errorf("check with the right token: %v", err)
	}
	bad, _ := newTestSink(t, srv, []string{"sku"}, map[string]any{"token": spec.NewSecret("secret_WRONG-token-456")})
	err := bad.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "token refused") || !strings.Contains(err.Error(), "INVALID_API_TOKEN") {
		t.Errorf("check with a wrong token: %v, want token refused", err)
	}
}

// TestSecretsNeverInErrors runs every operation with a refused token and checks no error shows either token.
func TestSecretsNeverInErrors(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{Token: "secret_RIGHT-token-123"})
	defer srv.Close()
	s, _ := newTestSink(t, srv, baseFields, map[string]any{"token": spec.NewSecret("secret_WRONG-token-456")})
	ctx := context.Background()
	var errs []error
	out, err := s.Apply(ctx, []connectors.Change{create(record.Record{"sku": "S1", "name": "S", "price": 1.0})})
	errs = append(append(errs, err), out...)
	_, err = s.Reconcile(ctx, []connectors.Change{remove("S1")})
	errs = append(errs, err, s.Check(ctx))
	r, err := s.List(ctx, connectors.ReadRequest{})
	if err == nil {
		_, err = r.Next(ctx)
	}
	errs = append(errs, err)
	for i, e := range errs {
		if e == nil {
			t.Errorf("error %d: nil, want a refusal", i)
			continue
		}
		for _, tok := range []string{"RIGHT-token-123", "WRONG-token-456"} {
			if strings.Contains(e.Error(), tok) {
				t.Errorf("error %d shows a token: %v", i, e)
			}
		}
	}
	if !errors.Is(out[0], connectors.ErrNotAttempted) {
		t.Errorf("outcome %v, want not attempted", out[0])
	}
}

func TestEstimate(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	s, _ := newTestSink(t, srv, []string{"sku"}, map[string]any{"requests_per_minute": int64(600)})
	cases := []struct {
		counts map[connectors.Action]int
		calls  int
		note   string
	}{
		{map[connectors.Action]int{connectors.Update: 3}, 6, "~6 calls, ~1 s at 600/min"},
		// 40 creates: one page of the listing, 40 direct writes.
		{map[connectors.Action]int{connectors.Create: 40}, 41, "~41 calls, ~4 s at 600/min"},
		// 1,208 changes: the listing's first page and 3 pages of the 208 existing products, then 3 tickets of
		// up to 500 writes, each created and polled twice (the rate limit counts requests, not sub-requests).
		{map[connectors.Action]int{connectors.Create: 1000, connectors.Update: 200, connectors.Delete: 8}, 13, "~13 calls, ~1 s at 600/min (1,208 writes in 3 batch tickets)"},
		// A first sync of 50,000 creates: one page of an empty store, 100 tickets.
		{map[connectors.Action]int{connectors.Create: 50_000}, 301, "~301 calls, ~30 s at 600/min (50,000 writes in 100 batch tickets)"},
	}
	for _, c := range cases {
		e := s.Estimate(c.counts)
		if e.Calls != c.calls || e.Note != c.note || e.Duration != time.Duration(c.calls)*100*time.Millisecond {
			t.Errorf("Estimate(%v) = %d calls, %s, %q; want %d calls, %q", c.counts, e.Calls, e.Duration, e.Note, c.calls, c.note)
		}
	}
}

// TestCancelled checks that a cancelled context leaves every change not attempted.
func TestCancelled(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	s, _ := newTestSink(t, srv, []string{"sku", "name"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err := s.Apply(ctx, []connectors.Change{create(record.Record{"sku": "Z", "name": "Z"}), remove("Y")})
	if !errors.Is(err, context.Canceled) || !errors.Is(out[0], connectors.ErrNotAttempted) || !errors.Is(out[1], connectors.ErrNotAttempted) {
		t.Errorf("Apply on a cancelled context = %v, %v", out, err)
	}
	if len(srv.Requests()) != 0 {
		t.Errorf("%d requests sent", len(srv.Requests()))
	}
}

func TestSequencePutsProductsBeforeVariants(t *testing.T) {
	ch := func(a connectors.Action, sku, parent string) connectors.Change {
		r := record.Record{"sku": sku}
		if parent != "" {
			r["parent_sku"] = parent
		}
		c := connectors.Change{Action: a, Key: record.Record{"sku": sku}}
		if a == connectors.Delete {
			c.Before = r
		} else {
			c.After = r
		}
		return c
	}
	changes := []connectors.Change{
		ch(connectors.Create, "A-RED", "A"), ch(connectors.Create, "A", ""), ch(connectors.Update, "B", ""),
		ch(connectors.Delete, "C", ""), ch(connectors.Delete, "C-BLUE", "C"), ch(connectors.Create, "B-1", "B"),
	}
	(&Sink{}).Sequence(changes)
	var got []string
	for _, c := range changes {
		got = append(got, string(c.Action)+":"+c.Key["sku"].(string))
	}
	want := "create:A create:A-RED create:B-1 update:B delete:C-BLUE delete:C"
	if strings.Join(got, " ") != want {
		t.Fatalf("sequence = %s\nwant       %s", strings.Join(got, " "), want)
	}
}
