package ecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// schemaOf builds a records schema of the named fields with the record model's types.
func schemaOf(fields ...string) *arrow.Schema {
	types := map[kind]arrow.DataType{kString: arrow.BinaryTypes.String, kNumber: arrow.PrimitiveTypes.Float64,
		kInt: arrow.PrimitiveTypes.Int64, kBool: arrow.FixedWidthTypes.Boolean}
	var fs []arrow.Field
	for _, name := range fields {
		for _, f := range recordFields {
			if f.name == name {
				fs = append(fs, arrow.Field{Name: name, Type: types[f.kind], Nullable: true})
			}
		}
	}
	return arrow.NewSchema(fs, nil)
}

// baseFields are the fields most tests' records carry.
var baseFields = []string{"sku", "name", "price", "quantity", "unlimited", "enabled", "parent_sku", "options"}

// sleeps records the waits of a sink instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

// newTestSink builds a sink on srv for records of the given fields; extra overrides configuration values.
func newTestSink(t *testing.T, srv *ecomtest.Server, fields []string, extra map[string]any) (*Sink, *sleeps) {
	t.Helper()
	return newSchemaSink(t, srv, schemaOf(fields...), extra)
}

// newSchemaSink builds a sink on srv for records of schema sch.
func newSchemaSink(t *testing.T, srv *ecomtest.Server, sch *arrow.Schema, extra map[string]any) (*Sink, *sleeps) {
	t.Helper()
	values := map[string]any{
		"store_id": srv.StoreID(), "token": spec.NewSecret(srv.Token()), "base_url": srv.URL(),
		"requests_per_minute": int64(6_000_000), "poll_interval": time.Second,
	}
	for k, v := range extra {
		values[k] = v
	}
	s, err := NewSink(spec.Config{Values: values}, connectors.Env{Schema: sch, Key: []string{"sku"}})
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	sl := &sleeps{}
	s.SetSleep(sl.sleep)
	return s, sl
}

func create(r record.Record) connectors.Change {
	return connectors.Change{ID: "c-" + r["sku"].(string), Action: connectors.Create, Key: record.Record{"sku": r["sku"]}, After: r}
}

func update(after record.Record, fields ...string) connectors.Change {
	return connectors.Change{ID: "u-" + after["sku"].(string), Action: connectors.Update, Key: record.Record{"sku": after["sku"]},
		Fields: fields, Before: record.Record{"sku": after["sku"]}, After: after}
}

func deactivate(after record.Record, fields ...string) connectors.Change {
	c := update(after, fields...)
	c.Action = connectors.Deactivate
	return c
}

func remove(sku string) connectors.Change {
	return connectors.Change{ID: "d-" + sku, Action: connectors.Delete, Key: record.Record{"sku": sku}, Before: record.Record{"sku": sku}}
}

// apply runs Apply and fails the test on a fatal error or a wrong number of outcomes.
func apply(t *testing.T, s *Sink, changes ...connectors.Change) []error {
	t.Helper()
	out, err := s.Apply(context.Background(), changes)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(out) != len(changes) {
		t.Fatalf("%d outcomes for %d changes", len(out), len(changes))
	}
	return out
}

// wantAcked fails the test unless every outcome is nil.
func wantAcked(t *testing.T, out []error) {
	t.Helper()
	for i, o := range out {
		if o != nil {
			t.Errorf("change %d: outcome %v, want acknowledged", i, o)
		}
	}
}

// writeLog formats the successful writes as "METHOD path body" lines, ids replaced by the product SKU's
// placeholder so expectations do not depend on assigned ids.
func writeLog(srv *ecomtest.Server, ids map[int64]string) []string {
	var out []string
	for _, w := range srv.Writes() {
		path := w.Path
		for id, name := range ids {
			path = strings.ReplaceAll(path, fmt.Sprint(id), name)
		}
		line := w.Method + " " + path
		if len(w.Body) > 0 {
			line += " " + canonJSON(w.Body)
		}
		if w.Status/100 != 2 {
			line += fmt.Sprintf(" -> %d", w.Status)
		}
		out = append(out, line)
	}
	return out
}

// canonJSON re-encodes JSON with sorted keys.
func canonJSON(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(buf.String())
}

// ids maps the store ids of products and combinations to "{SKU}" placeholders.
func ids(srv *ecomtest.Server) map[int64]string {
	m := map[int64]string{}
	for _, p := range srv.Products() {
		m[p.ID] = "{" + p.SKU + "}"
		for _, c := range p.Combinations {
			m[c.ID] = "{" + c.SKU + "}"
		}
	}
	return m
}

func isChangeError(err error, status int) bool {
	var ce *connectors.ChangeError
	return errors.As(err, &ce) && ce.Status == status
}

func diffLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
