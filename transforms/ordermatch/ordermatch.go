// Package ordermatch is the order_match transform: it decides, for each website order (connectors/order
// records), the POS customer, the POS product of every line and the POS outlet, and the order's import status
// (domain README §2.5 and §7.2). Only New orders leave the step; every order held back is a plan note naming
// the order, its status and what would fix it, and is decided again on the next run.
//
//	type: order_match
//	orders: orders                # order records (connectors/order.Schema)
//	products: products            # POS products (the retailpos source's fields by default)
//	customers: customers          # POS customers (the retailpos_customers source's fields by default)
//	previous: _applied            # optional: (customer_id, pos_customer_id) pairs matched before
//	customer_mappings: {"1042": "0af7b240-…", "jane@example.org": "…"}
//	create_customers: false
//	products_by: [code, gtin]
//	routing: {primary: "Main Street", pickups: {"Downtown Store": "Downtown"}}
//
// The step is a SQL step (transforms.SQL): one DuckDB query over the relations, with the lines unnested by
// DuckDB's JSON functions and put back together with product_id filled. A Batch step would have been simpler
// per line, but it sees only its own input rows, and matching needs the products and customers relations; the
// runner only joins relations in SQL. It is a transforms.Reporter (the held-back orders).
package ordermatch

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors/order"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// Output fields the step adds to the orders.
const (
	// FieldPOSCustomerID is the matched POS customer's id; NULL when the sink is to create the customer
	// (create_customers: true).
	FieldPOSCustomerID = "pos_customer_id"
	// FieldOutlet is the POS outlet (name or id, as routing names it) the order goes to; NULL when routing has
	// no primary outlet and the order is not a pickup (the sink then uses the store's only outlet).
	FieldOutlet = "outlet"
	// FieldImportStatus is the order's import status: always New in the output.
	FieldImportStatus = "import_status"
)

// Statuses of orders held back for reasons other than matching (the matching ones are in connectors/order).
const (
	StatusCancelled     = "Cancelled"
	StatusUnknownPickup = "Unknown Pickup Location"
)

var component = spec.Component{
	Kind:    spec.KindTransform,
	Name:    "order_match",
	Summary: "Matches website orders to POS customers, products and outlets; only New orders go on, the others are reported.",
	Description: "Reads order records (the order_url and shopify_orders sources), POS products and POS customers, " +
		"and outputs the orders whose customer and every line matched, with `pos_customer_id`, `outlet`, " +
		"`import_status` (New) and `lines` rewritten with each line's `product_id`.\n\n" +
		"Customer, first rule that applies: the order's email equals exactly one POS customer's email (trimmed, " +
		"case-insensitive; an empty email, one without an address shape and placeholders such as " +
		"noemail@…, none@… or …@example.com never match, nor those listed in placeholder_emails); else the website " +
		"customer was matched to exactly one POS customer before (the `previous` relation's customer_id and " +
		"pos_customer_id, e.g. `previous: _applied`, the pipeline's applied orders); else customer_mappings maps the " +
		"website customer id or the email to a POS customer id. Otherwise the order is `Customer ID Needed`, or, " +
		"with create_customers: true, New with a NULL pos_customer_id: the sink creates the customer from the " +
		"order's bill-to name, email, phone and address.\n\n" +
		"Product, per line: the keys of products_by in order (code: the line's code equals the POS SKU exactly; " +
		"gtin: GTIN1 or GTIN2 equals the POS barcode as GTIN-14; mpn_brand: the MPN exactly and the brand " +
		"case-insensitively); the first key that finds candidates decides: exactly one matches, several fail. " +
		"A line with no candidate or several makes the order `Product Match Failed`, and the note names the " +
		"candidates. Deleted POS products never match.\n\n" +
		"Routing: a pickup order (fulfilment pickup) goes to the outlet routing.pickups gives for its pickup " +
		"location (names compared trimmed and case-insensitively); an unknown pickup location holds the order back " +
		"(`Unknown Pickup Location`), never guessed. Every other order goes to routing.primary. Orders the website " +
		"cancelled (cancelled, or status Cancelled/Canceled) are held back (`Cancelled`).\n\n" +
		"Each held-back order is a plan note `order_id=…: <status>: <why>; <what would fix it>`. It is not output, " +
		"so it is decided again on every run and imported once fixed. Orders fields named pos_customer_id, outlet " +
		"or import_status are replaced.\n\n" +
		"The orders relation is the step's input (`input:`, needed when the pipeline has several sources) unless " +
		"`orders` names it; it needs the order record's order_id, customer_id, email, cancelled, web_status, " +
		"fulfilment, pickup_location and lines. `previous` needs customer_id and pos_customer_id.",
	Fields: []spec.Field{
		{Name: "orders", Type: spec.TypeString, Advanced: true, Example: "orders",
			Description: "The relation of order records. Default: the step's input."},
		{Name: "products", Type: spec.TypeString, Required: true, Example: "products",
			Description: "The relation of POS products (a retailpos source by default)."},
		{Name: "customers", Type: spec.TypeString, Required: true, Example: "customers",
			Description: "The relation of POS customers (a retailpos_customers source by default)."},
		{Name: "previous", Type: spec.TypeString, Example: "_applied",
			Description: "A relation of customer_id (website) and pos_customer_id pairs matched before, e.g. " +
				"_applied: the pipeline's applied orders."},
		{Name: "create_customers", Type: spec.TypeBool, Default: false,
			Description: "Let the sink create the POS customer of an order no rule matched, instead of holding " +
				"the order back as Customer ID Needed."},
		{Name: "customer_mappings", Type: spec.TypeMap, Items: &spec.Field{Type: spec.TypeString},
			Example: map[string]any{"1042": "0af7b240-ab24-11e9-a2a3-2a2ae2dbcce4"},
			Description: "Decisions made by hand: a website customer id, or an email, → the POS customer id. " +
				"Used when neither the email nor an earlier match found the customer."},
		{Name: "products_by", Type: spec.TypeList, Items: &spec.Field{Type: spec.TypeString, Enum: []string{ByCode, ByGTIN, ByMPNBrand}},
			Default:     []any{ByCode, ByGTIN},
			Description: "The product keys a line tries, in order: code, gtin, mpn_brand (needs columns.products.mpn)."},
		{Name: "placeholder_emails", Type: spec.TypeList, Items: &spec.Field{Type: spec.TypeString},
			Example:     []any{"orders@bikeshop.example", "@marketplace.example"},
			Description: "More emails that never match a customer: whole addresses, or @domain."},
		{Name: "routing", Type: spec.TypeObject, Description: "Which POS outlet each order goes to.", Fields: []spec.Field{
			{Name: "primary", Type: spec.TypeString, Example: "Main Street",
				Description: "The one primary eCommerce outlet (name or id): every order that is not a pickup."},
			{Name: "pickups", Type: spec.TypeMap, Items: &spec.Field{Type: spec.TypeString},
				Example:     map[string]any{"Downtown Store": "Downtown"},
				Description: "Website pickup location name → POS outlet (name or id)."},
		}},
		{Name: "columns", Type: spec.TypeObject, Advanced: true,
			Description: "Field names of the products and customers relations (defaults: the retailpos and " +
				"retailpos_customers sources). An empty name turns a key off.",
			Fields: []spec.Field{
				{Name: "products", Type: spec.TypeObject, Description: "Fields of the POS products.", Fields: []spec.Field{
					{Name: "id", Type: spec.TypeString, Default: defaultColumns.Products.ID, Description: "The POS product id: the lines' product_id."},
					{Name: "sku", Type: spec.TypeString, Default: defaultColumns.Products.SKU, Description: "The SKU (key code)."},
					{Name: "gtin", Type: spec.TypeString, Default: defaultColumns.Products.GTIN, Description: "The barcode (UPC/EAN; key gtin)."},
					{Name: "mpn", Type: spec.TypeString, Default: defaultColumns.Products.MPN, Description: "Manufacturer part number (key mpn_brand)."},
					{Name: "brand", Type: spec.TypeString, Default: defaultColumns.Products.Brand, Description: "Brand (key mpn_brand)."},
					{Name: "deleted", Type: spec.TypeString, Default: defaultColumns.Products.Deleted, Description: "True for deleted products, which never match."},
				}},
				{Name: "customers", Type: spec.TypeObject, Description: "Fields of the POS customers.", Fields: []spec.Field{
					{Name: "id", Type: spec.TypeString, Default: defaultColumns.Customers.ID, Description: "The POS customer id."},
					{Name: "email", Type: spec.TypeString, Default: defaultColumns.Customers.Email, Description: "The customer's email."},
				}},
			}},
	},
	Example: "type: order_match\norders: orders\nproducts: products\ncustomers: customers\nprevious: _applied\n" +
		"products_by: [code, gtin]\nrouting:\n  primary: Main Street\n  pickups: {\"Downtown Store\": Downtown}\n",
	Config: config{},
}

func init() { transforms.Registry.MustRegister(component, New) }

// Step is a configured order_match transform. It implements transforms.SQL and transforms.Reporter.
type Step struct {
	c     config
	pos   spec.Pos
	query string
}

var _ interface {
	transforms.Transform
	transforms.SQL
	transforms.Reporter
} = (*Step)(nil)

// New returns the step. It does not read env.Input; an inconsistent configuration is a *spec.Diagnostic.
func New(cfg spec.Config, env transforms.Env) (transforms.Transform, error) {
	c := config{Columns: defaultColumns, ProductsBy: defaultProductsBy}
	if err := cfg.Decode(&c); err != nil {
		return nil, fmt.Errorf("order_match: %w", err)
	}
	if c.Orders == "" {
		c.Orders = env.InputName
	}
	if err := check(c, cfg.Pos); err != nil {
		return nil, err
	}
	s := &Step{c: c, pos: cfg.Pos}
	s.query = s.outputSQL()
	return s, nil
}

// Query returns the generated query, positioned at the step's block.
func (s *Step) Query() spec.Expr { return spec.Expr{Text: s.query, Pos: s.pos} }

// ReportSQL returns the plan's notes: one per order held back. They are computed from the step's relations;
// output is not needed.
func (s *Step) ReportSQL(string) string { return s.reportSQL() }

// Schema returns nil: the runner finds the output schema by preparing the query.
func (s *Step) Schema() *arrow.Schema { return nil }

// AppliedFields names the columns order_match reads from its previous relation (customer_id and
// pos_customer_id), so that the runner's _applied relation has them, as nulls, before the first apply.
func (s *Step) AppliedFields() []arrow.Field {
	if s.c.Previous == "" {
		return nil
	}
	return []arrow.Field{
		{Name: order.ColCustomerID, Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "pos_customer_id", Type: arrow.BinaryTypes.String, Nullable: true},
	}
}
