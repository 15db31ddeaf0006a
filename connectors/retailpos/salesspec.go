package retailpos

import (
	"github.com/possync/possync/spec"
)

var salesSpec = spec.Component{
	Kind:    spec.KindSink,
	Name:    "retailpos_orders",
	Summary: "Create each website order as an open sale (layby or on account) in a Lightspeed Retail X-Series POS, exactly once.",
	Description: `Creates one sale per order record (connectors/order, as order_match outputs them: pos_customer_id,
outlet and lines with product_id) through POST /api/{api_version}/sales, the date-versioned Sales API:
state pending with the attributes [sale_type, pickup|delivery] (sale_type: layby by default, the goods leave
when paid), the order's customer, one line per order line at its unit price (tax excluded) and unit tax,
shipping as a line of shipping_product, an order discount as a line of discount_product (quantity -1), no
payments, and the order's outlet (routing) at its register (registers, else the outlet's first register by name). The sale's note names
the website order, its shipping method and the customer's comments; invoice_number is invoice_prefix + the
order id.

Exactly once: the sale's id is our own, a UUID (version 5) derived from the pipeline's name and the order id,
so every attempt for an order carries the same id. When the answer to a creation is lost (a timeout, a
dropped connection, 500, 502, 504), the sink waits a moment (2 s, then 4 s) and looks the sale up by that id
(GET /api/2.0/sales/{id}), and by its invoice number (the documented sales search filter, should the POS not
keep a client-given id), before it sends anything again (409 Conflict is looked up the same way): found, the order is done; not found, it is sent again. After a crash, the runner's
Reconcile asks the same question for every order sent without an answer. Updates and deletions are refused:
a sale is never changed by later website edits (use diff on_change: keep and on_missing: keep).

Customers: an order without pos_customer_id (order_match with create_customers: true) gets a customer
created first, from its bill-to name (else ship-to), email, phone and address, with customer_code
customer_prefix + the website customer id (else the order id). Before creating, the sink searches that code,
then the email (exactly one customer with it is used), so a retry never creates a second customer.

Taxes: a line's tax is its own (the website itemised it) or the order's tax spread over the lines by amount;
taxed lines carry the tax named or identified by tax, untaxed ones no_tax ("No Tax", the X-Series tax for
tax-free lines). Requests are paced (requests_per_minute) and retried on 429 (Retry-After) and 503.`,
	Fields: salesFields(),
	Example: `sink:
  type: retailpos_orders
  domain_prefix: acme-outdoor
  token: ${RETAILPOS_TOKEN}
  user_id: 0adfd74a-153e-11e9-fa42-67b5781ba1fb
  shipping_product: SHIPPING
  tax: Sales Tax`,
	Config: salesConfig{},
}

// Defaults of the orders sink (also declared in salesSpec).
const (
	defaultAPIVersion     = "2026-07"
	defaultInvoicePrefix  = "WEB-"
	defaultCustomerPrefix = "WEB-"
	defaultNoTax          = "No Tax"
)

func salesFields() []spec.Field {
	return append(sourceFields("retailpos_orders", "domain_prefix", "base_url", "token", "timeout", "retry_budget",
		"requests_per_minute"),
		spec.Field{Name: "user_id", Type: spec.TypeString, Required: true, Example: "0adfd74a-153e-11e9-fa42-67b5781ba1fb",
			Description: "The X-Series user the sales are recorded by (source.author_id)."},
		spec.Field{Name: "sale_type", Type: spec.TypeString, Default: "layby", Enum: []string{"layby", "onaccount"},
			Description: "layby (goods leave when paid) or onaccount (unpaid, goods leave now)."},
		spec.Field{Name: "registers", Type: spec.TypeMap, Items: &spec.Field{Type: spec.TypeString},
			Example:     map[string]any{"Main Street": "Web Register"},
			Description: "Outlet (name or id) → register (name or id) the outlet's sales are recorded at. Default: the outlet's first register by name."},
		spec.Field{Name: "shipping_product", Type: spec.TypeString, Example: "SHIPPING",
			Description: "SKU or id of the product that carries shipping charges. Required when orders have shipping."},
		spec.Field{Name: "discount_product", Type: spec.TypeString, Example: "DISCOUNT",
			Description: "SKU or id of the product that carries order discounts. Required when orders have a discount."},
		spec.Field{Name: "tax", Type: spec.TypeString, Example: "Sales Tax",
			Description: "Name or id of the tax of taxed lines. Required when orders have tax."},
		spec.Field{Name: "no_tax", Type: spec.TypeString, Default: defaultNoTax,
			Description: "Name or id of the tax of untaxed lines."},
		spec.Field{Name: "invoice_prefix", Type: spec.TypeString, Default: defaultInvoicePrefix,
			Description: "The sale's invoice_number is this prefix and the order id."},
		spec.Field{Name: "customer_prefix", Type: spec.TypeString, Default: defaultCustomerPrefix, Advanced: true,
			Description: "Created customers' customer_code is this prefix and the website customer id (else the order id)."},
		spec.Field{Name: "api_version", Type: spec.TypeString, Default: defaultAPIVersion, Advanced: true,
			Description: "The date version of the Sales and Customers write endpoints (/api/{api_version}/sales); base_url's last path element is replaced by it."},
	)
}
