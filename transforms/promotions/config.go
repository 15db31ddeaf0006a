package promotions

import (
	"strings"
	"time"

	"github.com/possync/possync/spec"
)

// maxHorizon bounds the upcoming-changes window: the report query holds one row per day of it.
const maxHorizon = 366 * 24 * time.Hour

// Defaults of the configuration, shared by the declaration (docs, schema) and New.
const (
	defaultKey     = "sku"
	defaultPrice   = "price"
	defaultHorizon = 7 * 24 * time.Hour
)

// defaultColumns are the promotion columns of the Ascend promotions file (§7.1).
var defaultColumns = columns{
	ID: "PromotionId", Name: "PromotionName", CreatedAt: "CreatedAt", Start: "StartDate", End: "EndDate",
	Ecommerce: "Ecommerce", SalePrice: "SalePrice",
}

type columns struct {
	ID        string `spec:"id"`
	Name      string `spec:"name"`
	CreatedAt string `spec:"created_at"`
	Start     string `spec:"start"`
	End       string `spec:"end"`
	Ecommerce string `spec:"ecommerce"`
	SalePrice string `spec:"sale_price"`
}

type config struct {
	Items      string        `spec:"items"`
	Promotions string        `spec:"promotions"`
	Key        string        `spec:"key"`
	Price      string        `spec:"price"`
	CompareTo  string        `spec:"compare_to"`
	Promoted   string        `spec:"promoted"`
	Columns    columns       `spec:"columns"`
	Horizon    time.Duration `spec:"horizon"`
}

// check reports the configuration's inconsistencies together.
func check(c config, at spec.Pos) error {
	var ds spec.Diagnostics
	required := []struct{ path, value string }{
		{"items", c.Items}, {"promotions", c.Promotions}, {"key", c.Key}, {"price", c.Price},
		{"columns/id", c.Columns.ID}, {"columns/created_at", c.Columns.CreatedAt}, {"columns/start", c.Columns.Start},
		{"columns/end", c.Columns.End}, {"columns/sale_price", c.Columns.SalePrice},
	}
	for _, r := range required {
		if strings.TrimSpace(r.value) == "" {
			ds.Append(spec.Errorf(pointer(at, r.path), spec.CodePromotionsConfig, "name a field or relation", "`%s` is empty", r.path))
		}
	}
	if strings.EqualFold(c.Key, c.Price) && c.Key != "" {
		ds.Append(spec.Errorf(pointer(at, "price"), spec.CodePromotionsConfig, "name the regular price field",
			"`price` names the key field `%s`", c.Key))
	}
	taken := map[string]string{}
	for _, f := range []string{FieldSalePrice, FieldSaleStart, FieldSaleEnd, FieldWon, FieldLost} {
		taken[strings.ToLower(f)] = f
	}
	for _, o := range []struct{ path, value string }{{"key", c.Key}, {"price", c.Price}} {
		if f, dup := taken[strings.ToLower(o.value)]; dup {
			ds.Append(spec.Errorf(pointer(at, o.path), spec.CodePromotionsConfig, "rename the field in an earlier step",
				"`%s` names `%s`, an output field of the step", o.path, f))
		}
	}
	taken[strings.ToLower(c.Key)], taken[strings.ToLower(c.Price)] = c.Key, c.Price
	for _, o := range []struct{ path, value string }{{"compare_to", c.CompareTo}, {"promoted", c.Promoted}} {
		if o.value == "" {
			continue
		}
		if f, dup := taken[strings.ToLower(o.value)]; dup {
			ds.Append(spec.Errorf(pointer(at, o.path), spec.CodePromotionsConfig, "choose another output field name",
				"`%s` names the field `%s`, which the step already uses", o.path, f))
			continue
		}
		taken[strings.ToLower(o.value)] = o.value
	}
	if c.Horizon <= 0 || c.Horizon > maxHorizon {
		ds.Append(spec.Errorf(pointer(at, "horizon"), spec.CodePromotionsConfig, "use a positive duration up to 8784h (366 days)",
			"horizon %s is out of range", c.Horizon))
	}
	return ds.Err()
}

func pointer(at spec.Pos, path string) spec.Pos {
	at.Path = spec.PointerJoin(at.Path, strings.Split(path, "/")...)
	return at
}
