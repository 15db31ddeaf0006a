package ecom

import (
	"context"
	"fmt"
	"slices"

	"github.com/possync/possync/connectors"
)

// Reconcile tells which changes of an interrupted run reached the store, by reading the store now: a
// creation landed when its SKU exists (a product's with its images), a deletion when it is gone, an update or
// deactivation when every changed field the sink sends has the desired value.
func (s *Sink) Reconcile(ctx context.Context, changes []connectors.Change) ([]bool, error) {
	if s.m == nil {
		return nil, fmt.Errorf("ecom sink: reconciling needs the records' schema")
	}
	type found struct {
		p *product
		c *combination
	}
	want := map[string]bool{}
	var skus []string
	needCats := false
	for _, c := range changes {
		sku, _ := str(c.Key, "sku")
		if !want[sku] {
			want[sku] = true
			skus = append(skus, sku)
		}
		needCats = needCats || slices.Contains(c.Fields, "category")
	}
	at := map[string]found{}
	_, err := s.fetch(ctx, skus, func(p *product) {
		s.index.addProduct(p)
		if want[p.SKU] {
			at[p.SKU] = found{p: p}
		}
		for i := range p.Combinations {
			if c := &p.Combinations[i]; want[c.SKU] {
				at[c.SKU] = found{p: p, c: c}
			}
		}
	})
	if err != nil {
		return nil, refused(err)
	}
	if needCats && s.m.has["category"] {
		if err := s.loadCategories(ctx); err != nil {
			return nil, refused(err)
		}
	}
	landed := make([]bool, len(changes))
	for i := range changes {
		c := &changes[i]
		sku, _ := str(c.Key, "sku")
		f, ok := at[sku]
		switch c.Action {
		case connectors.Create:
			// A product's images follow its creation in a request of their own, which the interruption may
			// have cut off: the creation landed only with them.
			images := connectors.Change{Action: connectors.Update, Fields: []string{"images"}, After: c.After}
			landed[i] = ok && (f.c != nil || s.landed(&images, f.p, nil))
		case connectors.Delete:
			landed[i] = !ok
		default:
			landed[i] = ok && c.After != nil && s.landed(c, f.p, f.c)
		}
	}
	return landed, nil
}
