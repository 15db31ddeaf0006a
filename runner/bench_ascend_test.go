package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors/ascend/ftptest"
	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/pipelines"
)

// The Ascend chain benchmark (issue 15): the first sync of a generated Ascend full upload of
// BENCH_ASCEND_ROWS rows (default 200,000, like the source's large-upload test file) served by the embedded
// FTP server over explicit TLS, matched by GTIN to the website's products (a local CSV of one product per
// item), to the eCom emulator without its rate limit; and the same rows from the same file read locally by
// the file source, through the same steps to another emulator. `make bench-ascend` runs it; its `x-plain`
// metric is the chain's wall time over the plain file's (target ≤ 2), `peak-MiB` the chain's peak RSS
// (target ≤ 768).

// ascendHeader is the header of an Ascend full upload (domain README §1).
var ascendHeader = []string{"ShortName", "Sku", "Upc", "Mpn", "Brand", "Description", "ModelYear", "Color", "Size",
	"Category", "Msrp", "Price", "QtyOnHand", "QtyOnOrder", "NonInventory", "LastSoldDate", "Ecommerce", "Active"}

// ascendUpload is a full upload of n valid rows (tab-separated, CRLF, as Ascend writes it), and the website
// catalog matching every item by GTIN (sku, gtin14, mpn, brand).
func ascendUpload(loc string, n int) (upload, website []byte) {
	var b, w strings.Builder
	b.Grow(n * 140)
	w.Grow(n * 50)
	b.WriteString(strings.Join(ascendHeader, "\t") + "\r\n")
	w.WriteString("sku,gtin14,mpn,brand\n")
	for i := 0; i < n; i++ {
		upc := fmt.Sprintf("0%010d", i)
		upc += benchCheckDigit(upc)
		fields := []string{loc, "SKU" + strconv.Itoa(1_000_000+i), upc, "MPN-" + strconv.Itoa(i), "Brand " + strconv.Itoa(i%50),
			"Product number " + strconv.Itoa(i), "2025", "Blue", "L", "Parts>Drivetrain>Chains", "49.99", "39.99",
			strconv.Itoa(i%7 - 1), strconv.Itoa(i % 3), "N", "2024-12-01", "Y", "Y"}
		b.WriteString(strings.Join(fields, "\t") + "\r\n")
		fmt.Fprintf(&w, "W-%d,00%s,MPN-%d,Brand %d\n", i, upc, i, i%50)
	}
	return []byte(b.String()), []byte(w.String())
}

// ascendSteps are the steps after the items relation: match by GTIN, mapped items only, the sink's fields.
const ascendSteps = `  - type: match
    name: matched
    input: items
    products: website
  - type: filter
    name: mapped
    expr: website_sku != nil
  - type: map
    name: records
    types:
      quantity: int
    fields:
      sku: website_sku
      name: description
      price: price
      quantity: qty_on_hand
      enabled: active
`

// ascendTail is the sink and what follows it, for emulator srv and state under dir (with BENCH_MEMORY_LIMIT
// as the state's memory_limit when set).
func ascendTail(srv *ecomtest.Server, dir string) string {
	limit := ""
	if ml := os.Getenv("BENCH_MEMORY_LIMIT"); ml != "" {
		limit = "  memory_limit: " + benchYAMLQuote(ml) + "\n"
	}
	return fmt.Sprintf(`sink:
  type: ecom
  base_url: %s
  store_id: %s
  token: ${ECOM_TOKEN}
  requests_per_minute: 6000000
  poll_interval: 1ms
diff:
  on_missing: keep
  active_field: enabled
state:
  dir: %s
%s`, benchYAMLQuote(srv.URL()), benchYAMLQuote(srv.StoreID()), benchYAMLQuote(dir), limit)
}

func ascendParse(work, name, y string, env map[string]string) (*pipelines.Pipeline, error) {
	look := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	p, diags := pipelines.Parse(filepath.Join(work, name+".yaml"), []byte(y), pipelines.Options{LookupEnv: look})
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s pipeline: %w", name, diags.Err())
	}
	return p, nil
}

func BenchmarkAscendChain(b *testing.B) {
	n := benchEnvInt("BENCH_ASCEND_ROWS", 200_000)
	work := b.TempDir()
	upload, website := ascendUpload("Downtown", n)
	websiteCSV := filepath.Join(work, "website.csv")
	plainTSV := filepath.Join(work, "Downtown_20250115_020000_full.txt")
	for path, data := range map[string][]byte{websiteCSV: website, plainTSV: upload} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ftp, err := ftptest.New(ftptest.Options{User: "4242", Password: "bench-ftp-password", TLS: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ftp.Close()
	ftp.Put("/Downtown_20250115_020000_full.txt", upload, time.Now().Add(-time.Hour))
	host, port, _ := strings.Cut(ftp.Addr(), ":")

	run := func(name, sources, items string) (*Report, []Stage, time.Duration, int64, int) {
		shop := ecomtest.New(ecomtest.Options{})
		defer shop.Close()
		y := "version: 1\nname: " + name + "\nmerchant: bench\ntimezone: America/Los_Angeles\nkey: sku\nsources:\n" + sources +
			fmt.Sprintf("  website:\n    type: file\n    path: %s\n    columns:\n      - {name: sku, type: string}\n      - {name: gtin14, type: string}\n      - {name: mpn, type: string}\n      - {name: brand, type: string}\n", benchYAMLQuote(websiteCSV)) +
			"transforms:\n" + items + ascendSteps + ascendTail(shop, filepath.Join(work, name+"-state"))
		p, err := ascendParse(work, name, y, map[string]string{"ECOM_TOKEN": shop.Token(), "FTP_PASSWORD": "bench-ftp-password"})
		if err != nil {
			b.Fatal(err)
		}
		rep, stages, wall, peak := benchApply(b, p, true)
		return rep, stages, wall, peak, len(shop.Requests())
	}

	chainSrc := fmt.Sprintf(`  inventory:
    type: ascend
    host: %s
    port: %s
    user: "4242"
    password: ${FTP_PASSWORD}
    tls: explicit
    fingerprint: %s
    settle: 0s
    mode: single-site
    timezone: America/Los_Angeles
    locations:
      - {short_name: Downtown, status: single-site}
`, host, port, benchYAMLQuote(ftp.Fingerprint()))
	chainItems := "  - type: sql\n    name: items\n    query: SELECT * FROM inventory\n"

	var plainSrc strings.Builder
	fmt.Fprintf(&plainSrc, "  inventory:\n    type: file\n    path: %s\n    format: tsv\n    columns:\n", benchYAMLQuote(plainTSV))
	types := map[string]string{"Price": "float", "QtyOnHand": "int"}
	for _, c := range ascendHeader {
		t := types[c]
		if t == "" {
			t = "string"
		}
		fmt.Fprintf(&plainSrc, "      - {name: %s, type: %s}\n", c, t)
	}
	// What the ascend source makes of the same columns: GTIN-14 from the UPC, negative stock as 0, Y/N flags.
	plainItems := `  - type: map
    name: items
    input: inventory
    fields:
      sku: Sku
      gtin14: '"00" + Upc'
      mpn: Mpn
      brand: Brand
      description: Description
      price: Price
      qty_on_hand: 'QtyOnHand < 0 ? 0 : QtyOnHand'
      active: Active == "Y"
      gtin_ambiguous: "false"
`
	plainRep, plainStages, plainWall, plainPeak, plainReqs := run("bench-plain", plainSrc.String(), plainItems)
	chainRep, chainStages, chainWall, chainPeak, chainReqs := run("bench-chain", chainSrc, chainItems)

	fmt.Printf("\npossync apply, first sync of an Ascend upload of %s rows to the eCom emulator (no rate limit)\n", benchGroup(int64(n)))
	fmt.Printf("plain file (the same rows from a local file), %d creates, %d requests:\n", plainRep.Applied.Create, plainReqs)
	printStages(plainStages, plainWall, plainPeak)
	fmt.Printf("Ascend chain (FTP over TLS, ascend source), %d creates, %d requests:\n", chainRep.Applied.Create, chainReqs)
	printStages(chainStages, chainWall, chainPeak)
	ratio := chainWall.Seconds() / plainWall.Seconds()
	fmt.Printf("  chain / plain file: %.2fx (target <= 2), chain peak %d MiB (target <= 768)\n", ratio, chainPeak>>20)
	if plainRep.Applied.Create != n || chainRep.Applied.Create != n {
		b.Errorf("applied %d (plain) and %d (chain) creates, want %d each", plainRep.Applied.Create, chainRep.Applied.Create, n)
	}
	b.ReportMetric(ratio, "x-plain")
	b.ReportMetric(float64(chainPeak>>20), "peak-MiB")
	b.ReportMetric(chainWall.Seconds(), "chain-s")
	b.ReportMetric(plainWall.Seconds(), "plain-s")
}

// benchCheckDigit is the GS1 check digit of digits: from the right, every other digit counts three times.
func benchCheckDigit(digits string) string {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return strconv.Itoa((10 - sum%10) % 10)
}
