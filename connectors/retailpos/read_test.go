package retailpos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	rpt "github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/record"
)

var bothOutlets = map[string]any{"outlets": []any{"Main Street", "warehouse"}}

func TestFullReadOfTheExampleCatalog(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	res := read(t, e.source(bothOutlets), connectors.ReadRequest{Now: e.clk.Now()})

	if res.Mode != connectors.Changes || !slices.Equal(res.Key, []string{"id"}) {
		t.Fatalf("mode %s key %v, want changes keyed by id", res.Mode, res.Key)
	}
	if len(res.records) != 8 || len(res.Rejects) != 0 {
		t.Fatalf("%d records, %d rejects; want 8 and 0", len(res.records), len(res.Rejects))
	}
	at := e.clk.Now()
	bravo := record.Record{
		"id": rpt.ProductBravo, "sku": "787878", "handle": "bravo", "name": "Bravo", "variant_name": "Bravo / Black / M",
		"description": "<p>The best product ever, except for the next one.</p>", "brand": "Peak Performance",
		"category": "Apparel > Tops", "upc": "012345678905", "price": 110.0, "active": true, "online": true,
		"has_inventory": true, "quantity": int64(10), "parent_sku": nil, "options": `{"Color":"Black","Size":"M"}`,
		"images":    `["https://vendimageuploadcdn.global.ssl.fastly.net/1920,fit/vend-images/product/original/f/0/f0ebadbc30947444d438678a4a7bd6d996f392fc.jpg"]`,
		"weight_kg": 0.25, "length_cm": 30.0, "width_cm": 20.0, "height_cm": 5.0, "deleted": false, "updated_at": at,
	}
	got := res.bySKU["787878"]
	bravo["version"] = got["version"]
	if !reflect.DeepEqual(got, bravo) {
		t.Errorf("787878:\n got %v\nwant %v", got, bravo)
	}
	if p, _ := e.srv.Product(rpt.ProductBravo); got["version"] != p.Version {
		t.Errorf("version %v, want %d", got["version"], p.Version)
	}

	cases := []struct {
		sku   string
		field string
		want  any
	}{
		{"787879", "parent_sku", "787878"},
		{"787879", "quantity", int64(2)},
		{"787879", "options", `{"Color":"Black","Size":"L"}`},
		{"787880", "quantity", int64(3)}, // 3 at Main Street, -2 at the Warehouse counts as 0
		{"0003", "category", "General"},  // the product type when there is no product category
		{"0003", "brand", nil},           // brand: {}
		{"0003", "online", true},         // ecwid_enabled_webstore absent
		{"0003", "images", nil},          // the placeholder image_url is not an image
		{"0003", "upc", nil},
		{"0003", "weight_kg", nil},
		{"GIFT-50", "has_inventory", false},
		{"GIFT-50", "quantity", nil},
		{"MUG-01", "online", false},
		{"MUG-01", "upc", "4006381333931"}, // EAN
		{"MUG-01", "category", "Gear > Camp Kitchen"},
		{"MUG-01", "quantity", int64(8)},
		{"CAP-OLD", "active", false},
		{"CAP-OLD", "brand", "Peak Performance"},
		{"BOT-750", "weight_kg", 0.680389}, // 1.5 LB
		{"BOT-750", "length_cm", 7.62},     // 3 IN
		{"BOT-750", "height_cm", 25.4},     // 10 IN
		{"BOT-750", "images", `["https://cdn.example.com/trail-bottle-front.jpg","https://cdn.example.com/trail-bottle-side.jpg"]`},
		{"BOT-750", "quantity", int64(42)},
	}
	for _, c := range cases {
		if got := res.bySKU[c.sku][c.field]; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s.%s = %#v, want %#v", c.sku, c.field, got, c.want)
		}
	}
	var cp checkpoint
	if err := json.Unmarshal(res.Checkpoint, &cp); err != nil {
		t.Fatal(err)
	}
	if cp.ProductsVersion == 0 || cp.InventoryVersion == 0 || !cp.FullReadAt.Equal(at) || cp.Products != 8 ||
		cp.Inventory != 14 || !slices.Equal(cp.Outlets, []string{rpt.OutletMainStreet, rpt.OutletWarehouse}) {
		t.Errorf("checkpoint %+v", cp)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), `full read (first read): 8 products, 14 inventory records`) {
		t.Errorf("notes %q", res.Notes)
	}
}

func TestFullReadPagesByVersionCursor(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	gen := e.srv.Generate(60, 4)
	res := read(t, e.source(map[string]any{"page_size": int64(7)}), connectors.ReadRequest{Now: e.clk.Now()})
	if len(res.records) != 60 {
		t.Fatalf("%d records, want 60", len(res.records))
	}
	// 60 items in pages of 7: 9 full pages and an empty one, for products and for inventory.
	if n, m := e.requestsTo("/products"), e.requestsTo("/inventory"); n != 10 || m != 10 {
		t.Errorf("%d product and %d inventory requests, want 10 each", n, m)
	}
	// Each page asks for the items after the previous page's version.max.
	var afters []string
	for _, r := range e.srv.Requests() {
		if r.Path == "/products" {
			afters = append(afters, r.Query)
		}
	}
	if !strings.Contains(afters[0], "after=0") || !strings.Contains(afters[0], "deleted=true") ||
		!strings.Contains(afters[0], "page_size=7") || !strings.Contains(afters[9], fmt.Sprintf("after=%d", gen[59].Version)) {
		t.Errorf("queries %q", afters)
	}
	for i, p := range gen {
		rec := res.bySKU[p.SKU]
		wantParent := any(nil)
		if i%4 != 0 {
			wantParent = gen[i-i%4].SKU
		}
		if rec["id"] != p.ID || rec["parent_sku"] != wantParent {
			t.Fatalf("%s: id %v parent %v, want %s %v", p.SKU, rec["id"], rec["parent_sku"], p.ID, wantParent)
		}
	}
}

// step is one change in the POS followed by an incremental read.
type step struct {
	name   string
	change func(e *env)
	want   []string // SKUs read, sorted
	check  func(t *testing.T, e *env, res result)
}

func TestIncrementalReadsOnlyChanges(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	src := e.source(bothOutlets)
	res := read(t, src, connectors.ReadRequest{Now: e.clk.Now()})
	cp := res.Checkpoint
	steps := []step{
		{name: "nothing changed", change: func(*env) {}, want: nil},
		{
			name: "product edit",
			change: func(e *env) {
				p, _ := e.srv.ProductBySKU("0003")
				p.Name, p.PriceExcludingTax = "Product 0003 v2", 3.5
				e.srv.Upsert(p)
			},
			want: []string{"0003"},
			check: func(t *testing.T, _ *env, res result) {
				if r := res.bySKU["0003"]; r["name"] != "Product 0003 v2" || r["price"] != 3.5 || r["quantity"] != int64(10) {
					t.Errorf("0003 = %v", r)
				}
			},
		},
		{
			name: "inventory change of an unchanged product",
			change: func(e *env) {
				p, _ := e.srv.ProductBySKU("BOT-750")
				e.srv.SetInventory(p.ID, rpt.OutletWarehouse, 5)
			},
			want: []string{"BOT-750"},
			check: func(t *testing.T, e *env, res result) {
				if q := res.bySKU["BOT-750"]["quantity"]; q != int64(17) {
					t.Errorf("quantity %v, want 17 (12 + 5)", q)
				}
				p, _ := e.srv.ProductBySKU("BOT-750")
				if e.requestsTo("/products/"+p.ID) != 1 || e.requestsTo("/products/"+p.ID+"/inventory") != 1 {
					t.Errorf("requests %v", e.srv.Requests())
				}
			},
		},
		{
			name: "new variant",
			change: func(e *env) {
				p, _ := e.srv.ProductBySKU("787880")
				p.ID, p.SKU, p.VariantName = "", "787881", "Bravo / White / L"
				p.VariantOptions = []rpt.VariantOption{{Name: "Color", Value: "White"}, {Name: "Size", Value: "L"}}
				p = e.srv.Upsert(p)
				e.srv.SetInventory(p.ID, rpt.OutletMainStreet, 9)
			},
			want: []string{"787881"},
			check: func(t *testing.T, _ *env, res result) {
				r := res.bySKU["787881"]
				if r["parent_sku"] != "787878" || r["options"] != `{"Color":"White","Size":"L"}` || r["quantity"] != int64(9) {
					t.Errorf("787881 = %v", r)
				}
			},
		},
		{
			name:   "deletion",
			change: func(e *env) { p, _ := e.srv.ProductBySKU("CAP-OLD"); e.srv.Delete(p.ID) },
			want:   []string{"CAP-OLD"},
			check: func(t *testing.T, _ *env, res result) {
				if r := res.bySKU["CAP-OLD"]; r["deleted"] != true || r["quantity"] != nil || r["name"] != "Trucker Cap" {
					t.Errorf("CAP-OLD = %v", r)
				}
			},
		},
		{
			name: "inventory change at an outlet not selected",
			change: func(e *env) {
				o := e.srv.AddOutlet(rpt.Outlet{Name: "Pop-up"})
				p, _ := e.srv.ProductBySKU("MUG-01")
				e.srv.SetInventory(p.ID, o.ID, 100)
			},
			want: nil,
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.change(e)
			e.srv.ResetRequests()
			res := read(t, src, connectors.ReadRequest{Checkpoint: cp, Now: e.clk.Now()})
			var skus []string
			for _, r := range res.records {
				skus = append(skus, r["sku"].(string))
			}
			sort.Strings(skus)
			if !slices.Equal(skus, s.want) || res.Mode != connectors.Changes {
				t.Fatalf("read %v (%s), want %v", skus, res.Mode, s.want)
			}
			if s.check != nil {
				s.check(t, e, res)
			}
			if e.requestsTo("/brands") != 0 {
				t.Errorf("brands read although every product embeds its brand")
			}
			cp = res.Checkpoint
		})
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	src := e.source(map[string]any{"ecom_outlet": "Main Street"})
	first := read(t, src, connectors.ReadRequest{Now: e.clk.Now()})
	cp, err := parseCheckpoint(first.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*cp, mustParse(t, cp.encode())) {
		t.Fatalf("checkpoint does not survive encoding: %s", cp.encode())
	}
	if cp.ProductsVersion != maxVersion(e.srv.Products()) {
		t.Errorf("products_version %d, want the highest product version %d", cp.ProductsVersion, maxVersion(e.srv.Products()))
	}
	// The next read resumes after the stored versions and keeps them when nothing changed.
	e.srv.ResetRequests()
	second := read(t, src, connectors.ReadRequest{Checkpoint: first.Checkpoint, Now: e.clk.Now()})
	want := []string{fmt.Sprintf("after=%d", cp.ProductsVersion), fmt.Sprintf("after=%d", cp.InventoryVersion)}
	var got []string
	for _, r := range e.srv.Requests() {
		if r.Path == "/products" || r.Path == "/inventory" {
			got = append(got, r.Query)
		}
	}
	if len(got) != 2 || !strings.Contains(got[0], want[0]) || !strings.Contains(got[1], want[1]) {
		t.Errorf("incremental queries %q, want %q", got, want)
	}
	if string(second.Checkpoint) != string(first.Checkpoint) || len(second.records) != 0 {
		t.Errorf("checkpoint moved to %s (from %s) with %d records", second.Checkpoint, first.Checkpoint, len(second.records))
	}
}

func mustParse(t *testing.T, b []byte) checkpoint {
	t.Helper()
	cp, err := parseCheckpoint(b)
	if err != nil || cp == nil {
		t.Fatalf("parse %s: %v", b, err)
	}
	return *cp
}

func maxVersion(ps []rpt.Product) int64 {
	var v int64
	for _, p := range ps {
		v = max(v, p.Version)
	}
	return v
}

func TestWhenTheReadIsFull(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	src := e.source(bothOutlets)
	first := read(t, src, connectors.ReadRequest{Now: e.clk.Now()})
	day := 24 * time.Hour
	cases := []struct {
		name       string
		src        *Source
		checkpoint []byte
		after      time.Duration
		refresh    bool
		full       string // the reason noted, "" for an incremental read
	}{
		{"within the period", src, first.Checkpoint, day - time.Minute, false, ""},
		{"periodic full refresh due", src, first.Checkpoint, day, false, "the periodic full refresh is due"},
		{"full refresh requested", src, first.Checkpoint, time.Hour, true, "a full refresh was requested"},
		{"outlets changed", e.source(map[string]any{"outlets": []any{"Main Street"}}), first.Checkpoint, time.Hour, false,
			"the selected outlets changed"},
		{"unreadable checkpoint", src, []byte("{not json"), time.Hour, false, "unreadable checkpoint"},
		{"period turned off", e.source(map[string]any{"outlets": []any{"Main Street", "Warehouse"},
			"full_refresh_every": time.Duration(0)}), first.Checkpoint, 30 * day, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := e.clk.Now().Add(c.after)
			res := read(t, c.src, connectors.ReadRequest{Checkpoint: c.checkpoint, Now: now, FullRefresh: c.refresh})
			notes := strings.Join(res.Notes, "\n")
			cp := mustParse(t, res.Checkpoint)
			if c.full == "" {
				if len(res.records) != 0 || !strings.Contains(notes, "incremental read") || !cp.FullReadAt.Equal(e.clk.Now()) {
					t.Errorf("want an incremental read; %d records, full read at %s, notes %q", len(res.records), cp.FullReadAt, notes)
				}
				return
			}
			if len(res.records) != 8 || !strings.Contains(notes, "full read ("+c.full) || !cp.FullReadAt.Equal(now) {
				t.Errorf("want a full read (%s); %d records, full read at %s, notes %q", c.full, len(res.records), cp.FullReadAt, notes)
			}
		})
	}
}

func TestIncrementalFallsBackToFullWhenLookupsCostMore(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	gen := e.srv.Generate(40, 1)
	src := e.source(nil)
	first := read(t, src, connectors.ReadRequest{Now: e.clk.Now()})
	outlet := e.srv.Outlets()[0].ID
	for _, p := range gen[:10] {
		e.srv.SetInventory(p.ID, outlet, 1)
	}
	e.srv.ResetRequests()
	res := read(t, src, connectors.ReadRequest{Checkpoint: first.Checkpoint, Now: e.clk.Now()})
	// A full read of 40 products and 40 inventory records costs 5 requests; 10 product lookups cost more.
	if len(res.records) != 40 || !strings.Contains(strings.Join(res.Notes, "\n"), "10 lookups, more than the ~5 requests") {
		t.Fatalf("%d records, notes %q", len(res.records), res.Notes)
	}
	if q := res.bySKU[gen[3].SKU]["quantity"]; q != int64(1) {
		t.Errorf("quantity %v, want 1", q)
	}
	for _, r := range e.srv.Requests() {
		if strings.HasPrefix(r.Path, "/products/") {
			t.Errorf("single-product lookup %s despite the full read", r.Path)
		}
	}
}

func TestOutletSelection(t *testing.T) {
	cases := []struct {
		name    string
		values  map[string]any
		outlets []string // outlet names to create; nil: the example's two
		want    int64    // quantity of BOT-750 (12 at Main Street, 30 at the Warehouse)
		err     string
	}{
		{name: "both by name", values: bothOutlets, want: 42},
		{name: "by ID", values: map[string]any{"outlets": []any{rpt.OutletWarehouse}}, want: 30},
		{name: "the eCom register's outlet", values: map[string]any{"ecom_outlet": "Main Street"}, want: 12},
		{name: "outlets win over ecom_outlet", values: map[string]any{"ecom_outlet": "Main Street", "outlets": []any{"Warehouse"}}, want: 30},
		{name: "several outlets and no choice", err: `the retailer has 2 outlets: set outlets (or ecom_outlet`},
		{name: "unknown outlet", values: map[string]any{"outlets": []any{"Downtown"}},
			err: `no outlet "Downtown"; outlets: "Main Street" (id ` + rpt.OutletMainStreet + `), "Warehouse" (id ` + rpt.OutletWarehouse + ")"},
		{name: "the only outlet", outlets: []string{"Solo"}},
		{name: "ambiguous name", outlets: []string{"Shop", "shop"}, values: map[string]any{"ecom_outlet": "SHOP"},
			err: `2 outlets are named "SHOP": name it by ID`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, rpt.Options{})
			if c.outlets == nil {
				e.srv.LoadExample()
			}
			for _, name := range c.outlets {
				e.srv.AddOutlet(rpt.Outlet{Name: name})
			}
			src := e.source(c.values)
			res, err := tryRead(src, connectors.ReadRequest{Now: e.clk.Now()})
			checkErr := src.Check(t.Context())
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || checkErr == nil || checkErr.Error() != err.Error() {
					t.Fatalf("read error %v, check error %v; want %q", err, checkErr, c.err)
				}
				return
			}
			if err != nil || checkErr != nil {
				t.Fatalf("read error %v, check error %v", err, checkErr)
			}
			if c.outlets == nil {
				if q := res.bySKU["BOT-750"]["quantity"]; q != c.want {
					t.Errorf("quantity %v, want %d", q, c.want)
				}
			}
		})
	}
}

func TestProductWithoutSKUIsRejected(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	p := e.srv.Upsert(rpt.Product{Name: "Mystery item", Active: true, HasInventory: true})
	res := read(t, e.source(bothOutlets), connectors.ReadRequest{Now: e.clk.Now()})
	want := []connectors.Reject{{Where: "product " + p.ID, Key: map[string]any{"id": p.ID},
		Reason: "the product has no SKU; eCom matches products by SKU, so it is left out until it gets one"}}
	if !reflect.DeepEqual(res.Rejects, want) || len(res.records) != 8 {
		t.Errorf("rejects %+v with %d records; want %+v with 8", res.Rejects, len(res.records), want)
	}
}

func TestBrandsResolvedThroughBrandsEndpoint(t *testing.T) {
	e := newEnv(t, rpt.Options{BrandIDsOnly: true})
	e.srv.LoadExample()
	src := e.source(bothOutlets)
	res := read(t, src, connectors.ReadRequest{Now: e.clk.Now()})
	if b := res.bySKU["787879"]["brand"]; b != "Peak Performance" {
		t.Errorf("brand %v", b)
	}
	p, _ := e.srv.ProductBySKU("CAP-OLD")
	p.Name = "Trucker Cap II"
	e.srv.Upsert(p)
	e.srv.ResetRequests()
	res = read(t, src, connectors.ReadRequest{Checkpoint: res.Checkpoint, Now: e.clk.Now()})
	// One page of brands and the empty page that ends the listing.
	if b := res.bySKU["CAP-OLD"]["brand"]; b != "Peak Performance" || e.requestsTo("/brands") != 2 {
		t.Errorf("incremental brand %v after %d brand requests", b, e.requestsTo("/brands"))
	}
}

// afterFirst is a transport that runs hook once, after the first response to a request for path.
type afterFirst struct {
	path string
	hook func()
	done bool
}

func (a *afterFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if !a.done && strings.HasSuffix(r.URL.Path, a.path) {
		a.done = true
		a.hook()
	}
	return resp, err
}

func TestProductEditedDuringTheReadComesOnceAtItsLatestVersion(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	gen := e.srv.Generate(10, 1)
	src := e.source(map[string]any{"page_size": int64(4)})
	src.api.c.HTTP = &http.Client{Transport: &afterFirst{path: "/products", hook: func() {
		p := gen[1] // on the first page, already read
		p.Name = "edited mid-read"
		e.srv.Upsert(p)
	}}}
	res := read(t, src, connectors.ReadRequest{Now: e.clk.Now()})
	if len(res.records) != 10 || res.bySKU[gen[1].SKU]["name"] != "edited mid-read" {
		t.Errorf("%d records; %s named %v", len(res.records), gen[1].SKU, res.bySKU[gen[1].SKU]["name"])
	}
	if cp := mustParse(t, res.Checkpoint); cp.ProductsVersion != maxVersion(e.srv.Products()) {
		t.Errorf("products_version %d, want %d", cp.ProductsVersion, maxVersion(e.srv.Products()))
	}
}
