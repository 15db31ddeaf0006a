package ascend

import (
	"fmt"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/ascend/ftptest"
	"github.com/possync/possync/connectors/conntest"
	"github.com/possync/possync/spec"
)

// TestConformance runs the connector conformance suite against both sources on the embedded FTP server: a
// multi-site full upload of more than one batch plus an inv file, and the promotions companion files.
func TestConformance(t *testing.T) {
	t.Run("ascend", func(t *testing.T) {
		rows := make([]row, batchRows+50)
		for i := range rows {
			rows[i] = row{loc: "Downtown", sku: fmt.Sprintf("S%05d", i), qty: fmt.Sprint(i % 5)}
		}
		conntest.Source(t, func(t *testing.T) connectors.Source {
			srv := startServer(t, ftptest.Options{})
			srv.Put("/Downtown_20250115_020000_full.txt", fullFile(rows...), mtime)
			srv.Put("/Uptown_20250115_020000_full.txt", fullFile(row{loc: "Uptown", sku: "U1"}), mtime)
			srv.Put("/Downtown_20250115_120000_inv.txt", invFile("Downtown", "S00001=9"), mtime)
			return newSource(t, baseConfig(srv.Addr(), map[string]any{
				"mode": "multi-site", "locations": locations("Downtown=multi-site", "Uptown=multi-site")}))
		}, conntest.SourceOptions{Request: connectors.ReadRequest{Now: testNow}, MinRows: len(rows) + 1})
	})
	t.Run("ascend_promotions", func(t *testing.T) {
		conntest.Source(t, func(t *testing.T) connectors.Source {
			srv := startServer(t, ftptest.Options{})
			srv.Put("/Downtown_20250115_020000_full.txt", fullFile(row{loc: "Downtown", sku: "A1"}), mtime)
			srv.Put("/Downtown_20250115_020000_promo.txt", promoFileOf(
				"10\tWinter sale\t2024-12-01 09:00:00\t2025-01-10\t2025-01-15\tY\tA1\t79.99",
				"11\t\t2025-01-02 10:30:00\t2025-01-02\t2025-02-02\tY\tD4\t5.50",
			), mtime)
			s, err := NewPromotionsSource(spec.Config{Values: baseConfig(srv.Addr(), nil)}, connectors.Env{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, conntest.SourceOptions{Request: connectors.ReadRequest{Now: testNow}, MinRows: 2})
	})
}
