package ecom

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/conntest"
	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/record"
)

// TestConformance runs the connector conformance suite against the ecom sink (products and a variant, through
// create, update, deactivate and delete), its listing, and the ecom_products source, on the eCom emulator.
func TestConformance(t *testing.T) {
	tee := record.Record{"sku": "TEE", "name": "Tee", "price": 20.0, "quantity": int64(0), "unlimited": false, "enabled": true}
	blackM := record.Record{"sku": "TEE-BLK-M", "parent_sku": "TEE", "options": `{"Size":"M","Color":"Black"}`,
		"price": 22.0, "quantity": int64(3), "unlimited": false, "enabled": true}
	mug := record.Record{"sku": "MUG", "name": "Mug", "price": 9.5, "quantity": int64(4), "unlimited": false, "enabled": true}
	steps := [][]connectors.Change{
		{create(tee), create(blackM), create(mug)},
		{update(with(blackM, "price", 24.0), "price"), deactivate(with(tee, "enabled", false), "enabled"), remove("MUG")},
	}
	t.Run("ecom sink", func(t *testing.T) {
		conntest.Sink(t, func(t *testing.T) conntest.SinkTarget {
			srv := ecomtest.New(ecomtest.Options{})
			t.Cleanup(srv.Close)
			return conntest.SinkTarget{
				New: func(t *testing.T) connectors.Sink {
					s, _ := newTestSink(t, srv, baseFields, nil)
					return s
				},
				State: func(t *testing.T) any { return storeState(t, srv) },
			}
		}, conntest.SinkOptions{Steps: steps, Rejected: []connectors.Change{
			create(record.Record{"sku": "BAD", "name": "Bad", "price": -5.0, "enabled": true}),                 // 400: negative price
			create(record.Record{"sku": "X-1", "parent_sku": "NOPE", "options": `{"Size":"S"}`, "price": 1.0}), // 404: no product
		}})
	})
	t.Run("ecom listing", func(t *testing.T) {
		conntest.Lister(t, func(t *testing.T) (connectors.Lister, *arrow.Schema) {
			srv := ecomtest.New(ecomtest.Options{})
			t.Cleanup(srv.Close)
			var ps []ecomtest.Product
			for i := 0; i < 150; i++ {
				ps = append(ps, ecomtest.Product{SKU: fmt.Sprintf("P%03d", i), Name: "Product", Price: float64(i), Enabled: true})
			}
			srv.Seed(ps...)
			srv.Seed(ecomtest.DocExamples()...)
			s, _ := newTestSink(t, srv, baseFields, nil)
			return s, listedSchema(s.schema)
		}, conntest.SourceOptions{MinRows: 150})
	})
	t.Run("ecom_products", func(t *testing.T) {
		conntest.Source(t, func(t *testing.T) connectors.Source {
			srv := ecomtest.New(ecomtest.Options{})
			t.Cleanup(srv.Close)
			var ps []ecomtest.Product
			for i := 0; i < 150; i++ {
				ps = append(ps, ecomtest.Product{SKU: fmt.Sprintf("P%03d", i), Name: "Product", Price: float64(i), Enabled: true})
			}
			srv.Seed(ps...)
			srv.Seed(ecomtest.DocExamples()...)
			return newTestProducts(t, srv, nil)
		}, conntest.SourceOptions{MinRows: 150})
	})
}

// storeState is the emulator's catalog without what the store assigns (ids, creation and update times), so a
// store holding the same products compares equal.
func storeState(t *testing.T, srv *ecomtest.Server) any {
	t.Helper()
	b, err := json.Marshal(srv.Products())
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return stripAssigned(v)
}

func stripAssigned(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range []string{"id", "created", "updated", "createTimestamp", "updateTimestamp"} {
			delete(x, k)
		}
		for k, e := range x {
			x[k] = stripAssigned(e)
		}
	case []any:
		for i, e := range x {
			x[i] = stripAssigned(e)
		}
	}
	return v
}
