package ordermatch

import (
	"slices"
	"strconv"
	"strings"

	"github.com/possync/possync/spec"
)

// Product keys, the values of products_by, in the order a line tries them by default.
const (
	ByCode     = "code"      // the line's code equals the POS product's SKU
	ByGTIN     = "gtin"      // the line's GTIN1 or GTIN2 equals the POS product's barcode (as GTIN-14)
	ByMPNBrand = "mpn_brand" // the line's MPN and brand equal the POS product's
)

// productColumns name the fields of the products relation (defaults: the retailpos source's).
type productColumns struct {
	ID      string `spec:"id"`
	SKU     string `spec:"sku"`
	GTIN    string `spec:"gtin"`
	MPN     string `spec:"mpn"`
	Brand   string `spec:"brand"`
	Deleted string `spec:"deleted"`
}

// customerColumns name the fields of the customers relation (defaults: the retailpos_customers source's).
type customerColumns struct {
	ID    string `spec:"id"`
	Email string `spec:"email"`
}

type columns struct {
	Products  productColumns  `spec:"products"`
	Customers customerColumns `spec:"customers"`
}

// routing sends each order to a POS outlet: pickup orders by their pickup location, the others to Primary.
type routing struct {
	Primary string            `spec:"primary"`
	Pickups map[string]string `spec:"pickups"`
}

type config struct {
	Orders            string            `spec:"orders"`
	Products          string            `spec:"products"`
	Customers         string            `spec:"customers"`
	Previous          string            `spec:"previous"`
	CreateCustomers   bool              `spec:"create_customers"`
	CustomerMappings  map[string]string `spec:"customer_mappings"`
	ProductsBy        []string          `spec:"products_by"`
	PlaceholderEmails []string          `spec:"placeholder_emails"`
	Routing           routing           `spec:"routing"`
	Columns           columns           `spec:"columns"`
}

// defaultColumns are the field names of the retailpos source (products; it has no MPN, so mpn_brand needs
// columns.products.mpn) and of the retailpos_customers source (customers).
var defaultColumns = columns{
	Products:  productColumns{ID: "id", SKU: "sku", GTIN: "upc", Brand: "brand", Deleted: "deleted"},
	Customers: customerColumns{ID: "id", Email: "email"},
}

// defaultProductsBy is the default order of the product keys.
var defaultProductsBy = []string{ByCode, ByGTIN}

// check reports the configuration's inconsistencies together.
func check(c config, at spec.Pos) error {
	var ds spec.Diagnostics
	required := []struct{ path, value string }{
		{"orders", c.Orders}, {"products", c.Products}, {"customers", c.Customers},
		{"columns/products/id", c.Columns.Products.ID}, {"columns/customers/id", c.Columns.Customers.ID},
		{"columns/customers/email", c.Columns.Customers.Email},
	}
	for _, r := range required {
		if strings.TrimSpace(r.value) == "" {
			ds.Append(spec.Errorf(pointer(at, r.path), spec.CodeBadValue, "name a field or relation", "`%s` is empty", r.path))
		}
	}
	if len(c.ProductsBy) == 0 {
		ds.Append(spec.Errorf(pointer(at, "products_by"), spec.CodeBadValue, "list code, gtin and/or mpn_brand",
			"`products_by` is empty: no line could ever match"))
	}
	need := map[string]string{ByCode: c.Columns.Products.SKU, ByGTIN: c.Columns.Products.GTIN, ByMPNBrand: c.Columns.Products.MPN}
	for i, by := range c.ProductsBy {
		col, known := need[by]
		switch {
		case !known:
			ds.Append(spec.Errorf(pointer(at, "products_by/"+strconv.Itoa(i)), spec.CodeBadValue, "use code, gtin or mpn_brand",
				"unknown product key %q", by))
		case slices.Index(c.ProductsBy, by) != i:
			ds.Append(spec.Errorf(pointer(at, "products_by/"+strconv.Itoa(i)), spec.CodeBadValue, "list each key once",
				"product key %q is listed twice", by))
		case strings.TrimSpace(col) == "":
			hint := "name the products field in columns.products"
			if by == ByMPNBrand {
				hint = "the retailpos source has no MPN: name a products field holding it in columns.products.mpn " +
					"(and brand in columns.products.brand), or drop mpn_brand"
			}
			ds.Append(spec.Errorf(pointer(at, "products_by/"+strconv.Itoa(i)), spec.CodeBadValue, hint,
				"product key %q needs a products field", by))
		}
		if by == ByMPNBrand && strings.TrimSpace(c.Columns.Products.Brand) == "" {
			ds.Append(spec.Errorf(pointer(at, "columns/products/brand"), spec.CodeBadValue, "name the products brand field",
				"product key mpn_brand needs a products brand field"))
		}
	}
	for name, outlet := range c.Routing.Pickups {
		if strings.TrimSpace(name) == "" || strings.TrimSpace(outlet) == "" {
			ds.Append(spec.Errorf(pointer(at, "routing/pickups"), spec.CodeBadValue,
				"map each website pickup location name to a POS outlet name or id", "an empty pickup location or outlet"))
		}
	}
	for key, id := range c.CustomerMappings {
		if strings.TrimSpace(key) == "" || strings.TrimSpace(id) == "" {
			ds.Append(spec.Errorf(pointer(at, "customer_mappings"), spec.CodeBadValue,
				"map a website customer id or email to a POS customer id", "an empty key or POS customer id"))
		}
	}
	return ds.Err()
}

func pointer(at spec.Pos, path string) spec.Pos {
	at.Path = spec.PointerJoin(at.Path, strings.Split(path, "/")...)
	return at
}
