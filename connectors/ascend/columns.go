package ascend

import (
	"fmt"
	"strings"
)

// column is a column of an upload file: its name in §7.1 and the other header names accepted for it.
type column struct {
	name    string
	aliases []string
}

// Columns of inventory files (full and inv), in §7.1 order; the constants index invColumns.
const (
	cShortName = iota
	cSku
	cUpc
	cMpn
	cBrand
	cDescription
	cModelYear
	cColor
	cSize
	cCategory
	cMsrp
	cPrice
	cQtyOnHand
	cQtyOnOrder
	cNonInventory
	cLastSoldDate
	cEcommerce
	cActive
)

// invColumns holds only unmistakable synonyms: a loose alias ("Name", "Location") could capture an unrelated
// column of a real export.
var invColumns = []column{
	cShortName:    {"ShortName", []string{"StoreShortName", "InventoryExportShortName"}},
	cSku:          {"Sku", []string{"ItemSku", "ProductSku"}},
	cUpc:          {"Upc", []string{"Gtin", "UpcEan", "Ean"}},
	cMpn:          {"Mpn", []string{"ManufacturerPartNumber", "MfgPartNumber", "MfrPartNumber"}},
	cBrand:        {"Brand", []string{"Manufacturer"}},
	cDescription:  {"Description", []string{"ProductName", "ItemDescription"}},
	cModelYear:    {"ModelYear", nil},
	cColor:        {"Color", []string{"Colour"}},
	cSize:         {"Size", nil},
	cCategory:     {"Category", []string{"CategoryPath"}},
	cMsrp:         {"Msrp", []string{"ListPrice"}},
	cPrice:        {"Price", []string{"RegularPrice", "RetailPrice", "SellingPrice"}},
	cQtyOnHand:    {"QtyOnHand", []string{"Quantity", "Qty", "OnHand", "QuantityOnHand", "Qoh"}},
	cQtyOnOrder:   {"QtyOnOrder", []string{"OnOrder", "QuantityOnOrder"}},
	cNonInventory: {"NonInventory", []string{"NonInv"}},
	cLastSoldDate: {"LastSoldDate", []string{"LastSold", "DateLastSold"}},
	cEcommerce:    {"Ecommerce", []string{"Ecom", "ECommerceEnabled"}},
	cActive:       {"Active", []string{"IsActive"}},
}

// Columns (and values) an upload must have, by kind.
var (
	fullRequired = []int{cShortName, cSku, cDescription, cMsrp, cPrice, cQtyOnHand, cEcommerce, cActive}
	invRequired  = []int{cShortName, cSku, cQtyOnHand}
)

// headerKey normalises a header name for matching: case, spaces, underscores, hyphens and dots do not count,
// so "Qty On Hand", "qty_on_hand" and "QTYONHAND" all match QtyOnHand.
func headerKey(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimPrefix(s, "\ufeff") {
		switch r {
		case ' ', '_', '-', '.', '\t':
			continue
		}
		b.WriteString(strings.ToLower(string(r)))
	}
	return b.String()
}

// matchHeader returns, for each of cols, the position of its column in header (-1 when absent). Unknown
// header names are ignored. It fails when two header columns mean the same column or a required one is
// missing, naming the columns.
func matchHeader(header []string, cols []column, required []int) ([]int, error) {
	byKey := map[string]int{}
	for i, c := range cols {
		byKey[headerKey(c.name)] = i
		for _, a := range c.aliases {
			byKey[headerKey(a)] = i
		}
	}
	pos := make([]int, len(cols))
	for i := range pos {
		pos[i] = -1
	}
	for p, h := range header {
		i, ok := byKey[headerKey(h)]
		if !ok {
			continue
		}
		if pos[i] >= 0 {
			return nil, fmt.Errorf("header: columns %q and %q both mean %s", header[pos[i]], h, cols[i].name)
		}
		pos[i] = p
	}
	var missing []string
	for _, i := range required {
		if pos[i] < 0 {
			missing = append(missing, cols[i].name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("header: missing column(s) %s (the header has %s)", strings.Join(missing, ", "), strings.Join(header, ", "))
	}
	return pos, nil
}
