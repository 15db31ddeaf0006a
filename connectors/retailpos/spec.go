package retailpos

import (
	"fmt"

	"github.com/possync/possync/spec"
)

var sourceSpec = spec.Component{
	Kind:    spec.KindSource,
	Name:    "retailpos",
	Summary: "Read the product catalog of a Lightspeed Retail X-Series POS (API 2.0), with inventory per outlet.",
	Description: `Reads one record per product (each variant is its own product in X-Series) from
https://{domain_prefix}.retail.lightspeed.app/api/2.0 with a bearer token: id, sku, handle, name, variant_name,
description, brand (name), category (the product category's path joined with " > ", else the product type's
name), upc (the first product code of type UPC or EAN), price (price_excluding_tax), active, online
(ecwid_enabled_webstore; true when absent), has_inventory, quantity, parent_sku (the SKU of the variant's
parent product; null for parents and standalone products), options (the variant options as a JSON object of
name → value, sorted keys), images (a JSON array of image URLs), weight_kg, length_cm, width_cm, height_cm
(converted from the product's weight_unit G, KG, LB, OZ, CT and dimensions_unit IN, CM, MM, YD; null when the
unit is missing or unknown), deleted (deleted_at set), updated_at and version. Empty texts are null. Fields
the POS never syncs to eCom (supplier, supplier code, supply price, reorder points, tax, tags) are not read.

Quantity is the sum of the inventory levels at the selected outlets, a negative level counting as 0, rounded
down; it is null for products without inventory tracking (sell them as unlimited) and for deleted products.
The outlets are those named in outlets; else ecom_outlet (the outlet of the register linked to eCom, which
the API does not expose); else the retailer's only outlet. With several outlets and neither setting, the read
fails and lists them.

Reads are incremental. The checkpoint keeps the highest product and inventory versions read; the next run
asks only for what changed after them (version-cursor paging: after = the previous page's version.max until
a page is empty), fetches the product of every inventory change and the inventory of every changed product,
so a stock change of an unchanged product still updates its record. Everything is read again on the first
run, with possync --full-refresh, when the selected outlets change, every full_refresh_every (so that nothing
missed stays missed), and when an incremental read would need more single-product requests than a full read.

Every read, full or incremental, is reported as changes keyed by id: the runner keeps this source's records
and merges each read into them. A full read includes deleted products, as records with deleted = true, so a
deleted product never silently vanishes; map deleted (and active, online) to deletions or deactivations in
the transforms. A product without a SKU is rejected (the run report lists it) rather than read.

Requests are paced client-side (requests_per_minute) and retried on 429 (waiting for Retry-After, an HTTP
date), 408 and 5xx. X-Series allows 300 × registers + 50 requests per 5 minutes per application; the default
of 60 per minute is the budget of a one-register store, leaving headroom for the POS itself.`,
	Fields: []spec.Field{
		{
			Name:        "domain_prefix",
			Type:        spec.TypeString,
			Description: "The store's domain prefix: acme for https://acme.retail.lightspeed.app. Set this or base_url.",
			Example:     "acme-outdoor",
		},
		{
			Name:    "base_url",
			Type:    spec.TypeString,
			HTTPURL: true,
			Description: "API root URL, overriding domain_prefix (for emulators and tests), e.g. " +
				"http://127.0.0.1:8080/api/2.0.",
			Example:  "https://acme-outdoor.retail.lightspeed.app/api/2.0",
			Advanced: true,
		},
		{
			Name:        "token",
			Type:        spec.TypeString,
			Required:    true,
			Secret:      true,
			Description: "Personal token or OAuth access token, sent as a bearer token. Read it from the environment.",
			Example:     "${RETAILPOS_TOKEN}",
		},
		{
			Name:  "outlets",
			Type:  spec.TypeList,
			Items: &spec.Field{Type: spec.TypeString},
			Description: "Outlets (IDs or names, case-insensitive) whose inventory is summed into quantity, as the " +
				"eCom integration's \"sync inventory levels\" outlets. Default: ecom_outlet, else the only outlet.",
			Example: []any{"Main Street", "Warehouse"},
		},
		{
			Name: "ecom_outlet",
			Type: spec.TypeString,
			Description: "The outlet (ID or name) of the register linked to eCom, used when outlets is not set. The " +
				"API has no such flag, so name it here.",
			Example: "Main Street",
		},
		{
			Name:        "page_size",
			Type:        spec.TypeInt,
			Default:     defaultPageSize,
			Description: "Items per page of /products and /inventory.",
			Advanced:    true,
		},
		{
			Name:        "timeout",
			Type:        spec.TypeDuration,
			Default:     "30s",
			Description: "Timeout of each request.",
			Advanced:    true,
		},
		{
			Name:    "retry_budget",
			Type:    spec.TypeDuration,
			Default: "2m",
			Description: "Time one request may spend retrying a rate limit (429), a busy or failing API (408, 5xx) " +
				"or a timeout, waits included; the error then says the budget ran out. A refused connection, an " +
				"unknown host, a TLS failure and a refusal (400, 401, 403, 404) are never retried. possync check " +
				"uses its own budget of 10s.",
			Advanced: true,
		},
		{
			Name:    "full_refresh_every",
			Type:    spec.TypeDuration,
			Default: "24h",
			Description: "Read everything again when the last full read is at least this old, so that nothing missed " +
				"stays missed. 0 turns the periodic full refresh off.",
			Example: "12h",
		},
		{
			Name:    "requests_per_minute",
			Type:    spec.TypeInt,
			Default: defaultRequestsPerMinute,
			Description: "Client-side pace of the requests. X-Series allows 300 × registers + 50 requests per 5 " +
				"minutes; 60 per minute fits a one-register store. 0 turns the pacing off (429s are still honoured).",
			Advanced: true,
		},
	},
	Example: `source:
  type: retailpos
  domain_prefix: acme-outdoor
  token: ${RETAILPOS_TOKEN}
  outlets: [Main Street, Warehouse]`,
	Config: sourceConfig{},
}

// sourceFields returns copies of the retailpos source's declared fields called names, in that order, for
// component (another retailpos component declaring the same connection settings). It panics, at start-up,
// when the source declares no such field.
func sourceFields(component string, names ...string) []spec.Field {
	fields := make([]spec.Field, 0, len(names))
	for _, name := range names {
		f, ok := sourceSpec.Field(name)
		if !ok {
			panic(fmt.Sprintf("retailpos: no field %s to share with %s", name, component))
		}
		fields = append(fields, *f)
	}
	return fields
}
