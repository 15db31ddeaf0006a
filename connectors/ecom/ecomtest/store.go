package ecomtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// apiError is an error answer: an HTTP status and the JSON body {"errorMessage","errorCode"}.
type apiError struct {
	Status  int    `json:"-"`
	Message string `json:"errorMessage"`
	Code    string `json:"errorCode,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func productNotFound(id int64) *apiError {
	return errorf(http.StatusNotFound, "PRODUCT_NOT_FOUND", "Product #%d is not found", id)
}

// store is the emulated catalog. The Server's mutex guards it.
type store struct {
	now        func() time.Time
	products   map[int64]*Product
	order      []int64 // product ids in creation order; may hold ids of deleted products
	skus       map[string]int64
	categories map[int64]*Category
	catOrder   []int64
	nextID     int64
}

func newStore(now func() time.Time) *store {
	return &store{now: now, products: map[int64]*Product{}, skus: map[string]int64{},
		categories: map[int64]*Category{}, nextID: 37208339}
}

func (st *store) id() int64 {
	st.nextID++
	return st.nextID
}

// list returns the live products in creation order, dropping deleted ids from the order.
func (st *store) list() []*Product {
	live := st.order[:0]
	out := make([]*Product, 0, len(st.products))
	for _, id := range st.order {
		if p, ok := st.products[id]; ok {
			live = append(live, id)
			out = append(out, p)
		}
	}
	st.order = live
	return out
}

// skusOf lists the SKUs of a product and of its combinations.
func skusOf(p *Product) []string {
	var out []string
	if p.SKU != "" {
		out = append(out, p.SKU)
	}
	for _, c := range p.Combinations {
		if c.SKU != "" {
			out = append(out, c.SKU)
		}
	}
	return out
}

// findSKU returns the product holding sku, as its own SKU or a combination's.
func (st *store) findSKU(sku string) (*Product, bool) {
	id, ok := st.skus[sku]
	if !ok {
		return nil, false
	}
	return st.products[id], true
}

// checkSKUs reports a 409 when p uses a SKU another product or combination has, or one twice.
func (st *store) checkSKUs(p *Product) *apiError {
	seen := map[string]bool{}
	for _, s := range skusOf(p) {
		if other, ok := st.skus[s]; (ok && other != p.ID) || seen[s] {
			return errorf(http.StatusConflict, "SKU_ALREADY_EXISTS", "SKU %q already exists", s)
		}
		seen[s] = true
	}
	return nil
}

// put stores p (new or replacing the product of the same id) and re-indexes its SKUs.
func (st *store) put(p *Product) {
	if old, ok := st.products[p.ID]; ok {
		for _, s := range skusOf(old) {
			delete(st.skus, s)
		}
	} else {
		st.order = append(st.order, p.ID)
	}
	for _, s := range skusOf(p) {
		st.skus[s] = p.ID
	}
	st.products[p.ID] = p
}

func (st *store) remove(id int64) {
	if p, ok := st.products[id]; ok {
		for _, s := range skusOf(p) {
			delete(st.skus, s)
		}
		delete(st.products, id)
	}
}

func (st *store) touch(p *Product, created bool) {
	t := st.now().UTC()
	p.Updated, p.UpdateTimestamp = t.Format("2006-01-02 15:04:05 -0700"), t.Unix()
	if created {
		p.Created, p.CreateTimestamp = p.Updated, p.UpdateTimestamp
	}
}

// validate checks the values the API refuses.
func (st *store) validate(p *Product) *apiError {
	switch {
	case strings.TrimSpace(p.Name) == "":
		return errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Product name is required")
	case p.Price < 0:
		return errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Price must be non-negative: %v", p.Price)
	case p.CompareToPrice < 0:
		return errorf(http.StatusBadRequest, "WRONG_PARAMETER", "compareToPrice must be non-negative: %v", p.CompareToPrice)
	case p.Weight < 0:
		return errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Weight must be non-negative: %v", p.Weight)
	case p.Quantity < 0:
		return errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Quantity must be non-negative: %v", p.Quantity)
	}
	for _, id := range p.CategoryIDs {
		if _, ok := st.categories[id]; !ok {
			return errorf(http.StatusNotFound, "CATEGORIES_NOT_FOUND", "Category #%d is not found", id)
		}
	}
	for _, c := range p.Combinations {
		if (c.Price != nil && *c.Price < 0) || (c.Weight != nil && *c.Weight < 0) || c.Quantity < 0 {
			return errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Combination #%d: price, weight and quantity must be non-negative", c.ID)
		}
	}
	return st.checkSKUs(p)
}

// decodeFields decodes a JSON object body into its raw fields.
func decodeFields(body []byte) (map[string]json.RawMessage, *apiError) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Request body is not a JSON object")
	}
	return m, nil
}

// setField decodes one raw field into dst, naming it when its type is wrong.
func setField(name string, raw json.RawMessage, dst any) *apiError {
	if string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Field %s has a wrong value: %s", name, raw)
	}
	return nil
}

// applyProduct copies the fields present in body onto p, as a PUT (or a POST onto a fresh product) does:
// absent fields keep their values.
func (st *store) applyProduct(p *Product, body map[string]json.RawMessage) *apiError {
	simple := map[string]any{
		"sku": &p.SKU, "name": &p.Name, "description": &p.Description, "subtitle": &p.Subtitle,
		"price": &p.Price, "compareToPrice": &p.CompareToPrice, "quantity": &p.Quantity,
		"unlimited": &p.Unlimited, "enabled": &p.Enabled, "warningLimit": &p.WarningLimit,
		"weight": &p.Weight, "dimensions": &p.Dimensions, "isShippingRequired": &p.IsShippingRequired,
		"categoryIds": &p.CategoryIDs, "defaultCategoryId": &p.DefaultCategoryID, "options": &p.Options,
	}
	for name, dst := range simple {
		if raw, ok := body[name]; ok {
			if err := setField(name, raw, dst); err != nil {
				return err
			}
		}
	}
	if _, q := body["quantity"]; q {
		if _, u := body["unlimited"]; !u {
			p.Unlimited = false
		}
	}
	if raw, ok := body["attributes"]; ok {
		var attrs []Attribute
		if err := setField("attributes", raw, &attrs); err != nil {
			return err
		}
		p.Attributes = st.mergeAttributes(p.Attributes, attrs)
	}
	return nil
}

// mergeAttributes sets the values of attrs on list: matched by id, else by type (for typed attributes such
// as BRAND and UPC), else by name; unmatched ones are added.
func (st *store) mergeAttributes(list, attrs []Attribute) []Attribute {
	for _, a := range attrs {
		i := -1
		for k, have := range list {
			if (a.ID != 0 && have.ID == a.ID) ||
				(a.ID == 0 && a.Type != "" && a.Type != "CUSTOM" && have.Type == a.Type) ||
				(a.ID == 0 && (a.Type == "" || a.Type == "CUSTOM") && strings.EqualFold(have.Name, a.Name)) {
				i = k
				break
			}
		}
		if i >= 0 {
			list[i].Value = a.Value
			continue
		}
		if a.ID == 0 {
			a.ID = st.id()
		}
		if a.Type == "" {
			a.Type = "CUSTOM"
		}
		if a.Show == "" {
			a.Show = "DESCR"
		}
		list = append(list, a)
	}
	return list
}

// ensureOptions adds to p the options and choices its combinations use that it lacks (as the API does when
// a combination names an unknown option: it creates a drop-down).
func ensureOptions(p *Product, values []OptionValue) {
	for _, v := range values {
		found := false
		for i := range p.Options {
			o := &p.Options[i]
			if o.Name != v.Name {
				continue
			}
			found = true
			has := false
			for _, c := range o.Choices {
				has = has || c.Text == v.Value
			}
			if !has {
				o.Choices = append(o.Choices, Choice{Text: v.Value, PriceModifierType: "ABSOLUTE"})
			}
		}
		if !found {
			p.Options = append(p.Options, Option{Type: "SELECT", Name: v.Name, Required: true,
				Choices: []Choice{{Text: v.Value, PriceModifierType: "ABSOLUTE"}}})
		}
	}
}

// applyCombination copies the fields present in body onto c.
func (st *store) applyCombination(c *Combination, body map[string]json.RawMessage) *apiError {
	simple := map[string]any{"sku": &c.SKU, "quantity": &c.Quantity, "unlimited": &c.Unlimited,
		"warningLimit": &c.WarningLimit, "options": &c.Options}
	for name, dst := range simple {
		if raw, ok := body[name]; ok {
			if err := setField(name, raw, dst); err != nil {
				return err
			}
		}
	}
	if _, q := body["quantity"]; q {
		if _, u := body["unlimited"]; !u {
			c.Unlimited = false
		}
	}
	for name, dst := range map[string]**float64{"price": &c.Price, "weight": &c.Weight} {
		if raw, ok := body[name]; ok {
			var v *float64
			if err := setField(name, raw, &v); err != nil {
				return err
			}
			*dst = v
		}
	}
	if raw, ok := body["attributes"]; ok {
		var attrs []Attribute
		if err := setField("attributes", raw, &attrs); err != nil {
			return err
		}
		c.Attributes = st.mergeAttributes(c.Attributes, attrs)
	}
	return nil
}

// sameOptions reports whether two combinations pick the same values.
func sameOptions(a, b []OptionValue) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]string{}
	for _, v := range a {
		m[v.Name] = v.Value
	}
	for _, v := range b {
		if w, ok := m[v.Name]; !ok || w != v.Value {
			return false
		}
	}
	return true
}

// categoryPath returns "Parent > Child" for a category id.
func (st *store) categoryPath(id int64) string {
	var parts []string
	for c, ok := st.categories[id]; ok; c, ok = st.categories[c.ParentID] {
		parts = append([]string{c.Name}, parts...)
		if c.ParentID == 0 {
			break
		}
	}
	return strings.Join(parts, " > ")
}

// ensureCategory returns the id of the category path "A > B", creating missing levels.
func (st *store) ensureCategory(path string) int64 {
	var parent int64
	for _, name := range strings.Split(path, ">") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		id, ok := st.childCategory(parent, name)
		if !ok {
			id = st.addCategory(parent, name)
		}
		parent = id
	}
	return parent
}

func (st *store) childCategory(parent int64, name string) (int64, bool) {
	for _, id := range st.catOrder {
		if c := st.categories[id]; c.ParentID == parent && c.Name == name {
			return id, true
		}
	}
	return 0, false
}

func (st *store) addCategory(parent int64, name string) int64 {
	c := &Category{ID: st.id(), ParentID: parent, Name: name, Enabled: true}
	st.categories[c.ID] = c
	st.catOrder = append(st.catOrder, c.ID)
	return c.ID
}
