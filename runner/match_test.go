package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/spec"
)

// End-to-end tests of the match transform (issue 4, domain README §1.3 and §7.1): POS items and website
// products read by file sources, matched, planned through a file sink keyed by the POS SKU so that every
// item's website_sku and match show in the plan.

// matchPipeline reads items.csv and products.csv; %s is the step's extra configuration (e.g. mappings).
const matchPipeline = `version: 1
name: match
merchant: bike-shop
key: sku
sources:
  items:
    type: file
    path: items.csv
    columns:
      - {name: sku, type: string}
      - {name: gtin14, type: string}
      - {name: gtin_ambiguous, type: bool}
      - {name: mpn, type: string}
      - {name: brand, type: string}
  website:
    type: file
    path: products.csv
    columns:
      - {name: sku, type: string}
      - {name: gtin14, type: string}
      - {name: mpn, type: string}
      - {name: brand, type: string}
transforms:
  - type: match
    name: matched
    input: items
    products: website
%s
sink:
  type: file
  path: out/records.csv
guards:
  max_delete_percent: -1
`

// matchProducts is the website catalog: sku,gtin14,mpn,brand.
const matchProducts = `sku,gtin14,mpn,brand
W-EAN,0036000291452,,
W-G14,00012345678905,,
W-UPC,4006381333931,,
W-TWIN1,10614141000415,,
W-TWIN2,10614141000415,,
W-CHAIN,,CN-HG701,Shimano
W-MECH1,,RD-5800,Shimano
W-MECH2,,RD-5800,Shimano
W-KMC,,X11-93,KMC
W-NOBRAND,,TB-29,
W-SHARED,00725272730706,,
W-ADD,00614141000418,,
W-GTINFIRST,00850006000012,PX-1,Park
W-MPNFIRST,,PX-1,Park
W-FALLBACK,,BB-1,SRAM
W-HAND,,,
W-OVERRIDE,,,
W-SEIZED,00099999999994,,
W-CLAIM,00088888888885,CL-7,Giant
W-OVRG,00042000000001,,
W-NOTG,00043000000001,,
W-TIE,,TIE-1,SRAM
`

// matchItems are the POS items: sku,gtin14,gtin_ambiguous,mpn,brand.
const matchItems = `sku,gtin14,gtin_ambiguous,mpn,brand
UPCA,036000291452,false,,
GTIN14,00012345678905,false,,
EAN13,04006381333931,false,,
SPREAD,36000291452x,false,,
TWIN,10614141000415,false,,
CHAIN,,false,CN-HG701,Shimano
MECH,,false,RD-5800,Shimano
KMC-BLANK,,false,X11-93,
KMC-CASE,,false,X11-93,kmc
NOBRAND,,false,TB-29,Maxxis
DUP-A,725272730706,false,,
DUP-B,0725272730706,false,,
FLAGGED,00614141000418,true,,
GTINFIRST,00850006000012,false,PX-1,Park
FALLBACK,00777777777774,false,BB-1,SRAM
HAND,,false,,
OVERRIDE,00042000000001,false,,
NOTAMATCH,43000000001,false,,
GHOST,,false,,
SEIZE-HAND,,false,,
SEIZE-GTIN,00099999999994,false,,
CLAIM-G,00088888888885,false,,
CLAIM-M,,false,CL-7,Giant
TIE-1,,false,TIE-1,SRAM
TIE-2,,false,TIE-1,SRAM
NOTHING,00111111111117,false,NONE-1,Nobody
`

// matchMappings are the decisions made by hand.
const matchMappings = "\uFEFFpos_sku,website_sku\r\n" +
	"# decided on 2026-03-02\r\n" +
	"HAND,W-HAND\r\n" +
	"OVERRIDE, W-OVERRIDE\r\n" +
	"NOTAMATCH,\r\n" +
	"GHOST,W-GONE\r\n" +
	"SEIZE-HAND,W-SEIZED\r\n" +
	"DUP-A,W-SHARED\r\n"

// matchCase writes the pipeline, the catalogs and (when mappings is set) the mappings file into a temp
// folder; the mappings path in the pipeline is relative to it.
func matchCase(t *testing.T, mappings string) string {
	t.Helper()
	dir := t.TempDir()
	extra := ""
	if mappings != "" {
		extra = "    mappings: decisions/mappings.csv"
		writeFile(t, filepath.Join(dir, "decisions", "mappings.csv"), mappings)
	}
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(matchPipeline, extra))
	writeFile(t, filepath.Join(dir, "items.csv"), matchItems)
	writeFile(t, filepath.Join(dir, "products.csv"), matchProducts)
	return dir
}

// matches returns each planned item's website_sku and match, as "website_sku match".
func matches(t *testing.T, pl *plan.Plan) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range pl.Changes {
		web := "null"
		for _, f := range c.Fields {
			if f.Name == "website_sku" {
				web = fmt.Sprint(f.After)
			}
			if f.Name == "match" {
				t.Errorf("sku=%v: match is planned as a field; it is an annotation", c.Key["sku"])
			}
		}
		out[fmt.Sprint(c.Key["sku"])] = web + " " + fmt.Sprint(c.Annotations["match"])
	}
	return out
}

func TestMatchRules(t *testing.T) {
	pl := mustPlan(t, loadAt(t, matchCase(t, matchMappings)))
	want := map[string]string{
		// GTIN-14 first: a UPC-A, an EAN-13 and a GTIN-14 of one barcode are equal, leading zeros or not.
		"UPCA":   "W-EAN gtin",
		"GTIN14": "W-G14 gtin",
		"EAN13":  "W-UPC gtin",
		"SPREAD": "null unmatched", // not a GTIN: never matches
		"TWIN":   "null pending",   // two website products have the GTIN
		// Else a unique exact (Mpn, Brand) match.
		"CHAIN":     "W-CHAIN mpn_brand",
		"MECH":      "null pending", // two website products have the MPN and brand
		"KMC-BLANK": "null pending", // the item has no brand
		"KMC-CASE":  "null pending", // brands compare exactly
		"NOBRAND":   "null pending", // the website product has no brand
		// Different SKUs with one GTIN-14 (written two ways) are ambiguous: neither is mapped, unless by hand.
		"DUP-A":      "W-SHARED manual",
		"DUP-B":      "null ambiguous_gtin",
		"FLAGGED":    "null ambiguous_gtin", // the source flagged it
		"GTINFIRST":  "W-GTINFIRST gtin",    // the GTIN wins over a unique MPN and brand match
		"FALLBACK":   "W-FALLBACK mpn_brand",
		"HAND":       "W-HAND manual",
		"OVERRIDE":   "W-OVERRIDE manual", // overrides its GTIN match, W-OVRG
		"NOTAMATCH":  "null manual",       // decided: no website product, though its GTIN matches
		"GHOST":      "null pending",      // mapped by hand to a website SKU the website does not have
		"SEIZE-HAND": "W-SEIZED manual",   // a hand mapping beats a GTIN match of another item
		"SEIZE-GTIN": "null pending",
		"CLAIM-G":    "W-CLAIM gtin",
		"CLAIM-M":    "null pending", // its MPN and brand match W-CLAIM, which CLAIM-G has by GTIN
		"TIE-1":      "null pending",
		"TIE-2":      "null pending",
		"NOTHING":    "null unmatched",
	}
	got := matches(t, pl)
	for sku := range want {
		if got[sku] != want[sku] {
			t.Errorf("sku=%s: %s, want %s", sku, got[sku], want[sku])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d items planned, want %d", len(got), len(want))
	}
	decide := "; decide in the mappings file"
	wantNotes := []string{
		`gtin14=00725272730706: the POS has this GTIN on several SKUs (DUP-A, DUP-B): none of them is mapped; fix the UPCs in the POS, or decide in the mappings file`,
		`gtin14=00614141000418: the POS has this GTIN on several SKUs (FLAGGED): none of them is mapped; fix the UPCs in the POS, or decide in the mappings file`,
		`sku=CLAIM-M: pending mapping: website SKU "W-CLAIM" matches several POS SKUs: CLAIM-G (gtin), CLAIM-M (mpn_brand); it stays mapped to CLAIM-G (gtin)` + decide,
		`sku=GHOST: pending mapping: the mappings file maps it to website SKU "W-GONE", which the website does not have` + decide,
		`sku=KMC-BLANK: pending mapping: MPN "X11-93" matches website products W-KMC (brand "KMC") but the item has no brand` + decide,
		`sku=KMC-CASE: pending mapping: MPN "X11-93" matches website products W-KMC (brand "KMC") but brand "kmc" matches none of them` + decide,
		`sku=MECH: pending mapping: MPN "RD-5800" and brand "Shimano" match several website products: W-MECH1, W-MECH2` + decide,
		`sku=NOBRAND: pending mapping: MPN "TB-29" matches website products W-NOBRAND (no brand) but brand "Maxxis" matches none of them` + decide,
		`sku=SEIZE-GTIN: pending mapping: website SKU "W-SEIZED" matches several POS SKUs: SEIZE-HAND (manual), SEIZE-GTIN (gtin); it stays mapped to SEIZE-HAND (manual)` + decide,
		`sku=TIE-1: pending mapping: website SKU "W-TIE" matches several POS SKUs: TIE-1 (mpn_brand), TIE-2 (mpn_brand); none of them is mapped` + decide,
		`sku=TIE-2: pending mapping: website SKU "W-TIE" matches several POS SKUs: TIE-1 (mpn_brand), TIE-2 (mpn_brand); none of them is mapped` + decide,
		`sku=TWIN: pending mapping: GTIN 10614141000415 matches several website products: W-TWIN1, W-TWIN2` + decide,
	}
	notes := notesOf(pl, spec.NotePendingMapping) // every note, each of its kind
	sort.Strings(notes)
	sort.Strings(wantNotes)
	if !reflect.DeepEqual(notes, wantNotes) {
		t.Errorf("notes:\n  %s\nwant:\n  %s", strings.Join(notes, "\n  "), strings.Join(wantNotes, "\n  "))
	}
}

// A decision made by hand is remembered: adding it to the mappings file maps a pending item on the next
// plan; the annotation never reaches the sink.
func TestMatchManualDecisionRemembered(t *testing.T) {
	dir := matchCase(t, "pos_sku,website_sku\n")
	mustApply(t, loadAt(t, dir), runner.Options{})
	if got := readOut(t, dir); strings.Contains(got, "match") || strings.Contains(got, "pending") {
		t.Fatalf("the sink received the match annotation:\n%s", got)
	}
	writeFile(t, filepath.Join(dir, "decisions", "mappings.csv"), "pos_sku,website_sku\nMECH,W-MECH2\nCHAIN,\n")
	pl := mustPlan(t, loadAt(t, dir))
	got := map[string]string{}
	for _, c := range pl.Changes {
		got[fmt.Sprint(c.Key["sku"])] = fmt.Sprintf("%s %v", fields(c)["website_sku"], c.Annotations["match"])
	}
	want := map[string]string{"MECH": "null → W-MECH2 manual", "CHAIN": "W-CHAIN → null manual"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes after deciding by hand: %v, want %v", got, want)
	}
	for _, n := range pl.NoteTexts() {
		if strings.HasPrefix(n, "sku=MECH:") {
			t.Errorf("MECH, decided by hand, still has a note: %s", n)
		}
	}
}

// Validation reads the mappings file: a missing or malformed file is reported at the step, with the file's
// line.
func TestMatchMappingsFileErrors(t *testing.T) {
	tests := []struct {
		name, content string // content "" means no file
		want          string
	}{
		{"missing", "", "mappings file decisions/mappings.csv: no such file"},
		{"bad header", "sku,web\nA,B\n", `the header is "sku,web", want pos_sku,website_sku`},
		{"twice", "pos_sku,website_sku\nA,W-1\nB,W-2\nA,W-3\n", `lines 2 and 4 both decide pos_sku "A": keep one`},
		{"empty pos_sku", "pos_sku,website_sku\n ,W-1\n", "line 2: pos_sku is empty"},
		{"three fields", "pos_sku,website_sku\nA,W-1,x\n", "wrong number of fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := matchCase(t, "pos_sku,website_sku\n")
			path := filepath.Join(dir, "decisions", "mappings.csv")
			if tt.content == "" {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFile(t, path, tt.content)
			}
			y := fmt.Sprintf(matchPipeline, "    mappings: decisions/mappings.csv")
			line := strings.Count(y[:strings.Index(y, "type: match")], "\n") + 1
			diags := runner.Check(context.Background(), loadAt(t, dir))
			if len(diags) != 1 || diags[0].Code != "match_mappings" || diags[0].Line != line ||
				!strings.Contains(diags[0].Message, tt.want) {
				t.Fatalf("check: %v, want one match_mappings diagnostic at line %d containing %q", diags, line, tt.want)
			}
		})
	}
}

// An items field named like an output field (case aside) gives way to the step's own.
func TestMatchReplacesItemsOutputFields(t *testing.T) {
	dir := matchCase(t, "")
	p := strings.Replace(matchPipeline, "      - {name: brand, type: string}\n  website:",
		"      - {name: brand, type: string}\n      - {name: Website_SKU, type: string}\n      - {name: MATCH, type: string}\n  website:", 1)
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), strings.Replace(p, "%s\n", "", 1))
	writeFile(t, filepath.Join(dir, "items.csv"), "sku,gtin14,gtin_ambiguous,mpn,brand,Website_SKU,MATCH\nUPCA,036000291452,false,,,stale,stale\n")
	got := matches(t, mustPlan(t, loadAt(t, dir)))
	if got["UPCA"] != "W-EAN gtin" {
		t.Errorf("UPCA = %q, want W-EAN gtin", got["UPCA"])
	}
}

// The match step spills to disk past the state's memory_limit instead of failing (issue #15: the default
// limit is 256 MiB): 100,000 items against as many website products under 96MB (the query that aggregated
// lists ran out of memory there), every item mapped by GTIN or by MPN and brand, and one in a thousand
// pending with its note naming both candidates. A SQL step counts the matches, so that the plan stays small.
func TestMatchSpillsUnderMemoryLimit(t *testing.T) {
	const n = 100_000
	dir := matchCase(t, "")
	var items, products strings.Builder
	items.WriteString("sku,gtin14,gtin_ambiguous,mpn,brand\n")
	products.WriteString("sku,gtin14,mpn,brand\n")
	for i := 0; i < n; i++ {
		gtin := fmt.Sprintf("%014d", 10_000_000+i)
		if i%10 == 0 { // matched by MPN and brand
			fmt.Fprintf(&items, "ITEM-%06d,,false,MPN-%d,Brand %d\n", i, i, i%40)
			fmt.Fprintf(&products, "WEB-%06d,,MPN-%d,Brand %d\n", i, i, i%40)
			continue
		}
		fmt.Fprintf(&items, "ITEM-%06d,%s,false,MPN-%d,Brand %d\n", i, gtin, i, i%40)
		fmt.Fprintf(&products, "WEB-%06d,%s,,\n", i, gtin)
		if i%1000 == 1 { // a second website product with the GTIN: pending
			fmt.Fprintf(&products, "TWIN-%06d,%s,,\n", i, gtin)
		}
	}
	writeFile(t, filepath.Join(dir, "items.csv"), items.String())
	writeFile(t, filepath.Join(dir, "products.csv"), products.String())
	// Items mapped to another item's website product are not counted.
	counts := "  - type: sql\n    name: counts\n    query: >-\n      SELECT match || ' ' || CAST(count(*) AS VARCHAR) AS sku FROM matched\n" +
		"      WHERE website_sku IS NULL OR website_sku = 'WEB-' || substr(sku, 6) GROUP BY match"
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(matchPipeline, counts)+"state:\n  memory_limit: 96MB\n")
	pl := mustPlan(t, loadAt(t, dir))
	var got []string
	for _, c := range pl.Changes {
		got = append(got, fmt.Sprint(c.Key["sku"]))
	}
	sort.Strings(got)
	want := []string{fmt.Sprintf("gtin %d", n-n/10-n/1000), fmt.Sprintf("mpn_brand %d", n/10), fmt.Sprintf("pending %d", n/1000)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("matches %v, want %v", got, want)
	}
	if len(pl.Notes) != n/1000 || !strings.Contains(pl.Notes[0].Message, "matches several website products: TWIN-000001, WEB-000001") {
		t.Errorf("%d notes, want %d naming both candidates; the first: %v", len(pl.Notes), n/1000, pl.Notes[:min(1, len(pl.Notes))])
	}
}
