package ecom

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/internal/httpapi"
)

// plan returns the first requests of change i (none when there is nothing to send, or when the change is
// settled or waits for its product's creation).
func (a *applier) plan(i int) []op {
	c, it := &a.changes[i], a.items[i]
	e, found := a.s.index.bySKU[it.sku]
	switch c.Action {
	case connectors.Delete:
		if !found {
			return nil // already gone
		}
		return []op{a.remove(i, e)}
	case connectors.Create:
		if it.parent == "" {
			return a.createProduct(i, e, found)
		}
		return a.createVariant(i, e, found)
	case connectors.Update, connectors.Deactivate:
		if !found {
			a.settle(i, &connectors.ChangeError{Status: http.StatusNotFound,
				Reason: fmt.Sprintf("SKU %s is not in the store (deleted there?)", it.sku)})
			return nil
		}
		if err := a.sameShape(it, e); err != nil {
			a.settle(i, err)
			return nil
		}
		deactivate := c.Action == connectors.Deactivate
		if it.parent == "" {
			return a.putProduct(i, e.product, c.Fields, slices.Contains(c.Fields, "images"), deactivate)
		}
		return a.putCombination(i, e, c.Fields, deactivate)
	}
	a.settle(i, &connectors.ChangeError{Reason: fmt.Sprintf("unknown action %q", c.Action)})
	return nil
}

// sameShape refuses a change that would turn a product into a variant, a variant into a product, or move a
// variant to another product: the API cannot; the merchant deletes the SKU in the store first.
func (a *applier) sameShape(it *item, e entry) error {
	var have, want string
	if e.combination == 0 {
		have = "a product"
	} else {
		have = "a variant of " + e.parentSKU
	}
	if it.parent == "" {
		want = "a product"
	} else {
		want = "a variant of " + it.parent
	}
	if have == want {
		return nil
	}
	return &connectors.ChangeError{Status: http.StatusConflict,
		Reason: fmt.Sprintf("SKU %s is %s in the store but the record makes it %s; delete it in the store to let it be created again", it.sku, have, want)}
}

// allFields are the fields a creation sends: every field the records carry.
func (a *applier) allFields() []string { return a.s.m.order }

// createProduct creates a product, or, when its SKU is already in the store (an earlier attempt that landed),
// updates that product to the desired values.
func (a *applier) createProduct(i int, e entry, found bool) []op {
	it := a.items[i]
	if found {
		if err := a.sameShape(it, e); err != nil {
			a.settle(i, err)
			return nil
		}
		fields := a.allFields()
		if a.s.newDisabled {
			// An earlier attempt created it disabled, or it is the merchant's: its online state is theirs.
			fields = slices.DeleteFunc(slices.Clone(fields), func(f string) bool { return f == "enabled" })
		}
		return a.putProduct(i, e.product, fields, len(it.images) > 0, false)
	}
	return []op{a.postProduct(i, false)}
}

// postProduct is POST /products. A duplicate SKU (409) or a POST lost in transport is settled by looking the
// SKU up: found, the product is brought to the desired values; lost and not found, the POST is sent once
// more.
func (a *applier) postProduct(i int, retried bool) op {
	it, c := a.items[i], &a.changes[i]
	body := a.s.m.productBody(c.After, a.allFields(), a.cats, false)
	if a.s.newDisabled && a.s.m.has["enabled"] {
		body["enabled"] = false // new_products: disabled — it waits for the merchant to enable it online
	}
	return op{ch: i, method: http.MethodPost, path: "/products", body: body,
		done: func(r result) []op {
			switch {
			case r.err == nil:
				var out struct {
					ID int64 `json:"id"`
				}
				if err := json.Unmarshal(r.body, &out); err != nil || out.ID == 0 {
					a.settle(i, fmt.Errorf("POST /products: no product id in the answer %.200s", r.body))
					return nil
				}
				a.s.index.put(it.sku, entry{product: out.ID})
				ops := a.release(it.sku, out.ID)
				if len(it.images) > 0 {
					ops = append(ops, a.media(i, out.ID))
				}
				return ops
			case isDuplicate(r.err), isUncertain(r.err):
				return []op{a.lookup(i, func(p *product, cb *combination) []op {
					switch {
					case p != nil && cb == nil:
						return append(a.release(it.sku, p.ID), a.putProduct(i, p.ID, a.allFields(), len(it.images) > 0, false)...)
					case p != nil:
						return a.reject(i, a.sameShape(it, entry{product: p.ID, combination: cb.ID, parentSKU: p.SKU}))
					case isUncertain(r.err) && !retried:
						return []op{a.postProduct(i, true)}
					}
					return a.reject(i, r.err)
				})}
			}
			return a.reject(i, r.err)
		}}
}

// createVariant creates a combination of the variant's product: at once when the product is in the store,
// after its creation when this call creates it.
func (a *applier) createVariant(i int, e entry, found bool) []op {
	it := a.items[i]
	if found {
		if err := a.sameShape(it, e); err != nil {
			a.settle(i, err)
			return nil
		}
		return a.putCombination(i, e, a.allFields(), false)
	}
	pe, ok := a.s.index.bySKU[it.parent]
	switch {
	case len(it.options) == 0:
		a.settle(i, &connectors.ChangeError{
			Reason: fmt.Sprintf("variant %s of %s has no options: a new combination needs at least one option value", it.sku, it.parent)})
	case ok && pe.combination == 0:
		return []op{a.postCombination(i, pe.product, false)}
	case ok:
		a.settle(i, &connectors.ChangeError{Status: http.StatusConflict,
			Reason: fmt.Sprintf("parent_sku %s is itself a variant (of %s) in the store", it.parent, pe.parentSKU)})
	case a.creates[it.parent] > 0 && a.st[a.creates[it.parent]-1].done:
		a.settle(i, parentFailed(it.parent, a.st[a.creates[it.parent]-1].outcome))
	case a.creates[it.parent] > 0:
		a.st[i].waiting = true
		a.waiters[it.parent] = append(a.waiters[it.parent], i)
	default:
		a.settle(i, &connectors.ChangeError{Status: http.StatusNotFound,
			Reason: fmt.Sprintf("product %s (parent_sku) is not in the store", it.parent)})
	}
	return nil
}

// release returns the creations of the variants waiting for product sku, now that it has an id.
func (a *applier) release(sku string, pid int64) []op {
	var ops []op
	for _, w := range a.waiters[sku] {
		a.st[w].waiting = false
		if !a.st[w].done {
			ops = append(ops, a.postCombination(w, pid, false))
		}
	}
	delete(a.waiters, sku)
	return ops
}

// postCombination is POST /products/{id}/combinations, settled like postProduct when the SKU turns out to
// exist or the answer is lost.
func (a *applier) postCombination(i int, pid int64, retried bool) op {
	it, c := a.items[i], &a.changes[i]
	path := "/products/" + strconv.FormatInt(pid, 10) + "/combinations"
	return op{ch: i, method: http.MethodPost, path: path, body: a.s.m.variantBody(c.After, it, a.allFields(), false),
		done: func(r result) []op {
			switch {
			case r.err == nil:
				var out struct {
					ID int64 `json:"id"`
				}
				if err := json.Unmarshal(r.body, &out); err != nil || out.ID == 0 {
					a.settle(i, fmt.Errorf("POST %s: no combination id in the answer %.200s", path, r.body))
					return nil
				}
				a.s.index.put(it.sku, entry{product: pid, combination: out.ID, parentSKU: it.parent})
				return nil
			case isDuplicate(r.err), isUncertain(r.err):
				return []op{a.lookup(i, func(p *product, cb *combination) []op {
					switch {
					case p != nil && cb != nil && p.SKU == it.parent:
						return a.putCombination(i, entry{product: p.ID, combination: cb.ID, parentSKU: p.SKU}, a.allFields(), false)
					case p != nil:
						e := entry{product: p.ID, parentSKU: p.SKU}
						if cb != nil {
							e.combination = cb.ID
						}
						return a.reject(i, a.sameShape(it, e))
					case isUncertain(r.err) && !retried:
						return []op{a.postCombination(i, pid, true)}
					}
					return a.reject(i, r.err)
				})}
			}
			return a.reject(i, r.err)
		}}
}

// putProduct sends the given fields of the change's record to product pid (PUT /products/{id}), and its
// images when asked (PUT /products/{id}/media). No request when there is nothing to send.
func (a *applier) putProduct(i int, pid int64, fields []string, images, deactivate bool) []op {
	c := &a.changes[i]
	var ops []op
	path := "/products/" + strconv.FormatInt(pid, 10)
	if body := a.s.m.productBody(c.After, fields, a.cats, deactivate); len(body) > 0 {
		ops = append(ops, op{ch: i, method: http.MethodPut, path: path, body: body, done: a.acknowledge(i)})
	}
	if images && a.s.m.has["images"] {
		ops = append(ops, a.media(i, pid))
	}
	return ops
}

// putCombination sends the given fields of a variant's record to its combination.
func (a *applier) putCombination(i int, e entry, fields []string, deactivate bool) []op {
	c, it := &a.changes[i], a.items[i]
	body := a.s.m.variantBody(c.After, it, fields, deactivate)
	if len(body) == 0 {
		return nil
	}
	path := fmt.Sprintf("/products/%d/combinations/%d", e.product, e.combination)
	return []op{{ch: i, method: http.MethodPut, path: path, body: body, done: a.acknowledge(i)}}
}

// media replaces the product's images with the record's.
func (a *applier) media(i int, pid int64) op {
	return op{ch: i, method: http.MethodPut, path: "/products/" + strconv.FormatInt(pid, 10) + "/media",
		body: mediaBody(a.items[i].images), done: a.acknowledge(i)}
}

// acknowledge handles the answer to an update: nothing follows a success; a 404 means the product or
// combination vanished from the store, which the index forgets.
func (a *applier) acknowledge(i int) func(result) []op {
	return func(r result) []op {
		if r.err == nil {
			return nil
		}
		if statusOf(r.err) == http.StatusNotFound {
			a.s.index.remove(a.items[i].sku)
		}
		return a.reject(i, r.err)
	}
}

// remove deletes a product (with its combinations) or a combination. Already gone (404) counts as done.
func (a *applier) remove(i int, e entry) op {
	path := "/products/" + strconv.FormatInt(e.product, 10)
	if e.combination != 0 {
		path += "/combinations/" + strconv.FormatInt(e.combination, 10)
	}
	return op{ch: i, method: http.MethodDelete, path: path, done: func(r result) []op {
		if r.err == nil || statusOf(r.err) == http.StatusNotFound {
			a.s.index.remove(a.items[i].sku)
			return nil
		}
		return a.reject(i, r.err)
	}}
}

// lookup is GET /products?sku= for change i's SKU; then receives the product holding it and the
// combination (nil for the product itself), or nil, nil when the store does not have it.
func (a *applier) lookup(i int, then func(p *product, c *combination) []op) op {
	sku := a.items[i].sku
	return op{ch: i, method: http.MethodGet, path: "/products", query: url.Values{"sku": {sku}},
		done: func(r result) []op {
			if r.err != nil {
				return a.reject(i, r.err)
			}
			p, c, err := a.s.lookupAnswer(sku, r.body)
			if err != nil {
				a.settle(i, err)
				return nil
			}
			return then(p, c)
		}}
}

func statusOf(err error) int {
	var se *httpapi.StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// isDuplicate reports a 409 SKU_ALREADY_EXISTS (or a 409 without a code).
func isDuplicate(err error) bool {
	var se *httpapi.StatusError
	return errors.As(err, &se) && se.Status == http.StatusConflict && (se.Code == "SKU_ALREADY_EXISTS" || se.Code == "")
}

func isUncertain(err error) bool {
	var ue *httpapi.UncertainError
	return errors.As(err, &ue)
}
