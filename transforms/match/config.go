package match

import (
	"strings"

	"github.com/possync/possync/spec"
)

// itemColumns name the fields of the items relation (defaults: the ascend source's).
type itemColumns struct {
	Key       string `spec:"key"`
	GTIN      string `spec:"gtin"`
	Ambiguous string `spec:"gtin_ambiguous"`
	MPN       string `spec:"mpn"`
	Brand     string `spec:"brand"`
}

// productColumns name the fields of the products relation (defaults: the ecom_products source's).
type productColumns struct {
	SKU   string `spec:"sku"`
	GTIN  string `spec:"gtin"`
	MPN   string `spec:"mpn"`
	Brand string `spec:"brand"`
}

type columns struct {
	Items    itemColumns    `spec:"items"`
	Products productColumns `spec:"products"`
}

type config struct {
	Items    string  `spec:"items"`
	Products string  `spec:"products"`
	Mappings string  `spec:"mappings"`
	Columns  columns `spec:"columns"`
}

// defaultColumns are the field names of the ascend source (items) and the ecom_products source (products).
var defaultColumns = columns{
	Items:    itemColumns{Key: "sku", GTIN: "gtin14", Ambiguous: "gtin_ambiguous", MPN: "mpn", Brand: "brand"},
	Products: productColumns{SKU: "sku", GTIN: "gtin14", MPN: "mpn", Brand: "brand"},
}

// check reports the configuration's inconsistencies together: the relations and both key fields must be
// named, and the items key must not be an output field of the step.
func check(c config, at spec.Pos) error {
	var ds spec.Diagnostics
	required := []struct{ path, value string }{
		{"items", c.Items}, {"products", c.Products},
		{"columns/items/key", c.Columns.Items.Key}, {"columns/products/sku", c.Columns.Products.SKU},
	}
	for _, r := range required {
		if strings.TrimSpace(r.value) == "" {
			ds.Append(spec.Errorf(pointer(at, r.path), spec.CodeMatchConfig, "name a field or relation", "`%s` is empty", r.path))
		}
	}
	for _, out := range []string{FieldWebsiteSKU, FieldMatch} {
		if strings.EqualFold(c.Columns.Items.Key, out) {
			ds.Append(spec.Errorf(pointer(at, "columns/items/key"), spec.CodeMatchConfig, "rename the field in an earlier step",
				"the items key `%s` is an output field of the step", c.Columns.Items.Key))
		}
	}
	return ds.Err()
}

func pointer(at spec.Pos, path string) spec.Pos {
	at.Path = spec.PointerJoin(at.Path, strings.Split(path, "/")...)
	return at
}
