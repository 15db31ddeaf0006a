package runner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	rpt "github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
)

// End-to-end tests of the Retail POS promotions (issue 5, domain README §7.4): the retailpos catalog and the
// retailpos_promotions source read from the X-Series emulator, resolved by the promotions transform, planned
// through a file sink at the evaluation time `possync plan --at` sets.

// posPromoPipeline reads the catalog and the promotions of the emulator at %[1]s with token %[2]s.
const posPromoPipeline = `version: 1
name: pos-promos
merchant: acme-outdoor
timezone: America/Los_Angeles
key: sku
sources:
  catalog:
    type: retailpos
    base_url: %[1]s
    token: %[2]s
    ecom_outlet: Main Street
    requests_per_minute: 0
  promos:
    type: retailpos_promotions
    base_url: %[1]s
    token: %[2]s
    timezone: America/Los_Angeles
    requests_per_minute: 0
transforms:
  - type: filter
    name: live
    input: catalog
    expr: deleted != true
  - type: map
    name: products
    fields:
      sku: sku
      name: name
      price: price
      enabled: active == true && online == true
  - type: promotions
    name: priced
    input: products
    promotions: promos
    compare_to: compare_to_price
sink:
  type: file
  path: out/records.csv
diff:
  active_field: enabled
guards:
  max_delete_percent: -1
`

// posPromoCase starts an emulator with the example catalog, promotions and price books (edit may change
// them) and writes the pipeline into a temp folder.
func posPromoCase(t *testing.T, edit func(*rpt.Server)) string {
	t.Helper()
	srv := rpt.New(rpt.Options{Now: func() time.Time { return time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC) }})
	t.Cleanup(srv.Close)
	srv.LoadExample()
	srv.LoadPromotionsExample()
	if edit != nil {
		edit(srv)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(posPromoPipeline, srv.URL(), srv.Token()))
	return dir
}

var holidayPB = "pb:" + rpt.PriceBookHoliday

// Black Friday in Los Angeles: the earliest-created eligible promotion or price book wins per item; the
// Register-only promotion, the promo-code promotion and the in-store price book never compete.
func TestRetailPOSPromotionsBlackFriday(t *testing.T) {
	pl := planAt(t, loadAt(t, posPromoCase(t, nil)), blackFriday)
	onSale := func(price, regular, start, end string) map[string]string {
		return map[string]string{"price": price, "compare_to_price": regular, "sale_price": price, "sale_start": start,
			"sale_end": end, "enabled": "true"}
	}
	cases := []struct {
		sku       string
		want      map[string]string
		won, lost any
	}{
		// Staff Night (Register only, created earlier, 77) does not compete.
		{"787878", onSale("88", "110", "2026-11-27", "2026-11-30"), "4012 (Black Friday)", nil},
		// The in-store clearance price book (created earliest, 50) does not compete.
		{"787879", onSale("88", "110", "2026-11-27", "2026-11-30"), "4012 (Black Friday)", nil},
		// The all-platforms price book, created before Black Friday, wins; WELCOME10 needs a promo code.
		{"BOT-750", onSale("21", "24.5", "2026-11-20", "2026-12-31"), holidayPB + " (Holiday Online)", "4012"},
		{"0003", onSale("2", "2.63158", "2026-11-20", "2026-12-31"), holidayPB + " (Holiday Online)", nil},
		{"GIFT-50", map[string]string{"price": "50", "enabled": "true"}, nil, nil},
	}
	for _, c := range cases {
		ch := changeOf(t, pl, c.sku)
		if got := saleFields(ch); ch.Action != "create" || !reflect.DeepEqual(got, c.want) {
			t.Errorf("sku=%s: %s %v, want create %v", c.sku, ch.Action, got, c.want)
		}
		if ch.Annotations["promotion_won"] != c.won || ch.Annotations["promotion_lost"] != c.lost {
			t.Errorf("sku=%s: won %v lost %v, want %v and %v", c.sku, ch.Annotations["promotion_won"],
				ch.Annotations["promotion_lost"], c.won, c.lost)
		}
	}
}

// The evaluation time decides which windows are open: before, during and after each one.
func TestRetailPOSPromotionsEvaluationTime(t *testing.T) {
	dir := posPromoCase(t, nil)
	cases := []struct {
		at     string
		prices map[string]string // sku → price
	}{
		{"2026-11-19T23:59:59-08:00", map[string]string{"787878": "110", "BOT-750": "24.5", "0003": "2.63158"}},
		{"2026-11-20T00:00:00-08:00", map[string]string{"787878": "110", "BOT-750": "21", "0003": "2"}},
		{"2026-11-26T23:59:59-08:00", map[string]string{"787878": "110", "BOT-750": "21", "0003": "2"}},
		{"2026-11-27T00:00:00-08:00", map[string]string{"787878": "88", "BOT-750": "21", "0003": "2"}},
		{"2026-11-30T23:59:59-08:00", map[string]string{"787878": "88", "BOT-750": "21", "0003": "2"}},
		{"2026-12-01T00:00:00-08:00", map[string]string{"787878": "110", "BOT-750": "21", "0003": "2"}},
		{"2026-12-31T23:59:59-08:00", map[string]string{"787878": "110", "BOT-750": "21", "0003": "2"}},
		{"2027-01-01T00:00:00-08:00", map[string]string{"787878": "110", "BOT-750": "24.5", "0003": "2.63158"}},
	}
	for _, c := range cases {
		t.Run(c.at, func(t *testing.T) {
			pl := planAt(t, loadAt(t, dir), c.at)
			for sku, want := range c.prices {
				if got := fields(changeOf(t, pl, sku))["price"]; got != want {
					t.Errorf("sku=%s price %s, want %s", sku, got, want)
				}
			}
		})
	}
}

// Each rule, turned around, changes the winner: proof that the ignored promotions are ignored for their
// channel, promo code or platform, and that price books compete by creation time.
func TestRetailPOSPromotionsRules(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*rpt.Server)
		sku   string
		price string
		won   string
	}{
		{"the price book created after Black Friday loses", func(s *rpt.Server) {
			pb, _ := s.PriceBook(rpt.PriceBookHoliday)
			pb.CreatedAt = time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
			s.AddPriceBook(pb)
		}, "BOT-750", "19.6", "4012 (Black Friday)"},
		{"Staff Night open to Ecommerce wins", func(s *rpt.Server) {
			p, _ := s.Promotion(rpt.PromotionStaffNight)
			p.Channels = append(p.Channels, "Ecommerce")
			s.AddPromotion(p)
		}, "787878", "77", "4007 (Staff Night)"},
		{"WELCOME10 without a promo code wins", func(s *rpt.Server) {
			p, _ := s.Promotion(rpt.PromotionWelcome)
			p.UsePromoCode, p.PromoCodes = false, nil
			s.AddPromotion(p)
		}, "BOT-750", "22.05", "4003 (WELCOME10)"},
		{"the clearance price book for ecommerce wins", func(s *rpt.Server) {
			pb, _ := s.PriceBook(rpt.PriceBookClearance)
			pb.PlatformKey = "2"
			s.AddPriceBook(pb)
		}, "787879", "50", "pb:" + rpt.PriceBookClearance + " (In-store Clearance)"},
		{"a deleted price book no longer competes", func(s *rpt.Server) { s.DeletePriceBook(rpt.PriceBookHoliday) },
			"BOT-750", "19.6", "4012 (Black Friday)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := changeOf(t, planAt(t, loadAt(t, posPromoCase(t, c.edit)), blackFriday), c.sku)
			if got := fields(ch)["price"]; got != c.price || ch.Annotations["promotion_won"] != c.won {
				t.Errorf("sku=%s: price %s won %v, want %s and %s", c.sku, got, ch.Annotations["promotion_won"], c.price, c.won)
			}
		})
	}
}

// Applied on Black Friday, the next plans list the sale's end ahead of time and then put the regular price
// back, clearing the compare-to price the pipeline set.
func TestRetailPOSPromotionsApplyAndEnd(t *testing.T) {
	dir := posPromoCase(t, nil)
	applyAt(t, loadAt(t, dir), blackFriday)
	got := readOut(t, dir)
	for _, line := range []string{"787878,Bravo,88.0,true,110.0,88.0,2026-11-27,2026-11-30",
		"BOT-750,Trail Bottle 750 ml,21.0,true,24.5,21.0,2026-11-20,2026-12-31", "GIFT-50,Gift Card $50,50.0,true,,,,"} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("records after the Black Friday apply lack %q:\n%s", line, got)
		}
	}
	pl := planAt(t, loadAt(t, dir), "2026-11-28T12:00:00-08:00")
	if pl.Summary.Total() != 0 {
		t.Errorf("on Nov 28 the plan is %+v, want no change", pl.Summary)
	}
	var ends []plan.Upcoming
	for _, u := range pl.Upcoming {
		if u.Subject == "sku=787878" || u.Subject == "sku=BOT-750" {
			ends = append(ends, u)
		}
	}
	want := []plan.Upcoming{
		{At: at(t, "2026-12-01T08:00:00Z"), Subject: "sku=787878", Message: "promotion 4012 (Black Friday) ends: price returns to 110.00"},
		// The price book it lost to keeps the bottle's price.
		{At: at(t, "2026-12-01T08:00:00Z"), Subject: "sku=BOT-750", Message: "promotion 4012 (Black Friday) ends: price stays 21.00"},
	}
	if !reflect.DeepEqual(ends, want) {
		t.Errorf("upcoming:\n%s\nwant:\n%s", upcomingText(ends), upcomingText(want))
	}
	c := changeOf(t, planAt(t, loadAt(t, dir), "2026-12-01T00:00:00-08:00"), "787878")
	wantFields := map[string]string{"price": "88 → 110", "compare_to_price": "110 → null", "sale_price": "88 → null",
		"sale_start": "2026-11-27 → null", "sale_end": "2026-11-30 → null"}
	if c.Action != "update" || !reflect.DeepEqual(saleFields(c), wantFields) {
		t.Errorf("after Black Friday: %s %v, want update %v", c.Action, saleFields(c), wantFields)
	}
}

// Validation type-checks the promotions step against the source's fixed schema without reading data, and
// `possync check` reaches both sources.
func TestRetailPOSPromotionsCheck(t *testing.T) {
	p := loadAt(t, posPromoCase(t, nil))
	if diags := runner.Check(context.Background(), p); diags.HasErrors() {
		t.Fatalf("check: %v", diags)
	}
	for _, r := range runner.CheckConnections(context.Background(), p) {
		if r.Kind == "source" && (!r.Supported || r.Err != nil) {
			t.Errorf("connection of source %s (%s): supported %v, %v", r.Name, r.Type, r.Supported, r.Err)
		}
	}
}
