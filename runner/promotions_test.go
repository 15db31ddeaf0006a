package runner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/spec"
)

// End-to-end tests of the promotions transform (issue 5, domain README §7.4): items and an Ascend promotions
// file (§7.1) read by file sources, resolved by a promotions step, planned and applied through a file sink,
// with the evaluation time set as `possync plan --at` does.

// promoPipeline is a pipeline over items.csv and promos.tsv; %s are the types of the CreatedAt and
// Ecommerce columns.
const promoPipeline = `version: 1
name: promos
merchant: test-shop
timezone: America/Los_Angeles
key: sku
sources:
  items:
    type: file
    path: items.csv
    columns:
      - {name: sku, type: string}
      - {name: name, type: string}
      - {name: price, type: float}
      - {name: enabled, type: bool}
  promos:
    type: file
    path: promos.tsv
    columns:
      - {name: PromotionId, type: string}
      - {name: PromotionName, type: string}
      - {name: CreatedAt, type: %s}
      - {name: StartDate, type: date}
      - {name: EndDate, type: date}
      - {name: Ecommerce, type: %s}
      - {name: Sku, type: string}
      - {name: SalePrice, type: float}
transforms:
  - type: promotions
    name: priced
    input: items
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

// promoHeader is the header of the Ascend promotions file.
const promoHeader = "PromotionId\tPromotionName\tCreatedAt\tStartDate\tEndDate\tEcommerce\tSku\tSalePrice"

// promo is one row of the promotions file.
type promo struct{ id, name, created, start, end, ecom, sku, sale string }

// promoCase writes the pipeline (CreatedAt as text, Ecommerce as bool), the items and the promotions into a
// temp folder.
func promoCase(t *testing.T, items string, promos ...promo) string {
	t.Helper()
	return promoCaseTyped(t, "string", "bool", items, promos...)
}

func promoCaseTyped(t *testing.T, createdType, ecomType, items string, promos ...promo) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(promoPipeline, createdType, ecomType))
	writeFile(t, filepath.Join(dir, "items.csv"), items)
	writePromos(t, dir, promos...)
	return dir
}

// writePromos writes promos.tsv as Ascend does: tab-delimited, CRLF line endings.
func writePromos(t *testing.T, dir string, promos ...promo) {
	t.Helper()
	lines := []string{promoHeader}
	for _, p := range promos {
		lines = append(lines, strings.Join([]string{p.id, p.name, p.created, p.start, p.end, p.ecom, p.sku, p.sale}, "\t"))
	}
	writeFile(t, filepath.Join(dir, "promos.tsv"), strings.Join(lines, "\r\n")+"\r\n")
}

// at parses an RFC 3339 time, as `possync plan --at` does.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func planAt(t *testing.T, p *pipelines.Pipeline, now string) *plan.Plan {
	t.Helper()
	pl, err := runner.Plan(context.Background(), p, runner.Options{Now: at(t, now)})
	if err != nil {
		t.Fatalf("plan at %s: %v", now, err)
	}
	return pl
}

func applyAt(t *testing.T, p *pipelines.Pipeline, now string) *runner.Report {
	t.Helper()
	return mustApply(t, p, runner.Options{Now: at(t, now)})
}

// changeOf returns the plan's change of the item with key sku.
func changeOf(t *testing.T, pl *plan.Plan, sku string) plan.Change {
	t.Helper()
	for _, c := range pl.Changes {
		if c.Key["sku"] == sku {
			return c
		}
	}
	t.Fatalf("no change of sku=%s in the plan: %+v", sku, pl.Changes)
	return plan.Change{}
}

// fields returns a change's fields as name → "before → after" (a create shows only the after value), with
// dates shortened to their day.
func fields(c plan.Change) map[string]string {
	out := map[string]string{}
	for _, f := range c.Fields {
		after := short(f.After)
		if c.Action == "create" {
			out[f.Name] = after
			continue
		}
		out[f.Name] = short(f.Before) + " → " + after
	}
	return out
}

func short(v any) string {
	s := fmt.Sprint(v)
	if v == nil {
		return "null"
	}
	return strings.TrimSuffix(s, "T00:00:00Z")
}

// saleFields picks the price-related fields of a change.
func saleFields(c plan.Change) map[string]string {
	out := map[string]string{}
	for k, v := range fields(c) {
		switch k {
		case "price", "compare_to_price", "sale_price", "sale_start", "sale_end", "enabled":
			out[k] = v
		}
	}
	return out
}

const blackFriday = "2026-11-27T12:00:00-08:00"

func TestPromotionWinner(t *testing.T) {
	const items = "sku,name,price,enabled\nA,anchor,99,true\n"
	bf := promo{"17", "Black Friday", "2026-10-01 09:00:00", "2026-11-27", "2026-11-30", "Y", "A", "79"}
	fall := promo{"12", "Fall", "2026-10-02 09:00:00", "2026-11-01", "2026-11-28", "Y", "A", "89"}
	onSale := func(price, start, end string) map[string]string {
		return map[string]string{"price": price, "compare_to_price": "99", "sale_price": price, "sale_start": start,
			"sale_end": end, "enabled": "true"}
	}
	regular := map[string]string{"price": "99", "enabled": "true"}
	with := func(p promo, change func(*promo)) promo { change(&p); return p }
	tests := []struct {
		name                  string
		createdType, ecomType string
		promos                []promo
		want                  map[string]string
	}{
		{"earliest created wins, listed first", "string", "bool", []promo{bf, fall},
			onSale("79", "2026-11-27", "2026-11-30")},
		{"earliest created wins, listed last", "string", "bool", []promo{fall, bf},
			onSale("79", "2026-11-27", "2026-11-30")},
		{"created the other way round", "string", "bool",
			[]promo{bf, with(fall, func(p *promo) { p.created = "2026-09-30 23:59:59" })},
			onSale("89", "2026-11-01", "2026-11-28")},
		{"creation timestamps", "timestamp", "bool",
			[]promo{with(bf, func(p *promo) { p.created = "2026-10-01T09:00:01Z" }), with(fall, func(p *promo) { p.created = "2026-10-01T09:00:00Z" })},
			onSale("89", "2026-11-01", "2026-11-28")},
		{"equal creation: lowest id, numerically", "string", "bool", []promo{
			with(bf, func(p *promo) { p.id = "10" }), with(fall, func(p *promo) { p.id = "9"; p.created = bf.created })},
			onSale("89", "2026-11-01", "2026-11-28")},
		{"equal creation: lowest id, as text", "string", "bool", []promo{
			with(bf, func(p *promo) { p.id = "B7" }), with(fall, func(p *promo) { p.id = "A9"; p.created = bf.created })},
			onSale("89", "2026-11-01", "2026-11-28")},
		{"not eCommerce-enabled: ignored", "string", "bool", []promo{with(bf, func(p *promo) { p.ecom = "N" }), fall},
			onSale("89", "2026-11-01", "2026-11-28")},
		{"Ecommerce as Y/N text", "string", "string", []promo{with(bf, func(p *promo) { p.ecom = "N" }), fall},
			onSale("89", "2026-11-01", "2026-11-28")},
		{"only a promotion not eCommerce-enabled", "string", "bool", []promo{with(bf, func(p *promo) { p.ecom = "N" })},
			regular},
		{"another item's promotion", "string", "bool", []promo{with(bf, func(p *promo) { p.sku = "B" })}, regular},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := promoCaseTyped(t, tt.createdType, tt.ecomType, items, tt.promos...)
			c := changeOf(t, planAt(t, loadAt(t, dir), blackFriday), "A")
			if got := saleFields(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("created record:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// The window is inclusive of both days in the store's zone: a plan evaluated a second before local
// midnight and one at midnight differ, whatever the UTC date, and a DST change moves nothing.
func TestPromotionWindowAtLocalMidnight(t *testing.T) {
	const items = "sku,name,price,enabled\nA,anchor,99,true\nB,bottle,50,true\n"
	dir := promoCase(t, items,
		promo{"17", "Black Friday", "2026-10-01 09:00:00", "2026-11-27", "2026-11-29", "Y", "A", "79"},
		promo{"20", "Fall back", "2026-10-01 09:00:00", "2026-10-30", "2026-11-01", "Y", "B", "40"})
	tests := []struct {
		now    string
		sku    string
		onSale bool
	}{
		{"2026-11-26T23:59:59-08:00", "A", false}, // the day before (already Nov 27 in UTC)
		{"2026-11-27T00:00:00-08:00", "A", true},  // first day, at local midnight
		{"2026-11-29T23:59:59-08:00", "A", true},  // last day, a second before midnight
		{"2026-11-30T00:00:00-08:00", "A", false}, // the day after
		{"2026-10-29T23:59:59-07:00", "B", false},
		{"2026-10-30T00:00:00-07:00", "B", true},  // PDT midnight
		{"2026-11-01T01:30:00-07:00", "B", true},  // last day, before the clocks go back
		{"2026-11-01T01:30:00-08:00", "B", true},  // the same wall time again, in PST
		{"2026-11-01T23:59:59-08:00", "B", true},  // the 25-hour day's last second
		{"2026-11-02T00:00:00-08:00", "B", false}, // PST midnight: ended
	}
	for _, tt := range tests {
		t.Run(tt.now, func(t *testing.T) {
			c := changeOf(t, planAt(t, loadAt(t, dir), tt.now), tt.sku)
			_, got := fields(c)["sale_price"]
			if got != tt.onSale {
				t.Errorf("sku=%s at %s: on sale %v, want %v (%v)", tt.sku, tt.now, got, tt.onSale, fields(c))
			}
		})
	}
}

// While a sale is on the pipeline sets compare-to to the regular price; when it ends the next plan puts the
// price back and clears the compare-to price it set.
func TestPromotionEndsRestoresPriceAndClearsCompareTo(t *testing.T) {
	dir := promoCase(t, "sku,name,price,enabled\nA,anchor,99,true\n",
		promo{"17", "Black Friday", "2026-10-01 09:00:00", "2026-11-27", "2026-11-30", "Y", "A", "79"})
	applyAt(t, loadAt(t, dir), blackFriday)
	if got := readOut(t, dir); got != "sku,name,price,enabled,compare_to_price,sale_price,sale_start,sale_end\n"+
		"A,anchor,79.0,true,99.0,79.0,2026-11-27,2026-11-30\n" {
		t.Fatalf("records after the Black Friday apply:\n%s", got)
	}
	if pl := planAt(t, loadAt(t, dir), "2026-11-30T23:00:00-08:00"); pl.Summary.Total() != 0 {
		t.Fatalf("on the last day the plan is %+v, want no change", pl.Summary)
	}
	pl := planAt(t, loadAt(t, dir), "2026-12-01T00:00:00-08:00")
	c := changeOf(t, pl, "A")
	want := map[string]string{"price": "79 → 99", "compare_to_price": "99 → null", "sale_price": "79 → null",
		"sale_start": "2026-11-27 → null", "sale_end": "2026-11-30 → null"}
	if c.Action != "update" || !reflect.DeepEqual(saleFields(c), want) {
		t.Fatalf("after the sale: %s %v, want update %v", c.Action, saleFields(c), want)
	}
	applyAt(t, loadAt(t, dir), "2026-12-01T00:00:00-08:00")
	if got := readOut(t, dir); got != "sku,name,price,enabled,compare_to_price,sale_price,sale_start,sale_end\n"+
		"A,anchor,99.0,true,,,,\n" {
		t.Fatalf("records after the sale ended:\n%s", got)
	}
}

func TestPromotionSaleAboveRegularIsReportedNotApplied(t *testing.T) {
	dir := promoCase(t, "sku,name,price,enabled\nA,anchor,99,true\nB,bottle,50,true\n",
		promo{"17", "Black Friday", "2026-10-01 09:00:00", "2026-11-27", "2026-11-30", "Y", "A", "120"},
		promo{"18", "Later", "2026-10-05 09:00:00", "2026-11-27", "2026-11-30", "Y", "A", "80"},
		promo{"17", "Black Friday", "2026-10-01 09:00:00", "2026-11-27", "2026-11-30", "Y", "B", "45"})
	pl := planAt(t, loadAt(t, dir), blackFriday)
	// The winner's sale price is above the regular price: the price stays regular (the later promotion does
	// not step in), and the plan says why.
	if got, want := saleFields(changeOf(t, pl, "A")), map[string]string{"price": "99", "enabled": "true"}; !reflect.DeepEqual(got, want) {
		t.Errorf("sku=A: %v, want the regular price and no sale fields %v", got, want)
	}
	if got := fields(changeOf(t, pl, "B"))["price"]; got != "45" {
		t.Errorf("sku=B price %s, want the sale price 45", got)
	}
	note := "sku=A: promotion 17 (Black Friday): sale price 120.00 is above the regular price 99.00; not applied"
	if !reflect.DeepEqual(pl.NoteTexts(), []string{note}) || noteKind(pl, note) != spec.NotePromotion {
		t.Errorf("notes = %q, want [%q]", pl.NoteTexts(), note)
	}
}

// The transform does not decide activity: an item on sale that the POS turns off is deactivated with its
// sale price fields, as the deactivate action carries them.
func TestPromotedItemDeactivated(t *testing.T) {
	dir := promoCase(t, "sku,name,price,enabled\nA,anchor,99,true\n",
		promo{"17", "Black Friday", "2026-10-01 09:00:00", "2026-11-27", "2026-11-30", "Y", "A", "79"})
	applyAt(t, loadAt(t, dir), "2026-11-20T12:00:00-08:00")
	writeFile(t, filepath.Join(dir, "items.csv"), "sku,name,price,enabled\nA,anchor,99,false\n")
	c := changeOf(t, planAt(t, loadAt(t, dir), blackFriday), "A")
	want := map[string]string{"enabled": "true → false", "price": "99 → 79", "compare_to_price": "null → 99",
		"sale_price": "null → 79", "sale_start": "null → 2026-11-27", "sale_end": "null → 2026-11-30"}
	if c.Action != "deactivate" || !reflect.DeepEqual(saleFields(c), want) {
		t.Fatalf("promoted and deactivated: %s %v, want deactivate %v", c.Action, saleFields(c), want)
	}
}

// A plan made while a sale is on is stale once the sale has ended: applying it would send the sale price.
func TestPromotionEndingBetweenPlanAndApplyMakesThePlanStale(t *testing.T) {
	dir := promoCase(t, "sku,name,price,enabled\nA,anchor,99,true\n",
		promo{"17", "Black Friday", "2026-10-01 09:00:00", "2026-11-27", "2026-11-30", "Y", "A", "79"})
	saved := planAt(t, loadAt(t, dir), "2026-11-30T23:55:00-08:00")
	if got := fields(changeOf(t, saved, "A"))["price"]; got != "79" {
		t.Fatalf("saved plan price %s, want the sale price", got)
	}
	_, err := runner.Apply(context.Background(), loadAt(t, dir), runner.Options{Now: at(t, "2026-12-01T00:05:00-08:00")}, saved)
	var stale *runner.StaleError
	if !errors.As(err, &stale) || !strings.Contains(err.Error(), "the planned changes differ") {
		t.Fatalf("apply after the sale ended: %v, want a *runner.StaleError: the planned changes differ", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out/records.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a stale plan wrote records: %v", err)
	}
}

// Every plan lists the eCommerce promotion starts and ends due within the horizon (7 days), at local
// midnight, with the item's price before and after.
func TestPromotionUpcoming(t *testing.T) {
	dir := promoCase(t, "sku,name,price,enabled\nA,anchor,99,true\nB,bottle,50,true\nC,cup,10,true\n",
		promo{"17", "Black Friday", "2026-10-01 09:00:00", "2026-11-01", "2026-11-03", "Y", "A", "79"},
		promo{"12", "Fall", "2026-10-02 09:00:00", "2026-10-25", "2026-10-31", "Y", "A", "89"},
		promo{"30", "Online only", "2026-10-01 09:00:00", "2026-11-02", "2026-11-20", "N", "B", "40"},
		promo{"31", "Too high", "2026-10-01 09:00:00", "2026-11-02", "2026-11-20", "Y", "C", "12"},
		promo{"40", "Far off", "2026-10-01 09:00:00", "2026-11-08", "2026-11-20", "Y", "A", "70"})
	pl := planAt(t, loadAt(t, dir), "2026-10-30T12:00:00-07:00")
	want := []plan.Upcoming{
		// Fall ends after Oct 31 and Black Friday starts on Nov 1: both at PDT midnight, Nov 1 07:00 UTC.
		{At: at(t, "2026-11-01T07:00:00Z"), Subject: "sku=A", Message: "promotion 12 (Fall) ends: price 89.00 → 79.00"},
		{At: at(t, "2026-11-01T07:00:00Z"), Subject: "sku=A", Message: "promotion 17 (Black Friday) starts: price 89.00 → 79.00"},
		{At: at(t, "2026-11-02T08:00:00Z"), Subject: "sku=C", Message: "promotion 31 (Too high) starts: price stays 10.00 (sale price 12.00 not applied)"},
		// Black Friday's last day is Nov 3: it ends at PST midnight, Nov 4 08:00 UTC.
		{At: at(t, "2026-11-04T08:00:00Z"), Subject: "sku=A", Message: "promotion 17 (Black Friday) ends: price returns to 99.00"},
	}
	if !reflect.DeepEqual(pl.Upcoming, want) {
		t.Errorf("upcoming:\n%s\nwant:\n%s", upcomingText(pl.Upcoming), upcomingText(want))
	}
	// A week on, only Far off's start (Nov 8) is due within the horizon (to Nov 13).
	pl = planAt(t, loadAt(t, dir), "2026-11-06T12:00:00-08:00")
	want = []plan.Upcoming{{At: at(t, "2026-11-08T08:00:00Z"), Subject: "sku=A",
		Message: "promotion 40 (Far off) starts: price 99.00 → 70.00"}}
	if !reflect.DeepEqual(pl.Upcoming, want) {
		t.Errorf("upcoming on Nov 6:\n%s\nwant:\n%s", upcomingText(pl.Upcoming), upcomingText(want))
	}
}

func upcomingText(us []plan.Upcoming) string {
	var b strings.Builder
	for _, u := range us {
		fmt.Fprintf(&b, "  %s %s %s\n", u.At.UTC().Format(time.RFC3339), u.Subject, u.Message)
	}
	return b.String()
}

// The plan says which promotion won and which lost; the annotations are never record data.
func TestPromotionAnnotations(t *testing.T) {
	dir := promoCase(t, "sku,name,price,enabled\nA,anchor,99,true\nB,bottle,50,true\n",
		promo{"17", "Black Friday", "2026-10-01 09:00:00", "2026-11-27", "2026-11-30", "Y", "A", "79"},
		promo{"12", "Fall", "2026-10-02 09:00:00", "2026-11-01", "2026-11-28", "Y", "A", "89"},
		promo{"9", "Clearance", "2026-10-02 09:00:00", "2026-11-01", "2026-11-28", "Y", "A", "60"},
		promo{"5", "Staff", "2026-09-01 09:00:00", "2026-11-01", "2026-11-28", "N", "A", "10"})
	pl := planAt(t, loadAt(t, dir), blackFriday)
	a := changeOf(t, pl, "A")
	want := map[string]any{"promotion_won": "17 (Black Friday)", "promotion_lost": "9, 12"}
	if !reflect.DeepEqual(a.Annotations, want) {
		t.Errorf("sku=A annotations = %v, want %v", a.Annotations, want)
	}
	for _, f := range a.Fields {
		if strings.HasPrefix(f.Name, "promotion_") {
			t.Errorf("annotation %s is planned as a field", f.Name)
		}
	}
	if b := changeOf(t, pl, "B"); b.Annotations != nil {
		t.Errorf("sku=B, on no promotion, has annotations %v", b.Annotations)
	}
	applyAt(t, loadAt(t, dir), blackFriday)
	if got := readOut(t, dir); strings.Contains(got, "promotion_") || strings.Contains(got, "Black Friday") {
		t.Errorf("the sink received annotations:\n%s", got)
	}
	// Once Fall and Clearance have ended nothing lost, but the records are the same: annotations are not
	// compared.
	if pl := planAt(t, loadAt(t, dir), "2026-11-29T12:00:00-08:00"); pl.Summary.Total() != 0 {
		t.Errorf("plan after the losers ended: %+v, want no change", pl.Summary)
	}
}

// Validation builds the step over empty inputs: a correct pipeline passes, and a misnamed relation is
// reported at the step.
func TestPromotionCheck(t *testing.T) {
	dir := promoCase(t, "sku,name,price,enabled\n")
	if diags := runner.Check(context.Background(), loadAt(t, dir)); diags.HasErrors() {
		t.Fatalf("check of a valid pipeline: %v", diags)
	}
	y := strings.Replace(fmt.Sprintf(promoPipeline, "string", "bool"), "promotions: promos", "promotions: promo", 1)
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), y)
	line := strings.Count(y[:strings.Index(y, "type: promotions")], "\n") + 1
	diags := runner.Check(context.Background(), loadAt(t, dir))
	if len(diags) != 1 || diags[0].Code != "sql_error" || diags[0].Line != line || !strings.Contains(diags[0].Message, "promo") {
		t.Fatalf("check with an unknown promotions relation: %v, want one sql_error at line %d naming it", diags, line)
	}
}

func readOut(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "out/records.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// promoted marks the items on an active eCommerce promotion, whether or not its sale price applies (Ascend's
// website eligibility counts them).
func TestPromotionPromotedField(t *testing.T) {
	dir := promoCase(t, "sku,name,price,enabled\nA,anchor,99,true\nB,bottle,50,true\nC,cup,10,true\nD,dish,5,true\n",
		promo{"17", "Black Friday", "2026-10-01 09:00:00", "2026-11-27", "2026-11-30", "Y", "A", "79"},
		promo{"18", "Too high", "2026-10-01 09:00:00", "2026-11-27", "2026-11-30", "Y", "B", "60"},
		promo{"19", "In store", "2026-10-01 09:00:00", "2026-11-27", "2026-11-30", "N", "C", "8"})
	y := strings.Replace(fmt.Sprintf(promoPipeline, "string", "bool"), "    compare_to: compare_to_price\n",
		"    compare_to: compare_to_price\n    promoted: on_promotion\n", 1)
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), y)
	pl := planAt(t, loadAt(t, dir), blackFriday)
	for sku, want := range map[string]string{"A": "true", "B": "true", "C": "false", "D": "false"} {
		if got := fields(changeOf(t, pl, sku))["on_promotion"]; got != want {
			t.Errorf("sku=%s on_promotion = %s, want %s", sku, got, want)
		}
	}
}

// TestPromotionReplacesItemsOutputFields: an items field named like one of the step's output fields (case
// aside) gives way to the step's own value.
func TestPromotionReplacesItemsOutputFields(t *testing.T) {
	items := "sku,name,price,enabled,Sale_Price,COMPARE_TO_PRICE\nA,anchor,99,true,1,2\n"
	dir := promoCase(t, items, promo{"17", "Black Friday", "2026-10-01 09:00:00", "2026-11-27", "2026-11-30", "Y", "A", "79"})
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), strings.Replace(fmt.Sprintf(promoPipeline, "string", "bool"),
		"      - {name: enabled, type: bool}\n", "      - {name: enabled, type: bool}\n      - {name: Sale_Price, type: float}\n"+
			"      - {name: COMPARE_TO_PRICE, type: float}\n", 1))
	got := fields(changeOf(t, planAt(t, loadAt(t, dir), blackFriday), "A"))
	if got["sale_price"] != "79" || got["compare_to_price"] != "99" || got["price"] != "79" {
		t.Errorf("fields %v: want the step's sale_price 79 and compare_to_price 99", got)
	}
	for _, stale := range []string{"Sale_Price", "COMPARE_TO_PRICE"} {
		if _, ok := got[stale]; ok {
			t.Errorf("the items field %s was kept: %v", stale, got)
		}
	}
}
