package ecom

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/record"
)

var productFields = []string{"sku", "name", "description", "brand", "upc", "category", "price", "quantity",
	"unlimited", "enabled", "weight", "length", "width", "height", "images"}

func trailRunner() record.Record {
	return record.Record{"sku": "A1", "name": "Trail Runner", "description": "<p>Light</p>", "brand": "Acme",
		"upc": "0123", "category": "Footwear > Running", "price": 120.0, "quantity": int64(5), "unlimited": false,
		"enabled": true, "weight": 0.8, "length": 30.0, "width": 20.0, "height": 12.0,
		"images": `["https://img.example/1.jpg","https://img.example/2.jpg"]`}
}

// TestProductLifecycle checks the exact requests of a product's create, update, deactivate, image change and
// delete: a creation sends every field, an update only the changed ones.
func TestProductLifecycle(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	s, _ := newTestSink(t, srv, productFields, nil)

	r := trailRunner()
	wantAcked(t, apply(t, s, create(r)))
	cats := srv.Categories()
	if len(cats) != 2 || srv.CategoryPath(cats[1].ID) != "Footwear > Running" {
		t.Fatalf("categories = %+v, want Footwear and Footwear > Running", cats)
	}
	running := cats[1].ID
	diffLines(t, "create", writeLog(srv, ids(srv)), []string{
		`POST /categories {"enabled":true,"name":"Footwear","parentId":0}`,
		fmt.Sprintf(`POST /categories {"enabled":true,"name":"Running","parentId":%d}`, cats[0].ID),
		fmt.Sprintf(`POST /products {"attributes":[{"name":"Brand","type":"BRAND","value":"Acme"},{"name":"UPC","type":"UPC","value":"0123"}],`+
			`"categoryIds":[%d],"defaultCategoryId":%d,"description":"<p>Light</p>","dimensions":{"height":12,"length":30,"width":20},`+
			`"enabled":true,"name":"Trail Runner","price":120,"quantity":5,"sku":"A1","unlimited":false,"weight":0.8}`, running, running),
		`PUT /products/{A1}/media {"galleryMedia":[{"imageUrl":"https://img.example/2.jpg"}],"mainMedia":{"imageUrl":"https://img.example/1.jpg"}}`,
	})
	p, _ := srv.Find("A1")
	if p.OriginalImageURL != "https://img.example/1.jpg" || len(p.GalleryImages) != 1 || p.Quantity != 5 || p.Unlimited {
		t.Errorf("stored product = %+v", p)
	}

	steps := []struct {
		name   string
		change connectors.Change
		want   []string
	}{
		{"price changed", update(with(r, "price", 99.5), "price"), []string{`PUT /products/{A1} {"price":99.5}`}},
		{"stock untracked", update(with(r, "quantity", nil, "unlimited", true), "quantity", "unlimited"),
			[]string{`PUT /products/{A1} {"unlimited":true}`}},
		{"deactivated", deactivate(with(r, "enabled", false), "enabled"), []string{`PUT /products/{A1} {"enabled":false}`}},
		{"images changed", update(with(r, "images", `["https://img.example/3.jpg"]`), "images"),
			[]string{`PUT /products/{A1}/media {"galleryMedia":[],"mainMedia":{"imageUrl":"https://img.example/3.jpg"}}`}},
		{"brand and category cleared", update(with(r, "brand", nil, "category", nil), "brand", "category"),
			[]string{`PUT /products/{A1} {"attributes":[{"name":"Brand","type":"BRAND","value":""}],"categoryIds":[],"defaultCategoryId":0}`}},
		{"deleted", remove("A1"), []string{`DELETE /products/{A1}`}},
		{"deleted again: already gone", remove("A1"), nil},
	}
	for _, st := range steps {
		before := ids(srv)
		srv.Reset()
		wantAcked(t, apply(t, s, st.change))
		diffLines(t, st.name, writeLog(srv, before), st.want)
	}
	if _, ok := srv.Find("A1"); ok {
		t.Errorf("A1 still in the store after its deletion")
	}
}

// with returns a copy of r with pairs of field, value set.
func with(r record.Record, kv ...any) record.Record {
	out := record.Record{}
	for k, v := range r {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// TestEcomOnlyFields checks that compare-to price, subtitle and low-stock threshold set by the merchant survive
// a sync that does not own them, and that an owned field is overwritten (null clears it).
func TestEcomOnlyFields(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	srv.Seed(ecomtest.Product{SKU: "B1", Name: "Boot", Price: 150, CompareToPrice: 99, Subtitle: "Hand-set", WarningLimit: 3})

	s, _ := newTestSink(t, srv, []string{"sku", "name", "price"}, nil)
	wantAcked(t, apply(t, s, update(record.Record{"sku": "B1", "name": "Boot", "price": 140.0}, "price")))
	p, _ := srv.Find("B1")
	if p.Price != 140 || p.CompareToPrice != 99 || p.Subtitle != "Hand-set" || p.WarningLimit != 3 {
		t.Errorf("after a price sync: price %v compareToPrice %v subtitle %q warningLimit %d; want 140, 99, Hand-set, 3",
			p.Price, p.CompareToPrice, p.Subtitle, p.WarningLimit)
	}
	// A creation that finds the product already there (an earlier attempt) must not touch them either.
	wantAcked(t, apply(t, s, create(record.Record{"sku": "B1", "name": "Boot", "price": 140.0})))
	if p, _ := srv.Find("B1"); p.CompareToPrice != 99 || p.Subtitle != "Hand-set" {
		t.Errorf("re-creation overwrote eCom-only fields: %+v", p)
	}

	owned, _ := newTestSink(t, srv, []string{"sku", "price", "compare_to_price"}, map[string]any{"owned_fields": []any{"compare_to_price"}})
	wantAcked(t, apply(t, owned, update(record.Record{"sku": "B1", "price": 140.0, "compare_to_price": 180.0}, "compare_to_price")))
	if p, _ := srv.Find("B1"); p.CompareToPrice != 180 || p.Subtitle != "Hand-set" {
		t.Errorf("owned compare_to_price: got %v (subtitle %q), want 180 (Hand-set)", p.CompareToPrice, p.Subtitle)
	}
	wantAcked(t, apply(t, owned, update(record.Record{"sku": "B1", "price": 140.0, "compare_to_price": nil}, "compare_to_price")))
	if p, _ := srv.Find("B1"); p.CompareToPrice != 0 {
		t.Errorf("owned compare_to_price set to null: got %v, want 0 (cleared)", p.CompareToPrice)
	}
}

// TestVariants checks that variants become combinations of their product, created after it even when their
// SKU sorts first, that a disabled variant is sent out of stock, and that variants that exist only in the
// store are left alone.
func TestVariants(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	s, _ := newTestSink(t, srv, baseFields, nil)
	tee := record.Record{"sku": "TEE", "name": "Tee", "price": 20.0, "quantity": int64(0), "unlimited": false, "enabled": true}
	blackM := record.Record{"sku": "AA-TEE-BLK-M", "parent_sku": "TEE", "options": `{"Size":"M","Color":"Black"}`,
		"price": 22.0, "quantity": int64(3), "unlimited": false, "enabled": true}
	wantAcked(t, apply(t, s, create(blackM), create(tee)))
	diffLines(t, "creation", writeLog(srv, ids(srv)), []string{
		`POST /products {"enabled":true,"name":"Tee","price":20,"quantity":0,"sku":"TEE","unlimited":false}`,
		`POST /products/{TEE}/combinations {"options":[{"name":"Color","value":"Black"},{"name":"Size","value":"M"}],"price":22,"quantity":3,"sku":"AA-TEE-BLK-M","unlimited":false}`,
	})
	p, _ := srv.Find("AA-TEE-BLK-M")
	if p.SKU != "TEE" || len(p.Options) != 2 || len(p.Combinations) != 1 {
		t.Fatalf("product = %+v, want TEE with Color and Size options and one combination", p)
	}

	// The merchant adds a variant in the store only; the sync changes, disables and deletes its own.
	srv.Edit("TEE", func(p *ecomtest.Product) {
		p.Combinations = append(p.Combinations, ecomtest.Combination{ID: 99, SKU: "TEE-WEB-ONLY", Quantity: 7,
			Options: []ecomtest.OptionValue{{Name: "Size", Value: "XL"}, {Name: "Color", Value: "Black"}}})
	})
	srv.Reset()
	before := ids(srv)
	wantAcked(t, apply(t, s,
		update(with(blackM, "price", 24.0), "price"),
		deactivate(with(blackM, "enabled", false, "price", 24.0), "enabled")))
	diffLines(t, "update and deactivation", writeLog(srv, before), []string{
		`PUT /products/{TEE}/combinations/{AA-TEE-BLK-M} {"price":24}`,
		`PUT /products/{TEE}/combinations/{AA-TEE-BLK-M} {"quantity":0,"unlimited":false}`,
	})
	wantAcked(t, apply(t, s, remove("AA-TEE-BLK-M")))
	p, _ = srv.Find("TEE")
	if len(p.Combinations) != 1 || p.Combinations[0].SKU != "TEE-WEB-ONLY" || p.Combinations[0].Quantity != 7 {
		t.Errorf("combinations = %+v, want only the store's own TEE-WEB-ONLY, untouched", p.Combinations)
	}

	// A variant whose product is nowhere is refused; so is one whose product fails to be created.
	out := apply(t, s,
		create(record.Record{"sku": "X-1", "parent_sku": "NOPE", "options": `{"Size":"S"}`, "price": 1.0}),
		create(record.Record{"sku": "BAD", "name": "Bad", "price": -5.0}),
		create(record.Record{"sku": "BAD-1", "parent_sku": "BAD", "options": `{"Size":"S"}`, "price": 1.0}))
	if !isChangeError(out[0], http.StatusNotFound) || !isChangeError(out[1], http.StatusBadRequest) || !isChangeError(out[2], http.StatusBadRequest) {
		t.Errorf("outcomes = %v, want 404 (no product), 400 (negative price), 400 (its product refused)", out)
	}
}

// TestNoDuplicateCreate checks the creations whose earlier attempt landed: found by the lookup, refused as a
// duplicate (409) by a store the sink's index thought empty, or lost in transport after the store applied it.
func TestNoDuplicateCreate(t *testing.T) {
	count := func(srv *ecomtest.Server, method, path string) int {
		n := 0
		for _, w := range srv.Writes() {
			if w.Method == method && w.Path == path {
				n++
			}
		}
		return n
	}
	t.Run("found by lookup", func(t *testing.T) {
		srv := ecomtest.New(ecomtest.Options{})
		defer srv.Close()
		srv.Seed(ecomtest.Product{SKU: "C1", Name: "Old name", Price: 1})
		s, _ := newTestSink(t, srv, []string{"sku", "name", "price"}, nil)
		wantAcked(t, apply(t, s, create(record.Record{"sku": "C1", "name": "Cap", "price": 15.0})))
		diffLines(t, "writes", writeLog(srv, ids(srv)), []string{`PUT /products/{C1} {"name":"Cap","price":15,"sku":"C1"}`})
	})
	t.Run("409 from a stale index", func(t *testing.T) {
		srv := ecomtest.New(ecomtest.Options{})
		defer srv.Close()
		s, _ := newTestSink(t, srv, []string{"sku", "name", "price"}, nil)
		var many []connectors.Change
		for i := 0; i < 11; i++ { // enough SKUs for the sink to list the (empty) store: its index is complete
			many = append(many, create(record.Record{"sku": fmt.Sprintf("M%02d", i), "name": "M", "price": 1.0}))
		}
		wantAcked(t, apply(t, s, many...))
		srv.Seed(ecomtest.Product{SKU: "C2", Name: "Made by hand", Price: 1})
		srv.Reset()
		wantAcked(t, apply(t, s, create(record.Record{"sku": "C2", "name": "Cap", "price": 15.0})))
		diffLines(t, "writes", writeLog(srv, ids(srv)), []string{
			`POST /products {"name":"Cap","price":15,"sku":"C2"} -> 409`,
			`PUT /products/{C2} {"name":"Cap","price":15,"sku":"C2"}`,
		})
	})
	t.Run("answer lost after the store created it", func(t *testing.T) {
		srv := ecomtest.New(ecomtest.Options{})
		defer srv.Close()
		s, _ := newTestSink(t, srv, []string{"sku", "name", "price"}, nil)
		srv.DropNext(1)
		wantAcked(t, apply(t, s, create(record.Record{"sku": "C3", "name": "Cap", "price": 15.0})))
		if n := count(srv, "POST", "/products"); n != 1 {
			t.Errorf("%d POST /products, want 1", n)
		}
		var n int
		for _, p := range srv.Products() {
			if p.SKU == "C3" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d products with SKU C3, want 1", n)
		}
	})
}

// TestRateLimitStorm checks that 20 answers 429 in a row with Retry-After: 1 are waited out (on the injected
// clock) and every change still lands.
func TestRateLimitStorm(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	s, sl := newTestSink(t, srv, []string{"sku", "name", "price"}, nil)
	srv.FailNext(20, http.StatusTooManyRequests, "1")
	var changes []connectors.Change
	for i := 0; i < 3; i++ {
		changes = append(changes, create(record.Record{"sku": fmt.Sprintf("R%d", i), "name": "R", "price": 1.0}))
	}
	wantAcked(t, apply(t, s, changes...))
	if len(srv.Products()) != 3 {
		t.Errorf("%d products, want 3", len(srv.Products()))
	}
	waited := 0
	for _, d := range sl.d {
		if d.Seconds() == 1 {
			waited++
		}
	}
	if waited != 20 {
		t.Errorf("waited Retry-After 20 times? got %d (sleeps %v)", waited, sl.d)
	}
}

// TestRefusedTokenStops checks that a 403 in the middle of a run stops it: the changes before it are
// acknowledged, the refused one and the rest are not attempted, and the error says the token was refused.
func TestRefusedTokenStops(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	s, _ := newTestSink(t, srv, []string{"sku", "name", "price"}, nil)
	srv.Fail(ecomtest.Failure{Method: "POST", After: 2, Times: -1, Status: http.StatusForbidden, Code: "INSUFFICIENT_APP_SCOPE"})
	var changes []connectors.Change
	for i := 0; i < 4; i++ {
		changes = append(changes, create(record.Record{"sku": fmt.Sprintf("T%d", i), "name": "T", "price": 1.0}))
	}
	out, err := s.Apply(t.Context(), changes)
	if err == nil || !errorsContain(err, "refused the token", "INSUFFICIENT_APP_SCOPE") {
		t.Fatalf("err = %v, want the token refused", err)
	}
	if out[0] != nil || out[1] != nil || !errors.Is(out[2], connectors.ErrNotAttempted) || !errors.Is(out[3], connectors.ErrNotAttempted) {
		t.Errorf("outcomes = %v, want nil, nil, not attempted, not attempted", out)
	}
}

// TestBatchPath checks that a plan above batch_threshold goes through tickets (polled until COMPLETED) and
// that each request's answer reaches its own change, including variants created after their new product.
func TestBatchPath(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	srv.Seed(ecomtest.Product{SKU: "OLD1", Name: "Old", Price: 5}, ecomtest.Product{SKU: "OLD2", Name: "Old", Price: 5})
	s, sl := newTestSink(t, srv, baseFields, map[string]any{"batch_threshold": int64(3)})
	changes := []connectors.Change{
		create(record.Record{"sku": "N1", "name": "New", "price": 10.0}),
		create(record.Record{"sku": "N2", "name": "Negative", "price": -1.0}),
		create(record.Record{"sku": "N1-S", "parent_sku": "N1", "options": `{"Size":"S"}`, "price": 11.0}),
		update(record.Record{"sku": "OLD1", "name": "Old", "price": 6.0}, "price"),
		update(record.Record{"sku": "GONE", "name": "Gone", "price": 6.0}, "price"),
		remove("OLD2"),
	}
	pre := ids(srv)
	out := apply(t, s, changes...)
	want := []string{"nil", "400", "nil", "nil", "404", "nil"}
	for i, o := range out {
		got := "nil"
		var ce *connectors.ChangeError
		if errors.As(o, &ce) {
			got = fmt.Sprint(ce.Status)
		} else if o != nil {
			got = o.Error()
		}
		if got != want[i] {
			t.Errorf("change %d (%s %v): outcome %s, want %s", i, changes[i].Action, changes[i].Key, got, want[i])
		}
	}
	var ce *connectors.ChangeError
	if !errors.As(out[1], &ce) || !errorsContain(ce, "Price must be non-negative") {
		t.Errorf("refusal reason = %v, want the store's message", out[1])
	}
	// Round 1 is one ticket (N1, N2, OLD1, OLD2; GONE is refused before sending); round 2 is the variant of
	// the new N1, a single request sent directly.
	before := ids(srv)
	var got []string
	for _, w := range srv.Writes() {
		got = append(got, fmt.Sprintf("%s %s ticket:%v", w.Method, w.Path, w.Ticket != ""))
	}
	diffLines(t, "writes", got, []string{
		"POST /products ticket:true", "POST /products ticket:true", "PUT /products/" + idOf(before, "{OLD1}") + " ticket:true",
		"DELETE /products/" + idOf(pre, "{OLD2}") + " ticket:true", "POST /products/" + idOf(before, "{N1}") + "/combinations ticket:false",
	})
	polls := 0
	for _, r := range srv.Requests() {
		if r.Method == "GET" && r.Path == "/batch" {
			polls++
		}
	}
	if polls != 3 || len(sl.d) != 3 {
		t.Errorf("%d polls, %d waits; want 3 of each (QUEUED, IN_PROGRESS, COMPLETED)", polls, len(sl.d))
	}
	if p, _ := srv.Find("N1-S"); p.SKU != "N1" {
		t.Errorf("variant N1-S not a combination of N1: %+v", p)
	}
	if _, ok := srv.Find("OLD2"); ok {
		t.Errorf("OLD2 not deleted")
	}
}

// idOf returns the id a placeholder stands for.
func idOf(ids map[int64]string, placeholder string) string {
	for id, p := range ids {
		if p == placeholder {
			return fmt.Sprint(id)
		}
	}
	return "?"
}

// errorsContain reports whether err's message contains every part.
func errorsContain(err error, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			return false
		}
	}
	return true
}

// TestOutcomes checks the outcome of changes the store cannot take, and of a store that keeps failing.
func TestOutcomes(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	srv.Seed(ecomtest.Product{SKU: "P1", Name: "P", Price: 1}, ecomtest.Product{SKU: "P2", Name: "P", Price: 1})
	s, _ := newTestSink(t, srv, append(baseFields, "images"), nil)
	out := apply(t, s,
		create(record.Record{"sku": "J1", "name": "J", "images": "not json"}),
		create(record.Record{"sku": "J2", "parent_sku": "P1", "price": 1.0}),
		update(record.Record{"sku": "P1", "parent_sku": "P2", "options": `{"Size":"S"}`, "price": 2.0}, "price"),
	)
	for i, want := range []string{"images: want a JSON array", "has no options", "SKU P1 is a product in the store but the record makes it a variant of P2"} {
		var ce *connectors.ChangeError
		if !errors.As(out[i], &ce) || !strings.Contains(ce.Reason, want) {
			t.Errorf("change %d: outcome %v, want a refusal saying %q", i, out[i], want)
		}
	}

	// A combination whose answer is lost is looked up, not created twice.
	srv.DropNext(1)
	wantAcked(t, apply(t, s, create(record.Record{"sku": "P1-S", "parent_sku": "P1", "options": `{"Size":"S"}`, "price": 1.0})))
	if p, _ := srv.Find("P1"); len(p.Combinations) != 1 {
		t.Errorf("%d combinations after a lost answer, want 1", len(p.Combinations))
	}

	// A store answering 503 beyond the retries stops the run; the change in flight is of unknown fate.
	srv.Fail(ecomtest.Failure{Method: "PUT", Times: -1, Status: http.StatusServiceUnavailable})
	out, err := s.Apply(t.Context(), []connectors.Change{
		update(record.Record{"sku": "P1", "name": "P", "price": 3.0}, "price"),
		update(record.Record{"sku": "P2", "name": "P", "price": 3.0}, "price"),
	})
	var ce *connectors.ChangeError
	if err == nil || !strings.Contains(err.Error(), "failing") || out[0] == nil || errors.As(out[0], &ce) ||
		errors.Is(out[0], connectors.ErrNotAttempted) || !errors.Is(out[1], connectors.ErrNotAttempted) {
		t.Errorf("outcomes %v, err %v; want the first unknown, the second not attempted, and a fatal error", out, err)
	}
}

// A variant the store already has can be "created" without options (a pipeline that maps only stock and
// price onto an existing catalog): the existing combination is updated; a new one still needs options.
func TestCreateExistingVariantWithoutOptions(t *testing.T) {
	srv := ecomtest.New(ecomtest.Options{})
	defer srv.Close()
	srv.Seed(ecomtest.Product{SKU: "BIKE", Name: "Bike", Price: 900, Combinations: []ecomtest.Combination{
		{SKU: "BIKE-M", Quantity: 0, Options: []ecomtest.OptionValue{{Name: "Size", Value: "M"}}}}})
	s, _ := newTestSink(t, srv, []string{"sku", "parent_sku", "price", "quantity"}, nil)
	out := apply(t, s,
		create(record.Record{"sku": "BIKE-M", "parent_sku": "BIKE", "price": 850.0, "quantity": int64(3)}),
		create(record.Record{"sku": "BIKE-L", "parent_sku": "BIKE", "price": 850.0, "quantity": int64(1)}))
	if out[0] != nil {
		t.Errorf("existing variant: outcome %v, want acknowledged", out[0])
	}
	var ce *connectors.ChangeError
	if !errors.As(out[1], &ce) || !strings.Contains(ce.Reason, "has no options") {
		t.Errorf("new variant without options: outcome %v, want a refusal saying it has no options", out[1])
	}
	p, _ := srv.Find("BIKE-M")
	if c := p.Combinations; len(c) != 1 || c[0].Quantity != 3 || c[0].Price == nil || *c[0].Price != 850 ||
		len(c[0].Options) != 1 || c[0].Options[0].Value != "M" {
		t.Errorf("combinations after the create: %+v, want BIKE-M at 850 with 3 in stock and its option kept", c)
	}
}
