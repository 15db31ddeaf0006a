package shopify

import "github.com/possync/possync/spec"

var sourceSpec = spec.Component{
	Kind:    spec.KindSource,
	Name:    "shopify_orders",
	Summary: "Read a Shopify store's orders (Admin GraphQL API), incrementally, and mark imported orders with a tag or metafield.",
	Description: `Reads the orders updated since the last applied run from https://{shop}.myshopify.com/admin/api/{api_version}/graphql.json
with an Admin API access token (X-Shopify-Access-Token; scope read_orders, plus write_orders to mark orders, and
read_all_orders to see orders older than 60 days, which Shopify otherwise silently leaves out). One record per
order, in the order record of the order flow (origin "shopify"): order_id (the order's name, e.g. #1001, or its
numeric id with order_id: id), placed_at (processedAt), updated_at, currency, customer_id (the customer's numeric
id), email (the order's, else the customer's), phone, the billing and shipping addresses, shipping_method (the
shipping lines' titles), fulfilment (pickup when a fulfillment order is delivered by PICK_UP, and then
pickup_location is its assigned location's name; else delivery), payment_method (the payment gateways),
web_status (displayFulfillmentStatus), cancelled (cancelledAt set), comments (the order note), subtotal,
discount, shipping, tax and total (current amounts in the shop currency), and lines: per line item its SKU as
code, the variant's barcode as gtin1, vendor as brand, the current quantity (lines removed by an order edit are
left out), the original unit price, the line's taxes, its name and the variant id.

Reads are incremental: orders(query: "updated_at:>='…'", sortKey: UPDATED_AT) in cursor pages. The checkpoint is
the latest updatedAt read; the next read starts overlap before it, so an order whose update reached Shopify's
search index late (or was updated while the pages were read) is not skipped. Orders read again are harmless:
the read is reported as changes keyed by order_id, the runner keeps every order read in its state, and an order
already in the applied state is not sent again unless it changed. The checkpoint moves only with a run that
applied. Orders already marked as imported are read like the others: the state decides, never the mark.

Requests are paced by the calculated query cost Shopify reports with every answer (extensions.cost): before each
request the source waits until the leaky bucket, restoring at restoreRate, holds the request's cost, and a
THROTTLED answer waits the same way and retries. A page larger than Shopify's single-query cost limit (1000)
is made smaller. 5xx answers and lost connections are retried with backoff; GraphQL errors and mutation
userErrors are reported with the request they concern.

After a run committed, the runner confirms the orders it took (the source is a Confirmer): each order gets the
tag mark_tag (tagsAdd), or with mark: metafield the metafield metafield_namespace.metafield_key set to the time
(metafieldsSet, 25 per call). An order already carrying the mark is not written again.`,
	Fields: []spec.Field{
		{
			Name:        "shop",
			Type:        spec.TypeString,
			Description: "The shop's myshopify handle: acme for acme.myshopify.com. Set this or base_url.",
			Example:     "acme-bikes",
		},
		{
			Name: "base_url",
			Type: spec.TypeString,
			Description: "The shop's root URL, overriding shop (for emulators and tests); the API is at " +
				"<base_url>/admin/api/<api_version>/graphql.json.",
			Example:  "http://127.0.0.1:8080",
			Advanced: true,
			HTTPURL:  true,
		},
		{
			Name:        "token",
			Type:        spec.TypeString,
			Required:    true,
			Secret:      true,
			Description: "Admin API access token (shpat_…), sent as X-Shopify-Access-Token. Read it from the environment.",
			Example:     "${SHOPIFY_TOKEN}",
		},
		{
			Name:        "api_version",
			Type:        spec.TypeString,
			Default:     defaultAPIVersion,
			Description: "Admin API version (YYYY-MM).",
			Advanced:    true,
		},
		{
			Name:        "order_id",
			Type:        spec.TypeString,
			Default:     "name",
			Enum:        []string{"name", "id"},
			Description: "What becomes order_id: the order's name as the merchant sees it (#1001), or its numeric id.",
		},
		{
			Name:    "since",
			Type:    spec.TypeString,
			Example: "2026-11-01T00:00:00Z",
			Description: "RFC 3339 time: the first read (and a full refresh) takes only orders updated since then. " +
				"Default: every order Shopify shows.",
		},
		{
			Name:    "overlap",
			Type:    spec.TypeDuration,
			Default: "5m",
			Description: "How far before the checkpoint each read starts, so an order updated while the last read ran, " +
				"or indexed late, is not skipped.",
		},
		{
			Name:        "mark",
			Type:        spec.TypeString,
			Default:     "tag",
			Enum:        []string{"tag", "metafield", "none"},
			Description: "How an imported order is marked in Shopify: a tag, a metafield, or not at all.",
		},
		{
			Name:        "mark_tag",
			Type:        spec.TypeString,
			Default:     defaultTag,
			Description: "The tag added to imported orders (mark: tag).",
		},
		{
			Name:        "metafield_namespace",
			Type:        spec.TypeString,
			Default:     "possync",
			Description: "Namespace of the metafield set on imported orders (mark: metafield).",
			Advanced:    true,
		},
		{
			Name:        "metafield_key",
			Type:        spec.TypeString,
			Default:     "imported_at",
			Description: "Key of the metafield set on imported orders (mark: metafield); its value is the time.",
			Advanced:    true,
		},
		{
			Name:    "confirm",
			Type:    spec.TypeBool,
			Default: true,
			Description: "Mark the imported orders (see mark). Set false where the orders are only read, e.g. by an " +
				"inventory pipeline's reserve step: nothing is marked, and each record carries a boolean imported " +
				"column (true when the order carries the mark, i.e. an order pipeline imported it).",
			Example: false,
		},
		{
			Name:        "page_size",
			Type:        spec.TypeInt,
			Default:     maxPageSize,
			Description: "Orders per page (1 to 250); made smaller when a page would cost more than Shopify allows per query.",
			Advanced:    true,
		},
		{
			Name:    "line_items",
			Type:    spec.TypeInt,
			Default: defaultLineItems,
			Description: "Line items read with each order in the page query; an order with more is completed by " +
				"further requests. Larger values make pages smaller (the query cost grows with it).",
			Advanced: true,
		},
		{
			Name:        "timeout",
			Type:        spec.TypeDuration,
			Default:     "30s",
			Description: "Timeout of each request.",
			Advanced:    true,
		},
	},
	Example: `sources:
  orders:
    type: shopify_orders
    shop: acme-bikes
    token: ${SHOPIFY_TOKEN}
    mark_tag: possync-imported`,
	Config: sourceConfig{},
}
