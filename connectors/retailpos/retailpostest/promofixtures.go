package retailpostest

import (
	"fmt"
	"time"
)

// IDs of the example promotions and price books (LoadPromotionsExample).
const (
	PromotionBlackFriday = "4012"
	PromotionStaffNight  = "4007"
	PromotionWelcome     = "4003"
	PriceBookGeneral     = "b1cc4593-f019-11e3-a0f5-b8ca3a64f8f4"
	PriceBookHoliday     = "dc85058a-a683-11e4-ef46-e2ecc5bda31a"
	PriceBookClearance   = "dc85058a-a683-11e4-ef46-e1535cf1ebe5"
)

// LoadPromotionsExample adds promotions and price books shaped like the public documentation's examples, over
// the catalog of LoadExample (which must be loaded first; it panics otherwise). Times are UTC; the store is in
// America/Los_Angeles (PST, UTC-8, in late November):
//   - Black Friday (Register and Ecommerce, created 2026-10-01): 20% off the Bravo family (110 → 88) and
//     BOT-750 (24.50 → 19.60), from Nov 27 00:00 to Nov 30 23:59:59 local time.
//   - Staff Night (Register only, created 2026-09-15): 787878 at 77, Nov 20 to Dec 7 local time.
//   - WELCOME10 (Ecommerce, with a promo code, created 2026-09-01, open-ended): BOT-750 at 22.05.
//   - Price book "Holiday Online" (all platforms, created 2026-09-20): BOT-750 at 21 and 0003 at 2.00, valid
//     from Nov 20 local midnight to Jan 1 2027 local midnight.
//   - Price book "In-store Clearance" (in store, created 2026-08-01, open-ended from Nov 1): 787879 at 50.
//   - The retailer's general price book (BASE, in store), every product at its retail price.
func (s *Server) LoadPromotionsExample() {
	id := func(sku string) string {
		p, ok := s.ProductBySKU(sku)
		if !ok {
			panic(fmt.Sprintf("retailpostest: LoadPromotionsExample: no product %s (call LoadExample first)", sku))
		}
		return p.ID
	}
	utc := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	s.AddPromotion(Promotion{ID: PromotionBlackFriday, Name: "Black Friday", Description: "20% off Bravo and bottles",
		Start: utc("2026-11-27T08:00:00Z"), End: utc("2026-12-01T07:59:59Z"), Channels: []string{"Register", "Ecommerce"},
		ActionType: "percent_discount", ActionValue: 20, CreatedAt: utc("2026-10-01T17:00:00Z"),
		Products: []PromotionProduct{{id("787878"), 88}, {id("787879"), 88}, {id("787880"), 88}, {id("BOT-750"), 19.6}}})
	s.AddPromotion(Promotion{ID: PromotionStaffNight, Name: "Staff Night", Start: utc("2026-11-20T08:00:00Z"),
		End: utc("2026-12-08T07:59:59Z"), Channels: []string{"Register"}, ActionType: "fixed_price_discount",
		ActionValue: 77, CreatedAt: utc("2026-09-15T17:00:00Z"), Products: []PromotionProduct{{id("787878"), 77}}})
	s.AddPromotion(Promotion{ID: PromotionWelcome, Name: "WELCOME10", Start: utc("2026-09-01T07:00:00Z"),
		Channels: []string{"Ecommerce"}, UsePromoCode: true, PromoCodes: []string{"WELCOME10"},
		ActionType: "percent_discount", ActionValue: 10, CreatedAt: utc("2026-09-01T16:00:00Z"),
		Products: []PromotionProduct{{id("BOT-750"), 22.05}}})

	s.AddPriceBook(PriceBook{ID: PriceBookGeneral, Name: "General Price Book (All Products)", Type: "BASE",
		PlatformKey: "1", CreatedAt: utc("2014-06-10T00:46:05Z")})
	for _, p := range s.Products() {
		if p.DeletedAt.IsZero() {
			s.SetPriceBookPrice(PriceBookGeneral, p.ID, p.PriceExcludingTax)
		}
	}
	s.AddPriceBook(PriceBook{ID: PriceBookHoliday, Name: "Holiday Online", PlatformKey: "0",
		ValidFrom: utc("2026-11-20T08:00:00Z"), ValidTo: utc("2027-01-01T08:00:00Z"), CreatedAt: utc("2026-09-20T17:00:00Z")})
	s.SetPriceBookPrice(PriceBookHoliday, id("BOT-750"), 21)
	s.SetPriceBookPrice(PriceBookHoliday, id("0003"), 2)
	s.AddPriceBook(PriceBook{ID: PriceBookClearance, Name: "In-store Clearance", PlatformKey: "1",
		ValidFrom: utc("2026-11-01T07:00:00Z"), CreatedAt: utc("2026-08-01T17:00:00Z")})
	s.SetPriceBookPrice(PriceBookClearance, id("787879"), 50)
}
