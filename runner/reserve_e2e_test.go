package runner_test

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors/ascend/ftptest"
	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/connectors/orderurl/orderurltest"
	"github.com/possync/possync/runner"
)

// End to end (issue 11, double selling): Ascend's inventory uploads (the embedded FTP server) synced to the
// eCom store (its emulator), with the website's open orders (the order export emulator) reserved by the
// reserve step. An order placed online holds its units across an upload that does not count it yet; once
// the POS imported it (the order confirmed, the POS stock lowered) nothing is subtracted twice; a cancelled
// order releases its units. The inventory pipeline never confirms an order.

const reserveE2EPipeline = `version: 1
name: stock
merchant: spoke-and-chain
key: sku
sources:
  inventory:
    type: ascend
    host: %s
    port: %s
    user: "` + ftpUser + `"
    password: ${RESERVE_FTP_PASSWORD}
    settle: 0s
    mode: single-site
    timezone: America/Los_Angeles
    locations:
      - {short_name: Downtown, status: single-site}
  orders:
    type: order_url
    url: %s
    merchant: %q
    url_key: ${RESERVE_ORDER_URL_KEY}
    confirm: false
transforms:
  - type: reserve
    name: reserved
    input: inventory
    orders: orders
    quantity: qty_on_hand
    code_field: sku
    gtin_field: gtin14
  - type: map
    name: records
    types: {quantity: int}
    fields:
      sku: sku
      price: price
      quantity: qty_on_hand
      reserved: reserved
sink:
  type: ecom
  base_url: %s
  store_id: %q
  token: ${RESERVE_ECOM_TOKEN}
diff:
  on_missing: keep
guards:
  max_delete_percent: -1
`

// The shop's two items: a bike sold by its SKU on the website, and a chain whose website line carries the
// website's own code and the UPC.
const (
	bikeSKU, chainSKU = "BIKE-1", "CHAIN-1"
	chainUPC          = "036000291452"
)

func reserveFull(bike, chain int) []byte {
	row := func(sku, upc, price string, qty int) string {
		return strings.Join([]string{"Downtown", sku, upc, "", "Trek", sku, "2025", "", "", "Bikes", price, price,
			fmt.Sprint(qty), "", "N", "", "Y", "Y"}, "\t")
	}
	return ascendFile(row(bikeSKU, "", "899.00", bike), row(chainSKU, chainUPC, "24.99", chain))
}

func reserveInv(bike, chain int) []byte {
	return []byte(fmt.Sprintf("ShortName\tSku\tQtyOnHand\tQtyOnOrder\r\nDowntown\t%s\t%d\t0\r\nDowntown\t%s\t%d\t0\r\n",
		bikeSKU, bike, chainSKU, chain))
}

func TestReservationHoldsAcrossUploads(t *testing.T) {
	ftp, err := ftptest.New(ftptest.Options{User: ftpUser, Password: ftpPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ftp.Close() })
	site := orderurltest.New(orderurltest.Options{})
	t.Cleanup(site.Close)
	shop := ecomtest.New(ecomtest.Options{})
	t.Cleanup(shop.Close)
	shop.Seed(ecomtest.Product{SKU: bikeSKU, Name: "Marlin 7", Price: 899, Quantity: 0, Enabled: true},
		ecomtest.Product{SKU: chainSKU, Name: "KMC X11", Price: 24.99, Quantity: 0, Enabled: true})

	t.Setenv("RESERVE_FTP_PASSWORD", ftpPassword)
	t.Setenv("RESERVE_ORDER_URL_KEY", site.URLKey())
	t.Setenv("RESERVE_ECOM_TOKEN", shop.Token())
	host, port, _ := net.SplitHostPort(ftp.Addr())
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(reserveE2EPipeline, host, port, site.URL(), site.Merchant(),
		strings.TrimSuffix(shop.URL(), "/"), shop.StoreID()))
	p := loadAt(t, dir)

	quantities := func() string {
		b, _ := shop.Find(bikeSKU)
		c, _ := shop.Find(chainSKU)
		return fmt.Sprintf("bike %d, chain %d", b.Quantity, c.Quantity)
	}
	apply := func(when string) *runner.Report {
		t.Helper()
		rep := mustApply(t, p, runner.Options{})
		if rep.ExitCode != runner.ExitOK {
			t.Fatalf("%s: apply exit %d (%s): %+v", when, rep.ExitCode, rep.ExitReason, rep)
		}
		return rep
	}
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

	// 02:00: the nightly upload, no order yet.
	ftp.Put("/Downtown_20261120_020000_full.txt", reserveFull(5, 10), day.Add(2*time.Hour))
	apply("night")
	if got := quantities(); got != "bike 5, chain 10" {
		t.Fatalf("after the nightly upload: %s, want bike 5, chain 10", got)
	}

	// 09:00: a customer orders 2 bikes and a chain online (the chain line by the website's code and its UPC).
	// The website lowers its own stock; the POS has not imported the order.
	site.Add(orderurltest.Order{ID: "5001", Time: day.Add(9 * time.Hour), Currency: "USD", CustomerID: "77",
		BillTo: orderurltest.Address{Full: "Jane Rider", Email: "jane@rider.test"},
		Items: []orderurltest.Item{
			{ID: "1", Code: bikeSKU, Quantity: 2, UnitPrice: 899, Description: "Marlin 7"},
			{ID: "2", Code: "WEB-KMC-X11", GTIN1: chainUPC, Quantity: 1, UnitPrice: 24.99, Description: "KMC X11"},
		}})
	shop.Edit(bikeSKU, func(p *ecomtest.Product) { p.Quantity = 3 })
	shop.Edit(chainSKU, func(p *ecomtest.Product) { p.Quantity = 9 })

	// 10:00: an inventory upload arrives before the POS imports the order: the store sold one bike in person.
	// Without the reservation the website would show 4 bikes, 2 of them already sold online.
	ftp.Put("/Downtown_20261120_100000_inv.txt", reserveInv(4, 10), day.Add(10*time.Hour))
	pl := mustPlan(t, p)
	for _, want := range []string{
		"sku=BIKE-1: 2 reserved by open website orders the POS has not imported: 5001 (2); quantity 4 -> 2",
		"sku=CHAIN-1: 1 reserved by open website orders the POS has not imported: 5001 (1); quantity 10 -> 9",
	} {
		if !contains(pl.NoteTexts(), want) {
			t.Errorf("plan notes lack %q:\n%s", want, strings.Join(pl.NoteTexts(), "\n"))
		}
	}
	for _, c := range pl.Changes {
		if c.Key["sku"] == bikeSKU && fmt.Sprint(c.Annotations["reserved"]) != "2: 5001 (2)" {
			t.Errorf("bike change annotated %v, want reserved 2: 5001 (2)", c.Annotations)
		}
	}
	apply("upload before the import")
	if got := quantities(); got != "bike 2, chain 9" {
		t.Fatalf("after the upload before the import: %s, want bike 2, chain 9 (the order's units held)", got)
	}

	// 10:05: the POS imports the order (Ascend polls the export and confirms receipt): the order leaves the
	// export, and the POS's stock now counts it. The 12:00 upload says so.
	confirmAsPOS(t, site, "5001")
	ftp.Put("/Downtown_20261120_120000_inv.txt", reserveInv(2, 9), day.Add(12*time.Hour))
	rep := apply("upload after the import")
	if rep.Planned.Total() != 0 {
		t.Errorf("after the import the plan changes %+v; want nothing: the numbers agree", rep.Planned)
	}
	if got := quantities(); got != "bike 2, chain 9" {
		t.Fatalf("after the import: %s, want bike 2, chain 9 (no double subtraction)", got)
	}
	if n := noteWith(rep.Notes, "reserved"); n != "" {
		t.Errorf("note %q after the import: nothing is open", n)
	}

	// 13:00: another order, for one bike; then the customer cancels it on the website.
	site.Add(orderurltest.Order{ID: "5002", Time: day.Add(13 * time.Hour), Currency: "USD", CustomerID: "78",
		BillTo: orderurltest.Address{Full: "Sam Spoke", Email: "sam@spoke.test"},
		Items:  []orderurltest.Item{{ID: "1", Code: bikeSKU, Quantity: 1, UnitPrice: 899}}})
	apply("second order")
	if got := quantities(); got != "bike 1, chain 9" {
		t.Fatalf("with order 5002 open: %s, want bike 1, chain 9", got)
	}
	if !site.Edit("5002", func(o *orderurltest.Order) { o.Status = "Cancelled" }) {
		t.Fatal("no order 5002 on the site")
	}
	apply("cancelled")
	if got := quantities(); got != "bike 2, chain 9" {
		t.Fatalf("after the cancellation: %s, want bike 2, chain 9 (the reservation released)", got)
	}

	// Reading the orders never confirmed one: the only confirmation is the POS's.
	if calls := site.CallsOf("UpdateOrder"); len(calls) != 1 || calls[0].OrderNumber != "5001" {
		t.Errorf("UpdateOrder calls %+v, want only the POS's confirmation of 5001", calls)
	}
	if n := len(site.CallsOf("UpdateStatus")); n != 0 {
		t.Errorf("%d UpdateStatus calls from an inventory pipeline", n)
	}
	if !contains(site.Pending(), "5002") {
		t.Errorf("pending orders %v: the cancelled order 5002 stays in the export for the POS", site.Pending())
	}
}

// confirmAsPOS confirms receipt of an order as the POS does after importing it (UpdateOrder).
func confirmAsPOS(t *testing.T, site *orderurltest.Server, id string) {
	t.Helper()
	q := url.Values{"method": {"UpdateOrder"}, "ver": {"2.00"}, "merchant": {site.Merchant()}, "URLkey": {site.URLKey()},
		"OrderNumber": {id}}
	resp, err := http.Get(site.URL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !site.Confirmed(id) {
		t.Fatalf("the POS's confirmation of %s: HTTP %d, confirmed %t", id, resp.StatusCode, site.Confirmed(id))
	}
}
