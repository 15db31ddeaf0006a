package retailpos

import "github.com/possync/possync/spec"

var salesSourceSpec = spec.Component{
	Kind:    spec.KindSource,
	Name:    "retailpos_sales",
	Summary: "Read back the sales possync created in a Lightspeed Retail X-Series POS, with their POS status, for sending statuses to the website.",
	Description: `Reads the sales the retailpos_orders sink of pipeline orders_pipeline created, one record per sale keyed
by order_id (the website order number): sale_id, invoice_number, pos_state (pending, closed, voided), pos_status,
fulfilment (pickup or delivery, from the sale's attributes), lines_total, lines_ready, partial, line_fulfilment
(a JSON array of {line_id, product_id, quantity, packed, fulfilled} per sale line, null when the sale has no
pickup fulfillment in progress) and version.

A sale is ours when its id is retailpos_orders' own id for orders_pipeline and the order id it carries as
source id, or (a POS that does not keep a client-given id, so the sale's id is not a version 5 UUID) when its source is
possync and its invoice number is invoice_prefix + that order id. Every other sale is skipped and counted in a note: statuses go back only for the
orders possync imported.

pos_status (X-Series has no "ready" sale state: packing shows only in the pickup fulfillments): voided → Rejected; closed (picked up, dispatched, layby or on-account
paid off), or pending with every line fulfilled in its PICKUP fulfillments → Completed; pending with every line
packed (or fulfilled) → Ready for Pickup; pending with some lines packed → open, partial = true (and a note naming the order); else open. Lines
no fulfillment holds (shipping, services) and negative lines (discounts) are not counted.

Reads are incremental: GET /api/2.0/sales after the checkpoint's version (version-cursor pages), plus the
pickup fulfillments in progress (GET /api/{api_version}/fulfillments, states STARTED, PICKED and PACKED),
since packing a fulfillment does not change its sale's version: a sale whose fulfillment moved since the last
read, or left those states, is read again (GET /sales/{id}); a pending sale read without a fulfillment in
progress has its own fulfillments read (GET /fulfillments?sale_id=), one request per such sale. Records are changes keyed by order_id: the runner keeps them and merges
each read into them. --full-refresh reads every sale again.`,
	Fields: salesSourceFields(),
	Example: `sources:
  sales:
    type: retailpos_sales
    domain_prefix: acme-outdoor
    token: ${RETAILPOS_TOKEN}
    orders_pipeline: bikeshop-orders`,
	Config: salesSourceConfig{},
}

func salesSourceFields() []spec.Field {
	fields := sourceFields("retailpos_sales", "domain_prefix", "base_url", "token", "page_size", "timeout",
		"retry_budget", "requests_per_minute")
	fields[3].Description = "Sales per page of /sales, and pickup fulfillments per page of /fulfillments (at most 100, " +
		"the most that endpoint serves)."
	return append(fields,
		spec.Field{Name: "orders_pipeline", Type: spec.TypeString, Required: true, Example: "bikeshop-orders",
			Description: "The name of the pipeline whose retailpos_orders sink created the sales (their ids derive from it)."},
		spec.Field{Name: "invoice_prefix", Type: spec.TypeString, Default: defaultInvoicePrefix,
			Description: "The invoice_prefix of that retailpos_orders sink."},
		spec.Field{Name: "api_version", Type: spec.TypeString, Default: defaultAPIVersion, Advanced: true,
			Description: "The date version of the fulfillments endpoint (/api/{api_version}/fulfillments)."},
	)
}
