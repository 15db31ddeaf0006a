package reserve

import (
	"strings"

	"github.com/possync/possync/spec"
)

type config struct {
	Orders           string   `spec:"orders"`
	Quantity         string   `spec:"quantity"`
	CodeField        string   `spec:"code_field"`
	GTINField        string   `spec:"gtin_field"`
	ReleasedStatuses []string `spec:"released_statuses"`
}

// Defaults.
const (
	defaultQuantity  = "quantity"
	defaultCodeField = "sku"
)

// defaultReleased are the website statuses (compared trimmed and case-insensitively) of orders that hold no
// stock: cancelled (order_url's Cancelled, Shopify's cancelled orders also have cancelled = true), fulfilled or
// restocked (Shopify's displayFulfillmentStatus), completed.
var defaultReleased = []string{"Cancelled", "Canceled", "FULFILLED", "RESTOCKED", "Completed", "Complete"}

// check reports the configuration's inconsistencies together.
func check(c config, at spec.Pos) error {
	var ds spec.Diagnostics
	if strings.TrimSpace(c.Orders) == "" {
		ds.Append(spec.Errorf(pointer(at, "orders"), spec.CodeBadValue, "name the order source, e.g. orders: orders",
			"`orders` is empty"))
	}
	if strings.TrimSpace(c.Quantity) == "" {
		ds.Append(spec.Errorf(pointer(at, "quantity"), spec.CodeBadValue, "name the stock's quantity field",
			"`quantity` is empty"))
	}
	if strings.TrimSpace(c.CodeField) == "" && strings.TrimSpace(c.GTINField) == "" {
		ds.Append(spec.Errorf(pointer(at, "code_field"), spec.CodeBadValue,
			"name the stock field a line's code equals (code_field), or its GTIN field (gtin_field)",
			"code_field and gtin_field are both empty: no order line could ever be matched to the stock"))
	}
	for _, out := range []string{FieldReserved} {
		for _, f := range []struct{ path, v string }{{"quantity", c.Quantity}, {"code_field", c.CodeField}, {"gtin_field", c.GTINField}} {
			if strings.EqualFold(strings.TrimSpace(f.v), out) {
				ds.Append(spec.Errorf(pointer(at, f.path), spec.CodeBadValue, "rename the field in an earlier step",
					"`%s` names %q, an output field of the step", f.path, out))
			}
		}
	}
	return ds.Err()
}

func pointer(at spec.Pos, path string) spec.Pos {
	at.Path = spec.PointerJoin(at.Path, strings.Split(path, "/")...)
	return at
}
