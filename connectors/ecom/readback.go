package ecom

import (
	"encoding/json"
	"maps"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
)

// listedSchema is the schema of the store's listing: the records' fields but images. Images changed in the
// store stay until the POS images change (and a real store re-hosts every image on its CDN, so its URLs never
// equal the ones sent): the listing does not report them, so plan --refresh neither shows them as drift nor
// puts them back.
func listedSchema(sch *arrow.Schema) *arrow.Schema {
	fields := make([]arrow.Field, 0, sch.NumFields()+1)
	for _, f := range sch.Fields() {
		if f.Name != "images" {
			fields = append(fields, f)
		}
	}
	fields = append(fields, arrow.Field{Name: connectors.Unreported, Type: arrow.BinaryTypes.String, Nullable: true})
	md := sch.Metadata()
	return arrow.NewSchema(fields, &md)
}

// productRecord is a store product as a record of the record model (every field; empty strings and a zero
// compare-to price are null; images stay null: they are neither listed, see listedSchema, nor compared as a
// record value, see landed). cats must be loaded for category to be filled.
func (s *Sink) productRecord(p *product) record.Record {
	r := record.Record{
		"sku": p.SKU, "parent_sku": nil, "name": nullable(p.Name), "description": nullable(p.Description),
		"brand": attr(p.Attributes, "BRAND"), "upc": attr(p.Attributes, "UPC"), "category": nil,
		"price": p.Price, "quantity": nil, "unlimited": p.Unlimited, "enabled": p.Enabled, "weight": positive(p.Weight),
		"length": positive(p.Dimensions.Length), "width": positive(p.Dimensions.Width), "height": positive(p.Dimensions.Height),
		"images": nil, "options": nil, "compare_to_price": nil, "subtitle": nullable(p.Subtitle),
		"warning_limit": p.WarningLimit,
	}
	if !p.Unlimited && p.Quantity != nil {
		r["quantity"] = *p.Quantity
	}
	if p.CompareToPrice != 0 {
		r["compare_to_price"] = p.CompareToPrice
	}
	if s.newDisabled && !p.Enabled {
		r[connectors.Unreported] = "enabled" // maybe still waiting for the merchant: not drift
	}
	cat := p.DefaultCategoryID
	if cat == 0 && len(p.CategoryIDs) > 0 {
		cat = p.CategoryIDs[0]
	}
	r["category"] = nullable(s.cats.path(cat))
	return r
}

// variantRecord is a combination as a record. A combination carries only its own SKU, options, price,
// stock, weight, UPC and low-stock threshold; everything else (name, description, brand, category, images,
// dimensions, enabled, compare-to price, subtitle) is its product's, as the store shows it, so a variant
// whose family fields match its product's is not taken for drift. Price and weight fall back on the
// product's; options are compact JSON with sorted keys.
func (s *Sink) variantRecord(p *product, c *combination) record.Record {
	return s.variantOf(s.productRecord(p), p, c)
}

// variantOf is variantRecord built on pr, the productRecord of p (left unchanged), so a listing builds each
// product's record once for all its combinations.
func (s *Sink) variantOf(pr record.Record, p *product, c *combination) record.Record {
	r := maps.Clone(pr)
	r["sku"], r["parent_sku"], r["quantity"], r["unlimited"] = c.SKU, p.SKU, nil, c.Unlimited
	// What the store keeps only on the product is not this variant's to report, nor is a stock of 0: the
	// sink sends a deactivated variant as 0 (combinations have no on/off switch), so 0 may mean either.
	unreported := variantInherited
	if !c.Unlimited && (c.Quantity == nil || *c.Quantity == 0) {
		unreported += ",quantity"
	}
	r[connectors.Unreported] = unreported
	r["upc"], r["warning_limit"], r["options"] = attr(c.Attributes, "UPC"), c.WarningLimit, nil
	if c.Price != nil {
		r["price"] = *c.Price
	}
	if c.Weight != nil {
		r["weight"] = positive(*c.Weight)
	}
	if !c.Unlimited && c.Quantity != nil {
		r["quantity"] = *c.Quantity
	}
	if len(c.Options) > 0 {
		m := map[string]string{}
		for _, o := range c.Options {
			m[o.Name] = o.Value
		}
		b, _ := json.Marshal(m) // keys sorted
		r["options"] = string(b)
	}
	return r
}

// productImages lists a product's image URLs: the main image, then the gallery.
func productImages(p *product) []string {
	var out []string
	if p.OriginalImageURL != "" {
		out = append(out, p.OriginalImageURL)
	}
	for _, g := range p.GalleryImages {
		out = append(out, g.URL)
	}
	return out
}

func attr(attrs []attribute, typ string) any {
	for _, a := range attrs {
		if a.Type == typ {
			return nullable(a.Value)
		}
	}
	return nil
}

// variantInherited lists the record fields a combination shows from its product.
const variantInherited = "name,description,brand,category,length,width,height,enabled,compare_to_price,subtitle"

// positive reads a weight or dimension: the store has 0 where none was set, which the record model says
// with null.
func positive(v float64) any {
	if v <= 0 {
		return nil
	}
	return v
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// conform keeps the fields of sch and converts numbers to the schema's types.
func conform(r record.Record, sch *arrow.Schema) record.Record {
	out := make(record.Record, sch.NumFields())
	for i := range sch.NumFields() {
		f := sch.Field(i) // not sch.Fields(), which copies the field list for every record
		v := r[f.Name]
		switch record.TypeName(f.Type) {
		case "int":
			if x, ok := v.(float64); ok {
				v = int64(math.Round(x))
			}
		case "float":
			if x, ok := v.(int64); ok {
				v = float64(x)
			}
		}
		out[f.Name] = v
	}
	return out
}

// landed reports whether the store holds what an update or deactivation of the record asked for: every
// changed field the sink sends has the desired value (a variant's stock as sent for it).
func (s *Sink) landed(c *connectors.Change, p *product, cb *combination) bool {
	m, want := s.m, c.After
	variant := cb != nil
	var have record.Record
	var gotQ *int64
	var gotU bool
	if variant {
		have, gotQ, gotU = s.variantRecord(p, cb), cb.Quantity, cb.Unlimited
	} else {
		have, gotQ, gotU = s.productRecord(p), p.Quantity, p.Unlimited
	}
	stockOK := func() bool {
		q, u, ok := m.stock(want, variant)
		if c.Action == connectors.Deactivate && variant {
			q, u, ok = 0, false, true
		}
		return !ok || (u == gotU && (u || q == orZero(deref(gotQ))))
	}
	if c.Action == connectors.Deactivate && !variant && p.Enabled {
		return false
	}
	for _, f := range c.Fields {
		if !m.has[f] || (variant && !slices.Contains(variantFields, f)) {
			continue
		}
		ok := true
		switch {
		case f == "quantity" || f == "unlimited" || (variant && f == "enabled"):
			ok = stockOK()
		case f == "enabled":
			b, set := boolean(want, f)
			ok = !set || b == p.Enabled
		case f == "images":
			var w []string
			if s, _ := str(want, f); s != "" {
				_ = json.Unmarshal([]byte(s), &w)
			}
			ok = slices.Equal(w, productImages(p))
		case f == "options":
			w, _ := str(want, f)
			h, _ := str(have, f)
			wo, err1 := parseOptions(w)
			ho, err2 := parseOptions(h)
			ok = err1 == nil && err2 == nil && slices.Equal(wo, ho)
		case f == "category":
			w, _ := str(want, f)
			h, _ := str(have, f)
			ok = categoryPath(w) == h
		default:
			ok = sameValue(want[f], have[f])
		}
		if !ok {
			return false
		}
	}
	return true
}

func deref(p *int64) (int64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

// sameValue compares a desired value with a store value the way the sink sends them: null is "" for text
// and 0 for numbers.
func sameValue(want, have any) bool {
	switch w := want.(type) {
	case nil:
		switch h := have.(type) {
		case nil:
			return true
		case string:
			return h == ""
		case float64:
			return h == 0
		case int64:
			return h == 0
		}
		return false
	case string:
		h, _ := have.(string)
		return w == h
	case bool:
		h, ok := have.(bool)
		return ok && w == h
	}
	a, ok1 := toFloat(want)
	b, ok2 := toFloat(have)
	if !ok2 && have == nil {
		b, ok2 = 0, true
	}
	return ok1 && ok2 && math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a))
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	}
	return 0, false
}
