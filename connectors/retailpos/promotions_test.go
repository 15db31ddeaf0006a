package retailpos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	rpt "github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// promoSource builds a promotions source of the emulator in America/Los_Angeles without client-side pacing;
// values override the configuration.
func (e *env) promoSource(values map[string]any) *PromotionsSource {
	e.t.Helper()
	cfg := map[string]any{"base_url": e.srv.URL(), "token": spec.NewSecret(e.srv.Token()),
		"requests_per_minute": int64(0), "timezone": "America/Los_Angeles"}
	for k, v := range values {
		cfg[k] = v
	}
	s, err := NewPromotionsSource(spec.Config{Values: cfg}, connectors.Env{})
	if err != nil {
		e.t.Fatalf("NewPromotionsSource: %v", err)
	}
	s.api.c.Sleep, s.api.c.Now = e.clk.sleep, e.clk.Now
	return s
}

// promoResult is a read's rows, each rendered by rowText, in order, and its result.
type promoResult struct {
	rows []string
	connectors.ReadResult
}

// rowText renders a promotion row as id|sku|name|created|start|end|ecommerce|sale|kind.
func rowText(r record.Record) string {
	day := func(v any) string { return v.(time.Time).Format(dateLayout) }
	created := "null"
	if v, ok := r["CreatedAt"].(time.Time); ok {
		created = v.Format(time.RFC3339)
	}
	return fmt.Sprintf("%v|%v|%v|%s|%s|%s|%v|%v|%v", r["PromotionId"], r["Sku"], r["PromotionName"], created,
		day(r["StartDate"]), day(r["EndDate"]), r["Ecommerce"], r["SalePrice"], r["Kind"])
}

func readPromos(t *testing.T, s *PromotionsSource, now string) promoResult {
	t.Helper()
	res, err := tryReadPromos(s, now)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return res
}

func tryReadPromos(s *PromotionsSource, now string) (promoResult, error) {
	at, err := time.Parse(time.RFC3339, now)
	if err != nil {
		return promoResult{}, err
	}
	ctx := context.Background()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r, err := s.Read(ctx, connectors.ReadRequest{Now: at, Alloc: alloc})
	if err != nil {
		return promoResult{}, err
	}
	defer r.Close()
	var res promoResult
	for {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return promoResult{}, err
		}
		if !b.Schema().Equal(promotionsSchema) {
			return promoResult{}, fmt.Errorf("batch schema %s", b.Schema())
		}
		for i := 0; i < int(b.NumRows()); i++ {
			res.rows = append(res.rows, rowText(record.RowRecord(b, i)))
		}
		b.Release()
	}
	if n := alloc.CurrentAlloc(); n != 0 {
		return promoResult{}, errors.New("leaked Arrow memory")
	}
	res.ReadResult = r.Result()
	return res, nil
}

func TestPromotionsRegistered(t *testing.T) {
	c, ctor, ok := connectors.Sources.Lookup("retailpos_promotions")
	if !ok || ctor == nil {
		t.Fatal("retailpos_promotions is not registered")
	}
	if f, _ := c.Field("token"); !f.Secret || !f.Required {
		t.Error("token must be a required secret")
	}
	if f, _ := c.Field("include_price_books"); f.Default != true {
		t.Errorf("include_price_books defaults to %v, want true", f.Default)
	}
	s, err := ctor(spec.Config{Values: map[string]any{"domain_prefix": "acme", "token": spec.NewSecret("t0ken")}}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range s.Schema().Fields() {
		names = append(names, f.Name)
	}
	want := []string{"PromotionId", "PromotionName", "CreatedAt", "StartDate", "EndDate", "Ecommerce", "Sku", "SalePrice", "Kind"}
	if !slices.Equal(names, want) {
		t.Errorf("schema %v, want %v", names, want)
	}
	ps := s.(*PromotionsSource)
	if ps.loc != time.UTC || !ps.priceBooks || ps.api.c.Base.String() != "https://acme.retail.lightspeed.app/api/2.0" {
		t.Errorf("defaults: zone %v, price books %v, base %s", ps.loc, ps.priceBooks, ps.api.c.Base)
	}
}

func TestPromotionsConfig(t *testing.T) {
	tok := spec.NewSecret("tok-SECRET-77")
	cases := []struct {
		name   string
		values map[string]any
		err    string
	}{
		{name: "unknown zone", values: map[string]any{"timezone": "Pacific Time"}, err: `timezone "Pacific Time" is not an IANA time zone`},
		{name: "empty zone", values: map[string]any{"timezone": " "}, err: "is not an IANA time zone"},
		{name: "the machine's zone", values: map[string]any{"timezone": "Local"}, err: "is not an IANA time zone"},
		{name: "no connection", values: map[string]any{"domain_prefix": nil}, err: "set domain_prefix"},
		{name: "no token", values: map[string]any{"token": nil}, err: "token is required"},
		{name: "page size", values: map[string]any{"page_size": int64(0)}, err: "page_size must be at least 1"},
		{name: "timeout", values: map[string]any{"timeout": time.Duration(0)}, err: "timeout must be positive"},
		{name: "rate", values: map[string]any{"requests_per_minute": int64(-1)}, err: "requests_per_minute must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			values := map[string]any{"domain_prefix": "acme", "token": tok}
			for k, v := range c.values {
				values[k] = v
			}
			_, err := NewPromotionsSource(spec.Config{Values: values}, connectors.Env{})
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want %q", err, c.err)
			}
			if strings.Contains(err.Error(), tok.Reveal()) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// The documentation-shaped example: the Register-only promotion is read with Ecommerce false (the transform
// ignores it), the promo-code promotion and the in-store and general price books are left out.
func TestPromotionsExample(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	e.srv.LoadPromotionsExample()
	res := read2(t, e, nil, "2026-11-22T12:00:00-08:00")
	pb := "pb:" + rpt.PriceBookHoliday
	want := []string{
		"4007|787878|Staff Night|2026-09-15T17:00:00Z|2026-11-20|2026-12-07|false|77|promotion",
		"4012|787878|Black Friday|2026-10-01T17:00:00Z|2026-11-27|2026-11-30|true|88|promotion",
		"4012|787879|Black Friday|2026-10-01T17:00:00Z|2026-11-27|2026-11-30|true|88|promotion",
		"4012|787880|Black Friday|2026-10-01T17:00:00Z|2026-11-27|2026-11-30|true|88|promotion",
		"4012|BOT-750|Black Friday|2026-10-01T17:00:00Z|2026-11-27|2026-11-30|true|19.6|promotion",
		pb + "|0003|Holiday Online|2026-09-20T17:00:00Z|2026-11-20|2026-12-31|true|2|price_book",
		pb + "|BOT-750|Holiday Online|2026-09-20T17:00:00Z|2026-11-20|2026-12-31|true|21|price_book",
	}
	if !slices.Equal(res.rows, want) {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(res.rows, "\n"), strings.Join(want, "\n"))
	}
	if res.Mode != connectors.Snapshot || !slices.Equal(res.Key, []string{"PromotionId", "Sku"}) || res.Checkpoint != nil {
		t.Errorf("mode %s key %v checkpoint %s, want a snapshot keyed by PromotionId, Sku", res.Mode, res.Key, res.Checkpoint)
	}
	notes := []string{
		"promotions: 3 listed, 2 read (1 for Ecommerce); left out: 1 with a promo code, 0 archived, 0 ended before 2026-11-22",
		"price books: 3 listed, 1 read (all platforms or Ecommerce); left out: 1 in store or without a platform, " +
			"1 the general (BASE) price book, 0 ended before 2026-11-22",
	}
	if !slices.Equal(res.Notes, notes) || len(res.Rejects) != 0 {
		t.Errorf("notes %q rejects %v, want %q and none", res.Notes, res.Rejects, notes)
	}
	// No promo-code promotion's products are asked for.
	if n := e.requestsTo("/promotions/" + rpt.PromotionWelcome + "/products"); n != 0 {
		t.Errorf("%d requests for the products of the promo-code promotion", n)
	}
}

// read2 reads with the promotions source of e configured by values, at now.
func read2(t *testing.T, e *env, values map[string]any, now string) promoResult {
	t.Helper()
	return readPromos(t, e.promoSource(values), now)
}

// The local dates follow the configured time zone.
func TestPromotionsTimezone(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	e.srv.LoadPromotionsExample()
	cases := []struct {
		zone    string
		bf, hol string // Black Friday's and the Holiday price book's StartDate – EndDate
	}{
		{"America/Los_Angeles", "2026-11-27 2026-11-30", "2026-11-20 2026-12-31"},
		{"UTC", "2026-11-27 2026-12-01", "2026-11-20 2027-01-01"},
		{"Pacific/Auckland", "2026-11-27 2026-12-01", "2026-11-20 2027-01-01"},
	}
	for _, c := range cases {
		t.Run(c.zone, func(t *testing.T) {
			res := read2(t, e, map[string]any{"timezone": c.zone}, "2026-11-22T12:00:00Z")
			got := map[string]string{}
			for _, r := range res.rows {
				f := strings.Split(r, "|")
				got[f[0]] = f[4] + " " + f[5]
			}
			if got["4012"] != c.bf || got["pb:"+rpt.PriceBookHoliday] != c.hol {
				t.Errorf("Black Friday %s, Holiday %s; want %s and %s", got["4012"], got["pb:"+rpt.PriceBookHoliday], c.bf, c.hol)
			}
		})
	}
}

func TestPromotionsFilters(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	srv := e.srv
	sku := func(s string) string { p, _ := srv.ProductBySKU(s); return p.ID }
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	created := utc("2026-10-01T00:00:00Z")
	promo := func(id, name string, end string, change func(*rpt.Promotion)) {
		p := rpt.Promotion{ID: id, Name: name, Start: utc("2026-11-01T07:00:00Z"), Channels: []string{"Ecommerce"},
			CreatedAt: created, Products: []rpt.PromotionProduct{{ProductID: sku("0003"), DiscountPrice: 2}}}
		if end != "" {
			p.End = utc(end)
		}
		if change != nil {
			change(&p)
		}
		srv.AddPromotion(p)
	}
	// Evaluated on Nov 22 in Los Angeles (PST): local midnight is 08:00 UTC.
	promo("1", "lowercase channel", "", func(p *rpt.Promotion) { p.Channels = []string{"Register", "ecommerce"} })
	promo("2", "no channel", "2026-12-01T08:00:00Z", func(p *rpt.Promotion) { p.Channels = nil })
	promo("3", "archived", "", func(p *rpt.Promotion) { p.Status = "archived" })
	promo("4", "promo code", "", func(p *rpt.Promotion) { p.UsePromoCode = true; p.PromoCodes = []string{"X"} })
	promo("5", "ended yesterday", "2026-11-22T08:00:00Z", nil)
	promo("6", "ends today", "2026-11-22T08:00:01Z", nil)
	promo("7", "no created_at", "2026-12-25T08:00:00Z", func(p *rpt.Promotion) { p.NoCreatedAt = true })

	book := func(name, key string, change func(*rpt.PriceBook)) string {
		pb := rpt.PriceBook{Name: name, PlatformKey: key, CreatedAt: created, ValidFrom: utc("2026-11-20T08:00:00Z")}
		if change != nil {
			change(&pb)
		}
		pb = srv.AddPriceBook(pb)
		srv.SetPriceBookPrice(pb.ID, sku("GIFT-50"), 45)
		return pb.ID
	}
	all := book("all platforms", "0", nil)
	online := book("ecommerce", "2", func(pb *rpt.PriceBook) { pb.ValidFrom, pb.ValidTo = time.Time{}, utc("2026-11-23T08:00:00Z") })
	book("in store", "1", nil)
	book("no platform", "", nil)
	book("general", "0", func(pb *rpt.PriceBook) { pb.Type = "BASE" })
	book("expired", "2", func(pb *rpt.PriceBook) { pb.ValidTo = utc("2026-11-21T08:00:00Z") })
	srv.DeletePriceBook(book("deleted", "0", nil))
	undated := book("no created_at", "2", func(pb *rpt.PriceBook) { pb.NoCreatedAt = true })
	e.clk.sleep(context.Background(), time.Hour) // the next price is created an hour later
	srv.SetPriceBookPrice(undated, sku("BOT-750"), 20)
	srv.SetPriceBookPrice(all, sku("BOT-750"), 20)
	srv.RemovePriceBookPrice(all, sku("BOT-750"))
	gone := srv.Upsert(rpt.Product{SKU: "GONE", Name: "Gone", Active: true})
	srv.SetPriceBookPrice(online, gone.ID, 1)
	srv.Delete(gone.ID)

	res := read2(t, e, nil, "2026-11-22T00:00:00-08:00")
	clock := e.clk.Now().UTC().Add(-time.Hour).Format(time.RFC3339) // when the emulator created the undated prices
	want := []string{
		"1|0003|lowercase channel|2026-10-01T00:00:00Z|2026-11-01|9999-12-31|true|2|promotion",
		"2|0003|no channel|2026-10-01T00:00:00Z|2026-11-01|2026-11-30|false|2|promotion",
		"6|0003|ends today|2026-10-01T00:00:00Z|2026-11-01|2026-11-22|true|2|promotion",
		"7|0003|no created_at|null|2026-11-01|2026-12-24|true|2|promotion",
		"pb:" + all + "|GIFT-50|all platforms|2026-10-01T00:00:00Z|2026-11-20|9999-12-31|true|45|price_book",
		"pb:" + online + "|GIFT-50|ecommerce|2026-10-01T00:00:00Z|1970-01-01|2026-11-22|true|45|price_book",
		"pb:" + undated + "|BOT-750|no created_at|" + clock + "|2026-11-20|9999-12-31|true|20|price_book",
		"pb:" + undated + "|GIFT-50|no created_at|" + clock + "|2026-11-20|9999-12-31|true|45|price_book",
	}
	slices.Sort(want)
	if !slices.Equal(res.rows, want) {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(res.rows, "\n"), strings.Join(want, "\n"))
	}
	notes := []string{
		"promotions: 7 listed, 4 read (3 for Ecommerce); left out: 1 with a promo code, 1 archived, 1 ended before 2026-11-22",
		"1 promotions have no created_at: the promotions transform ranks them after every promotion or price book with one",
		"price books: 7 listed, 3 read (all platforms or Ecommerce); left out: 2 in store or without a platform, " +
			"1 the general (BASE) price book, 1 ended before 2026-11-22",
		"1 price books have no created_at: the earliest created_at of their prices stands in",
		"1 price book prices of deleted products left out",
	}
	if !slices.Equal(res.Notes, notes) {
		t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(res.Notes, "\n"), strings.Join(notes, "\n"))
	}
	if len(res.Rejects) != 0 {
		t.Errorf("rejects %v", res.Rejects)
	}
}

// Promotion products carry their SKU; price book prices name a product ID, resolved through the catalog. A
// product without a SKU is rejected wherever it appears, and a SKU two products share keeps its lowest price.
func TestPromotionsSKUs(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	srv := e.srv
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	nosku := srv.Upsert(rpt.Product{Name: "No SKU", Active: true})
	twin := srv.Upsert(rpt.Product{SKU: "0003", Name: "Product 0003 (duplicate)", Active: true})
	p3, _ := srv.ProductBySKU("0003")
	srv.AddPromotion(rpt.Promotion{ID: "20", Name: "Twins", Start: utc("2026-11-20T08:00:00Z"), Channels: []string{"Ecommerce"},
		CreatedAt: utc("2026-10-01T00:00:00Z"), Products: []rpt.PromotionProduct{
			{ProductID: p3.ID, DiscountPrice: 2.5}, {ProductID: twin.ID, DiscountPrice: 2}, {ProductID: nosku.ID, DiscountPrice: 1}}})
	pb := srv.AddPriceBook(rpt.PriceBook{Name: "Online", PlatformKey: "2", CreatedAt: utc("2026-10-02T00:00:00Z")})
	srv.SetPriceBookPrice(pb.ID, nosku.ID, 1)
	srv.SetPriceBookPrice(pb.ID, rpt.ProductBravo, 99)

	res := read2(t, e, nil, "2026-11-22T12:00:00-08:00")
	want := []string{
		"20|0003|Twins|2026-10-01T00:00:00Z|2026-11-20|9999-12-31|true|2|promotion",
		"pb:" + pb.ID + "|787878|Online|2026-10-02T00:00:00Z|1970-01-01|9999-12-31|true|99|price_book",
	}
	if !slices.Equal(res.rows, want) {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(res.rows, "\n"), strings.Join(want, "\n"))
	}
	rejects := []connectors.Reject{
		{Where: "promotion 20 (Twins), product " + nosku.ID,
			Reason: "the product has no SKU; eCom matches products by SKU, so its sale price is left out"},
		{Where: "price book " + pb.ID + " (Online), product " + nosku.ID,
			Reason: "the product has no SKU; eCom matches products by SKU, so its price book price is left out"},
	}
	if !reflect.DeepEqual(res.Rejects, rejects) {
		t.Errorf("rejects %+v\nwant %+v", res.Rejects, rejects)
	}
	if !slices.Contains(res.Notes, "1 rows name a SKU their promotion or price book already has (several products "+
		"share it): the lowest price is kept") {
		t.Errorf("notes %q lack the shared SKU", res.Notes)
	}
	if n := e.requestsTo("/products"); n != 2 { // one page and the empty page that ends it
		t.Errorf("%d requests to /products, want the catalog read once (2)", n)
	}
}

// Every listing pages: promotions and their products by offset, price books and their prices by version.
func TestPromotionsPaging(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	srv := e.srv
	products := srv.Generate(5, 1)
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	var pps []rpt.PromotionProduct
	for i, p := range products {
		pps = append(pps, rpt.PromotionProduct{ProductID: p.ID, DiscountPrice: float64(i + 1)})
	}
	var last rpt.Promotion
	for i := range 5 {
		last = srv.AddPromotion(rpt.Promotion{Name: fmt.Sprintf("P%d", i), Start: utc("2026-11-01T00:00:00Z").AddDate(0, 0, i),
			Channels: []string{"Ecommerce"}, Products: pps[:i+1]})
	}
	for i := range 3 {
		pb := srv.AddPriceBook(rpt.PriceBook{Name: fmt.Sprintf("B%d", i), PlatformKey: "0"})
		for _, p := range products[:2] {
			srv.SetPriceBookPrice(pb.ID, p.ID, 5)
		}
	}
	res := read2(t, e, map[string]any{"page_size": int64(2)}, "2026-11-22T12:00:00-08:00")
	if len(res.rows) != 1+2+3+4+5+3*2 {
		t.Fatalf("%d rows, want 21:\n%s", len(res.rows), strings.Join(res.rows, "\n"))
	}
	var searches []string
	for _, r := range srv.Requests() {
		if r.Path == "/promotions/search" {
			searches = append(searches, r.Query)
		}
	}
	want := []string{
		"direction=asc&offset=1&order_by=start_date&page_size=2&scope=all",
		"direction=asc&offset=2&order_by=start_date&page_size=2&scope=all",
		"direction=asc&offset=3&order_by=start_date&page_size=2&scope=all",
	}
	if !slices.Equal(searches, want) {
		t.Errorf("searches %q, want %q", searches, want)
	}
	// 5 products of the last promotion: pages of 2, 2, 1.
	if n := e.requestsTo("/promotions/" + last.ID + "/products"); n != 3 {
		t.Errorf("%d requests for the products of promotion %s, want 3", n, last.ID)
	}
	// 6 prices: pages of 2, 2, 2 and an empty one.
	if n := e.requestsTo("/price_book_products"); n != 4 {
		t.Errorf("%d requests to /price_book_products, want 4", n)
	}
}

// The evaluation date, not the server's clock, decides what has ended: a plan --at in the past still sees a
// promotion that has ended since.
func TestPromotionsEvaluationDate(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	e.srv.LoadPromotionsExample()
	cases := []struct {
		now  string
		want []string // the PromotionIds read
	}{
		{"2026-11-22T12:00:00-08:00", []string{"4007", "4012", "pb:" + rpt.PriceBookHoliday}},
		{"2026-11-30T23:59:59-08:00", []string{"4007", "4012", "pb:" + rpt.PriceBookHoliday}},
		{"2026-12-01T00:00:00-08:00", []string{"4007", "pb:" + rpt.PriceBookHoliday}},
		{"2026-12-08T00:00:00-08:00", []string{"pb:" + rpt.PriceBookHoliday}},
		{"2027-01-01T00:00:00-08:00", nil},
		{"2025-11-22T12:00:00-08:00", []string{"4007", "4012", "pb:" + rpt.PriceBookHoliday}},
	}
	for _, c := range cases {
		t.Run(c.now, func(t *testing.T) {
			res := read2(t, e, nil, c.now)
			var ids []string
			for _, r := range res.rows {
				if id := strings.Split(r, "|")[0]; !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("read %v, want %v", ids, c.want)
			}
		})
	}
	// Archived promotions are not listed at all.
	bf, _ := e.srv.Promotion(rpt.PromotionBlackFriday)
	bf.Status = "archived"
	e.srv.AddPromotion(bf)
	if res := read2(t, e, map[string]any{"include_price_books": false}, "2026-11-27T12:00:00-08:00"); len(res.rows) != 1 ||
		!strings.HasPrefix(res.rows[0], "4007|") {
		t.Errorf("after archiving Black Friday, without price books: %v, want only Staff Night", res.rows)
	}
	if n := e.requestsTo("/price_books"); n != 6*2 {
		t.Errorf("%d requests to /price_books, want none when include_price_books is false (12 before)", n)
	}
}

func TestPromotionsRetryAndRefusedToken(t *testing.T) {
	e := newEnv(t, rpt.Options{})
	e.srv.LoadExample()
	e.srv.LoadPromotionsExample()
	e.srv.FailNext(1, http.StatusTooManyRequests)
	if res := read2(t, e, nil, "2026-11-27T12:00:00-08:00"); len(res.rows) != 7 {
		t.Errorf("after a 429: %d rows, want 7", len(res.rows))
	}
	if slept := e.clk.sleeps(); len(slept) != 1 || slept[0] != time.Second {
		t.Errorf("slept %v, want one wait of 1s (until Retry-After)", slept)
	}
	s := e.promoSource(map[string]any{"token": spec.NewSecret("wrong-SECRET-token")})
	_, err := tryReadPromos(s, "2026-11-27T12:00:00-08:00")
	if err == nil || !strings.Contains(err.Error(), "list promotions: the Retail POS refused the token") ||
		strings.Contains(err.Error(), "wrong-SECRET-token") {
		t.Fatalf("read with a wrong token: %v", err)
	}
	if err := s.Check(context.Background()); err == nil || strings.Contains(err.Error(), "wrong-SECRET-token") {
		t.Errorf("check with a wrong token: %v", err)
	}
	if err := e.promoSource(nil).Check(context.Background()); err != nil {
		t.Errorf("check: %v", err)
	}
}
