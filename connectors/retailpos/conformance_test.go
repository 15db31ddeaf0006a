package retailpos

import (
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/conntest"
	rpt "github.com/possync/possync/connectors/retailpos/retailpostest"
)

// TestConformance runs the connector conformance suite against both sources on the X-Series emulator: the
// catalog over many pages, and the promotions and price books of the documentation example.
func TestConformance(t *testing.T) {
	t.Run("retailpos", func(t *testing.T) {
		conntest.Source(t, func(t *testing.T) connectors.Source {
			e := newEnv(t, rpt.Options{})
			e.srv.Generate(200, 4)
			return e.source(map[string]any{"page_size": int64(25)})
		}, conntest.SourceOptions{MinRows: 200})
	})
	t.Run("retailpos_promotions", func(t *testing.T) {
		now, err := time.Parse(time.RFC3339, "2026-11-22T12:00:00-08:00")
		if err != nil {
			t.Fatal(err)
		}
		conntest.Source(t, func(t *testing.T) connectors.Source {
			e := newEnv(t, rpt.Options{})
			e.srv.LoadExample()
			e.srv.LoadPromotionsExample()
			return e.promoSource(nil)
		}, conntest.SourceOptions{Request: connectors.ReadRequest{Now: now}, MinRows: 7})
	})
}
