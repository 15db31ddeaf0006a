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
// order again (as when the website lost its confirmation); then the store works the sales in the POS
// (worksOrders) and statuses.yaml takes their statuses back to the website, the cancellation through the
// mass-change guard, and nothing again on a rerun.
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
		Commands: []Command{{
			Args: "plan orders.yaml --limit 20",
			Exit: 2,
			Note: "(Only " + OrderUnknownCustomer + " is planned, once: " + OrderDelivery + " is in the state already, so " +
				"it is confirmed again and never imported twice. The other held-back orders still wait for their fix.)",
		}, {
			Args: "apply orders.yaml",
		}, {
			Args: "plan orders.yaml",
		},
			statusCommand("apply statuses.yaml", 0, "(statuses.yaml records the new sale, open in the POS: nothing to tell the website yet.)"),
		},
	}, {
		Title: "In the POS, the store works the imported orders: Downtown packs Sam Okafor's pickup " + OrderPickup +
			" (Ready for Pickup), Main Street completes Jane Rider's delivery " + OrderDelivery + " (the sale is closed), " +
			"and Chris Mendez's order " + OrderUnknownCustomer + " is voided. statuses.yaml takes this back to the website.",
		Do: worksOrders,
		Commands: []Command{{
			Args: "plan statuses.yaml --limit 20",
			Exit: 3,
			Note: "(Two status changes and one cancellation. A cancel cannot be undone on the website (the customer is " +
				"refunded and emailed), so it is planned as a deactivate, which the mass-change guard counts: 1 of the 3 " +
				"orders possync recorded is over the 10% limit, and the plan is blocked: exit code 3, as apply's.)",
		},
			statusCommand("apply statuses.yaml", 3, "(The guard refuses the run with exit code 3: nothing is sent.)"),
			statusCommand("apply statuses.yaml --allow-mass-change", 0, "(Reviewed and intended: the demo overrides the guard.)"),
			statusCommand("apply statuses.yaml", 0, "(A rerun: the state knows what the website was told, so nothing is sent again.)"),
		},
	}}
}

// worksOrders is what the store does in the POS with the imported orders (the scenario's second step): the
// pickup's every line packed at Downtown (its PICKUP fulfillment: Ready for Pickup), the delivery's sale
// closed (Completed), and the order of the customer the integrator added voided (Rejected).
func worksOrders(e *Env) error {
	sales := map[string]string{}
	for _, x := range e.RetailPOS.Sales() {
		sales[x.SourceID] = x.ID
	}
	for _, id := range []string{OrderPickup, OrderDelivery, OrderUnknownCustomer} {
		if sales[id] == "" {
			return fmt.Errorf("demo: no POS sale for order %s", id)
		}
	}
	e.RetailPOS.PackForPickup(sales[OrderPickup])
	if !e.RetailPOS.SetSaleState(sales[OrderDelivery], "closed") || !e.RetailPOS.SetSaleState(sales[OrderUnknownCustomer], "voided") {
		return fmt.Errorf("demo: the POS lost a sale")
	}
	return nil
}

// statusCommand is a demo command of statuses.yaml followed by the status changes it sent to the website.
func statusCommand(args string, exit int, note string) Command {
	return Command{Args: args, Exit: exit, Note: note, Show: (*Env).sentStatuses,
		Before: func(e *Env) { e.statusCalls = len(e.Orders.CallsOf("UpdateStatus")) }}
}

// sentStatuses describes the UpdateStatus calls the website's order site received since the command began
// (statusCommand), as its emulator recorded them: what the website was told, and so what it emailed its
// customers.
func (e *Env) sentStatuses() string {
	calls := e.Orders.CallsOf("UpdateStatus")
	fresh := calls[min(e.statusCalls, len(calls)):]
	e.statusCalls = len(calls)
	if len(fresh) == 0 {
		return "The website received no status change (the order site emulator recorded no UpdateStatus call)."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The website received %d status change(s) (UpdateStatus calls the order site emulator recorded):\n", len(fresh))
	for _, c := range fresh {
		fmt.Fprintf(&b, "  order %s  -> %-17s %s\n", c.OrderNumber, c.OrderStatus, customerHears[c.OrderStatus])
	}
	return b.String()
}

// customerHears is what the website tells the customer for each status of the example's table.
var customerHears = map[string]string{
	"Ready for Pickup": "(the customer is emailed that the order is ready for pickup)",
	"Shipping":         "(the customer is emailed that the order shipped)",
	"Dealer Delivery":  "(the customer is emailed that the store delivers the order)",
	"Canceled":         "(the website refunds the customer and emails the cancellation)",
}

// Intro says, before the demo first runs a pipeline file of the example, what it is about; empty when the
// example's story needs no introduction for it.
func (e *Env) Intro(file string) string {
	if e.example == "orders" && file == "statuses.yaml" {
		return "--- statuses.yaml: the POS sales' statuses back to the website (retailpos_sales -> order_status -> " +
			"order_url_status).\n    Every sale is still open in the POS, so its first run only records them: nothing is sent."
	}
	return ""
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
