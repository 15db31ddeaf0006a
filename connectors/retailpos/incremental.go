package retailpos

import (
	"context"
	"fmt"
	"sort"
)

// changes is what changed since a checkpoint.
type changes struct {
	// products changed (deleted ones included), each once at its latest version; index maps their IDs.
	products []product
	index    map[string]int
	// levels holds the changed inventory levels at the selected outlets: product → outlet → level (0 when the
	// record was deleted).
	levels map[string]map[string]float64
	// inventory counts the inventory changes at the selected outlets.
	inventory int
}

// covered reports whether the changed levels of a product cover every selected outlet, so that its
// quantity needs no lookup.
func (c *changes) covered(id string, outlets int) bool { return len(c.levels[id]) == outlets }

// incremental reads the products and inventory records changed since cp, and everything their records need:
// the product of an inventory change, the inventory of a changed product, the SKU of a parent. When those
// lookups would cost more requests than a full read, it reads nothing more and returns why a full read is
// better.
func (rd *reading) incremental(ctx context.Context, cp *checkpoint) (next checkpoint, fallback string, err error) {
	next = *cp
	ch := &changes{index: map[string]int{}, levels: map[string]map[string]float64{}}
	if next.ProductsVersion, err = rd.productChanges(ctx, cp.ProductsVersion, ch); err != nil {
		return next, "", fmt.Errorf("read product changes: %w", err)
	}
	if next.InventoryVersion, err = rd.inventoryChanges(ctx, cp.InventoryVersion, ch); err != nil {
		return next, "", fmt.Errorf("read inventory changes: %w", err)
	}
	fetch, cost := rd.lookupsNeeded(ch)
	if full := cp.fullReadCost(rd.api.pageSize); cp.Products > 0 && cost > full {
		return next, fmt.Sprintf("an incremental read needed %d lookups, more than the ~%d requests of a full read", cost, full), nil
	}
	products := ch.products
	for _, id := range fetch {
		rd.lookups++
		p, found, err := rd.api.product(ctx, id)
		if err != nil {
			return next, "", fmt.Errorf("read product %s: %w", id, err)
		}
		if found {
			products = append(products, p)
		}
	}
	if err := rd.loadBrands(ctx, products); err != nil {
		return next, "", err
	}
	for i := range products {
		var levelErr error
		rd.add(&products[i], func(r *row) {
			var levels []float64
			if ch.covered(r.id, len(rd.outlets)) {
				for _, l := range ch.levels[r.id] {
					levels = append(levels, l)
				}
			} else if levels, levelErr = rd.productLevels(ctx, r.id); levelErr != nil {
				return
			}
			r.quantity = quantity(levels)
		})
		if levelErr != nil {
			return next, "", levelErr
		}
	}
	rd.notes = append(rd.notes, fmt.Sprintf("incremental read after product version %d and inventory version %d: "+
		"%d changed products, %d inventory changes at the selected outlets", cp.ProductsVersion, cp.InventoryVersion,
		len(ch.products), ch.inventory))
	return next, "", rd.resolveParents(ctx)
}

// productChanges pages through the products changed after version into ch and returns the new version.
func (rd *reading) productChanges(ctx context.Context, after int64, ch *changes) (int64, error) {
	return each(ctx, rd.api, "/products", deletedToo, after, func(items []product) error {
		for _, p := range items {
			if i, ok := ch.index[p.ID]; ok {
				ch.products[i] = p // changed again while we paged: the later version wins
				continue
			}
			ch.index[p.ID] = len(ch.products)
			ch.products = append(ch.products, p)
		}
		return nil
	})
}

// inventoryChanges pages through the inventory records changed after version into ch, keeping those of the
// selected outlets, and returns the new version.
func (rd *reading) inventoryChanges(ctx context.Context, after int64, ch *changes) (int64, error) {
	return each(ctx, rd.api, "/inventory", nil, after, func(items []inventory) error {
		for _, inv := range items {
			if !rd.outlets[inv.OutletID] {
				continue
			}
			ch.inventory++
			if ch.levels[inv.ProductID] == nil {
				ch.levels[inv.ProductID] = map[string]float64{}
			}
			level := inv.InventoryLevel
			if inv.DeletedAt != "" {
				level = 0
			}
			ch.levels[inv.ProductID][inv.OutletID] = level
		}
		return nil
	})
}

// lookupsNeeded returns the products to fetch (inventory changed, product did not), sorted, and the number
// of single-product requests the read will need: those products, plus the inventory of every product whose
// changed levels do not cover the selected outlets (parents, rarely missing, are not counted).
func (rd *reading) lookupsNeeded(ch *changes) (fetch []string, cost int) {
	for id := range ch.levels {
		if _, ok := ch.index[id]; !ok {
			fetch = append(fetch, id)
		}
	}
	sort.Strings(fetch)
	cost = len(fetch)
	for _, id := range fetch {
		if !ch.covered(id, len(rd.outlets)) {
			cost++
		}
	}
	for i := range ch.products {
		if p := &ch.products[i]; p.DeletedAt == "" && firstBool(true, p.HasInventory) && !ch.covered(p.ID, len(rd.outlets)) {
			cost++
		}
	}
	return fetch, cost
}
