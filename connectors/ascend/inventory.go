package ascend

import (
	"errors"
	"fmt"
	"strings"

	"github.com/possync/possync/connectors"
)

// item is one usable row of an inventory upload. Empty text fields are "" (null in records).
type item struct {
	sku, shortName                                                         string
	upc, gtin14, mpn, brand, description, modelYear, color, size, category string
	msrp, price                                                            optFloat
	qtyOnHand, qtyOnOrder                                                  optInt
	nonInventory, ecommerce, active                                        bool
	lastSold                                                               optDate
	line                                                                   int
}

// inventory is a parsed inventory upload (full or inv).
type inventory struct {
	upload   upload
	encoding string
	// items are the usable rows, one per SKU, in file order.
	items []*item
	// rejects are the unusable rows; withheld holds the SKUs among them.
	rejects  []connectors.Reject
	withheld map[string]bool
	// rows counts the data rows (non-blank lines after the header).
	rows int
	// onOrder says the upload has a QtyOnOrder column.
	onOrder bool
	// header is the upload's header row; holds are why the upload may be incomplete (ReadResult.Holds).
	header []string
	holds  []string
}

// parseInventory parses an upload. Rows that cannot be used become rejects naming the file, the physical
// line and the reason; the error is for a file that cannot be used at all (encoding, header, a row of
// another location, a full upload without rows).
func parseInventory(u upload, data []byte) (*inventory, error) {
	text, enc, err := decodeText(data)
	if err != nil {
		return nil, err
	}
	t, header, err := newTable(text)
	if err != nil {
		return nil, err
	}
	required := fullRequired
	if u.Kind == kindInv {
		required = invRequired
	}
	pos, err := matchHeader(header, invColumns, required)
	if err != nil {
		return nil, err
	}
	inv := &inventory{upload: u, encoding: enc, withheld: map[string]bool{}, onOrder: pos[cQtyOnOrder] >= 0, header: header}
	p := rowParser{pos: pos, kind: u.Kind, fields: len(header), shortName: u.ShortName}
	bySKU := map[string]int{}
	dupLines := map[string][]int{}
	lastRejected := false
	for {
		fields, line, ok, err := t.next()
		if !ok {
			break
		}
		inv.rows++
		var it *item
		if err == nil {
			it, err = p.parse(fields)
		}
		lastRejected = err != nil
		if err != nil {
			sku, survived := p.recover(fields, err)
			inv.reject(line, sku, survived, err)
			continue
		}
		if it.shortName != u.ShortName {
			return nil, fmt.Errorf("line %d: ShortName %q differs from the file name's %q: a file holds one location", line, it.shortName, u.ShortName)
		}
		it.line = line
		if first, dup := bySKU[it.sku]; dup {
			if dupLines[it.sku] == nil {
				dupLines[it.sku] = []int{inv.items[first].line}
			}
			dupLines[it.sku] = append(dupLines[it.sku], line)
			continue
		}
		bySKU[it.sku] = len(inv.items)
		inv.items = append(inv.items, it)
	}
	if len(dupLines) > 0 {
		inv.dropDuplicates(dupLines)
	}
	if t.unterminated && lastRejected {
		inv.holds = append(inv.holds, fmt.Sprintf("%s ends in the middle of line %d (no line end after a row that cannot be read): "+
			"the upload was probably cut short in transfer", u.Name, t.line))
	}
	if u.Kind == kindFull && inv.rows == 0 {
		return nil, errors.New("a full upload without item rows: refusing to read the location as empty")
	}
	return inv, nil
}

// reject records an unusable row; a row whose SKU could be read withholds that SKU. survived are the other
// fields read with confidence (Reject.Fields).
func (inv *inventory) reject(line int, sku string, survived map[string]any, err error) {
	r := connectors.Reject{Where: fmt.Sprintf("%s:%d", inv.upload.Name, line), Reason: err.Error()}
	if sku != "" {
		r.Key = map[string]any{"sku": sku}
		r.Fields = survived
		inv.withheld[sku] = true
	}
	inv.rejects = append(inv.rejects, r)
}

// dropDuplicates rejects every row of a SKU that appears on several rows: which one is right is unknown.
func (inv *inventory) dropDuplicates(dupLines map[string][]int) {
	kept := inv.items[:0]
	for _, it := range inv.items {
		if lines, dup := dupLines[it.sku]; dup {
			for _, l := range lines {
				inv.reject(l, it.sku, nil, &rowError{reasonDuplicate, fmt.Sprintf("SKU %q is on lines %s of the file", it.sku, joinInts(lines))})
			}
			continue
		}
		kept = append(kept, it)
	}
	inv.items = kept
}

// rowParser turns the fields of one row into an item.
type rowParser struct {
	pos       []int
	kind      string
	fields    int
	shortName string // the file name's
}

func (p *rowParser) get(fields []string, c int) string {
	if p.pos[c] < 0 {
		return ""
	}
	return fields[p.pos[c]]
}

// recover returns a rejected row's SKU when it can be read with confidence, and the other fields read with
// confidence that help following the record to a website product (short_name, upc, gtin14, mpn, brand). A
// field is read with confidence when the row was split that far: a row with all its fields (a bad value); in
// a row with too few fields (cut short), every field but the last (which may be cut); in a row with a broken
// quoted field, the fields before it. A row with too many fields has none (an unquoted delimiter shifted an
// unknown number of them), nor does a row whose ShortName, when read, is not the file's location.
func (p *rowParser) recover(fields []string, err error) (string, map[string]any) {
	var re *rowError
	complete := len(fields)
	switch {
	case fields == nil:
		return "", nil
	case errors.As(err, &re) && re.Reason == reasonFieldCount:
		if len(fields) > p.fields {
			return "", nil
		}
		complete = len(fields) - 1
	}
	read := func(c int) (string, bool) {
		if p.pos[c] < 0 || p.pos[c] >= complete {
			return "", false
		}
		return fields[p.pos[c]], true
	}
	if loc, ok := read(cShortName); ok && loc != p.shortName {
		return "", nil
	}
	sku, ok := read(cSku)
	if !ok || strings.TrimSpace(sku) == "" {
		return "", nil
	}
	survived := map[string]any{}
	for c, name := range map[int]string{cShortName: "short_name", cUpc: "upc", cMpn: "mpn", cBrand: "brand"} {
		if v, ok := read(c); ok && v != "" {
			survived[name] = v
		}
	}
	if upc, ok := survived["upc"].(string); ok {
		if g, err := normalizeUpc(upc); err == nil && g != "" {
			survived["gtin14"] = g
		}
	}
	return sku, survived
}

// parse reads a row. An inv upload's row carries only ShortName, Sku, QtyOnHand and QtyOnOrder; every other
// column is ignored.
func (p *rowParser) parse(fields []string) (*item, error) {
	if len(fields) != p.fields {
		return nil, &rowError{reasonFieldCount, fmt.Sprintf("%d field(s), the header has %d", len(fields), p.fields)}
	}
	if err := p.checkRequired(fields); err != nil {
		return nil, err
	}
	it := &item{shortName: p.get(fields, cShortName), sku: p.get(fields, cSku)}
	var err error
	if it.qtyOnHand, err = parseInt("QtyOnHand", p.get(fields, cQtyOnHand)); err != nil {
		return nil, err
	}
	if it.qtyOnOrder, err = parseInt("QtyOnOrder", p.get(fields, cQtyOnOrder)); err != nil {
		return nil, err
	}
	if p.kind == kindFull {
		if err := p.parseFull(fields, it); err != nil {
			return nil, err
		}
	}
	return it, nil
}

func (p *rowParser) parseFull(fields []string, it *item) error {
	it.upc, it.mpn, it.brand = p.get(fields, cUpc), p.get(fields, cMpn), p.get(fields, cBrand)
	it.description, it.modelYear = p.get(fields, cDescription), p.get(fields, cModelYear)
	it.color, it.size, it.category = p.get(fields, cColor), p.get(fields, cSize), p.get(fields, cCategory)
	var err error
	if it.gtin14, err = normalizeUpc(it.upc); err != nil {
		return err
	}
	if it.msrp, err = parseDecimal("Msrp", p.get(fields, cMsrp)); err != nil {
		return err
	}
	if it.price, err = parseDecimal("Price", p.get(fields, cPrice)); err != nil {
		return err
	}
	if it.lastSold, err = parseDate("LastSoldDate", p.get(fields, cLastSoldDate)); err != nil {
		return err
	}
	for _, f := range []struct {
		col int
		dst *bool
	}{{cNonInventory, &it.nonInventory}, {cEcommerce, &it.ecommerce}, {cActive, &it.active}} {
		if *f.dst, _, err = parseFlag(invColumns[f.col].name, p.get(fields, f.col)); err != nil {
			return err
		}
	}
	return nil
}

// checkRequired rejects a row whose required field is empty.
func (p *rowParser) checkRequired(fields []string) error {
	required := fullRequired
	if p.kind == kindInv {
		required = invRequired
	}
	for _, c := range required {
		if strings.TrimSpace(p.get(fields, c)) == "" {
			return &rowError{reasonMissing, fmt.Sprintf("%s is empty; it is required in a %s upload", invColumns[c].name, p.kind)}
		}
	}
	return nil
}
