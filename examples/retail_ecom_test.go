package examples

// End-to-end tests of the sync rules of the shipped Retail POS → eCom pipeline (retail-ecom/catalog.yaml),
// one per rule: each drives the real pipeline through runner.Plan and runner.Apply against fresh API
// emulators and checks the exact API calls the store received.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
)

// summary formats a plan's changes as "action sku field,field", in plan order.
func summary(pl *plan.Plan) []string {
	var out []string
	for _, c := range pl.Changes {
		s := fmt.Sprintf("%s %v", c.Action, c.Key["sku"])
		if c.Action == "update" || c.Action == "deactivate" {
			var names []string
			for _, f := range c.Fields {
				names = append(names, f.Name)
			}
			s += " " + strings.Join(names, ",")
		}
		out = append(out, s)
	}
	return out
}

// expectPlan fails the test unless the plan's changes are exactly want (see summary).
func expectPlan(t *testing.T, pl *plan.Plan, want ...string) {
	t.Helper()
	if got := summary(pl); !slices.Equal(got, want) {
		t.Fatalf("plan changes %q, want %q", got, want)
	}
}

// exampleSKUs are the SKUs of the example catalog (retailpostest.LoadExample) the store mirrors.
var exampleSKUs = []string{"0003", "787878", "787879", "787880", "BOT-750", "CAP-OLD", "GIFT-50", "MUG-01"}

// allowMass lets a plan through the pipeline's max_delete_percent guard (10%): in the example's catalog of 8
// records, a single deletion or deactivation trips it.
var allowMass = runner.Options{AllowMassChange: true}

// noDeletes fails the test if the store received a DELETE.
func noDeletes(t *testing.T, writes []ecomtest.Write) {
	t.Helper()
	for _, w := range writes {
		if w.Method == http.MethodDelete {
			t.Fatalf("the store received %s %s", w.Method, w.Path)
		}
	}
}

// TestRetailPOSChangeSendsExactCalls: a change in the POS reaches the store as exactly the API calls it needs,
// carrying only the fields that changed.
func TestRetailPOSChangeSendsExactCalls(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(r *retail)
		plan   []string
		want   func(r *retail) []call
	}{
		{
			name:   "price of a standalone product",
			change: func(r *retail) { r.posEdit("BOT-750", func(p *retailpostest.Product) { p.PriceExcludingTax = 26 }) },
			plan:   []string{"update BOT-750 price"},
			want:   func(r *retail) []call { return []call{{"PUT", r.productPath("BOT-750"), `{"price":26}`}} },
		},
		{
			name: "stock of a product at the outlet sold online",
			change: func(r *retail) {
				p, _ := r.env.RetailPOS.ProductBySKU("BOT-750")
				r.env.RetailPOS.SetInventory(p.ID, retailpostest.OutletMainStreet, 5)
			},
			plan: []string{"update BOT-750 quantity"},
			want: func(r *retail) []call {
				return []call{{"PUT", r.productPath("BOT-750"), `{"quantity":5,"unlimited":false}`}}
			},
		},
		{
			name: "stock at an outlet not sold online",
			change: func(r *retail) {
				p, _ := r.env.RetailPOS.ProductBySKU("BOT-750")
				r.env.RetailPOS.SetInventory(p.ID, retailpostest.OutletWarehouse, 99)
			},
			want: func(r *retail) []call { return nil },
		},
		{
			name: "stock of a variant",
			change: func(r *retail) {
				p, _ := r.env.RetailPOS.ProductBySKU("787879")
				r.env.RetailPOS.SetInventory(p.ID, retailpostest.OutletMainStreet, 9)
			},
			plan: []string{"update 787879 quantity"},
			want: func(r *retail) []call {
				return []call{{"PUT", r.combinationPath("787879"), `{"quantity":9,"unlimited":false}`}}
			},
		},
		{
			name:   "price of a variant",
			change: func(r *retail) { r.posEdit("787880", func(p *retailpostest.Product) { p.PriceExcludingTax = 115 }) },
			plan:   []string{"update 787880 price"},
			want:   func(r *retail) []call { return []call{{"PUT", r.combinationPath("787880"), `{"price":115}`}} },
		},
		{
			// The name is product-level in the store: the family's rename is one request, not one per variant.
			name: "name of a family",
			change: func(r *retail) {
				for _, sku := range []string{"787878", "787879", "787880"} {
					r.posEdit(sku, func(p *retailpostest.Product) { p.Name = "Bravo Tee" })
				}
			},
			plan: []string{"update 787878 name", "update 787879 name", "update 787880 name"},
			want: func(r *retail) []call { return []call{{"PUT", r.productPath("787878"), `{"name":"Bravo Tee"}`}} },
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := syncedRetail(t)
			c.change(r)
			expectPlan(t, r.plan(runner.Options{}), c.plan...)
			r.apply(runner.Options{})
			expectWrites(t, r.env.Ecom.Writes(), c.want(r)...)
			r.clean(runner.Options{Refresh: true})
		})
	}
}

// TestRetailEcomEditIsPutBack: a POS-owned field edited in the store is put back by the next sync with
// --refresh, which first shows it as drift; without --refresh the edit is not seen (the plan diffs against
// the last-applied state only).
func TestRetailEcomEditIsPutBack(t *testing.T) {
	t.Parallel()
	r := syncedRetail(t)
	r.storeEdit("BOT-750", func(p *ecomtest.Product) { p.Name = "Trail Bottle (SALE!)" })

	r.clean(runner.Options{}) // without --refresh: not seen

	pl := r.plan(runner.Options{Refresh: true})
	if len(pl.Drift) != 1 || pl.Drift[0].Key["sku"] != "BOT-750" || pl.Drift[0].Missing ||
		fmt.Sprint(pl.Drift[0].Fields) != fmt.Sprint([]plan.FieldChange{{Name: "name", Before: "Trail Bottle 750 ml", After: "Trail Bottle (SALE!)"}}) {
		t.Fatalf("drift %+v, want BOT-750's name from the last-applied %q to the store's %q", pl.Drift, "Trail Bottle 750 ml", "Trail Bottle (SALE!)")
	}
	expectPlan(t, pl, "update BOT-750 name")
	if f := pl.Changes[0].Fields[0]; f.Before != "Trail Bottle (SALE!)" || f.After != "Trail Bottle 750 ml" {
		t.Fatalf("the change puts the name from %v to %v, want the store's back to the POS name", f.Before, f.After)
	}

	r.apply(runner.Options{Refresh: true})
	expectWrites(t, r.env.Ecom.Writes(), call{"PUT", r.productPath("BOT-750"), `{"name":"Trail Bottle 750 ml"}`})
	if got := r.product("BOT-750").Name; got != "Trail Bottle 750 ml" {
		t.Fatalf("store name %q after the sync", got)
	}
	r.clean(runner.Options{Refresh: true})
	if p, _ := r.env.RetailPOS.ProductBySKU("BOT-750"); p.Name != "Trail Bottle 750 ml" {
		t.Fatalf("the POS name became %q: edits in the store must never flow to the POS", p.Name)
	}
}

// TestRetailInStoreOnlyProduct: a product not enabled for the online channel is created disabled, enabled
// when the POS puts it online, disabled (a deactivate) when it goes back in-store only, and never deleted.
func TestRetailInStoreOnlyProduct(t *testing.T) {
	t.Parallel()
	r := newRetail(t)
	r.apply(runner.Options{})
	var created []ecomtest.Write
	for _, w := range r.env.Ecom.Writes() {
		if w.Method == "POST" && w.Path == "/products" && body(t, w)["sku"] == "MUG-01" {
			created = append(created, w)
		}
	}
	if len(created) != 1 || body(t, created[0])["enabled"] != false {
		t.Fatalf("MUG-01 created by %d POST(s) %v; want one with enabled false", len(created), created)
	}
	if r.product("MUG-01").Enabled {
		t.Fatal("MUG-01 is on sale online")
	}
	all := r.env.Ecom.Writes()

	r.env.Ecom.Reset()
	r.posEdit("MUG-01", func(p *retailpostest.Product) { p.Online = retailpostest.Bool(true) })
	expectPlan(t, r.plan(runner.Options{}), "update MUG-01 enabled")
	r.apply(runner.Options{})
	expectWrites(t, r.env.Ecom.Writes(), call{"PUT", r.productPath("MUG-01"), `{"enabled":true}`})
	all = append(all, r.env.Ecom.Writes()...)

	r.env.Ecom.Reset()
	r.posEdit("MUG-01", func(p *retailpostest.Product) { p.Online = retailpostest.Bool(false) })
	pl := r.plan(runner.Options{})
	expectPlan(t, pl, "deactivate MUG-01 enabled")
	if !pl.Blocked() {
		t.Fatalf("guards %+v: 1 of 8 records deactivated should trip max_delete_percent 10", pl.Guards)
	}
	r.apply(allowMass)
	expectWrites(t, r.env.Ecom.Writes(), call{"PUT", r.productPath("MUG-01"), `{"enabled":false}`})
	all = append(all, r.env.Ecom.Writes()...)

	noDeletes(t, all)
	if p := r.product("MUG-01"); p.Enabled || p.Quantity != 7 {
		t.Fatalf("MUG-01 in the store: enabled %v, quantity %d; want disabled, still listed with its stock 7", p.Enabled, p.Quantity)
	}
	r.clean(runner.Options{Refresh: true})
}

// TestRetailActivation: deactivating in the POS disables the product online (a deactivate), activating
// enables it; enabling it in the store never flows back, and --refresh disables it again.
func TestRetailActivation(t *testing.T) {
	t.Parallel()
	r := syncedRetail(t)
	bottle := r.productPath("BOT-750")

	r.posEdit("BOT-750", func(p *retailpostest.Product) { p.Active = false })
	expectPlan(t, r.plan(runner.Options{}), "deactivate BOT-750 enabled")
	r.apply(allowMass) // 1 deactivation of 8 records trips the 10% guard
	expectWrites(t, r.env.Ecom.Writes(), call{"PUT", bottle, `{"enabled":false}`})

	// The merchant switches it back on in the store: that never reactivates it in the POS.
	r.env.Ecom.Reset()
	r.storeEdit("BOT-750", func(p *ecomtest.Product) { p.Enabled = true })
	r.clean(runner.Options{})
	pl := r.plan(runner.Options{Refresh: true})
	expectPlan(t, pl, "deactivate BOT-750 enabled")
	if len(pl.Drift) != 1 || fmt.Sprint(pl.Drift[0].Fields) != fmt.Sprint([]plan.FieldChange{{Name: "enabled", Before: false, After: true}}) {
		t.Fatalf("drift %+v, want BOT-750 enabled false → true", pl.Drift)
	}
	r.apply(runner.Options{Refresh: true, AllowMassChange: true})
	expectWrites(t, r.env.Ecom.Writes(), call{"PUT", bottle, `{"enabled":false}`})
	if p, _ := r.env.RetailPOS.ProductBySKU("BOT-750"); p.Active {
		t.Fatal("the POS product became active: activation in the store must never flow to the POS")
	}
	r.clean(runner.Options{Refresh: true})

	// Activating in the POS enables it online.
	r.env.Ecom.Reset()
	r.posEdit("BOT-750", func(p *retailpostest.Product) { p.Active = true })
	expectPlan(t, r.plan(runner.Options{}), "update BOT-750 enabled")
	r.apply(runner.Options{})
	expectWrites(t, r.env.Ecom.Writes(), call{"PUT", bottle, `{"enabled":true}`})
	r.clean(runner.Options{Refresh: true})
}

// TestRetailVariantDeactivation: combinations have no on/off switch, so a variant deactivated in the POS is
// taken off sale with stock 0 (a deactivate of its combination), and reactivating puts its stock back.
func TestRetailVariantDeactivation(t *testing.T) {
	t.Parallel()
	r := syncedRetail(t)
	white := r.combinationPath("787880")
	r.posEdit("787880", func(p *retailpostest.Product) { p.Active = false })
	expectPlan(t, r.plan(runner.Options{}), "deactivate 787880 enabled")
	r.apply(allowMass)
	expectWrites(t, r.env.Ecom.Writes(), call{"PUT", white, `{"quantity":0,"unlimited":false}`})
	r.clean(runner.Options{})
	// The store reads the variant back as its product's (enabled) with stock 0; the listing says it cannot
	// report either for the variant, so --refresh sees no drift and sends nothing.
	r.clean(runner.Options{Refresh: true})

	r.env.Ecom.Reset()
	r.posEdit("787880", func(p *retailpostest.Product) { p.Active = true })
	expectPlan(t, r.plan(runner.Options{}), "update 787880 enabled")
	r.apply(runner.Options{})
	expectWrites(t, r.env.Ecom.Writes(), call{"PUT", white, `{"quantity":3,"unlimited":false}`})
	r.clean(runner.Options{Refresh: true})
}

// TestRetailDeletedInPOS: a product deleted in the POS is deleted in the store (on_missing: delete, the
// default) or disabled (on_missing: deactivate). One deletion out of 8 products trips the 10% guard, which
// blocks the apply until overridden.
func TestRetailDeletedInPOS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edits []string
		plan  string
		want  func(r *retail) call
		gone  bool
	}{
		{"on_missing delete", nil, "delete BOT-750",
			func(r *retail) call { return call{"DELETE", r.productPath("BOT-750"), ""} }, true},
		{"on_missing deactivate", []string{"\n  on_missing: delete\n", "\n  on_missing: deactivate\n"}, "deactivate BOT-750 enabled",
			func(r *retail) call { return call{"PUT", r.productPath("BOT-750"), `{"enabled":false}`} }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := syncedRetail(t, c.edits...)
			want := c.want(r)
			p, _ := r.env.RetailPOS.ProductBySKU("BOT-750")
			r.env.RetailPOS.Delete(p.ID)

			pl := r.plan(runner.Options{})
			expectPlan(t, pl, c.plan)
			if !pl.Blocked() {
				t.Fatalf("guards %+v: 1 of 8 records removed should trip max_delete_percent 10", pl.Guards)
			}
			if _, err := runner.Apply(t.Context(), r.p, runner.Options{}, nil); err == nil || !strings.Contains(err.Error(), "blocked by guard") {
				t.Fatalf("apply without --allow-mass-change: %v, want blocked by the guard", err)
			}
			expectWrites(t, r.env.Ecom.Writes())

			r.apply(allowMass)
			expectWrites(t, r.env.Ecom.Writes(), want)
			if _, found := r.env.Ecom.Find("BOT-750"); found == c.gone {
				t.Fatalf("BOT-750 in the store: %v, want %v", found, !c.gone)
			}
			if !c.gone && r.product("BOT-750").Enabled {
				t.Fatal("BOT-750 is still enabled in the store")
			}
			r.clean(runner.Options{Refresh: true})
		})
	}
}

// TestRetailDeletedInEcom: deleting a product in the store never deletes it in the POS; --refresh sees it
// missing and creates it again.
func TestRetailDeletedInEcom(t *testing.T) {
	t.Parallel()
	r := syncedRetail(t)
	req, _ := http.NewRequestWithContext(t.Context(), "DELETE", r.env.Ecom.URL()+"/"+r.env.Ecom.StoreID()+r.productPath("GIFT-50"), nil)
	req.Header.Set("Authorization", "Bearer "+r.env.Ecom.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("delete in the store: %v %v", err, resp)
	}
	resp.Body.Close()
	r.env.Ecom.Reset()

	pl := r.plan(runner.Options{Refresh: true})
	if len(pl.Drift) != 1 || !pl.Drift[0].Missing || pl.Drift[0].Key["sku"] != "GIFT-50" {
		t.Fatalf("drift %+v, want GIFT-50 missing from the store", pl.Drift)
	}
	expectPlan(t, pl, "create GIFT-50")
	r.apply(runner.Options{Refresh: true})
	w := r.env.Ecom.Writes()
	if len(w) != 1 || w[0].Method != "POST" || w[0].Path != "/products" || body(t, w[0])["sku"] != "GIFT-50" {
		t.Fatalf("writes %v, want one POST /products of GIFT-50", w)
	}
	if p, _ := r.env.RetailPOS.ProductBySKU("GIFT-50"); !p.DeletedAt.IsZero() {
		t.Fatal("GIFT-50 was deleted in the POS")
	}
	for _, q := range r.env.RetailPOS.Requests() {
		if q.Method != http.MethodGet {
			t.Fatalf("the POS received %s %s: possync only reads it", q.Method, q.Path)
		}
	}
	r.clean(runner.Options{Refresh: true})
}

// TestRetailNewVariant: a variant added in the POS becomes a combination of its product; a combination that
// exists only in the store is never changed or deleted, with or without --refresh.
func TestRetailNewVariant(t *testing.T) {
	t.Parallel()
	r := syncedRetail(t)
	const storeOnly = 990001
	r.storeEdit("787878", func(p *ecomtest.Product) {
		p.Combinations = append(p.Combinations, ecomtest.Combination{ID: storeOnly, CombinationNumber: 3, SKU: "787878-PINK",
			Quantity: 4, Options: []ecomtest.OptionValue{{Name: "Color", Value: "Pink"}, {Name: "Size", Value: "M"}}})
	})
	pink := func() ecomtest.Combination {
		for _, c := range r.product("787878").Combinations {
			if c.ID == storeOnly {
				return c
			}
		}
		t.Fatal("the store-only combination is gone")
		return ecomtest.Combination{}
	}
	before := fmt.Sprintf("%+v", pink())

	bravo, _ := r.env.RetailPOS.ProductBySKU("787878")
	v := bravo
	v.ID, v.VariantParentID, v.SKU, v.VariantName = "", bravo.ID, "787881", "Bravo / White / L"
	v.VariantOptions = []retailpostest.VariantOption{{Name: "Color", Value: "White"}, {Name: "Size", Value: "L"}}
	v.ProductCodes = []retailpostest.ProductCode{{Type: "UPC", Code: "012345678936"}}
	v = r.env.RetailPOS.Upsert(v)
	r.env.RetailPOS.SetInventory(v.ID, retailpostest.OutletMainStreet, 5)

	expectPlan(t, r.plan(runner.Options{}), "create 787881")
	expectPlan(t, r.plan(runner.Options{Refresh: true}), "create 787881")
	r.apply(runner.Options{Refresh: true})
	expectWrites(t, r.env.Ecom.Writes(), call{"POST", r.productPath("787878") + "/combinations",
		`{"sku":"787881","options":[{"name":"Color","value":"White"},{"name":"Size","value":"L"}],"price":110,"quantity":5,
		  "unlimited":false,"weight":0.25,"attributes":[{"name":"UPC","type":"UPC","value":"012345678936"}]}`})
	if got := len(r.product("787878").Combinations); got != 4 {
		t.Fatalf("Bravo has %d combinations, want 4 (3 from the POS, 1 store-only)", got)
	}

	// A change to the family: the store-only combination is still left alone.
	r.env.Ecom.Reset()
	for _, sku := range []string{"787878", "787879", "787880", "787881"} {
		r.posEdit(sku, func(p *retailpostest.Product) { p.PriceExcludingTax = 120 })
	}
	r.apply(runner.Options{Refresh: true})
	for _, w := range r.env.Ecom.Writes() {
		if w.Method == http.MethodDelete || strings.HasSuffix(w.Path, fmt.Sprint(storeOnly)) {
			t.Fatalf("the store received %s %s", w.Method, w.Path)
		}
	}
	if got := fmt.Sprintf("%+v", pink()); got != before {
		t.Fatalf("the store-only combination changed:\n was %s\n now %s", before, got)
	}
	r.clean(runner.Options{Refresh: true})
}

// TestRetailEcomOnlyFieldsUntouched: the merchant's compare-to price, subtitle and low-stock threshold are
// never sent, so a sync neither overwrites nor clears them.
func TestRetailEcomOnlyFieldsUntouched(t *testing.T) {
	t.Parallel()
	r := syncedRetail(t)
	r.storeEdit("BOT-750", func(p *ecomtest.Product) {
		p.CompareToPrice, p.Subtitle, p.WarningLimit = 30, "Keeps it cold for 24 h", 3
	})
	r.posEdit("BOT-750", func(p *retailpostest.Product) { p.PriceExcludingTax = 22 })
	r.apply(runner.Options{Refresh: true})
	expectWrites(t, r.env.Ecom.Writes(), call{"PUT", r.productPath("BOT-750"), `{"price":22}`})
	p := r.product("BOT-750")
	if p.Price != 22 || p.CompareToPrice != 30 || p.Subtitle != "Keeps it cold for 24 h" || p.WarningLimit != 3 {
		t.Fatalf("store product: price %v, compareToPrice %v, subtitle %q, warningLimit %d; want 22 and the merchant's 30, subtitle, 3",
			p.Price, p.CompareToPrice, p.Subtitle, p.WarningLimit)
	}
	r.clean(runner.Options{Refresh: true})
}

// TestRetailImages: images added or changed in the POS replace the product's images in the store (a media
// call); images changed in the store stay, with and without --refresh, until the POS images change.
func TestRetailImages(t *testing.T) {
	t.Parallel()
	r := syncedRetail(t)
	front, back, side := "https://cdn.example.com/trail-bottle-front.jpg", "https://cdn.example.com/trail-bottle-back.jpg",
		"https://cdn.example.com/trail-bottle-side.jpg"
	r.posEdit("BOT-750", func(p *retailpostest.Product) { p.Images = []string{front, back, side} })
	r.posEdit("GIFT-50", func(p *retailpostest.Product) { p.Images = []string{"https://cdn.example.com/gift-card.png"} })
	expectPlan(t, r.plan(runner.Options{}), "update BOT-750 images", "update GIFT-50 images")
	r.apply(runner.Options{})
	expectWrites(t, r.env.Ecom.Writes(),
		call{"PUT", r.productPath("BOT-750") + "/media",
			`{"mainMedia":{"imageUrl":"` + front + `"},"galleryMedia":[{"imageUrl":"` + back + `"},{"imageUrl":"` + side + `"}]}`},
		call{"PUT", r.productPath("GIFT-50") + "/media", `{"mainMedia":{"imageUrl":"https://cdn.example.com/gift-card.png"},"galleryMedia":[]}`})
	if p := r.product("BOT-750"); p.OriginalImageURL != front || len(p.GalleryImages) != 2 || p.GalleryImages[0].URL != back {
		t.Fatalf("BOT-750 images in the store: main %q, gallery %+v", p.OriginalImageURL, p.GalleryImages)
	}

	// The merchant adds a lifestyle photo in the store and changes the main image.
	r.env.Ecom.Reset()
	lifestyle, hosted := "https://shop.example.com/lifestyle.jpg", "https://shop.example.com/front-retouched.jpg"
	r.storeEdit("BOT-750", func(p *ecomtest.Product) {
		p.OriginalImageURL = hosted
		p.GalleryImages = append(p.GalleryImages, ecomtest.GalleryImage{ID: 990002, URL: lifestyle, OrderBy: 2})
	})
	want := fmt.Sprintf("%s %+v", hosted, r.product("BOT-750").GalleryImages)
	r.clean(runner.Options{})
	r.clean(runner.Options{Refresh: true})
	r.apply(runner.Options{Refresh: true})
	r.apply(runner.Options{})
	expectWrites(t, r.env.Ecom.Writes())
	if p := r.product("BOT-750"); fmt.Sprintf("%s %+v", p.OriginalImageURL, p.GalleryImages) != want {
		t.Fatalf("the store's images changed: %s %+v, want %s", p.OriginalImageURL, p.GalleryImages, want)
	}

	// A later change of the POS images replaces them again.
	r.posEdit("BOT-750", func(p *retailpostest.Product) { p.Images = []string{side} })
	r.apply(runner.Options{Refresh: true})
	expectWrites(t, r.env.Ecom.Writes(),
		call{"PUT", r.productPath("BOT-750") + "/media", `{"mainMedia":{"imageUrl":"` + side + `"},"galleryMedia":[]}`})
	r.clean(runner.Options{Refresh: true})
}

// TestRetailLostAnswerNoDuplicate: a creation the store applied but whose answer was lost (the connection
// dropped) is looked up by SKU and settled without a second product or combination.
func TestRetailLostAnswerNoDuplicate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, sku string
		add       func(r *retail) retailpostest.Product
		settle    func(r *retail) string // the path of the update that settles the creation
	}{
		{
			name: "product", sku: "TENT-2P",
			add: func(r *retail) retailpostest.Product {
				return r.env.RetailPOS.Upsert(retailpostest.Product{SKU: "TENT-2P", Name: "Two-person tent", Active: true,
					Online: retailpostest.Bool(true), HasInventory: true, PriceExcludingTax: 240})
			},
			settle: func(r *retail) string { return r.productPath("TENT-2P") },
		},
		{
			name: "variant", sku: "787881",
			add: func(r *retail) retailpostest.Product {
				bravo, _ := r.env.RetailPOS.ProductBySKU("787878")
				v := bravo
				v.ID, v.VariantParentID, v.SKU = "", bravo.ID, "787881"
				v.VariantOptions = []retailpostest.VariantOption{{Name: "Color", Value: "White"}, {Name: "Size", Value: "L"}}
				return r.env.RetailPOS.Upsert(v)
			},
			settle: func(r *retail) string { return r.combinationPath("787881") },
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := syncedRetail(t)
			p := c.add(r)
			r.env.RetailPOS.SetInventory(p.ID, retailpostest.OutletMainStreet, 3)
			r.env.Ecom.DropNext(1)
			r.apply(runner.Options{})
			w := r.env.Ecom.Writes()
			if len(w) != 2 || w[0].Method != "POST" || body(t, w[0])["sku"] != c.sku || w[1].Method != "PUT" || w[1].Path != c.settle(r) {
				t.Fatalf("writes %v; want the lost POST of %s, then a PUT to %s after the lookup", w, c.sku, c.settle(r))
			}
			if n := r.skuCount(c.sku); n != 1 {
				t.Fatalf("%d products or combinations with SKU %s, want 1", n, c.sku)
			}
			r.env.Ecom.Reset()
			rep := r.apply(runner.Options{})
			if rep.Planned.Total() != 0 {
				t.Fatalf("the rerun planned %+v", rep.Planned)
			}
			expectWrites(t, r.env.Ecom.Writes())
			r.clean(runner.Options{Refresh: true})
		})
	}
}

// TestRetailStoppedApplyNoDuplicate: an apply the store stops halfway (it refuses the token on the 4th
// product creation, which the sink never retries) leaves products created but not all committed, some
// without their images; the rerun completes them without creating any twice.
func TestRetailStoppedApplyNoDuplicate(t *testing.T) {
	t.Parallel()
	r := newRetail(t, fastSink...)
	r.env.Ecom.Fail(ecomtest.Failure{Method: "POST", Path: "/products", After: 3, Times: 1, Status: http.StatusForbidden})
	rep, err := runner.Apply(t.Context(), r.p, runner.Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), "refused the token") {
		t.Fatalf("apply: %v, want the store's refusal", err)
	}
	if n := len(r.env.Ecom.Products()); n != 3 || rep.Applied.Create >= 3 {
		t.Fatalf("%d products in the store, %d creations committed; want 3 created, fewer committed (images pending)",
			n, rep.Applied.Create)
	}
	first := r.env.Ecom.Writes()

	r.env.Ecom.Reset()
	again := r.apply(runner.Options{})
	if again.Applied.Create+rep.Applied.Create != 8 {
		t.Fatalf("the two runs committed %d and %d creations, want 8 in all", rep.Applied.Create, again.Applied.Create)
	}
	all := append(first, r.env.Ecom.Writes()...)
	for _, sku := range exampleSKUs {
		if n := r.skuCount(sku); n != 1 {
			t.Errorf("%d products or combinations with SKU %s, want 1", n, sku)
		}
		if n := postsOf(t, all, sku); n != 1 {
			t.Errorf("%s was created by %d POSTs over both runs, want 1", sku, n)
		}
	}
	if p := r.product("BOT-750"); p.OriginalImageURL != "https://cdn.example.com/trail-bottle-front.jpg" || len(p.GalleryImages) != 1 {
		t.Errorf("BOT-750 images in the store: %q %+v", p.OriginalImageURL, p.GalleryImages)
	}
	r.clean(runner.Options{Refresh: true})
}

// TestRetailKilledApplyNoDuplicate: an apply stopped right after a creation reached the store (the answer
// never came back: the run's context is cancelled, as SIGTERM does) records what the store had acknowledged
// and leaves that creation in doubt; the next run settles it with the store and creates nothing twice.
func TestRetailKilledApplyNoDuplicate(t *testing.T) {
	t.Parallel()
	r := newRetail(t)
	env := r.env
	kill := newKillSwitch(t, env)
	r.p = r.load(retailPipeline) // again, through the kill switch

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	kill.arm(3, func(q *http.Request) bool { return q.Method == "POST" && strings.HasSuffix(q.URL.Path, "/products") }, cancel)
	killed, err := runner.Apply(ctx, r.p, runner.Options{}, nil)
	if err == nil || killed.ExitReason != "interrupted" {
		t.Fatalf("the killed apply: error %v, exit reason %q; want an interruption", err, killed.ExitReason)
	}
	if n := len(env.Ecom.Products()); n != 3 {
		t.Fatalf("%d products in the store after the kill, want the 3 created before it", n)
	}
	first := env.Ecom.Writes()

	env.Ecom.Reset()
	rep := r.apply(runner.Options{})
	// The rerun first settles the killed run's changes in doubt with the store (those that fully landed are
	// committed), then plans the rest again: with what the killed run recorded, every record once.
	settled := slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.HasPrefix(n, "settled ") })
	if !settled || killed.Applied.Create+rep.Recovered+rep.Planned.Create != 8 {
		t.Fatalf("rerun: %d change(s) recorded by the killed run, %d recovered, %d created, notes %q; want the killed run settled and 8 in all",
			killed.Applied.Create, rep.Recovered, rep.Planned.Create, rep.Notes)
	}
	all := append(first, env.Ecom.Writes()...)
	for _, sku := range exampleSKUs {
		if n := r.skuCount(sku); n != 1 {
			t.Errorf("%d products or combinations with SKU %s, want 1", n, sku)
		}
		if n := postsOf(t, all, sku); n != 1 {
			t.Errorf("%s was created by %d POSTs over both runs, want 1", sku, n)
		}
	}
	// The images follow a product's creation in a request of their own, which the kill cut off: the rerun
	// must have sent them (--refresh does not list images, so it would not notice them missing).
	for sku, want := range map[string]string{
		"787878":  "https://vendimageuploadcdn.global.ssl.fastly.net/1920,fit/vend-images/product/original/f/0/f0ebadbc30947444d438678a4a7bd6d996f392fc.jpg []",
		"BOT-750": "https://cdn.example.com/trail-bottle-front.jpg [https://cdn.example.com/trail-bottle-side.jpg]",
	} {
		p := r.product(sku)
		var gallery []string
		for _, g := range p.GalleryImages {
			gallery = append(gallery, g.URL)
		}
		if got := fmt.Sprintf("%s %v", p.OriginalImageURL, gallery); got != want {
			t.Errorf("%s images in the store: %s, want %s", sku, got, want)
		}
	}
	r.clean(runner.Options{})
	r.clean(runner.Options{Refresh: true})
}

// TestRetailRateLimitStorm: a run through 429 storms on both APIs still finishes with everything applied. The
// store answers the sink's first request with 25 429s in a row (the most the sink retries one request), then
// 10 more on product creations and one on an image update (Retry-After 1 s, really waited for), and the POS
// answers the source's first 2 requests with 429 and Retry-After as an HTTP date (about a second each). The
// sink's client-side pace is raised (fastSink): retries are what this test is about.
func TestRetailRateLimitStorm(t *testing.T) {
	t.Parallel()
	r := newRetail(t, fastSink...)
	r.env.RetailPOS.FailNext(2, http.StatusTooManyRequests)
	r.env.Ecom.FailNext(25, http.StatusTooManyRequests, "0")
	r.env.Ecom.Fail(ecomtest.Failure{Method: "POST", Path: "/products", After: 2, Times: 10, Status: http.StatusTooManyRequests, RetryAfter: "0"})
	r.env.Ecom.Fail(ecomtest.Failure{Method: "PUT", Path: "/products", Times: 1, Status: http.StatusTooManyRequests, RetryAfter: "1"})
	rep := r.apply(runner.Options{})
	if rep.Applied.Create != 8 {
		t.Fatalf("applied %+v, want the 8 creations", rep.Applied)
	}
	count429 := func(statuses []int) int {
		n := 0
		for _, s := range statuses {
			if s == http.StatusTooManyRequests {
				n++
			}
		}
		return n
	}
	var ecom, pos []int
	for _, q := range r.env.Ecom.Requests() {
		ecom = append(ecom, q.Status)
	}
	for _, q := range r.env.RetailPOS.Requests() {
		pos = append(pos, q.Status)
	}
	if n := count429(ecom); n != 36 {
		t.Errorf("the store served %d 429s, want all 36 injected", n)
	}
	if n := count429(pos); n != 2 {
		t.Errorf("the POS served %d 429s, want the 2 injected", n)
	}
	writes := r.env.Ecom.Writes()
	for _, sku := range exampleSKUs {
		if n := postsOf(t, writes, sku); n != 1 {
			t.Errorf("%s created by %d POSTs, want 1", sku, n)
		}
	}
	r.clean(runner.Options{Refresh: true})
}

// fastPOS and fastStore edit the pipeline for large catalogs: the source reads pages of 5,000 without
// client-side pacing; the sink paces at 6,000,000 requests a minute and polls batch tickets every
// millisecond (the emulator completes a ticket at its third poll). The sync rules are the shipped ones.
var (
	fastPOS = []string{"  ecom_outlet: ${RETAILPOS_ECOM_OUTLET:-Main Street}\n",
		"  ecom_outlet: ${RETAILPOS_ECOM_OUTLET:-Main Street}\n  requests_per_minute: 0\n  page_size: 5000\n"}
	fastStore = []string{"  token: ${ECOM_TOKEN}\n", "  token: ${ECOM_TOKEN}\n  requests_per_minute: 6000000\n  poll_interval: 1ms\n"}
)

// largeCatalog syncs the example catalog plus n generated products in families of 5 (a product and 4
// variants each) into an empty store and checks that: the plan estimates the API calls at the shipped sink's
// pace; the store ends with every product and combination exactly once, written through batch tickets; and a
// plan then has nothing to change. It returns the apply's report.
func largeCatalog(tb testing.TB, n int) *runner.Report {
	tb.Helper()
	r := newRetail(tb, fastPOS...)
	r.env.RetailPOS.Generate(n, 5)
	records := n + 8

	pl := r.plan(runner.Options{})
	if pl.Summary.Create != records {
		tb.Fatalf("plan creates %d records, want %d", pl.Summary.Create, records)
	}
	est := pl.Estimate
	// Batch tickets of up to 500 writes: about 3 requests per ticket and the listing, not one per record.
	if tickets := (records + 499) / 500; est == nil || est.Calls < 3*tickets || est.Calls > 3*tickets+2+records/100 ||
		est.Duration < time.Duration(est.Calls)*time.Minute/600 ||
		!strings.HasPrefix(est.Note, "~"+thousands(est.Calls)+" calls, ~") || !strings.Contains(est.Note, " at 600/min (") {
		tb.Fatalf("estimate %+v: want the requests of %d batch tickets, paced at the shipped 600/min, in the note", est, (records+499)/500)
	}

	r.p = r.load(editedPipeline(tb, append(fastPOS, fastStore...)...))
	rep := r.apply(runner.Options{})

	products, combinations := 0, 0
	seen := map[string]int{}
	for _, p := range r.env.Ecom.Products() {
		products++
		seen[p.SKU]++
		for _, c := range p.Combinations {
			combinations++
			seen[c.SKU]++
		}
	}
	if want := n/5 + 6; products != want {
		tb.Errorf("%d products in the store, want %d", products, want)
	}
	if want := n*4/5 + 2; combinations != want {
		tb.Errorf("%d combinations in the store, want %d", combinations, want)
	}
	for sku, k := range seen {
		if k != 1 {
			tb.Errorf("SKU %s is in the store %d times", sku, k)
		}
	}
	if len(seen) != records {
		tb.Errorf("%d SKUs in the store, want %d", len(seen), records)
	}
	tickets, direct := map[string]bool{}, 0
	for _, w := range r.env.Ecom.Writes() {
		if strings.HasPrefix(w.Path, "/products") && w.Ticket == "" {
			direct++
		}
		tickets[w.Ticket] = true
	}
	batches := 0
	for _, q := range r.env.Ecom.Requests() {
		if q.Method == "POST" && q.Path == "/batch" {
			batches++
		}
	}
	// The runner hands the sink 500 changes at a time: each such batch goes through tickets (product
	// creations, then their images and the variants waiting for them), but the last one, of records%500
	// changes, is not above batch_threshold (50) and goes direct.
	if min := records / 500; len(tickets)-1 < min || batches != len(tickets)-1 || direct != records%500 {
		tb.Errorf("%d tickets (%d POST /batch) and %d direct writes; want at least %d tickets, one POST each, and %d direct",
			len(tickets)-1, batches, direct, min, records%500)
	}

	again := r.plan(runner.Options{})
	if again.Summary.Total() != 0 || again.Summary.Unchanged != int64(records) {
		tb.Fatalf("plan after the apply: %+v, want %d unchanged and nothing to do", again.Summary, records)
	}
	// Against the live store too: variants whose family fields (dimensions, ...) the store keeps only on
	// their product are not taken for drift.
	live := r.plan(runner.Options{Refresh: true})
	if len(live.Drift) != 0 || live.Summary.Total() != 0 {
		tb.Fatalf("--refresh plan after the apply: %d drifted, %+v; want none", len(live.Drift), live.Summary)
	}
	return rep
}

// thousands formats n with comma separators, as plan estimates do.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestRetailLargeCatalog syncs 5,000 generated products (1,000 families of a product and 4 variants). See
// BenchmarkRetailLargeCatalog for 50,000.
func TestRetailLargeCatalog(t *testing.T) {
	t.Parallel()
	largeCatalog(t, 5000)
}

// BenchmarkRetailLargeCatalog syncs a 50,000-product catalog with variants (10,000 families of 5) into an
// empty store, end to end (POS read, plan, batch tickets); it reports the apply's seconds per stage.
func BenchmarkRetailLargeCatalog(b *testing.B) {
	for range b.N {
		rep := largeCatalog(b, 50000)
		for _, stage := range []string{"read source", "apply: sink", "apply"} {
			b.ReportMetric(rep.Durations[stage], strings.ReplaceAll(stage, " ", "_")+"_s")
		}
	}
}

// TestRetailNewProductsWaitForActivation: with new_products: disabled, products the sync creates start
// disabled online, whatever the POS says, and wait for the merchant; --refresh does not take the waiting
// state for drift. Once the merchant enables one, the POS rules apply again: deactivating in the POS
// disables it.
func TestRetailNewProductsWaitForActivation(t *testing.T) {
	t.Parallel()
	r := newRetail(t, "  new_products: enabled\n", "  new_products: disabled\n  requests_per_minute: 60000\n")
	_ = r.apply(runner.Options{})
	for _, sku := range []string{"BOT-750", "787878", "GIFT-50"} {
		if r.product(sku).Enabled {
			t.Fatalf("%s was created enabled; new_products: disabled wants it waiting for the merchant", sku)
		}
	}
	r.clean(runner.Options{})
	r.clean(runner.Options{Refresh: true}) // waiting is not drift

	// The merchant enables the bottle; later the POS deactivates it.
	r.storeEdit("BOT-750", func(p *ecomtest.Product) { p.Enabled = true })
	r.clean(runner.Options{Refresh: true})
	r.env.Ecom.Reset()
	r.posEdit("BOT-750", func(p *retailpostest.Product) { p.Active = false })
	expectPlan(t, r.plan(runner.Options{}), "deactivate BOT-750 enabled")
	r.apply(allowMass)
	expectWrites(t, r.env.Ecom.Writes(), call{"PUT", r.productPath("BOT-750"), `{"enabled":false}`})
}
