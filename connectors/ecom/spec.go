package ecom

import (
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// connectionFields are the store connection settings, shared by the ecom sink and the ecom_products source.
var connectionFields = []spec.Field{
	{Name: "store_id", Type: spec.TypeString, Required: true, Example: "1003",
		Description: "The store's id (Settings → General → Store ID in the eCom admin)."},
	{Name: "token", Type: spec.TypeString, Required: true, Secret: true, Example: "${ECOM_TOKEN}",
		Description: "A secret_ access token with the read_catalog, update_catalog and create_catalog scopes."},
	{Name: "base_url", Type: spec.TypeString, Default: "https://app.ecwid.com/api/v3", Advanced: true, HTTPURL: true,
		Description: "The API root (an http or https URL); the store id is appended."},
	{Name: "requests_per_minute", Type: spec.TypeInt, Default: 600, Advanced: true,
		Description: "Client-side pace of requests; the API allows 600 per minute per token."},
	{Name: "timeout", Type: spec.TypeDuration, Default: "30s", Advanced: true,
		Description: "Time limit of one HTTP request."},
	{Name: "retry_budget", Type: spec.TypeDuration, Default: "2m", Advanced: true, Example: "5m",
		Description: "Time one request may spend retrying a rate limit (429), a busy or failing store (408, 5xx) " +
			"or a timeout, waits included; the error then says the budget ran out. A refused connection, an " +
			"unknown host, a TLS failure and a refusal (400, 401, 403, 404) are never retried. possync check " +
			"uses its own budget of 10s."},
}

var sinkSpec = spec.Component{
	Kind:    spec.KindSink,
	Name:    "ecom",
	Summary: "Mirror the catalog into a Lightspeed eCom (E-Series) store through the Ecwid REST API v3.",
	Description: `Creates, updates, deactivates and deletes the store's products, keyed by SKU (the pipeline key
must be sku). Each record is one product, or one variant when parent_sku is set. Only the fields the records
carry are ever sent, so anything the pipeline does not map is left as the merchant set it in the store.

Record fields (each optional except sku; any other field is an error):

sku (string): the key, a product's or a variant's SKU.

name, description (string): the product's title and HTML description.

brand, upc (string): sent as the product attributes of type BRAND and UPC (a variant sends upc only).

category (string): a category path such as "Footwear > Running", matched by name level by level; levels the
store lacks are created (POST /categories); null or "" means no category.

price (float): the price. quantity (int) and unlimited (bool): the stock; unlimited true (or, without an
unlimited field, a null quantity) stops stock tracking. enabled (bool): on sale online (null: not sent).

weight (float) in the store's weight unit (kg); length, width, height (float): the shipping dimensions, in
the store's unit (cm).

images (string): a JSON array of image URLs; the first becomes the main image, the others the gallery. When
images change, PUT /products/{id}/media replaces both; images added in the store stay until then.

parent_sku (string): makes the record a variant, a combination of the product with that SKU. options
(string): a variant's JSON object of option name to value, e.g. {"Size":"M"}; options the product lacks are
created by the store. A new variant needs options; creating one the store already has updates it, options or not.

compare_to_price (float), subtitle (string), warning_limit (int): eCom-only fields (compare-to price,
subtitle, low-stock threshold), allowed only when listed in owned_fields; null clears them (sent as 0, ""
and 0). Without them the merchant's values are never touched.

Variants carry sku, price, quantity, unlimited, weight, upc, warning_limit and options; the other fields
are product-level in eCom and are ignored for variants. Combinations have no on/off switch: a variant whose
enabled is false is sent with quantity 0 and unlimited false. A variant's product must be in the store or be
created in the same batch of changes (the runner hands the sink up to 500 at a time); otherwise the variant
is refused for this run and planned again on the next. Variants that exist only in the store are never
touched.

Creating never makes a duplicate: every SKU is looked up first (GET /products?sku=, or a listing of the
whole store when many SKUs are needed), and a create whose SKU already exists (an earlier attempt that landed
before a crash, or a 409 SKU_ALREADY_EXISTS, or a POST lost in transport) updates the existing product to
the desired values instead. Deleting a SKU the store no longer has counts as done. A plan larger than
batch_threshold goes through batch tickets (POST /batch, at most 500 requests each, polled every
poll_interval until COMPLETED), each request's result mapped back to its record. Requests are paced at
requests_per_minute; a 429 waits for its Retry-After, and 408, 5xx and timeouts back off, up to 25 times
per request and within retry_budget; a refused connection, an unknown host or a TLS failure fails at once. A
refused token (403) stops the run, and so does a store that keeps failing (5xx after the retries, or a
create answered 500 twice): the change that met it is left to reconcile on the next run (its outcome is
unknown), and the changes not yet sent are reported as not attempted, never as refused.

plan --refresh lists the store (products and their combinations, as records with parent_sku) in the
record fields above but images: empty text and a zero compare-to price read as null, options are compact
JSON with sorted keys, and a variant's enabled is its product's. Images are not listed (a real store
re-hosts them on its CDN, and images changed in the store stay), so --refresh never puts them back; they are
sent again only when the records' images change.`,
	Fields: append(append([]spec.Field{}, connectionFields...),
		spec.Field{Name: "batch_threshold", Type: spec.TypeInt, Default: 50, Advanced: true,
			Description: "A batch of more changes than this goes through the /batch endpoint."},
		spec.Field{Name: "poll_interval", Type: spec.TypeDuration, Default: "1s", Advanced: true,
			Description: "Wait between two polls of a batch ticket."},
		spec.Field{Name: "new_products", Type: spec.TypeString, Enum: []string{"enabled", "disabled"}, Default: "enabled",
			Description: "How products the sync creates start online. enabled: as the records say. disabled: " +
				"created disabled, they wait for the merchant to enable them in the store; from then on the POS " +
				"rules apply (deactivating in the POS disables, activating enables), and a product the store " +
				"shows disabled is not taken for drift."},
		spec.Field{Name: "owned_fields", Type: spec.TypeList, Example: []any{"compare_to_price"},
			Items: &spec.Field{Type: spec.TypeString, Enum: ownedFields},
			Description: "eCom-only fields the pipeline maps and may overwrite (compare_to_price, subtitle, " +
				"warning_limit). Each must also be a field of the records, and a record field among them must " +
				"be listed here, so a merchant's hand-set values are never overwritten by accident."},
	),
	Example: `sink:
  type: ecom
  store_id: "1003"
  token: ${ECOM_TOKEN}
  owned_fields: [compare_to_price]`,
	Config: config{},
}

func init() {
	connectors.Sinks.MustRegister(sinkSpec, connectors.SinkOf(NewSink))
}

// config is the decoded configuration.
type config struct {
	StoreID           string        `spec:"store_id"`
	Token             spec.Secret   `spec:"token"`
	BaseURL           string        `spec:"base_url"`
	RequestsPerMinute int           `spec:"requests_per_minute"`
	Timeout           time.Duration `spec:"timeout"`
	RetryBudget       time.Duration `spec:"retry_budget"`
	BatchThreshold    int           `spec:"batch_threshold"`
	PollInterval      time.Duration `spec:"poll_interval"`
	OwnedFields       []string      `spec:"owned_fields"`
	NewProducts       string        `spec:"new_products"`
}

// withDefaults fills what a Config built outside the pipeline loader (tests, demos) may lack.
func (c config) withDefaults() config {
	if c.BaseURL == "" {
		c.BaseURL = "https://app.ecwid.com/api/v3"
	}
	if c.RequestsPerMinute <= 0 {
		c.RequestsPerMinute = 600
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.RetryBudget <= 0 {
		c.RetryBudget = 2 * time.Minute
	}
	if c.BatchThreshold <= 0 {
		c.BatchThreshold = 50
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	return c
}
