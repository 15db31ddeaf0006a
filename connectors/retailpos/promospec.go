package retailpos

import "github.com/possync/possync/spec"

var promotionsSpec = spec.Component{
	Kind:    spec.KindSource,
	Name:    "retailpos_promotions",
	Summary: "Read the promotions and price books of a Lightspeed Retail X-Series POS as sale prices for the promotions transform.",
	Description: `Reads one row per (promotion, item) for the promotions transform, with its default column names:
PromotionId, PromotionName, CreatedAt (a timestamp; null when unknown), StartDate and EndDate (dates, both
inclusive, in timezone), Ecommerce, Sku, SalePrice, plus Kind ('promotion' or 'price_book'). The read is a
snapshot keyed by PromotionId and Sku. Overlapping promotions are not resolved here: the promotions transform
picks, per item, the active Ecommerce promotion created earliest (a tie: the lowest PromotionId).

Promotions come from /promotions/search (scope all, paged by offset); archived ones and those that need a promo
code are left out, Ecommerce is true when their channels include Ecommerce, and CreatedAt is the record's
created_at. Their items and discounted prices come from /promotions/{id}/products: the union of the condition
and action products, each product's SKU, and its discount_price (a product listed twice keeps the lowest; a
missing one leaves SalePrice null, which the promotions transform reports and does not apply).

Price books (include_price_books) come from /price_books and /price_book_products: those restricted to all
platforms ("0") or ecommerce ("2"), neither deleted nor the retailer's general (BASE) price book, each product's
price as SalePrice. Their PromotionId is "pb:" + the price book's ID, Ecommerce is true, and CreatedAt is the
price book's created_at, else the earliest created_at of its prices. Mapping their product IDs to SKUs reads
the catalog (/products) once. Price books restricted to a customer group or an outlet are read like the others.

Times: X-Series gives instants in UTC, the promotions transform compares local dates. StartDate is the date of
start_time (valid_from) in timezone; EndDate is the date of end_time (valid_to), or the day before when it is
exactly local midnight (the window is over when that day begins). A promotion starting or ending during a day
counts for the whole day. A bare date is taken as is. Open windows get far dates: no end is 9999-12-31 and no
start 1970-01-01. Set timezone to the pipeline's timezone, or sales start and end on the wrong days.

Promotions and price books that ended before the evaluation date (possync plan --at, in timezone) are left out,
and so are their products; the run's notes count what was read and left out. A product without a SKU is
rejected (the run report lists it). Requests are paced and retried as for the retailpos source.`,
	Fields: promotionsFields(),
	Example: `sources:
  promos:
    type: retailpos_promotions
    domain_prefix: acme-outdoor
    token: ${RETAILPOS_TOKEN}
    timezone: America/Los_Angeles   # the pipeline's timezone`,
	Config: promotionsConfig{},
}

// promotionsFields are the retailpos connection settings plus the promotions source's own.
func promotionsFields() []spec.Field {
	return append(sourceFields("retailpos_promotions", "domain_prefix", "base_url", "token", "timeout",
		"retry_budget", "requests_per_minute"),
		spec.Field{Name: "timezone", Type: spec.TypeString, Default: "UTC", Example: "America/Los_Angeles",
			Description: "The store's IANA time zone, in which StartDate and EndDate are dates. It must equal the " +
				"pipeline's timezone."},
		spec.Field{Name: "include_price_books", Type: spec.TypeBool, Default: true,
			Description: "Also read the price books for all platforms or ecommerce as promotions."},
		spec.Field{Name: "page_size", Type: spec.TypeInt, Default: defaultPageSize, Advanced: true,
			Description: "Items per page of every listing (promotions, their products, price books, their prices, products)."},
	)
}
