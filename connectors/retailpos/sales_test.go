package retailpos

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

const testPipeline = "bikeshop-orders"

// shop is an emulated store with two outlets and their registers, taxes, products and a customer.
type shop struct {
	*env
	main, downtown                     retailpostest.Outlet
	mainReg, downtownReg, downtownReg2 retailpostest.Register
	salesTax, noTax                    retailpostest.Tax
	chain, tube, shipping              retailpostest.Product
	jane                               retailpostest.Customer
}

func newShop(t *testing.T) *shop { return newShopWith(t, retailpostest.Options{}) }

func newShopWith(t *testing.T, opts retailpostest.Options) *shop {
	t.Helper()
	e := newEnv(t, opts)
	s := &shop{env: e}
	s.main = e.srv.AddOutlet(retailpostest.Outlet{Name: "Main Street"})
	s.downtown = e.srv.AddOutlet(retailpostest.Outlet{Name: "Downtown"})
	s.mainReg = e.srv.AddRegister(retailpostest.Register{Name: "Main 1", OutletID: s.main.ID})
	s.downtownReg2 = e.srv.AddRegister(retailpostest.Register{Name: "Downtown 2", OutletID: s.downtown.ID})
	s.downtownReg = e.srv.AddRegister(retailpostest.Register{Name: "Downtown 1", OutletID: s.downtown.ID})
	s.salesTax = e.srv.AddTax(retailpostest.Tax{Name: "Sales Tax", Rate: 0.0825})
	s.noTax = e.srv.AddTax(retailpostest.Tax{Name: "No Tax"})
	s.chain = e.srv.Upsert(retailpostest.Product{SKU: "CHAIN-1", Name: "Chain", Active: true})
	s.tube = e.srv.Upsert(retailpostest.Product{SKU: "TUBE-29", Name: "Tube", Active: true})
	s.shipping = e.srv.Upsert(retailpostest.Product{SKU: "SHIPPING", Name: "Shipping", Active: true})
	s.jane = e.srv.AddCustomer(retailpostest.Customer{FirstName: "Jane", LastName: "Doe", Email: "jane@bikes.test"})
	return s
}

// sink builds the orders sink of the emulator without client-side pacing, on the fake clock.
func (s *shop) sink(values map[string]any) *SalesSink {
	s.t.Helper()
	cfg := map[string]any{"base_url": s.srv.URL(), "token": spec.NewSecret(s.srv.Token()), "requests_per_minute": int64(0),
		"user_id": "user-1", "shipping_product": "SHIPPING", "tax": "Sales Tax"}
	for k, v := range values {
		cfg[k] = v
	}
	k, err := NewSalesSink(spec.Config{Values: cfg}, connectors.Env{Pipeline: testPipeline, Key: []string{"order_id"}})
	if err != nil {
		s.t.Fatalf("NewSalesSink: %v", err)
	}
	k.SetSleep(s.clk.sleep)
	k.read.c.Now, k.write.Now = s.clk.Now, s.clk.Now
	return k
}

// orderOf is an order record as order_match outputs it.
func (s *shop) orderOf(id, customer, outlet string, lines ...order.Line) record.Record {
	s.t.Helper()
	text, err := order.EncodeLines(lines)
	if err != nil {
		s.t.Fatal(err)
	}
	return record.Record{"order_id": id, "customer_id": "W-" + id, "email": "jane@bikes.test", "pos_customer_id": customer,
		"outlet": outlet, "fulfilment": order.FulfilDelivery, "shipping_method": "UPS Ground", "shipping": 7.5, "tax": 0.0,
		"placed_at": time.Date(2026, 11, 20, 15, 4, 5, 0, time.UTC), "lines": text, "import_status": order.StatusNew}
}

func creates(records ...record.Record) []connectors.Change {
	out := make([]connectors.Change, len(records))
	for i, r := range records {
		out[i] = connectors.Change{ID: "c" + r["order_id"].(string), Action: connectors.Create,
			Key: record.Record{"order_id": r["order_id"]}, After: r}
	}
	return out
}

func mustApplySales(t *testing.T, k *SalesSink, changes []connectors.Change) {
	t.Helper()
	outcomes, err := k.Apply(context.Background(), changes)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	for i, o := range outcomes {
		if o != nil {
			t.Errorf("order %v: %v", changes[i].Key["order_id"], o)
		}
	}
}

// salesOf returns the emulator's sales by source id (the order id), failing on a second sale of an order.
func (s *shop) salesOf() map[string]retailpostest.Sale {
	s.t.Helper()
	out := map[string]retailpostest.Sale{}
	for _, x := range s.srv.Sales() {
		if _, dup := out[x.SourceID]; dup {
			s.t.Errorf("order %s has two sales", x.SourceID)
		}
		out[x.SourceID] = x
	}
	return out
}

func (s *shop) posts(path string) int {
	n := 0
	for _, r := range s.srv.Requests() {
		if r.Method == http.MethodPost && r.Path == path {
			n++
		}
	}
	return n
}

func TestSalesCreateOneSalePerOrder(t *testing.T) {
	s := newShop(t)
	k := s.sink(nil)
	delivery := s.orderOf("1001", s.jane.ID, "main street",
		order.Line{No: 1, Code: "CHAIN-1", ProductID: s.chain.ID, Quantity: 2, UnitPrice: 24.99, Tax: 4.12, Description: "Chain 11s"},
		order.Line{No: 2, Code: "TUBE-29", ProductID: s.tube.ID, Quantity: 1, UnitPrice: 8.5})
	delivery["comments"] = "Leave at the door"
	pickup := s.orderOf("1002", s.jane.ID, s.downtown.ID, order.Line{No: 1, ProductID: s.tube.ID, Quantity: 3, UnitPrice: 8})
	pickup["fulfilment"], pickup["pickup_location"], pickup["shipping"], pickup["tax"] = order.FulfilPickup, "Downtown Store", 0.0, 2.0
	mustApplySales(t, k, creates(delivery, pickup))

	sales := s.salesOf()
	want := retailpostest.Sale{ID: SaleID(testPipeline, "1001"), RegisterID: s.mainReg.ID, OutletID: s.main.ID,
		CustomerID: s.jane.ID, UserID: "user-1", State: "pending", Attributes: []string{"layby", "delivery"},
		InvoiceNumber: "WEB-1001", Note: "Web order 1001 · UPS Ground · comments: Leave at the door", SourceType: "possync",
		SourceID: "1001", Date: "2026-11-20T15:04:05Z", Lines: []retailpostest.SaleLine{
			{ProductID: s.chain.ID, Quantity: 2, Price: 24.99, Tax: 2.06, TaxID: s.salesTax.ID, Note: "Chain 11s"},
			{ProductID: s.tube.ID, Quantity: 1, Price: 8.5, Tax: 0, TaxID: s.noTax.ID},
			{ProductID: s.shipping.ID, Quantity: 1, Price: 7.5, Tax: 0, TaxID: s.noTax.ID, Note: "UPS Ground"},
		}}
	got := sales["1001"]
	got.CreatedAt, got.Version = time.Time{}, 0
	if !reflect.DeepEqual(got, want) {
		t.Errorf("delivery sale\n%+v\nwant\n%+v", got, want)
	}
	p := sales["1002"]
	if p.RegisterID != s.downtownReg.ID || !reflect.DeepEqual(p.Attributes, []string{"layby", "pickup"}) ||
		len(p.Lines) != 1 || p.Lines[0].Tax != 0.6667 || p.Lines[0].TaxID != s.salesTax.ID ||
		!strings.Contains(p.Note, "pickup at Downtown Store") {
		t.Errorf("pickup sale %+v: want Downtown's first register by name, layby+pickup, the order tax 2.00 as 0.6667 per unit", p)
	}
	if n := len(s.srv.Sales()); n != 2 {
		t.Errorf("%d sales, want 2", n)
	}
}

// A sale created but answered with a 500, or whose connection dropped, is found by our id: no second sale.
func TestSalesActThenFailCreatesOnce(t *testing.T) {
	for _, tt := range []struct {
		name      string
		mode      retailpostest.FailMode
		ignoreIDs bool
		lookups   int
	}{
		{"500", retailpostest.Fail500, false, 1},
		{"dropped", retailpostest.FailDrop, false, 1},
		{"500, client ids ignored", retailpostest.Fail500, true, 2}, // found by its invoice number
	} {
		t.Run(tt.name, func(t *testing.T) {
			mode := tt.mode
			s := newShopWith(t, retailpostest.Options{IgnoreSaleIDs: tt.ignoreIDs})
			k := s.sink(nil)
			if err := k.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
			s.srv.ActThenFail(1, mode)
			mustApplySales(t, k, creates(s.orderOf("2001", s.jane.ID, "Main Street",
				order.Line{No: 1, ProductID: s.chain.ID, Quantity: 1, UnitPrice: 24.99})))
			if n := len(s.srv.Sales()); n != 1 {
				t.Errorf("%d sales, want 1", n)
			}
			if n := s.posts(retailpostest.SalesPath); n != 1 {
				t.Errorf("%d POSTs of the sale, want 1 (the lookup found it)", n)
			}
			if n := s.requestsTo("/sales/"+SaleID(testPipeline, "2001")) + s.requestsTo("/search"); n != tt.lookups {
				t.Errorf("%d lookups, want %d", n, tt.lookups)
			}
		})
	}
}

// A 502 before the POS acted: the lookup finds nothing, and the order is sent again, once.
func TestSalesLostBeforeActingIsResent(t *testing.T) {
	s := newShop(t)
	k := s.sink(nil)
	if err := k.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.srv.FailNext(1, http.StatusBadGateway)
	mustApplySales(t, k, creates(s.orderOf("2101", s.jane.ID, "Main Street",
		order.Line{No: 1, ProductID: s.chain.ID, Quantity: 1, UnitPrice: 24.99})))
	if n, posts := len(s.srv.Sales()), s.posts(retailpostest.SalesPath); n != 1 || posts != 2 {
		t.Errorf("%d sales after %d POSTs, want 1 after 2", n, posts)
	}
}

// After a crash, Reconcile tells which orders became sales; applying the others creates each once.
func TestSalesReconcileAfterCrash(t *testing.T) {
	t.Run("client ids kept", func(t *testing.T) { testReconcile(t, false) })
	t.Run("client ids ignored", func(t *testing.T) { testReconcile(t, true) })
}

func testReconcile(t *testing.T, ignoreIDs bool) {
	s := newShopWith(t, retailpostest.Options{IgnoreSaleIDs: ignoreIDs})
	line := order.Line{No: 1, ProductID: s.chain.ID, Quantity: 1, UnitPrice: 24.99}
	a, b := s.orderOf("3001", s.jane.ID, "Main Street", line), s.orderOf("3002", s.jane.ID, "Main Street", line)
	mustApplySales(t, s.sink(nil), creates(a)) // the process dies before the state records it
	k := s.sink(nil)                           // the next run
	changes := creates(a, b, b)
	changes[2].Action = connectors.Update
	landed, err := k.Reconcile(context.Background(), changes)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(landed, []bool{true, false, false}) {
		t.Fatalf("landed %v, want [true false false]", landed)
	}
	mustApplySales(t, k, creates(b))
	if got := s.salesOf(); len(got) != 2 {
		t.Errorf("%d orders have sales, want 2", len(got))
	}
}

// 429 waits for Retry-After (an HTTP date) and goes on.
func TestSalesRateLimited(t *testing.T) {
	s := newShop(t)
	k := s.sink(nil)
	if err := k.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.srv.FailNext(2, http.StatusTooManyRequests)
	mustApplySales(t, k, creates(s.orderOf("4001", s.jane.ID, "Main Street",
		order.Line{No: 1, ProductID: s.chain.ID, Quantity: 1, UnitPrice: 24.99})))
	if n := len(s.srv.Sales()); n != 1 {
		t.Errorf("%d sales, want 1", n)
	}
	sleeps := s.clk.sleeps()
	if len(sleeps) != 2 || sleeps[0] < time.Second || sleeps[1] < time.Second {
		t.Errorf("slept %v, want two waits of at least the 1 s Retry-After", sleeps)
	}
}

// Updates and deletions are refused; orders the POS cannot take are rejected with the fix; nothing is sent.
func TestSalesRefusals(t *testing.T) {
	s := newShop(t)
	k := s.sink(map[string]any{"tax": nil, "shipping_product": nil})
	line := order.Line{No: 1, ProductID: s.chain.ID, Quantity: 1, UnitPrice: 24.99}
	upd := creates(s.orderOf("5001", s.jane.ID, "Main Street", line))[0]
	upd.Action = connectors.Update
	del := upd
	del.Action, del.After = connectors.Delete, nil
	noProduct := s.orderOf("5002", s.jane.ID, "Main Street", order.Line{No: 1, Code: "X", Quantity: 1, UnitPrice: 1})
	badOutlet := s.orderOf("5003", s.jane.ID, "Uptown", line)
	shipping := s.orderOf("5004", s.jane.ID, "Main Street", line)
	taxed := s.orderOf("5005", s.jane.ID, "Main Street", line)
	taxed["shipping"], taxed["tax"] = 0.0, 1.5
	changes := append([]connectors.Change{upd, del}, creates(noProduct, badOutlet, shipping, taxed)...)
	outcomes, err := k.Apply(context.Background(), changes)
	if err != nil {
		t.Fatal(err)
	}
	wants := []string{"never updates a POS sale", "never deletes a POS sale", "line 1 has no product_id",
		`outlet "Uptown" is no outlet of the POS`, "set shipping_product", "set tax"}
	for i, want := range wants {
		var ce *connectors.ChangeError
		if !errors.As(outcomes[i], &ce) || !strings.Contains(ce.Reason, want) {
			t.Errorf("change %d: %v, want a ChangeError saying %q", i, outcomes[i], want)
		}
	}
	if n := s.posts(retailpostest.SalesPath); n != 0 {
		t.Errorf("%d sales sent, want none", n)
	}
}

// An order without a POS customer gets one created first, exactly once even when the answer is lost; the
// next order of the same website customer finds it by its code.
func TestSalesCreatesCustomerOnce(t *testing.T) {
	s := newShop(t)
	k := s.sink(nil)
	if err := k.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	line := order.Line{No: 1, ProductID: s.chain.ID, Quantity: 1, UnitPrice: 24.99}
	a := s.orderOf("6001", "", "Main Street", line)
	a["customer_id"], a["email"], a["bill_name"], a["phone"], a["bill_city"] = "W-77", " Ann@Example.org ", "Ann Marie Lee", "555-0100", "Springfield"
	b := s.orderOf("6002", "", "Main Street", line)
	b["customer_id"], b["email"], b["bill_name"] = "W-77", "", "Ann Marie Lee"
	s.srv.ActThenFail(1, retailpostest.Fail500) // the customer is created, the answer lost
	mustApplySales(t, k, creates(a, b))
	var created []retailpostest.Customer
	for _, c := range s.srv.Customers() {
		if c.ID != s.jane.ID {
			created = append(created, c)
		}
	}
	if len(created) != 1 {
		t.Fatalf("%d customers created, want 1: %+v", len(created), created)
	}
	c := created[0]
	if c.CustomerCode != "WEB-W-77" || c.FirstName != "Ann Marie" || c.LastName != "Lee" || c.Email != "Ann@Example.org" ||
		c.Phone != "555-0100" || c.City != "Springfield" {
		t.Errorf("customer %+v, want code WEB-W-77, Ann Marie / Lee, the trimmed email, phone and city", c)
	}
	for id, x := range s.salesOf() {
		if x.CustomerID != c.ID {
			t.Errorf("sale of order %s is for customer %q, want %q", id, x.CustomerID, c.ID)
		}
	}
}

func TestLineTaxesSpreadTheOrderTax(t *testing.T) {
	lines := []order.Line{{Quantity: 2, UnitPrice: 10}, {Quantity: 1, UnitPrice: 5}}
	got, err := lineTaxes(lines, 2.51)
	if err != nil {
		t.Fatal(err)
	}
	// 2.51 × 20/25 = 2.008 → 2.01 for the first line (1.005 per unit), the other 0.50.
	if !reflect.DeepEqual(got, []float64{1.005, 0.5}) {
		t.Errorf("unit taxes %v, want [1.005 0.5]", got)
	}
	if _, err := lineTaxes([]order.Line{{Quantity: 1, UnitPrice: 0}}, 1); err == nil {
		t.Error("tax without amounts to spread it over: no error")
	}
}

func TestSaleIDIsStableAndDistinct(t *testing.T) {
	a, b := SaleID("p", "1001"), SaleID("p", "1002")
	if a != SaleID("p", "1001") || a == b || a == SaleID("q", "1001") {
		t.Errorf("ids %s %s: want one per pipeline and order, stable", a, b)
	}
	if len(a) != 36 || a[14] != '5' || !strings.ContainsAny(a[19:20], "89ab") {
		t.Errorf("id %s is not a version 5 UUID", a)
	}
}

func TestCustomersSource(t *testing.T) {
	e := newEnv(t, retailpostest.Options{})
	e.srv.AddCustomer(retailpostest.Customer{ID: "c1", FirstName: " Jane ", LastName: "Doe", Email: " Jane@Bikes.test ",
		Phone: "555-0101", CustomerCode: "JD"})
	e.srv.AddCustomer(retailpostest.Customer{ID: "c2", FirstName: "Bo", Mobile: "555-0102"})
	e.srv.AddCustomer(retailpostest.Customer{ID: "c3", FirstName: "Gone", DeletedAt: time.Now()})
	s, err := NewCustomersSource(spec.Config{Values: map[string]any{"base_url": e.srv.URL(),
		"token": spec.NewSecret(e.srv.Token()), "requests_per_minute": int64(0), "page_size": int64(1)}}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	s.api.c.Sleep = e.clk.sleep
	r, err := s.Read(context.Background(), connectors.ReadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []record.Record
	for {
		b, err := r.Next(context.Background())
		if err != nil {
			break
		}
		for i := 0; i < int(b.NumRows()); i++ {
			got = append(got, record.RowRecord(b, i))
		}
		b.Release()
	}
	want := []record.Record{
		{"id": "c1", "customer_code": "JD", "email": "Jane@Bikes.test", "first_name": "Jane", "last_name": "Doe",
			"name": "Jane Doe", "company_name": nil, "phone": "555-0101"},
		{"id": "c2", "customer_code": nil, "email": nil, "first_name": "Bo", "last_name": nil, "name": "Bo",
			"company_name": nil, "phone": "555-0102"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("customers %v\nwant %v", got, want)
	}
	if res := r.Result(); res.Mode != connectors.Snapshot || !reflect.DeepEqual(res.Key, []string{"id"}) {
		t.Errorf("result %+v, want a snapshot keyed by id", res)
	}
	if n := e.requestsTo("/customers"); n != 3 {
		t.Errorf("%d pages of /customers, want 3 (page_size 1, then an empty page)", n)
	}
}

func TestSalesEstimate(t *testing.T) {
	s := newShop(t)
	k := s.sink(map[string]any{"requests_per_minute": int64(60)})
	e := k.Estimate(map[connectors.Action]int{connectors.Create: 55, connectors.Update: 3})
	if e.Calls != 60 || e.Duration != time.Minute || !strings.Contains(e.Note, "~60 calls") {
		t.Errorf("estimate %+v, want 60 calls (55 sales and the setup) in a minute at 60/min", e)
	}
}

// A sale sent again although it exists (its state lost) and refused with 409 is taken as there.
func TestSalesConflictMeansThere(t *testing.T) {
	s := newShopWith(t, retailpostest.Options{SaleIDConflict: true})
	a := s.orderOf("7001", s.jane.ID, "Main Street", order.Line{No: 1, ProductID: s.chain.ID, Quantity: 1, UnitPrice: 24.99})
	mustApplySales(t, s.sink(nil), creates(a))
	mustApplySales(t, s.sink(nil), creates(a))
	if n, posts := len(s.srv.Sales()), s.posts(retailpostest.SalesPath); n != 1 || posts != 2 {
		t.Errorf("%d sales after %d POSTs, want 1 after 2", n, posts)
	}
}
