package retailpos

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/possync/possync/connectors"
)

// reading is the state of one read.
type reading struct {
	api *api
	// outlets are the selected outlet IDs.
	outlets map[string]bool
	conv    converter
	rows    []row
	// index maps a product ID to its row, so that a product that changed while the read paged (and so came
	// twice) keeps only its latest version.
	index map[string]int
	// skus maps the ID of every product read (and of every parent looked up) to its SKU.
	skus    map[string]string
	rejects []connectors.Reject
	notes   []string
	// lookups counts single-product requests (product, its inventory, a parent).
	lookups int
}

var deletedToo = url.Values{"deleted": {"true"}}

// full reads every product (deleted ones included) and every inventory record.
func (rd *reading) full(ctx context.Context, reason string, ids []string, now time.Time) (checkpoint, error) {
	cp := checkpoint{FullReadAt: now.UTC(), Outlets: ids}
	levels := map[string][]float64{}
	var err error
	cp.InventoryVersion, err = each(ctx, rd.api, "/inventory", nil, 0, func(items []inventory) error {
		cp.Inventory += len(items)
		for _, inv := range items {
			if inv.DeletedAt == "" && rd.outlets[inv.OutletID] {
				levels[inv.ProductID] = append(levels[inv.ProductID], inv.InventoryLevel)
			}
		}
		return nil
	})
	if err != nil {
		return cp, fmt.Errorf("read inventory: %w", err)
	}
	if rd.conv.brands, err = rd.api.brands(ctx); err != nil {
		return cp, fmt.Errorf("read brands: %w", err)
	}
	cp.ProductsVersion, err = each(ctx, rd.api, "/products", deletedToo, 0, func(items []product) error {
		cp.Products += len(items)
		for i := range items {
			rd.add(&items[i], func(r *row) { r.quantity = quantity(levels[r.id]) })
		}
		return nil
	})
	if err != nil {
		return cp, fmt.Errorf("read products: %w", err)
	}
	rd.notes = append(rd.notes, fmt.Sprintf("full read (%s): %d products, %d inventory records", reason, cp.Products, cp.Inventory))
	return cp, rd.resolveParents(ctx)
}

// add turns a product into a row (or a reject when it has no SKU); setQuantity fills the quantity of a
// product whose inventory is tracked and that is not deleted.
func (rd *reading) add(p *product, setQuantity func(*row)) {
	rd.skus[p.ID] = p.SKU
	i, seen := rd.index[p.ID]
	if strings.TrimSpace(p.SKU) == "" {
		if seen {
			rd.rows[i].dropped = true
		}
		rd.rejects = append(rd.rejects, connectors.Reject{Where: "product " + p.ID, Key: map[string]any{"id": p.ID},
			Reason: "the product has no SKU; eCom matches products by SKU, so it is left out until it gets one"})
		return
	}
	r := rd.conv.row(p)
	if r.hasInventory && !r.deleted {
		r.hasQuantity = true
		setQuantity(&r)
	}
	if seen {
		rd.rows[i] = r
		return
	}
	rd.index[p.ID] = len(rd.rows)
	rd.rows = append(rd.rows, r)
}

// productLevels fetches a product's inventory levels at the selected outlets.
func (rd *reading) productLevels(ctx context.Context, id string) ([]float64, error) {
	rd.lookups++
	recs, err := rd.api.productInventory(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read inventory of product %s: %w", id, err)
	}
	var levels []float64
	for _, inv := range recs {
		if inv.DeletedAt == "" && rd.outlets[inv.OutletID] {
			levels = append(levels, inv.InventoryLevel)
		}
	}
	return levels, nil
}

// loadBrands reads the brands when a product names its brand only by ID.
func (rd *reading) loadBrands(ctx context.Context, products []product) error {
	for i := range products {
		if brandID(&products[i]) != "" {
			var err error
			if rd.conv.brands, err = rd.api.brands(ctx); err != nil {
				return fmt.Errorf("read brands: %w", err)
			}
			return nil
		}
	}
	return nil
}

// resolveParents looks up the parents not read, so that every variant row can name its parent's SKU.
func (rd *reading) resolveParents(ctx context.Context) error {
	var missing []string
	for i := range rd.rows {
		if id := rd.rows[i].parentID; id != "" {
			if _, ok := rd.skus[id]; !ok {
				rd.skus[id] = "" // once per parent
				missing = append(missing, id)
			}
		}
	}
	for _, id := range missing {
		rd.lookups++
		p, found, err := rd.api.product(ctx, id)
		if err != nil {
			return fmt.Errorf("read parent product %s: %w", id, err)
		}
		if found {
			rd.skus[id] = p.SKU
		}
	}
	return nil
}

// finish adds the closing notes.
func (rd *reading) finish(outletNames []string) {
	rd.notes = append(rd.notes, fmt.Sprintf("quantities sum the inventory at %s", strings.Join(quoteAll(outletNames), ", ")))
	if rd.lookups > 0 {
		rd.notes = append(rd.notes, fmt.Sprintf("%d single-product lookups", rd.lookups))
	}
	units := make([]string, 0, len(rd.conv.unknownUnits))
	for u, n := range rd.conv.unknownUnits {
		units = append(units, fmt.Sprintf("%s (%d products)", u, n))
	}
	sort.Strings(units)
	if len(units) > 0 {
		rd.notes = append(rd.notes, "unknown or missing units, values left null: "+strings.Join(units, ", "))
	}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
