package runner_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/spec"
)

// End-to-end tests of the order_match transform (issue 10, domain README §2.5 and §7.2): orders, POS products,
// POS customers and earlier matches read by file sources, matched, and planned through a file sink keyed by
// order_id, so that every New order's customer, outlet and lines show in the plan and every held-back order
// in its notes.

const orderMatchPipeline = `version: 1
name: orders
merchant: bike-shop
key: order_id
sources:
  orders:
    type: file
    path: orders.csv
    columns:
      - {name: order_id, type: string}
      - {name: customer_id, type: string}
      - {name: email, type: string}
      - {name: fulfilment, type: string}
      - {name: pickup_location, type: string}
      - {name: web_status, type: string}
      - {name: cancelled, type: bool}
      - {name: lines, type: string}
  products:
    type: file
    path: products.csv
    columns:
      - {name: id, type: string}
      - {name: sku, type: string}
      - {name: upc, type: string}
      - {name: mpn, type: string}
      - {name: brand, type: string}
      - {name: deleted, type: bool}
  customers:
    type: file
    path: customers.csv
    columns:
      - {name: id, type: string}
      - {name: email, type: string}
  earlier:
    type: file
    path: earlier.csv
    columns:
      - {name: customer_id, type: string}
      - {name: pos_customer_id, type: string}
transforms:
  - type: order_match
    input: orders
    products: products
    customers: customers
    previous: earlier
    create_customers: %s
    products_by: [code, gtin, mpn_brand]
    placeholder_emails: ["@marketplace.test"]
    customer_mappings:
      W-9: C-MAP
      " Mapped@Bikes.Test ": C-MAP-EMAIL
    routing:
      primary: Main Street
      pickups: {"Downtown Store": Downtown}
    columns:
      products: {mpn: mpn}
sink:
  type: file
  path: out/records.csv
guards:
  max_delete_percent: -1
`

const orderMatchProducts = `id,sku,upc,mpn,brand,deleted
P-CHAIN,CHAIN-1,,,,false
P-TUBE,TUBE-29,,,,false
P-GTIN,GT-1,0036000291452,,,false
P-GTIN2,GT-2,00012345678905,,,false
P-MPN,MP-1,,RD-5800,Shimano,false
P-DUP1,DUP,,,,false
P-DUP2,DUP,,,,false
P-GONE,GONE-1,,,,true
P-CODEFIRST,CF-1,,,,false
P-GTINSECOND,CF-2,00850006000012,,,false
`

const orderMatchCustomers = `id,email
C-JANE,Jane@Bikes.test
C-NOEMAIL,noemail@bikes.test
C-TWIN1,twin@bikes.test
C-TWIN2, TWIN@bikes.test
C-MARKET,buyer@marketplace.test
`

const orderMatchEarlier = `customer_id,pos_customer_id
W-7,C-PREV
W-8,C-OLD1
W-8,C-OLD2
`

// orderRow is one order of the test: its fields and lines.
type orderRow struct {
	id, customer, email, fulfilment, pickup, status, cancelled string
	lines                                                      []order.Line
}

func orderMatchOrders() []orderRow {
	chain := []order.Line{{No: 1, Code: "CHAIN-1", Quantity: 2, UnitPrice: 24.99, Description: "Chain"}}
	return []orderRow{
		{id: "O-EMAIL", customer: "W-1", email: "jane@bikes.test", lines: []order.Line{
			{No: 1, Code: "CHAIN-1", Quantity: 2, UnitPrice: 24.99, Tax: 4.12, Description: "Chain", Options: map[string]string{"Speed": "11"}},
			{No: 2, Code: "TUBE-29", Quantity: 1, UnitPrice: 8.5}}},
		{id: "O-CASE", customer: "W-2", email: "  JANE@Bikes.Test ", lines: chain},
		{id: "O-PLACEHOLDER", customer: "W-3", email: "noemail@bikes.test", lines: chain},
		{id: "O-PLACEHOLDER-CONF", customer: "W-3b", email: "buyer@marketplace.test", lines: chain},
		{id: "O-NOEMAIL", customer: "W-4", email: "", lines: chain},
		{id: "O-PREVIOUS", customer: "W-7", email: "new@bikes.test", lines: chain},
		{id: "O-PREVIOUS-SEVERAL", customer: "W-8", email: "other@bikes.test", lines: chain},
		{id: "O-MAPPED", customer: "W-9", email: "", lines: chain},
		{id: "O-MAPPED-EMAIL", customer: "W-10", email: "mapped@bikes.test", lines: chain},
		{id: "O-EMAIL-TWICE", customer: "W-11", email: "twin@bikes.test", lines: chain},
		{id: "O-GTIN1", customer: "W-1", email: "jane@bikes.test", lines: []order.Line{{No: 1, Code: "WEB-9", GTIN1: "036000291452", Quantity: 1, UnitPrice: 5}}},
		{id: "O-GTIN2", customer: "W-1", email: "jane@bikes.test", lines: []order.Line{{No: 1, GTIN1: "", GTIN2: "12345678905", Quantity: 1, UnitPrice: 5}}},
		{id: "O-MPN", customer: "W-1", email: "jane@bikes.test", lines: []order.Line{{No: 1, Code: "WEB-1", MPN: "RD-5800", Brand: "SHIMANO", Quantity: 1, UnitPrice: 70}}},
		{id: "O-CODE-FIRST", customer: "W-1", email: "jane@bikes.test", lines: []order.Line{{No: 1, Code: "CF-1", GTIN1: "00850006000012", Quantity: 1, UnitPrice: 3}}},
		{id: "O-NONE", customer: "W-1", email: "jane@bikes.test", lines: []order.Line{
			{No: 1, Code: "CHAIN-1", Quantity: 1, UnitPrice: 24.99},
			{No: 2, Code: "NOPE", GTIN1: "00111111111117", MPN: "X-1", Brand: "Nobody", Quantity: 1, UnitPrice: 1}}},
		{id: "O-SEVERAL", customer: "W-1", email: "jane@bikes.test", lines: []order.Line{{No: 1, Code: "DUP", Quantity: 1, UnitPrice: 1}}},
		{id: "O-DELETED", customer: "W-1", email: "jane@bikes.test", lines: []order.Line{{No: 1, Code: "GONE-1", Quantity: 1, UnitPrice: 1}}},
		{id: "O-NOLINES", customer: "W-1", email: "jane@bikes.test", lines: nil},
		{id: "O-PICKUP", customer: "W-1", email: "jane@bikes.test", fulfilment: "pickup", pickup: " downtown store", lines: chain},
		{id: "O-PICKUP-UNKNOWN", customer: "W-1", email: "jane@bikes.test", fulfilment: "pickup", pickup: "Uptown", lines: chain},
		{id: "O-CANCELLED", customer: "W-1", email: "jane@bikes.test", cancelled: "true", lines: chain},
		{id: "O-CANCELED-STATUS", customer: "W-1", email: "jane@bikes.test", status: "Canceled", lines: chain},
		{id: "O-TWO-PROBLEMS", customer: "W-99", email: "nobody@bikes.test", lines: []order.Line{{No: 1, Code: "NOPE", Quantity: 1, UnitPrice: 1}}},
	}
}

// orderMatchCase writes the pipeline (create_customers as given) and its inputs into a temp folder.
func orderMatchCase(t *testing.T, createCustomers bool) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(orderMatchPipeline, fmt.Sprint(createCustomers)))
	writeFile(t, filepath.Join(dir, "products.csv"), orderMatchProducts)
	writeFile(t, filepath.Join(dir, "customers.csv"), orderMatchCustomers)
	writeFile(t, filepath.Join(dir, "earlier.csv"), orderMatchEarlier)
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"order_id", "customer_id", "email", "fulfilment", "pickup_location", "web_status", "cancelled", "lines"})
	for _, o := range orderMatchOrders() {
		lines, err := order.EncodeLines(o.lines)
		if err != nil {
			t.Fatal(err)
		}
		fulfilment := o.fulfilment
		if fulfilment == "" {
			fulfilment = order.FulfilDelivery
		}
		cancelled := o.cancelled
		if cancelled == "" {
			cancelled = "false"
		}
		status := o.status
		if status == "" {
			status = "Received"
		}
		_ = w.Write([]string{o.id, o.customer, o.email, fulfilment, o.pickup, status, cancelled, lines})
	}
	w.Flush()
	writeFile(t, filepath.Join(dir, "orders.csv"), b.String())
	return dir
}

// matchedOrders returns each planned order as "pos_customer_id outlet import_status product_ids".
func matchedOrders(t *testing.T, pl *plan.Plan) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range pl.Changes {
		f := map[string]any{}
		for _, x := range c.Fields {
			f[x.Name] = x.After
		}
		lines, err := order.DecodeLines(fmt.Sprint(f["lines"]))
		if err != nil {
			t.Fatalf("order %v: %v", c.Key["order_id"], err)
		}
		var ids []string
		for _, l := range lines {
			ids = append(ids, l.ProductID)
		}
		out[fmt.Sprint(c.Key["order_id"])] = fmt.Sprintf("%v %v %v %s", f["pos_customer_id"], f["outlet"], f["import_status"],
			strings.Join(ids, ","))
	}
	return out
}

func TestOrderMatchStatuses(t *testing.T) {
	pl := mustPlan(t, loadAt(t, orderMatchCase(t, false)))
	want := map[string]string{
		"O-EMAIL":        "C-JANE Main Street New P-CHAIN,P-TUBE",
		"O-CASE":         "C-JANE Main Street New P-CHAIN",      // trimmed, case-insensitive
		"O-PREVIOUS":     "C-PREV Main Street New P-CHAIN",      // matched before
		"O-MAPPED":       "C-MAP Main Street New P-CHAIN",       // website customer id mapped by hand
		"O-MAPPED-EMAIL": "C-MAP-EMAIL Main Street New P-CHAIN", // email mapped by hand
		"O-GTIN1":        "C-JANE Main Street New P-GTIN",       // a UPC-A equals its GTIN-14
		"O-GTIN2":        "C-JANE Main Street New P-GTIN2",
		"O-MPN":          "C-JANE Main Street New P-MPN",       // brand case-insensitive
		"O-CODE-FIRST":   "C-JANE Main Street New P-CODEFIRST", // code before GTIN
		"O-PICKUP":       "C-JANE Downtown New P-CHAIN",
	}
	if got := matchedOrders(t, pl); !reflect.DeepEqual(got, want) {
		t.Errorf("New orders:\n%v\nwant\n%v", got, want)
	}
	fix := "; add the customer to the POS with this email, or map "
	mapping := " to a POS customer id in customer_mappings, or set create_customers: true"
	wantNotes := []string{
		`order_id=O-CANCELED-STATUS: Cancelled: the website cancelled it (status "Canceled"); it is not imported`,
		`order_id=O-CANCELLED: Cancelled: the website cancelled it (status "Received"); it is not imported`,
		`order_id=O-DELETED: Product Match Failed: line 1 (code "GONE-1"): no POS product matches by code, gtin, mpn_brand; fix the product codes in the POS or on the website`,
		`order_id=O-EMAIL-TWICE: Customer ID Needed: several POS customers have email "twin@bikes.test": C-TWIN1, C-TWIN2` + fix + "website customer W-11" + mapping,
		`order_id=O-NOEMAIL: Customer ID Needed: the order has no email` + fix + "website customer W-4" + mapping,
		`order_id=O-NOLINES: Product Match Failed: the order has no lines`,
		`order_id=O-NONE: Product Match Failed: line 2 (code "NOPE", GTIN 00111111111117, MPN "X-1" brand "nobody"): no POS product matches by code, gtin, mpn_brand; fix the product codes in the POS or on the website`,
		`order_id=O-PICKUP-UNKNOWN: Unknown Pickup Location: pickup location "Uptown" is not in routing.pickups (it has "Downtown Store"); add it there with its POS outlet`,
		`order_id=O-PLACEHOLDER: Customer ID Needed: email "noemail@bikes.test" is a placeholder` + fix + "website customer W-3" + mapping,
		`order_id=O-PLACEHOLDER-CONF: Customer ID Needed: email "buyer@marketplace.test" is a placeholder` + fix + "website customer W-3b" + mapping,
		`order_id=O-PREVIOUS-SEVERAL: Customer ID Needed: no POS customer has email "other@bikes.test", and website customer W-8 was matched to several POS customers before: C-OLD1, C-OLD2` + fix + "website customer W-8" + mapping,
		`order_id=O-SEVERAL: Product Match Failed: line 1 (code "DUP"): several POS products match by code: DUP [id P-DUP1], DUP [id P-DUP2]; fix the product codes in the POS or on the website`,
		`order_id=O-TWO-PROBLEMS: Customer ID Needed: no POS customer has email "nobody@bikes.test"` + fix + "website customer W-99" + mapping +
			`; line 1 (code "NOPE"): no POS product matches by code, gtin, mpn_brand; fix the product codes in the POS or on the website`,
	}
	notes := notesOf(pl, spec.NoteHeldOrder) // every note, each of its kind
	sort.Strings(notes)
	sort.Strings(wantNotes)
	if !reflect.DeepEqual(notes, wantNotes) {
		t.Errorf("notes:\n  %s\nwant:\n  %s", strings.Join(notes, "\n  "), strings.Join(wantNotes, "\n  "))
	}
}

// The lines keep every field the source gave, with product_id added.
func TestOrderMatchKeepsLineFields(t *testing.T) {
	pl := mustPlan(t, loadAt(t, orderMatchCase(t, false)))
	for _, c := range pl.Changes {
		if c.Key["order_id"] != "O-EMAIL" {
			continue
		}
		for _, f := range c.Fields {
			if f.Name != "lines" {
				continue
			}
			got, err := order.DecodeLines(fmt.Sprint(f.After))
			if err != nil {
				t.Fatal(err)
			}
			want := []order.Line{
				{No: 1, Code: "CHAIN-1", Quantity: 2, UnitPrice: 24.99, Tax: 4.12, Description: "Chain",
					Options: map[string]string{"Speed": "11"}, ProductID: "P-CHAIN"},
				{No: 2, Code: "TUBE-29", Quantity: 1, UnitPrice: 8.5, ProductID: "P-TUBE"},
			}
			if !reflect.DeepEqual(got, want) {
				a, _ := json.Marshal(got)
				t.Errorf("lines %s, want product_id added to the source's lines", a)
			}
			return
		}
	}
	t.Fatal("O-EMAIL is not planned with its lines")
}

// With create_customers, an order no rule matches goes on without a POS customer (the sink creates it);
// placeholder emails too, but products and pickups must still match.
func TestOrderMatchCreateCustomers(t *testing.T) {
	pl := mustPlan(t, loadAt(t, orderMatchCase(t, true)))
	got := matchedOrders(t, pl)
	for id, want := range map[string]string{
		"O-NOEMAIL":          "<nil> Main Street New P-CHAIN",
		"O-PLACEHOLDER":      "<nil> Main Street New P-CHAIN",
		"O-EMAIL-TWICE":      "<nil> Main Street New P-CHAIN",
		"O-PREVIOUS-SEVERAL": "<nil> Main Street New P-CHAIN",
		"O-EMAIL":            "C-JANE Main Street New P-CHAIN,P-TUBE",
	} {
		if got[id] != want {
			t.Errorf("%s: %q, want %q", id, got[id], want)
		}
	}
	for _, id := range []string{"O-TWO-PROBLEMS", "O-NONE", "O-PICKUP-UNKNOWN", "O-CANCELLED"} {
		if _, ok := got[id]; ok {
			t.Errorf("%s is planned; it must be held back", id)
		}
	}
	for _, n := range pl.NoteTexts() {
		if strings.Contains(n, "Customer ID Needed") {
			t.Errorf("note with create_customers: %s", n)
		}
	}
}
