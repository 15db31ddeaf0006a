package retailpostest

import (
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
)

func names(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		out = append(out, it["name"].(string))
	}
	return out
}

func TestPromotionShapes(t *testing.T) {
	s, _ := newServer(t, Options{})
	s.LoadExample()
	s.LoadPromotionsExample()
	status, _, body := get(t, s, "/promotions/search?scope=all&order_by=start_date&direction=asc")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	items := data(body)
	if got := names(items); !slices.Equal(got, []string{"WELCOME10", "Staff Night", "Black Friday"}) {
		t.Fatalf("promotions %v", got)
	}
	bf, welcome := items[2], items[0]
	want := map[string]any{"id": PromotionBlackFriday, "start_time": "2026-11-27T08:00:00", "end_time": "2026-12-01T07:59:59",
		"channels": []any{"Register", "Ecommerce"}, "use_promo_code": false, "status": "active",
		"created_at": "2026-10-01T17:00:00+00:00", "promo_code_summary": nil}
	for k, v := range want {
		if !reflect.DeepEqual(bf[k], v) {
			t.Errorf("Black Friday %s = %#v, want %#v", k, bf[k], v)
		}
	}
	if action := bf["action"].(map[string]any); action["type"] != "percent_discount" || action["value"] != 20.0 {
		t.Errorf("Black Friday action %v", action)
	}
	if welcome["end_time"] != nil || welcome["use_promo_code"] != true {
		t.Errorf("WELCOME10: end_time %v use_promo_code %v, want an open-ended promo-code promotion", welcome["end_time"], welcome["use_promo_code"])
	}

	status, _, body = get(t, s, "/promotions/"+PromotionBlackFriday+"/products")
	lists := body["data"].(map[string]any)
	action, condition := lists["action_products"].([]any), lists["condition_products"].([]any)
	if status != http.StatusOK || len(action) != 4 || !reflect.DeepEqual(action, condition) {
		t.Fatalf("products: %d, %d action and %d condition products", status, len(action), len(condition))
	}
	first := action[0].(map[string]any)
	if first["sku"] != "787878" || first["discount_price"] != 88.0 || first["price_excluding_tax"] != 110.0 {
		t.Errorf("first product: sku %v discount_price %v price %v", first["sku"], first["discount_price"], first["price_excluding_tax"])
	}
	if status, _, body := get(t, s, "/promotions/9999/products"); status != http.StatusNotFound || body["error"] != "Not Found" {
		t.Errorf("unknown promotion: %d %v", status, body)
	}
	if status, _, _ := get(t, s, "/promotions/search", "wrong"); status != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", status)
	}
}

func TestPromotionSearchScopesAndPages(t *testing.T) {
	s, clk := newServer(t, Options{})
	start := clk.Now().Add(-48 * time.Hour)
	for _, p := range []Promotion{
		{Name: "ended", Start: start, End: clk.Now().Add(-time.Hour)},
		{Name: "current", Start: start, End: clk.Now().Add(time.Hour)},
		{Name: "open", Start: start},
		{Name: "upcoming", Start: clk.Now().Add(24 * time.Hour), End: clk.Now().Add(48 * time.Hour)},
		{Name: "archived", Start: start, Status: "archived"},
	} {
		s.AddPromotion(p)
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"?scope=current_upcoming&order_by=name&direction=asc", []string{"current", "open", "upcoming"}},
		{"?scope=past", []string{"ended"}},
		{"?order_by=end_date&direction=asc", []string{"ended", "current", "upcoming", "open", "archived"}},
		{"?order_by=end_date&direction=asc&page_size=2&offset=2", []string{"upcoming", "open"}},
		{"?order_by=end_date&direction=asc&page_size=2&offset=3", []string{"archived"}},
		{"?page_size=2&offset=4", nil},
	}
	for _, c := range cases {
		status, _, body := get(t, s, "/promotions/search"+c.query)
		if got := names(data(body)); status != http.StatusOK || !slices.Equal(got, c.want) {
			t.Errorf("%s: %d %v, want %v", c.query, status, got, c.want)
		}
	}
	for _, q := range []string{"?scope=later", "?offset=0", "?page_size=x", "?order_by=id"} {
		if status, _, _ := get(t, s, "/promotions/search"+q); status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", q, status)
		}
	}
}

func TestPriceBookEndpoints(t *testing.T) {
	s, _ := newServer(t, Options{})
	s.LoadExample()
	s.LoadPromotionsExample()
	_, _, body := get(t, s, "/price_books")
	books := data(body)
	if got := names(books); !slices.Equal(got, []string{"General Price Book (All Products)", "Holiday Online", "In-store Clearance"}) {
		t.Fatalf("price books %v", got)
	}
	holiday := books[1]
	want := map[string]any{"id": PriceBookHoliday, "type": "GENERAL", "restrict_to_platform_key": "0",
		"restrict_to_platform_label": "All Platforms", "valid_from": "2026-11-20T08:00:00+00:00",
		"valid_to": "2027-01-01T08:00:00+00:00", "created_at": "2026-09-20T17:00:00+00:00", "deleted_at": nil}
	for k, v := range want {
		if !reflect.DeepEqual(holiday[k], v) {
			t.Errorf("Holiday Online %s = %#v, want %#v", k, holiday[k], v)
		}
	}
	if books[0]["type"] != "BASE" || books[2]["valid_to"] != nil {
		t.Errorf("general type %v, clearance valid_to %v", books[0]["type"], books[2]["valid_to"])
	}

	_, _, body = get(t, s, "/price_book_products")
	if n := len(data(body)); n != 8+2+1 {
		t.Fatalf("%d price book products, want 11 (8 general, 2 holiday, 1 clearance)", n)
	}
	after := strconv.FormatInt(int64(version(body, "max").(float64)), 10)
	bottle, _ := s.ProductBySKU("BOT-750")
	if !s.RemovePriceBookPrice(PriceBookHoliday, bottle.ID) || s.RemovePriceBookPrice(PriceBookHoliday, bottle.ID) {
		t.Fatal("RemovePriceBookPrice: want true once, then false")
	}
	_, _, body = get(t, s, "/price_book_products?after="+after)
	changed := data(body)
	if len(changed) != 1 || changed[0]["product_id"] != bottle.ID || changed[0]["deleted_at"] == nil {
		t.Fatalf("price book products after the removal: %v, want the removed row with deleted_at", changed)
	}
	if !s.DeletePriceBook(PriceBookClearance) || s.DeletePriceBook(PriceBookClearance) {
		t.Fatal("DeletePriceBook: want true once, then false")
	}
	_, _, body = get(t, s, "/price_books")
	_, _, all := get(t, s, "/price_books?deleted=true")
	if len(data(body)) != 2 || len(data(all)) != 3 {
		t.Errorf("%d price books listed, %d with deleted=true; want 2 and 3", len(data(body)), len(data(all)))
	}
}
