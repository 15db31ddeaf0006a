package examples

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/possync/possync/connectors/ascend/ftptest"
	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/connectors/orderurl/orderurltest"
)

// The bike-shop chain's FTP account, as in Workstand's "POS FTP" email: a 4-digit user ID and a password.
const (
	bikeshopFTPUser     = "4127"
	bikeshopFTPPassword = "spoke-and-chain-ftp"
)

// startBikeshop brings up the bike-shop chain's world: an FTP server (explicit TLS, a self-signed
// certificate the pipeline pins) serving Ascend's uploads from data/uploads, the eCom store seeded with
// the website's catalog from data/website.json, and the website's order export serving the online orders
// Ascend has not imported yet (bikeshopOrders).
func (e *Env) startBikeshop() error {
	srv, err := ftptest.New(ftptest.Options{User: bikeshopFTPUser, Password: bikeshopFTPPassword, TLS: true})
	if err != nil {
		return err
	}
	e.FTP = srv
	e.closers = append(e.closers, func() { srv.Close() })
	if err := e.upload("bikeshop/data/uploads"); err != nil {
		return err
	}
	b, err := fs.ReadFile(files, "bikeshop/data/website.json")
	if err != nil {
		return err
	}
	var catalog []ecomtest.Product
	if err := json.Unmarshal(b, &catalog); err != nil {
		return fmt.Errorf("bikeshop/data/website.json: %w", err)
	}
	shop := ecomtest.New(ecomtest.Options{})
	e.Ecom = shop
	e.closers = append(e.closers, shop.Close)
	shop.Seed(catalog...)

	host, port, err := net.SplitHostPort(srv.Addr())
	if err != nil {
		return err
	}
	e.Vars["ASCEND_FTP_HOST"] = host
	e.Vars["ASCEND_FTP_PORT"] = port
	e.Vars["ASCEND_FTP_USER"] = bikeshopFTPUser
	e.Vars["ASCEND_FTP_PASSWORD"] = bikeshopFTPPassword
	e.Vars["ASCEND_FTP_FINGERPRINT"] = srv.Fingerprint()
	// Nothing uploads to the embedded server while a run lists it: no need to wait between the two listings.
	e.Vars["ASCEND_FTP_SETTLE"] = "0s"
	e.Vars["ECOM_BASE_URL"] = strings.TrimSuffix(shop.URL(), "/")
	e.Vars["ECOM_STORE_ID"] = shop.StoreID()
	e.Vars["ECOM_TOKEN"] = shop.Token()

	site := orderurltest.New(orderurltest.Options{Merchant: ordersMerchant, URLKey: ordersURLKey})
	e.Orders = site
	e.closers = append(e.closers, site.Close)
	site.Add(bikeshopOrders()...)
	e.Vars["ORDER_URL"] = site.URL()
	e.Vars["ORDER_MERCHANT"] = ordersMerchant
	e.Vars["ORDER_URL_KEY"] = ordersURLKey
	return nil
}

// bikeshopOrders are the website's orders the POS has not imported yet: two orders of the KMC chain (one
// with a Marlin 7, L), as their lines name them, by website SKU (and UPC).
func bikeshopOrders() []orderurltest.Order {
	at := time.Date(2026, 11, 20, 7, 40, 0, 0, time.UTC)
	return []orderurltest.Order{
		{ID: "112026-074012-301", Time: at, Currency: "USD", CustomerID: "5120",
			BillTo: orderurltest.Address{Full: "Jane Rider", Email: "jane.rider@example.org"},
			Items: []orderurltest.Item{
				{ID: "8810", Code: "W-KMC-X11", GTIN1: "4712878421127", Quantity: 2, UnitPrice: 34.99, Description: "KMC X11 Chain"},
				{ID: "8201", Code: "W-MARLIN7-L", Quantity: 1, UnitPrice: 1099.99, Description: "Trek Marlin 7, L"},
			}},
		{ID: "112026-081533-302", Time: at.Add(35 * time.Minute), Currency: "USD", CustomerID: "5233",
			BillTo: orderurltest.Address{Full: "Sam Spoke", Email: "sam.spoke@example.org"},
			Items: []orderurltest.Item{{ID: "8810", Code: "W-KMC-X11", GTIN1: "4712878421127", Quantity: 1, UnitPrice: 34.99,
				Description: "KMC X11 Chain"}}},
	}
}

// uploadStamp finds YYYYMMDD_HHMMSS in an upload's name.
var uploadStamp = regexp.MustCompile(`_([0-9]{8}_[0-9]{6})_`)

// upload puts every file of an embedded folder in the FTP server's root, as Ascend uploads them, each
// modified at the time its name says (UTC; the time only has to be stable).
func (e *Env) upload(dir string) error {
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return err
	}
	for _, en := range entries {
		b, err := fs.ReadFile(files, path.Join(dir, en.Name()))
		if err != nil {
			return err
		}
		mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if m := uploadStamp.FindStringSubmatch(en.Name()); m != nil {
			if t, err := time.Parse("20060102_150405", m[1]); err == nil {
				mtime = t
			}
		}
		e.FTP.Put("/"+en.Name(), b, mtime)
	}
	return nil
}

// bikeshopScenario is the chain's day: the daytime inventory uploads arrive, and the merchant edits the
// website's own content.
func bikeshopScenario() []Step {
	return []Step{{
		Title: "10:00: Ascend's daytime inv uploads arrive: Downtown sold a Marlin 7 (M) and 3 KMC X11 chains, " +
			"Uptown received 6 Shimano HG701 chains. On the website, the merchant renames the KMC chain.",
		Do: func(e *Env) error {
			if err := e.upload("bikeshop/data/scenario"); err != nil {
				return err
			}
			if !e.Ecom.Edit("W-KMC-X11", func(p *ecomtest.Product) { p.Name = "KMC X11 Chain, 11-speed, silver" }) {
				return fmt.Errorf("demo: no W-KMC-X11 in the store")
			}
			return nil
		},
		Note: "(An inv upload changes quantities only, so the plan updates nothing else. The renamed product is " +
			"not drift: the website owns names, and this pipeline never sends them. The upload does not count the two " +
			"open website orders yet: the notes list what they reserve, and the website keeps those units sold.)",
	}, {
		Title: "11:00: Ascend imports order 112026-074012-301 (2 KMC chains, a Marlin 7 L) and confirms it on the " +
			"website, which stops serving it. 12:00: the inv uploads count the sale.",
		Do: func(e *Env) error {
			if err := confirmAsPOS(e.Orders, "112026-074012-301"); err != nil {
				return err
			}
			return e.upload("bikeshop/data/noon")
		},
		NoChanges: true,
		Note: "(No change: the upload now counts the imported order, which no longer reserves anything, so nothing " +
			"is subtracted twice. Order 112026-081533-302 still holds its chain.)",
	}, {
		Title: "13:00: the customer of order 112026-081533-302 cancels it on the website.",
		Do: func(e *Env) error {
			if !e.Orders.Edit("112026-081533-302", func(o *orderurltest.Order) { o.Status = "Cancelled" }) {
				return fmt.Errorf("demo: no order 112026-081533-302 on the website")
			}
			return nil
		},
		Note: "(The cancelled order releases its chain: the website's quantity goes back up by one.)",
	}}
}

// confirmAsPOS confirms receipt of an order on the website, as Ascend does once it imported it (UpdateOrder).
func confirmAsPOS(site *orderurltest.Server, id string) error {
	q := url.Values{"method": {"UpdateOrder"}, "ver": {"2.00"}, "merchant": {site.Merchant()}, "URLkey": {site.URLKey()},
		"OrderNumber": {id}}
	resp, err := http.Get(site.URL() + "?" + q.Encode())
	if err != nil {
		return fmt.Errorf("demo: confirm order %s: %w", id, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !site.Confirmed(id) {
		return fmt.Errorf("demo: confirm order %s: HTTP %d", id, resp.StatusCode)
	}
	return nil
}
