package examples

import (
	"fmt"
	"strings"
	"time"

	"github.com/possync/possync/connectors/orderurl/orderurltest"
	"github.com/possync/possync/connectors/retailpos"
	"github.com/possync/possync/connectors/retailpos/retailpostest"
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
	e.startOrdersPOS()
	return nil
}

// ordersPipeline is the name of the orders example's import pipeline (orders.yaml): the sales its
// retailpos_orders sink creates carry ids derived from it.
const ordersPipeline = "bikeshop-orders"

// startOrdersPOS brings up the Retail POS of the statuses pipeline (statuses.yaml), holding the sales of the
// sample export's orders as retailpos_orders creates them (our sale id, source possync, invoice WEB-<order>),
// open: order 120526-114002-102 is a pickup at Downtown, the others are delivered (120526-140355-103, which
// the website cancelled, has no sale).
func (e *Env) startOrdersPOS() {
	pos := retailpostest.New(retailpostest.Options{})
	e.ordersPOS = pos
	e.closers = append(e.closers, pos.Close)
	main := pos.AddOutlet(retailpostest.Outlet{Name: "Main Street"})
	downtown := pos.AddOutlet(retailpostest.Outlet{Name: "Downtown"})
	bike := pos.Upsert(retailpostest.Product{SKU: "FX3-BLK-M", Name: "FX 3 Disc", Active: true, HasInventory: true})
	tube := pos.Upsert(retailpostest.Product{SKU: "TUBE-29", Name: "Tube 29 in", Active: true, HasInventory: true})
	for _, id := range []string{"120526-091244-101", "120526-114002-102", "120526-162109-104"} {
		outlet, fulfil := main.ID, "delivery"
		if id == "120526-114002-102" {
			outlet, fulfil = downtown.ID, "pickup"
		}
		pos.AddSale(retailpostest.Sale{ID: retailpos.SaleID(ordersPipeline, id), OutletID: outlet, State: "pending",
			Attributes: []string{"layby", fulfil}, InvoiceNumber: "WEB-" + id, SourceType: "possync", SourceID: id,
			Note: "Web order " + id, Lines: []retailpostest.SaleLine{{ProductID: bike.ID, Quantity: 1, Price: 899},
				{ProductID: tube.ID, Quantity: 2, Price: 8.5}}})
	}
	e.Vars["RETAILPOS_BASE_URL"] = pos.URL()
	e.Vars["RETAILPOS_TOKEN"] = pos.Token()
}

// ordersScenario: a new order arrives, and the export serves an imported order again; in the POS, the pickup
// order is packed and a delivered order completed, so their statuses go back to the website.
func ordersScenario() []Step {
	return []Step{{
		Title: "On the website: a new order arrives, and the export serves order 120526-091244-101 again (as when " +
			"the site lost its confirmation). In the POS: the pickup order 120526-114002-102 is packed, and the " +
			"sale of 120526-162109-104 is completed.",
		Do: func(e *Env) error {
			e.Orders.Unconfirm("120526-091244-101")
			o := orderurltest.Generate(1, 105, time.Date(2026, 12, 6, 8, 30, 0, 0, time.UTC), "")[0]
			o.ID = "120626-083000-105"
			e.Orders.Add(o)
			e.ordersPOS.PackForPickup(retailpos.SaleID(ordersPipeline, "120526-114002-102"))
			if !e.ordersPOS.SetSaleState(retailpos.SaleID(ordersPipeline, "120526-162109-104"), "closed") {
				return fmt.Errorf("no sale of order 120526-162109-104")
			}
			return nil
		},
		Note: "(orders.yaml: only the new order is planned: 120526-091244-101 is in the state already, so it is " +
			"confirmed again and never imported twice. statuses.yaml: Ready for Pickup for 120526-114002-102 and " +
			"Shipping for 120526-162109-104, each sent once: the plan after the apply finds nothing left to send.)",
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
