package ecom

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
)

// kind is the type class a record field must have.
type kind string

const (
	kString kind = "string"
	kNumber kind = "float" // int or float
	kInt    kind = "int"
	kBool   kind = "bool"
)

// recordFields are the fields a record may carry, in the order listings yield them.
var recordFields = []struct {
	name string
	kind kind
}{
	{"sku", kString}, {"parent_sku", kString}, {"name", kString}, {"description", kString}, {"brand", kString},
	{"upc", kString}, {"category", kString}, {"price", kNumber}, {"quantity", kInt}, {"unlimited", kBool},
	{"enabled", kBool}, {"weight", kNumber}, {"length", kNumber}, {"width", kNumber}, {"height", kNumber},
	{"images", kString}, {"options", kString}, {"compare_to_price", kNumber}, {"subtitle", kString},
	{"warning_limit", kInt},
}

// ownedFields are the eCom-only fields, sent only when the configuration lists them in owned_fields.
var ownedFields = []string{"compare_to_price", "subtitle", "warning_limit"}

// variantFields are the fields a variant (a combination) carries; the others are product-level.
var variantFields = []string{"sku", "price", "quantity", "unlimited", "enabled", "weight", "upc", "warning_limit", "options"}

// mapper knows which fields the records carry and maps them to API bodies.
type mapper struct {
	has   map[string]bool
	order []string // the records' fields, in schema order
}

// newMapper checks the records' schema and the owned fields. A nil schema (a connection check, which builds
// the sink without one) is accepted; Apply and List then refuse to run.
func newMapper(sch *arrow.Schema, key []string, owned []string) (*mapper, error) {
	if len(key) > 0 && !slices.Equal(key, []string{"sku"}) {
		return nil, fmt.Errorf("the ecom sink keys products by SKU: the pipeline key must be sku, not %s", strings.Join(key, ", "))
	}
	for _, f := range owned {
		if !slices.Contains(ownedFields, f) {
			return nil, fmt.Errorf("owned_fields: %q is not an eCom-only field (want %s)", f, strings.Join(ownedFields, ", "))
		}
	}
	if sch == nil {
		return nil, nil
	}
	m := &mapper{has: map[string]bool{}}
	kinds := map[string]kind{}
	var names []string
	for _, f := range recordFields {
		kinds[f.name] = f.kind
		names = append(names, f.name)
	}
	var unknown, wrong []string
	for _, f := range sch.Fields() {
		k, ok := kinds[f.Name]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%q", f.Name))
			continue
		}
		if !kindAccepts(k, record.TypeName(f.Type)) {
			wrong = append(wrong, fmt.Sprintf("%s is %s, want %s", f.Name, record.TypeName(f.Type), k))
		}
		m.has[f.Name] = true
		m.order = append(m.order, f.Name)
	}
	switch {
	case len(unknown) > 0:
		return nil, fmt.Errorf("the records carry field(s) the ecom sink does not map: %s (accepted: %s)",
			strings.Join(unknown, ", "), strings.Join(names, ", "))
	case len(wrong) > 0:
		return nil, fmt.Errorf("record field types: %s", strings.Join(wrong, "; "))
	case !m.has["sku"]:
		return nil, fmt.Errorf("the records need a sku field (the key)")
	}
	for _, f := range ownedFields {
		listed := slices.Contains(owned, f)
		if m.has[f] && !listed {
			return nil, fmt.Errorf("the records carry the eCom-only field %s: list it in owned_fields to let the "+
				"pipeline overwrite the merchant's values, or drop it from the records", f)
		}
		if listed && !m.has[f] {
			return nil, fmt.Errorf("owned_fields lists %s, but the records carry no such field", f)
		}
	}
	return m, nil
}

func kindAccepts(k kind, typ string) bool {
	if k == kNumber {
		return typ == "float" || typ == "int"
	}
	return string(k) == typ
}

// Record values. Each accessor reports false for a null or absent value.

func str(r record.Record, f string) (string, bool) {
	s, ok := r[f].(string)
	return s, ok
}

func num(r record.Record, f string) (float64, bool) {
	switch v := r[f].(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	}
	return 0, false
}

func integer(r record.Record, f string) (int64, bool) {
	switch v := r[f].(type) {
	case int64:
		return v, true
	case float64:
		return int64(math.Round(v)), true
	}
	return 0, false
}

func boolean(r record.Record, f string) (bool, bool) {
	b, ok := r[f].(bool)
	return b, ok
}

// item is what a change is about, read from its record.
type item struct {
	sku    string
	parent string // the product's SKU for a variant, "" for a product
	images []string
	// options are a variant's option values, sorted by name.
	options []optionValue
}

type optionValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// parseItem reads a change's record. It fails (a refusal of the change) on images or options that are not
// the JSON the record model asks for.
func (m *mapper) parseItem(c *connectors.Change) (*item, error) {
	sku, _ := str(c.Key, "sku")
	if sku == "" {
		return nil, fmt.Errorf("the record has no sku")
	}
	it := &item{sku: sku}
	r := c.After
	if r == nil {
		return it, nil
	}
	it.parent, _ = str(r, "parent_sku")
	if s, ok := str(r, "images"); ok && strings.TrimSpace(s) != "" {
		if err := json.Unmarshal([]byte(s), &it.images); err != nil {
			return nil, fmt.Errorf("images: want a JSON array of URLs, got %q", s)
		}
	}
	if s, ok := str(r, "options"); ok && it.parent != "" && strings.TrimSpace(s) != "" {
		opts, err := parseOptions(s)
		if err != nil {
			return nil, err
		}
		it.options = opts
	}
	return it, nil
}

// parseOptions reads a JSON object option name → value into option values sorted by name.
func parseOptions(s string) ([]optionValue, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("options: want a JSON object of option name → value, got %q", s)
	}
	out := make([]optionValue, 0, len(m))
	for k, v := range m {
		val, ok := v.(string)
		if !ok {
			val = fmt.Sprint(v)
		}
		out = append(out, optionValue{Name: k, Value: val})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// categoryPath normalises "Footwear>Running " to "Footwear > Running".
func categoryPath(s string) string {
	var parts []string
	for _, p := range strings.Split(s, ">") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " > ")
}

// stock is the quantity and unlimited flag to send for r: unlimited true, or without an unlimited field a
// null quantity, stops tracking. A disabled variant gets 0 and tracking (combinations have no on/off
// switch). ok is false when the records carry no stock field.
func (m *mapper) stock(r record.Record, variant bool) (qty int64, unlimited, ok bool) {
	if variant && m.has["enabled"] {
		if on, set := boolean(r, "enabled"); set && !on {
			return 0, false, true
		}
	}
	if !m.has["quantity"] && !m.has["unlimited"] {
		return 0, false, false
	}
	q, hasQ := integer(r, "quantity")
	if u, set := boolean(r, "unlimited"); set {
		return q, u, true
	}
	return q, !hasQ, true
}

func orZero[T any](v T, _ bool) T { return v }

// productBody maps fields of r (those the records carry) to a product body. deactivate forces enabled false.
func (m *mapper) productBody(r record.Record, fields []string, cats map[string]int64, deactivate bool) map[string]any {
	body := map[string]any{}
	var attrs []map[string]any
	for _, f := range fields {
		if !m.has[f] {
			continue
		}
		switch f {
		case "sku", "name", "description", "subtitle":
			body[f] = orZero(str(r, f)) // the API's names are the same
		case "price":
			body["price"] = orZero(num(r, f))
		case "compare_to_price":
			body["compareToPrice"] = orZero(num(r, f))
		case "weight":
			body["weight"] = orZero(num(r, f))
		case "warning_limit":
			body["warningLimit"] = orZero(integer(r, f))
		case "enabled":
			if b, ok := boolean(r, f); ok {
				body["enabled"] = b
			}
		case "quantity", "unlimited":
			if q, u, ok := m.stock(r, false); ok {
				body["unlimited"] = u
				if !u {
					body["quantity"] = q
				}
			}
		case "length", "width", "height":
			dims := map[string]any{}
			for _, d := range []string{"length", "width", "height"} {
				if m.has[d] {
					dims[d] = orZero(num(r, d))
				}
			}
			body["dimensions"] = dims
		case "brand":
			attrs = append(attrs, map[string]any{"name": "Brand", "type": "BRAND", "value": orZero(str(r, f))})
		case "upc":
			attrs = append(attrs, map[string]any{"name": "UPC", "type": "UPC", "value": orZero(str(r, f))})
		case "category":
			ids := []int64{}
			var def int64
			if p := categoryPath(orZero(str(r, f))); p != "" {
				def = cats[p]
				ids = append(ids, def)
			}
			body["categoryIds"], body["defaultCategoryId"] = ids, def
		}
	}
	if attrs != nil {
		body["attributes"] = attrs
	}
	if deactivate {
		body["enabled"] = false
	}
	return body
}

// variantBody maps fields of r to a combination body. deactivate forces quantity 0 and stock tracking.
func (m *mapper) variantBody(r record.Record, it *item, fields []string, deactivate bool) map[string]any {
	body := map[string]any{}
	for _, f := range fields {
		if !m.has[f] {
			continue
		}
		switch f {
		case "sku":
			body["sku"] = it.sku
		case "price":
			body["price"] = orZero(num(r, f))
		case "weight":
			body["weight"] = orZero(num(r, f))
		case "warning_limit":
			body["warningLimit"] = orZero(integer(r, f))
		case "quantity", "unlimited", "enabled":
			if q, u, ok := m.stock(r, true); ok {
				body["unlimited"] = u
				if !u {
					body["quantity"] = q
				}
			}
		case "upc":
			body["attributes"] = []map[string]any{{"name": "UPC", "type": "UPC", "value": orZero(str(r, f))}}
		case "options":
			body["options"] = it.options
		}
	}
	if deactivate {
		body["quantity"], body["unlimited"] = 0, false
	}
	return body
}

// mediaBody replaces a product's images: the first URL is the main image, the others the gallery; an empty
// list removes them all.
func mediaBody(images []string) map[string]any {
	main := map[string]string{}
	gallery := []map[string]string{}
	for i, u := range images {
		if i == 0 {
			main["imageUrl"] = u
			continue
		}
		gallery = append(gallery, map[string]string{"imageUrl": u})
	}
	return map[string]any{"mainMedia": main, "galleryMedia": gallery}
}
