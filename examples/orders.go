package examples

import (
	"fmt"
	"strings"
	"time"

	"github.com/possync/possync/connectors/orderurl/orderurltest"
)

// The bike shop's order export credentials, as in the website's Export Settings URLs.
const (
	ordersMerchant = "4127"
	ordersURLKey   = "demo-url-key-7c41e9"
)

// startOrders brings up the website's order export (the emulator), serving the sample export
// data/orders.xml.
func (e *Env) startOrders() error {
	site := orderurltest.New(orderurltest.Options{Merchant: ordersMerchant, URLKey: ordersURLKey, PrimaryLocation: "Main Street"})
	e.Orders = site
	e.closers = append(e.closers, site.Close)
	f, err := files.Open("orders/data/orders.xml")
	if err != nil {
		return err
	}
	defer f.Close()
	if err := site.LoadXML(f); err != nil {
		return err
	}
	e.Vars["ORDER_URL"] = site.URL()
	e.Vars["ORDER_MERCHANT"] = ordersMerchant
	e.Vars["ORDER_URL_KEY"] = ordersURLKey
	return nil
}

// ordersScenario: a new order arrives, and the export serves an imported order again.
func ordersScenario() []Step {
	return []Step{{
		Title: "On the website: a new order arrives, and the export serves order 120526-091244-101 again (as when " +
			"the site lost its confirmation).",
		Do: func(e *Env) error {
			e.Orders.Unconfirm("120526-091244-101")
			o := orderurltest.Generate(1, 105, time.Date(2026, 12, 6, 8, 30, 0, 0, time.UTC), "")[0]
			o.ID = "120626-083000-105"
			e.Orders.Add(o)
			return nil
		},
		Note: "(Only the new order is planned: 120526-091244-101 is in the state already, so it is confirmed " +
			"again and never imported twice.)",
		Plain: true,
	}}
}

// Summary describes the example's world after a sync, for the demo: the website's orders, their status and
// whether the POS import was confirmed. Empty for examples with nothing to tell.
func (e *Env) Summary() string {
	if e.Orders == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("The website's orders now:\n")
	for _, id := range e.Orders.IDs() {
		o, _ := e.Orders.Order(id)
		confirmed := "waiting for the POS"
		if e.Orders.Confirmed(id) {
			confirmed = "imported, receipt confirmed"
		}
		fmt.Fprintf(&b, "  %s  %-16s %s\n", id, o.Status, confirmed)
	}
	return b.String()
}
