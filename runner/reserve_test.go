package runner_test

import (
	"encoding/csv"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/spec"
)

// Table tests of the reserve transform (issue 11, double selling): stock and orders read by file sources,
// reserved, and planned through a file sink keyed by sku, so that each item's quantity shows in the plan
// and each reservation, and each line placed on no item, in its notes.

const reservePipeline = `version: 1
name: stock
merchant: bike-shop
key: sku
sources:
  stock:
    type: file
    path: stock.csv
    columns:
      - {name: sku, type: string}
      - {name: gtin, type: string}
      - {name: quantity, type: int}
  orders:
    type: file
    path: orders.csv
    columns:
      - {name: order_id, type: string}
      - {name: web_status, type: string}
      - {name: cancelled, type: bool}
      - {name: imported, type: bool}
      - {name: lines, type: string}
transforms:
  - type: reserve
    name: desired
    input: stock
    orders: orders
    gtin_field: gtin
sink:
  type: file
  path: out/records.csv
guards:
  max_delete_percent: -1
`

const reserveStock = `sku,gtin,quantity
A,,5
B,,1
C,0036000291452,4
D,,
E,00012345678905,2
F,012345678905,3
G,,3
H,,7
I,,6
`

type reserveOrder struct {
	id, status, cancelled, imported string
	lines                           []order.Line
}

func reserveOrders() []reserveOrder {
	one := func(code string, q float64) []order.Line {
		return []order.Line{{No: 1, Code: code, Quantity: q, UnitPrice: 10}}
	}
	return []reserveOrder{
		// Several orders on one SKU, and one order with two lines on it.
		{id: "1001", lines: one("A", 2)},
		{id: "1002", lines: []order.Line{{No: 1, Code: "A", Quantity: 1}, {No: 2, Code: " A ", Quantity: 1}, {No: 3, Code: "H", Quantity: 1}}},
		// More ordered than in stock: 0, never negative.
		{id: "1003", lines: one("B", 3)},
		// GTIN-keyed: the line's code is the website's, unknown to the stock; its GTIN (a UPC-A) is C's.
		{id: "1004", lines: []order.Line{{No: 1, Code: "WEB-C", GTIN1: "036000291452", Quantity: 1}}},
		// An unknown SKU with no GTIN: a note, nothing reserved.
		{id: "1005", lines: []order.Line{{No: 1, Code: "NOPE", Quantity: 4}, {No: 2, Code: "H", Quantity: 2}}},
		// Orders that hold nothing: cancelled, fulfilled (Shopify's status), imported (Shopify's mark).
		{id: "1006", cancelled: "true", lines: one("A", 1)},
		{id: "1007", status: "FULFILLED", lines: one("A", 1)},
		{id: "1008", imported: "true", lines: one("A", 1)},
		{id: "1009", status: "Cancelled", lines: one("G", 1)},
		// A supplier-fulfilled line never leaves the store's stock.
		{id: "1010", lines: []order.Line{{No: 1, Code: "G", Quantity: 2, SupplierFulfilled: true}}},
		// An unlimited item: its quantity stays NULL.
		{id: "1011", lines: one("D", 1)},
		// Two stock items carry the GTIN (E as GTIN-14, F as UPC-A): never guessed.
		{id: "1012", lines: []order.Line{{No: 1, GTIN2: "12345678905", Quantity: 1}}},
		// A fraction of a unit reserves a whole unit of an integer quantity.
		{id: "1013", lines: one("I", 0.5)},
		// The code decides before the GTIN: H, though the GTIN is C's.
		{id: "1014", lines: []order.Line{{No: 1, Code: "H", GTIN1: "0036000291452", Quantity: 1}}},
	}
}

func reserveCase(t *testing.T, orders []reserveOrder) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), reservePipeline)
	writeFile(t, filepath.Join(dir, "stock.csv"), reserveStock)
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"order_id", "web_status", "cancelled", "imported", "lines"})
	for _, o := range orders {
		lines, err := order.EncodeLines(o.lines)
		if err != nil {
			t.Fatal(err)
		}
		status, cancelled, imported := o.status, o.cancelled, o.imported
		if status == "" {
			status = "Received"
		}
		if cancelled == "" {
			cancelled = "false"
		}
		if imported == "" {
			imported = "false"
		}
		_ = w.Write([]string{o.id, status, cancelled, imported, lines})
	}
	w.Flush()
	writeFile(t, filepath.Join(dir, "orders.csv"), b.String())
	return dir
}

// plannedQuantities returns each created record's quantity ("null" when absent) and reserved annotation.
func plannedQuantities(t *testing.T, pl *plan.Plan) (qty, reserved map[string]string) {
	t.Helper()
	qty, reserved = map[string]string{}, map[string]string{}
	for _, c := range pl.Changes {
		sku := fmt.Sprint(c.Key["sku"])
		qty[sku] = "null"
		for _, f := range c.Fields {
			if f.Name == "quantity" {
				qty[sku] = fmt.Sprint(f.After)
			}
			if f.Name == "reserved" {
				t.Errorf("%s: reserved is a record field; it must be an annotation only", sku)
			}
		}
		if r, ok := c.Annotations["reserved"]; ok && r != nil {
			reserved[sku] = fmt.Sprint(r)
		}
	}
	return qty, reserved
}

func TestReserveSubtractsOpenOrders(t *testing.T) {
	p := loadAt(t, reserveCase(t, reserveOrders()))
	pl := mustPlan(t, p)
	qty, reserved := plannedQuantities(t, pl)
	wantQty := map[string]string{
		"A": "1",           // 5 - 2 (1001) - 2 (1002); 1006, 1007, 1008 hold nothing
		"B": "0",           // 1 - 3, floored
		"C": "3",           // 4 - 1 by GTIN (1004)
		"D": "null",        // unlimited
		"E": "2", "F": "3", // the ambiguous GTIN reserves nothing
		"G": "3", // cancelled by status, supplier-fulfilled
		"H": "3", // 7 - 1 (1002) - 2 (1005) - 1 (1014: code before GTIN)
		"I": "5", // 6 - 0.5 rounded up
	}
	if !reflect.DeepEqual(qty, wantQty) {
		t.Errorf("quantities %v, want %v", qty, wantQty)
	}
	wantReserved := map[string]string{
		"A": "4: 1001 (2), 1002 (2)", "B": "3: 1003 (3)", "C": "1: 1004 (1)", "D": "1: 1011 (1)",
		"H": "4: 1002 (1), 1005 (2), 1014 (1)", "I": "0.5: 1013 (0.5)",
	}
	if !reflect.DeepEqual(reserved, wantReserved) {
		t.Errorf("reserved annotations %v, want %v", reserved, wantReserved)
	}
	wantNotes := []string{
		"sku=A: 4 reserved by open website orders the POS has not imported: 1001 (2), 1002 (2); quantity 5 -> 1",
		"sku=B: 3 reserved by open website orders the POS has not imported: 1003 (3); quantity 1 -> 0",
		"sku=D: 1 reserved by open website orders the POS has not imported: 1011 (1); the item has no quantity (unlimited): nothing is subtracted",
		"order_id=1005: line 1 (code \"NOPE\"): no stock item matches by code, gtin; nothing is reserved for its 4 unit(s)",
		"order_id=1012: line 1 (GTIN 00012345678905): several stock items match by gtin: E, F; nothing is reserved for its 1 unit(s)",
	}
	if len(notesOf(pl, spec.NoteReservation)) != len(pl.Notes) {
		t.Errorf("notes %+v, want each of kind %s", pl.Notes, spec.NoteReservation)
	}
	for _, w := range wantNotes {
		if !contains(pl.NoteTexts(), w) {
			t.Errorf("notes lack %q:\n%s", w, strings.Join(pl.NoteTexts(), "\n"))
		}
	}
	for _, n := range pl.NoteTexts() {
		for _, id := range []string{"1006", "1007", "1008", "1009", "1010"} {
			if strings.Contains(n, id) {
				t.Errorf("note %q names order %s, which holds nothing", n, id)
			}
		}
	}
}

// With no open order, the stock goes through unchanged, and nothing is noted.
func TestReserveWithoutOrders(t *testing.T) {
	p := loadAt(t, reserveCase(t, nil))
	pl := mustPlan(t, p)
	qty, reserved := plannedQuantities(t, pl)
	want := map[string]string{"A": "5", "B": "1", "C": "4", "D": "null", "E": "2", "F": "3", "G": "3", "H": "7", "I": "6"}
	if !reflect.DeepEqual(qty, want) || len(reserved) != 0 {
		t.Errorf("quantities %v reserved %v, want %v and none", qty, reserved, want)
	}
	for _, n := range pl.NoteTexts() {
		if strings.Contains(n, "reserved") {
			t.Errorf("note %q without any order", n)
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
