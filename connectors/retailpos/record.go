package retailpos

import (
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/possync/possync/record"
)

// schema is the source's fixed record schema: one record per product (each variant is its own product).
// Fields the POS never syncs to eCom (supplier, supplier code, supply price, reorder points, tax, tags) are
// deliberately absent.
var schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "sku", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "handle", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "variant_name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "description", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "brand", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "upc", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "active", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "online", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "has_inventory", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "quantity", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "parent_sku", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "options", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "images", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "weight_kg", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "length_cm", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "width_cm", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "height_cm", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "deleted", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "updated_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "version", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// row is one product's record, kept compact because a full read holds every row until the parents' SKUs
// are known. Empty strings and NaN floats are nulls.
type row struct {
	id, sku, handle, name, variantName, description, brand, category, upc string
	parentID, options, images                                             string
	price, weightKg, lengthCm, widthCm, heightCm                          float64
	active, online, hasInventory, deleted                                 bool
	// quantity is valid when hasQuantity.
	quantity    int64
	hasQuantity bool
	updatedAt   time.Time
	version     int64
	// dropped marks a row superseded by a later version of its product that was rejected.
	dropped bool
}

// kgPer and cmPer convert the API's weight_unit and dimensions_unit values.
var (
	kgPer = map[string]float64{"G": 0.001, "KG": 1, "LB": 0.45359237, "OZ": 0.028349523125, "CT": 0.0002}
	cmPer = map[string]float64{"IN": 2.54, "CM": 1, "MM": 0.1, "YD": 91.44}
)

// convert returns v in the target unit, rounded to 6 decimals, or NaN when v is null. known is false when v
// is set but its unit is missing or unknown (the value is then NaN too).
func convert(v *float64, unit string, per map[string]float64) (out float64, known bool) {
	if v == nil {
		return math.NaN(), true
	}
	f, ok := per[strings.ToUpper(strings.TrimSpace(unit))]
	if !ok {
		return math.NaN(), false
	}
	return math.Round(*v*f*1e6) / 1e6, true
}

// quantity sums inventory levels, counting negative ones as 0, rounded down.
func quantity(levels []float64) int64 {
	var sum float64
	for _, l := range levels {
		sum += max(l, 0)
	}
	return int64(math.Floor(sum))
}

// converter turns API products into rows; it collects the units it did not know for the run's notes.
type converter struct {
	// brands maps brand IDs to names, for products without an embedded brand name.
	brands       map[string]string
	unknownUnits map[string]int
}

// brandID returns the ID to resolve when p carries no brand name, or "".
func brandID(p *product) string {
	if p.Brand != nil && p.Brand.Name != "" {
		return ""
	}
	if p.BrandID != "" {
		return p.BrandID
	}
	if p.Brand != nil {
		return p.Brand.ID
	}
	return ""
}

// row converts p. The quantity is left for the caller.
func (c *converter) row(p *product) row {
	r := row{id: p.ID, sku: p.SKU, handle: p.Handle, name: p.Name, variantName: p.VariantName,
		description: p.Description, parentID: p.VariantParentID, version: p.Version,
		active: firstBool(false, p.Active, p.IsActive), online: firstBool(true, p.EcwidEnabledWebstore),
		hasInventory: firstBool(true, p.HasInventory), deleted: p.DeletedAt != "", price: math.NaN()}
	if p.PriceExcludingTax != nil {
		r.price = *p.PriceExcludingTax
	}
	if p.Brand != nil && p.Brand.Name != "" {
		r.brand = p.Brand.Name
	} else if id := brandID(p); id != "" {
		r.brand = c.brands[id]
	}
	if r.category = categoryName(p.ProductCategory); r.category == "" {
		r.category = categoryName(p.Type)
	}
	for _, pc := range p.ProductCodes {
		if t := strings.ToUpper(pc.Type); (t == "UPC" || t == "EAN") && pc.Code != "" {
			r.upc = pc.Code
			break
		}
	}
	r.options, r.images = optionsJSON(p.VariantOptions), imagesJSON(p.Images)
	var ok bool
	if r.weightKg, ok = convert(p.Weight, p.WeightUnit, kgPer); !ok {
		c.unknown("weight_unit", p.WeightUnit)
	}
	var okL, okW, okH bool
	r.lengthCm, okL = convert(p.Length, p.DimensionsUnit, cmPer)
	r.widthCm, okW = convert(p.Width, p.DimensionsUnit, cmPer)
	r.heightCm, okH = convert(p.Height, p.DimensionsUnit, cmPer)
	if !okL || !okW || !okH {
		c.unknown("dimensions_unit", p.DimensionsUnit)
	}
	if t, err := time.Parse(time.RFC3339, p.UpdatedAt); err == nil {
		r.updatedAt = t.UTC()
	}
	return r
}

func (c *converter) unknown(field, unit string) {
	if c.unknownUnits == nil {
		c.unknownUnits = map[string]int{}
	}
	c.unknownUnits[field+` "`+unit+`"`]++
}

// firstBool returns the first non-nil value, or def.
func firstBool(def bool, vs ...*bool) bool {
	for _, v := range vs {
		if v != nil {
			return *v
		}
	}
	return def
}

// categoryName joins a category's path with " > ", or returns its name when it has no path.
func categoryName(c *category) string {
	if c == nil {
		return ""
	}
	var names []string
	for _, p := range c.CategoryPath {
		if p.Name != "" {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return c.Name
	}
	return strings.Join(names, " > ")
}

// optionsJSON renders variant options as a JSON object of name → value with sorted keys, or "" for none.
func optionsJSON(opts []variantOption) string {
	if len(opts) == 0 {
		return ""
	}
	m := make(map[string]string, len(opts))
	for _, o := range opts {
		m[o.Name] = o.Value
	}
	b, _ := json.Marshal(m) // a map of strings always marshals
	return string(b)
}

// imagesJSON renders the images' URLs (the original size when url is missing) as a JSON array, or "".
func imagesJSON(imgs []image) string {
	urls := make([]string, 0, len(imgs))
	for _, im := range imgs {
		u := im.URL
		if u == "" {
			u = im.Sizes["original"]
		}
		if u != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return ""
	}
	b, _ := json.Marshal(urls) // a slice of strings always marshals
	return string(b)
}

// record renders the row with its parent's SKU ("" for none).
func (r *row) record(parentSKU string) record.Record {
	rec := record.Record{
		"id": str(r.id), "sku": str(r.sku), "handle": str(r.handle), "name": str(r.name),
		"variant_name": str(r.variantName), "description": str(r.description), "brand": str(r.brand),
		"category": str(r.category), "upc": str(r.upc), "price": num(r.price), "active": r.active,
		"online": r.online, "has_inventory": r.hasInventory, "quantity": nil, "parent_sku": str(parentSKU),
		"options": str(r.options), "images": str(r.images), "weight_kg": num(r.weightKg),
		"length_cm": num(r.lengthCm), "width_cm": num(r.widthCm), "height_cm": num(r.heightCm),
		"deleted": r.deleted, "updated_at": nil, "version": r.version,
	}
	if r.hasQuantity {
		rec["quantity"] = r.quantity
	}
	if !r.updatedAt.IsZero() {
		rec["updated_at"] = r.updatedAt
	}
	return rec
}

func str(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func num(f float64) any {
	if math.IsNaN(f) {
		return nil
	}
	return f
}
