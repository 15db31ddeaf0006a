package orderurl

import "github.com/possync/possync/spec"

// DefaultStatusAfterImport is the website status an order gets once possync has imported and confirmed it
// (the site's default status change, Received → Being Processed).
const DefaultStatusAfterImport = "Being Processed"

var sourceSpec = spec.Component{
	Kind:    spec.KindSource,
	Name:    "order_url",
	Summary: "Download the website's new orders from its order export URL (API version 2.0) and confirm their receipt.",
	Description: `Reads the orders a website (Workstand / SmartEtailing order export, API version 2.0) has marked for
export: GET {url}?method=Orders&ver=2.00&merchant={merchant}&URLkey={url_key}[&location={location}], a
WebOrders XML document. One record per order (the order record of every order source: order_id, origin
"order_url", placed_at, currency, customer_id, email, phone, bill_* and ship_* name and address,
shipping_method, fulfilment "pickup" (Shipping/Classification In-Store Pickup, with pickup_location) or
"delivery", payment_method, web_status, cancelled, comments, subtotal, discount, shipping, tax, total), its
items as a JSON array in lines (code, MPN, GTIN1/2, quantity, unit price, weight, description, category,
options, supplier_fulfilled). Key the pipeline by order_id.

The export serves every order not yet confirmed, so a read is the set of pending orders: pair it with
diff.on_missing: keep (an order that leaves the export is not a delete) and diff.on_change: keep (an order
already imported is never sent again, even when the website serves it again). After the run's changes are
committed to state, possync confirms each order of the download that is in the applied state: UpdateOrder
(the site stops serving it), then UpdateStatus to status_after_import (not for a cancelled order). A confirm
that fails is a note of the run report and is retried by the next run, which reads the order again but never
imports it twice.

Exports are read as they are: a NumberOfOrders that disagrees with the orders present is a note; entity-escaped
text is unescaped; an empty or placeholder email is kept and noted (it cannot identify a customer); cancelled
orders are read with cancelled = true. An order with an unreadable value (a quantity that is not a number) is
rejected: not imported, not confirmed, listed in the report. A response that is not well-formed XML (truncated,
broken) fails the read with the position, and imports nothing; a response of another API version fails with
the setting to change. 503, 502, 504, 429 and timeouts are retried with exponential backoff.

When orders appear in the export depends on the website's Export Mode (docs/orders.md): every new order; new
orders held while a supplier fulfillment is pending (until the supplier marks the items Shipped or Canceled);
or only once all items are Fulfilled.`,
	Fields: []spec.Field{
		{
			Name:     "url",
			Type:     spec.TypeString,
			Required: true,
			Description: "The Download Order URL without its query string (method, merchant and URL key are added). " +
				"Read it from the environment.",
			Example: "${ORDER_URL}",
			HTTPURL: true,
		},
		{
			Name:        "merchant",
			Type:        spec.TypeString,
			Required:    true,
			Description: "The website's merchant (store) id, the merchant parameter of the export URLs.",
			Example:     "1234",
		},
		{
			Name:        "url_key",
			Type:        spec.TypeString,
			Required:    true,
			Secret:      true,
			Description: "The per-merchant URL key (URLkey parameter). A secret: read it from the environment.",
			Example:     "${ORDER_URL_KEY}",
		},
		{
			Name: "location",
			Type: spec.TypeString,
			Description: "Multi-Store Location Name, exactly as configured on the website: only that location's orders " +
				"(its in-store pickups; all shipped orders at the primary eCommerce location). Empty: every order.",
			Example: "Downtown Store",
		},
		{
			Name:    "status_after_import",
			Type:    spec.TypeString,
			Default: DefaultStatusAfterImport,
			Description: "Website status set (UpdateStatus) after an order is imported and its receipt confirmed. " +
				"\"\" turns the status change off (UpdateOrder only).",
			Example: "Being Processed",
		},
		{
			Name:    "confirm",
			Type:    spec.TypeBool,
			Default: true,
			Description: "Confirm the imported orders on the website (UpdateOrder, then status_after_import). Set false " +
				"where the orders are only read, e.g. by an inventory pipeline's reserve step: such a pipeline must never " +
				"confirm an order, which would take it out of the POS's own download.",
			Example: false,
		},
		{
			Name:        "timezone",
			Type:        spec.TypeString,
			Default:     "UTC",
			Description: "IANA time zone of the order times the website sends (placed_at is stored in UTC).",
			Example:     "America/Denver",
		},
		{
			Name:        "timeout",
			Type:        spec.TypeDuration,
			Default:     "60s",
			Description: "Timeout of each request (a timeout is retried).",
			Advanced:    true,
		},
		{
			Name:        "retries",
			Type:        spec.TypeInt,
			Default:     5,
			Description: "Retries of a request the site answered with 503, 502, 504 or 429, or that timed out.",
			Advanced:    true,
		},
	},
	Example: `sources:
  orders:
    type: order_url
    url: ${ORDER_URL}
    merchant: "1234"
    url_key: ${ORDER_URL_KEY}
    status_after_import: Being Processed`,
	Config: sourceConfig{},
}
