package examples

import (
	"fmt"
	"sort"
	"strings"

	"github.com/possync/possync/connectors/orderurl/orderurltest"
	"github.com/possync/possync/connectors/retailpos/retailpostest"
)

// The bike shop's order export credentials, as in the website's Export Settings URLs, and the POS user the
// demo's sales are recorded by.
const (
	ordersMerchant = "4127"
	ordersURLKey   = "demo-url-key-7c41e9"
	ordersPOSUser  = "0adfd74a-153e-11e9-fa42-67b5781ba1fb"
)

// The orders of the sample export (data/orders.xml), one per import status against the demo POS.
const (
	// OrderDelivery ships to Jane Rider, a POS customer: New, to Main Street.
	OrderDelivery = "120526-091244-101"
	// OrderPickup is Sam Okafor's in-store pickup at the Downtown Store: New, to the Downtown outlet.
	OrderPickup = "120526-114002-102"
	// OrderCancelled was cancelled on the website: held back.
	OrderCancelled = "120526-140355-103"
	// OrderUnknownProduct has a supplier-fulfilled helmet the POS does not sell: Product Match Failed.
	OrderUnknownProduct = "120526-162109-104"
	// OrderUnknownCustomer is Chris Mendez's, not yet a POS customer: Customer ID Needed until the
	// scenario adds him (ordersScenario).
	OrderUnknownCustomer = "120526-184730-105"
)

// startOrders brings up the website's order export (the emulator), serving the sample export
// data/orders.xml, and the Retail POS the orders go to (seedOrdersPOS).
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
	pos := retailpostest.New(retailpostest.Options{})
	e.RetailPOS = pos
	e.closers = append(e.closers, pos.Close)
	seedOrdersPOS(pos)
	e.Vars["ORDER_URL"] = site.URL()
	e.Vars["ORDER_MERCHANT"] = ordersMerchant
	e.Vars["ORDER_URL_KEY"] = ordersURLKey
	e.Vars["RETAILPOS_BASE_URL"] = pos.URL()
	e.Vars["RETAILPOS_TOKEN"] = pos.Token()
	e.Vars["RETAILPOS_USER_ID"] = ordersPOSUser
	return nil
}

// seedOrdersPOS sets up the bike shop's X-Series store for the orders example: the example catalog
// (LoadExample: outlets Main Street and Warehouse, the Bravo bikes, the Trail Bottle, the gift card, ...), a
// Downtown outlet for in-store pickups, a register at Main Street and at Downtown, the taxes "Sales Tax" (8.25%)
// and "No Tax", a SHIPPING product for the shipping lines, and three customers of the sample orders: Jane Rider,
// Sam Okafor and Ana Flores. Chris Mendez (OrderUnknownCustomer) is not a customer yet.
func seedOrdersPOS(pos *retailpostest.Server) {
	pos.LoadExample()
	downtown := pos.AddOutlet(retailpostest.Outlet{Name: "Downtown"})
	pos.AddRegister(retailpostest.Register{Name: "Main Street 1", OutletID: retailpostest.OutletMainStreet})
	pos.AddRegister(retailpostest.Register{Name: "Downtown 1", OutletID: downtown.ID})
	pos.AddTax(retailpostest.Tax{Name: "Sales Tax", Rate: 0.0825})
	pos.AddTax(retailpostest.Tax{Name: "No Tax"})
	pos.Upsert(retailpostest.Product{Handle: "shipping", SKU: "SHIPPING", Name: "Shipping", Active: true})
	pos.AddCustomer(retailpostest.Customer{FirstName: "Jane", LastName: "Rider", Email: "jane.rider@mail.test", Phone: "303-555-0142"})
	pos.AddCustomer(retailpostest.Customer{FirstName: "Sam", LastName: "Okafor", Email: "Sam.Okafor@mail.test"})
	pos.AddCustomer(retailpostest.Customer{FirstName: "Ana", LastName: "Flores", Email: "ana.flores@mail.test"})
}

// ordersScenario: the integrator adds the missing customer to the POS, and the export serves an imported
// order again (as when the website lost its confirmation).
func ordersScenario() []Step {
	return []Step{{
		Title: "In the POS: the integrator adds Chris Mendez (chris.mendez@mail.test) as a customer, which order " +
			OrderUnknownCustomer + " needed. On the website: the export serves order " + OrderDelivery +
			" again (as when the site lost its confirmation).",
		Do: func(e *Env) error {
			e.RetailPOS.AddCustomer(retailpostest.Customer{FirstName: "Chris", LastName: "Mendez", Email: "chris.mendez@mail.test",
				Phone: "303-555-0164"})
			e.Orders.Unconfirm(OrderDelivery)
			return nil
		},
		Note: "(Only " + OrderUnknownCustomer + " is planned, once: " + OrderDelivery + " is in the state already, so " +
			"it is confirmed again and never imported twice. The other held-back orders still wait for their fix.)",
		Plain: true,
	}}
}

// Summary describes the example's world after a sync, for the demo: the POS sales made from website orders,
// and the website's orders with their status and whether the POS import was confirmed. Empty for examples
// with nothing to tell.
func (e *Env) Summary() string {
	if e.Orders == nil {
		return ""
	}
	var b strings.Builder
	if e.RetailPOS != nil {
		sales := e.RetailPOS.Sales()
		fmt.Fprintf(&b, "The POS's sales from website orders now (%d):\n", len(sales))
		outlets := map[string]string{}
		for _, o := range e.RetailPOS.Outlets() {
			outlets[o.ID] = o.Name
		}
		customers := map[string]string{}
		for _, c := range e.RetailPOS.Customers() {
			customers[c.ID] = strings.TrimSpace(c.FirstName + " " + c.LastName)
		}
		sort.SliceStable(sales, func(i, j int) bool { return sales[i].SourceID < sales[j].SourceID })
		for _, x := range sales {
			var total float64
			for _, l := range x.Lines {
				total += l.Quantity * (l.Price + l.Tax)
			}
			fmt.Fprintf(&b, "  order %s  invoice %-22s %-8s %-12s %-12s %d line(s), %8.2f incl. tax  (%s)\n",
				x.SourceID, x.InvoiceNumber, x.State, outlets[x.OutletID], customers[x.CustomerID], len(x.Lines), total,
				strings.Join(x.Attributes, ", "))
		}
	}
	b.WriteString("The website's orders now:\n")
	for _, id := range e.Orders.IDs() {
		o, _ := e.Orders.Order(id)
		confirmed := "held back (see the plan notes), still in the export"
		if e.Orders.Confirmed(id) {
			confirmed = "imported, receipt confirmed"
		}
		fmt.Fprintf(&b, "  %s  %-16s %s\n", id, o.Status, confirmed)
	}
	return b.String()
}
