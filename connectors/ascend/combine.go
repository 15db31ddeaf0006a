package ascend

import (
	"fmt"
	"sort"
	"time"
)

// soldWindowDays is Ascend's "sold in the last 90 days" rule; the 90th day before the run date counts.
const soldWindowDays = 90

// combined is one output record: an item combined over the locations read, with derived fields.
type combined struct {
	item
	gtinAmbiguous bool
	eligible      bool
	upload        string // full, or inv when an inv upload set a quantity of it
	from          upload // the newest upload that contributed to it
}

// state is one location's current items: its full upload with the quantities of later inv uploads applied.
type state struct {
	loc  location
	base upload
	// items are the full upload's items by SKU; order lists their SKUs in row order.
	items map[string]*item
	order []string
	// extra holds quantity-only items: SKUs an inv upload of this location lists that its full upload lacks
	// but another location's full upload has (multi-site). extraOrder lists them in the order met.
	extra      map[string]*item
	extraOrder []string
	// withheld are SKUs with a rejected row in any of the location's uploads: not emitted, so they keep their
	// last applied values.
	withheld map[string]bool
	// via holds, per SKU, the newest inv upload that set its quantities.
	via map[string]upload
}

// newState starts a location's state from its full upload.
func newState(loc location, full *inventory) *state {
	st := &state{loc: loc, base: full.upload, items: make(map[string]*item, len(full.items)), extra: map[string]*item{},
		withheld: map[string]bool{}, via: map[string]upload{}}
	for _, it := range full.items {
		st.items[it.sku] = it
		st.order = append(st.order, it.sku)
	}
	for sku := range full.withheld {
		st.withheld[sku] = true
	}
	return st
}

// applyInv applies an inv upload: QtyOnHand (and QtyOnOrder when the upload has the column) of SKUs known
// from the full uploads read (known). It never adds or removes an item. It returns a note when the upload
// lists SKUs no full upload has.
func (st *state) applyInv(inv *inventory, known func(sku string) bool) string {
	for sku := range inv.withheld {
		st.withheld[sku] = true
	}
	var unknown []string
	for _, row := range inv.items {
		it, ok := st.items[row.sku]
		if !ok {
			switch {
			case st.withheld[row.sku]:
				continue
			case !known(row.sku):
				unknown = append(unknown, row.sku)
				continue
			}
			if it = st.extra[row.sku]; it == nil {
				it = &item{sku: row.sku, shortName: st.loc.ShortName}
				st.extra[row.sku] = it
				st.extraOrder = append(st.extraOrder, row.sku)
			}
		}
		it.qtyOnHand = row.qtyOnHand
		if inv.onOrder {
			it.qtyOnOrder = row.qtyOnOrder
		}
		st.via[row.sku] = inv.upload
	}
	if len(unknown) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: %d SKU(s) that no full upload has were ignored (an inv upload only updates quantities of known items): %s",
		inv.upload.Name, len(unknown), nameList(unknown))
}

// combine merges the locations' states per SKU, in configured order (§7.1 multi-site rules; a single state is
// the single-site case): QtyOnHand is the sum with negatives counted as 0, QtyOnOrder the sum, LastSoldDate
// the latest, NonInventory, Ecommerce and Active true when any location says so, every other field from the
// first location whose full upload has the SKU; quantity-only items add their quantities. A SKU withheld at
// any location is left out. Records come sorted by SKU.
func combine(states []*state) []*combined {
	withheld := map[string]bool{}
	n := 0
	for _, st := range states {
		for sku := range st.withheld {
			withheld[sku] = true
		}
		n += len(st.order)
	}
	bySKU := make(map[string]*combined, n)
	out := make([]*combined, 0, n)
	for _, st := range states {
		for _, sku := range st.order {
			if withheld[sku] {
				continue
			}
			it := st.items[sku]
			src, upl := st.source(sku)
			r, seen := bySKU[sku]
			if !seen {
				r = &combined{item: *it, upload: upl, from: src}
				r.qtyOnHand = optInt{max(it.qtyOnHand.v, 0), it.qtyOnHand.ok}
				bySKU[sku] = r
				out = append(out, r)
				continue
			}
			r.merge(it, upl, src)
		}
	}
	for _, st := range states {
		for _, sku := range st.extraOrder {
			if r := bySKU[sku]; r != nil {
				src, upl := st.source(sku)
				r.merge(st.extra[sku], upl, src)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].sku < out[j].sku })
	return out
}

// source returns the upload a SKU's quantities come from at this location, and its kind.
func (st *state) source(sku string) (upload, string) {
	if u, ok := st.via[sku]; ok {
		return u, kindInv
	}
	return st.base, kindFull
}

// merge adds another location's item to a combined record (a quantity-only item has no flags and no
// LastSoldDate, so it changes only the quantities).
func (r *combined) merge(it *item, upl string, src upload) {
	r.qtyOnHand = addQty(r.qtyOnHand, optInt{max(it.qtyOnHand.v, 0), it.qtyOnHand.ok})
	r.qtyOnOrder = addQty(r.qtyOnOrder, it.qtyOnOrder)
	if it.lastSold.ok && (!r.lastSold.ok || it.lastSold.v > r.lastSold.v) {
		r.lastSold = it.lastSold
	}
	r.nonInventory = r.nonInventory || it.nonInventory
	r.ecommerce = r.ecommerce || it.ecommerce
	r.active = r.active || it.active
	if upl == kindInv {
		r.upload = kindInv
	}
	if before(r.from, src) {
		r.from = src
	}
}

func addQty(a, b optInt) optInt {
	return optInt{a.v + b.v, a.ok || b.ok}
}

// flagAmbiguous marks records whose GTIN-14 is carried by several SKUs in the full uploads read (none of
// them can be mapped to a website product by GTIN) and returns a note naming them.
func flagAmbiguous(records []*combined, states []*state) string {
	type owner struct {
		sku    string
		shared bool
	}
	owners := make(map[string]owner, len(records))
	var shared []string
	for _, st := range states {
		for _, it := range st.items {
			if it.gtin14 == "" {
				continue
			}
			o, seen := owners[it.gtin14]
			switch {
			case !seen:
				owners[it.gtin14] = owner{sku: it.sku}
			case !o.shared && o.sku != it.sku:
				owners[it.gtin14] = owner{sku: o.sku, shared: true}
				shared = append(shared, it.gtin14)
			}
		}
	}
	if len(shared) == 0 {
		return ""
	}
	for _, r := range records {
		r.gtinAmbiguous = r.gtin14 != "" && owners[r.gtin14].shared
	}
	return fmt.Sprintf("%d GTIN(s) are carried by several SKUs and flagged gtin_ambiguous (fix the UPCs in Ascend): %s",
		len(shared), nameList(shared))
}

// setEligible applies Ascend's website criteria at the run date in zone, without the promotion clause (a
// promotions step ORs "on an active eCommerce promotion" in): Active and Ecommerce and (QtyOnHand > 0, or
// NonInventory, or QtyOnOrder > 0, or sold within the last 90 days, day 90 included).
func setEligible(records []*combined, now time.Time, zone *time.Location) {
	today := daysOf(now.In(zone))
	for _, r := range records {
		recent := r.lastSold.ok && today-r.lastSold.v <= soldWindowDays
		r.eligible = r.active && r.ecommerce &&
			(r.qtyOnHand.v > 0 || r.nonInventory || r.qtyOnOrder.v > 0 || recent)
	}
}
