package runner_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors/ascend/ftptest"
	rpt "github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/spec"
)

// Issue 16: a bad upload never deletes a product. These tests run pipelines reading Ascend uploads from the
// embedded FTP server, apply a complete nightly file, then plan from a damaged one.

const ftpUser, ftpPassword = "7421", "n1ghtly-Pa55"

// ascendHeader is the header of a full upload (domain reference §7.1).
var ascendHeader = []string{"ShortName", "Sku", "Upc", "Mpn", "Brand", "Description", "ModelYear", "Color", "Size",
	"Category", "Msrp", "Price", "QtyOnHand", "QtyOnOrder", "NonInventory", "LastSoldDate", "Ecommerce", "Active"}

// ascendRow is the full-upload row of item i (SKU POS-<i>, a valid UPC, price 10+i).
func ascendRow(i int, price string) string {
	if price == "" {
		price = fmt.Sprintf("%d.00", 10+i)
	}
	return strings.Join([]string{"Downtown", fmt.Sprintf("POS-%02d", i), upcOf(i), fmt.Sprintf("M-%d", i), "Trek",
		fmt.Sprintf("Item %d", i), "2025", "Red", "M", "Bikes", "100.00", price, "3", "", "N", "", "Y", "Y"}, "\t")
}

// upcOf is a valid 12-digit UPC-A for item i.
func upcOf(i int) string {
	body := fmt.Sprintf("0360002%04d", i)
	sum := 0
	for j, c := range body {
		d := int(c - '0')
		if j%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return body + fmt.Sprint((10-sum%10)%10)
}

// ascendFile is a full upload of the rows, CRLF-terminated as Ascend writes them.
func ascendFile(rows ...string) []byte {
	return []byte(strings.Join(append([]string{strings.Join(ascendHeader, "\t")}, rows...), "\r\n") + "\r\n")
}

// nightRows are the rows of items 1..n.
func nightRows(n int) []string {
	var rows []string
	for i := 1; i <= n; i++ {
		rows = append(rows, ascendRow(i, ""))
	}
	return rows
}

// truncated cuts a row after its first n fields, mid-field: the rest of the transfer was lost.
func truncated(row string, n int, cut int) string {
	f := strings.Split(row, "\t")
	f = f[:n]
	f[n-1] = f[n-1][:cut]
	return strings.Join(f, "\t")
}

const ascendSource = `    type: ascend
    host: %s
    port: %s
    user: "` + ftpUser + `"
    password: ${BADINPUT_FTP_PASSWORD}
    settle: 0s
    mode: single-site
    timezone: America/Los_Angeles
    locations:
      - {short_name: Downtown, status: single-site}
`

// directPipeline syncs the Ascend items to a file keyed by the POS SKU.
const directPipeline = `version: 1
name: nightly
merchant: bike-shop
key: sku
sources:
  inventory:
%s
transforms:
  - type: map
    fields:
      sku: sku
      name: description
      price: price
sink:
  type: file
  path: out/records.csv
guards:
  max_delete_percent: -1
`

// rekeyedPipeline maps the Ascend items to website products by GTIN and syncs them keyed by the website SKU.
const rekeyedPipeline = `version: 1
name: website
merchant: bike-shop
key: sku
sources:
  inventory:
%s
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
    input: inventory
    products: website
  - type: filter
    expr: website_sku != nil
  - type: map
    fields:
      sku: website_sku
      price: price
sink:
  type: file
  path: out/records.csv
guards:
  max_delete_percent: -1
`

// ftpCase starts an FTP server and writes the pipeline (with its source pointing at the server).
func ftpCase(t *testing.T, pipeline string, n int) (string, *ftptest.Server) {
	t.Helper()
	srv, err := ftptest.New(ftptest.Options{User: ftpUser, Password: ftpPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	t.Setenv("BADINPUT_FTP_PASSWORD", ftpPassword)
	host, port, _ := net.SplitHostPort(srv.Addr())
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(pipeline, fmt.Sprintf(ascendSource, host, port)))
	var products strings.Builder
	products.WriteString("sku,gtin14,mpn,brand\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&products, "W-%02d,00%s,,\n", i, upcOf(i))
	}
	writeFile(t, filepath.Join(dir, "products.csv"), products.String())
	return dir, srv
}

var night1 = time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)

// applyNight1 puts the complete nightly upload of items 1..n and applies it.
func applyNight1(t *testing.T, dir string, srv *ftptest.Server, n int) {
	t.Helper()
	srv.Put("/Downtown_20250115_020000_full.txt", ascendFile(nightRows(n)...), night1)
	rep := mustApply(t, loadAt(t, dir), runner.Options{})
	if rep.Applied.Create != n {
		t.Fatalf("night 1 applied %+v, want %d creates", rep.Applied, n)
	}
}

// changesOf lists a plan's changes as "action key".
func changesOf(pl *plan.Plan) []string {
	var out []string
	for _, c := range pl.Changes {
		out = append(out, fmt.Sprintf("%s %v", c.Action, c.Key["sku"]))
	}
	return out
}

func notesWith(pl *plan.Plan, part string) bool {
	return noteKind(pl, part) != ""
}

// noteKind is the kind of the first of the plan's notes that contains part ("" for none).
func noteKind(pl *plan.Plan, part string) string {
	for _, n := range pl.Notes {
		if strings.Contains(n.String(), part) {
			return n.KindOrOther()
		}
	}
	return ""
}

// notesOf returns the texts of the plan's notes of kind.
func notesOf(pl *plan.Plan, kind string) []string {
	var out []string
	for _, n := range pl.Notes {
		if n.KindOrOther() == kind {
			out = append(out, n.String())
		}
	}
	return out
}

func TestTruncatedLastRowDeletesNothing(t *testing.T) {
	const n = 30
	for _, tc := range []struct {
		name, pipeline string
		protected      string // the record the truncated row protects
	}{
		{"keyed by the POS SKU", directPipeline, "POS-30"},
		{"re-keyed by match", rekeyedPipeline, "W-30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, srv := ftpCase(t, tc.pipeline, n)
			applyNight1(t, dir, srv, n)
			rows := nightRows(n)
			rows[4] = ascendRow(5, "99.00") // a real change that must still go through
			rows[n-1] = truncated(rows[n-1], 6, 3)
			data := ascendFile(rows...)
			data = data[:len(data)-2] // the transfer stopped inside the last row: no line end
			srv.Put("/Downtown_20250116_020000_full.txt", data, night1.Add(24*time.Hour))

			pl := mustPlan(t, loadAt(t, dir))
			want := map[string]string{"POS-30": "update POS-05", "W-30": "update W-05"}[tc.protected]
			if got := strings.Join(changesOf(pl), ", "); got != want {
				t.Errorf("changes %q, want only %q: the truncated row's record must stay", got, want)
			}
			if len(pl.Rejects) != 1 || pl.Rejects[0].Key["sku"] != "POS-30" ||
				pl.Rejects[0].Where != "Downtown_20250116_020000_full.txt:31" {
				t.Errorf("rejects %+v, want line 31 naming SKU POS-30", pl.Rejects)
			}
			if k := noteKind(pl, "Downtown_20250116_020000_full.txt ends in the middle of line 31"); k != spec.NoteHeldRemoval {
				t.Errorf("notes %q, want the truncated file named in a held_removal note (kind %q)", pl.NoteTexts(), k)
			}
			for _, n := range pl.Notes {
				if n.Kind == spec.NoteInput && n.Subject != "source inventory" {
					t.Errorf("the source's note %+v does not name the source", n)
				}
			}
			if len(notesOf(pl, spec.NoteInput)) == 0 {
				t.Errorf("notes %q: none of kind input (the source's)", pl.NoteTexts())
			}
		})
	}
}

func TestRejectedRowsProtectTheirRecords(t *testing.T) {
	const n = 30
	night2 := func(t *testing.T, srv *ftptest.Server, edit func(rows []string) []string, cut bool) {
		t.Helper()
		data := ascendFile(edit(nightRows(n))...)
		if cut {
			data = data[:len(data)-2]
		}
		srv.Put("/Downtown_20250116_020000_full.txt", data, night1.Add(24*time.Hour))
	}
	for _, tc := range []struct {
		name, pipeline string
		edit           func(rows []string) []string
		cut            bool
		changes        string
		held           string // part of the note on held removals; "" for none
	}{{
		name: "bad price keeps the record (POS SKU)", pipeline: directPipeline,
		edit: func(r []string) []string {
			r[9] = strings.Replace(ascendRow(10, "1,299.00"), "Item 10", "Renamed 10", 1)
			return r
		},
		changes: "",
	}, {
		name: "bad price keeps the website product it maps to", pipeline: rekeyedPipeline,
		edit: func(r []string) []string {
			r[9] = ascendRow(10, "1,299.00")
			r[10] = ascendRow(11, "50.00")
			return r
		},
		changes: "update W-11",
	}, {
		name: "SKU cut: the run holds deletions and lets updates through", pipeline: directPipeline,
		edit: func(r []string) []string {
			r[4] = ascendRow(5, "99.00")
			r = append(r[:28], r[29]) // item 29 was really removed
			r[len(r)-1] = truncated(r[len(r)-1], 2, 3)
			return r
		},
		cut:     true,
		changes: "update POS-05",
		held:    "2 deletion(s) or deactivation(s) of records missing from this run were held",
	}, {
		name: "a far smaller file holds deletions", pipeline: directPipeline,
		edit: func(r []string) []string {
			r[4] = ascendRow(5, "99.00")
			return r[:10]
		},
		changes: "update POS-05",
		held:    "20 deletion(s) or deactivation(s) of records missing from this run were held, not planned: source inventory: Downtown_20250116_020000_full.txt has 10 row(s), 33% of the 30",
	}, {
		name: "a reject that cannot be followed to a website product holds deletions", pipeline: rekeyedPipeline,
		edit: func(r []string) []string {
			r[9] = strings.Replace(ascendRow(10, ""), upcOf(10), "036000291450", 1) // a bad check digit: no GTIN to match by
			return append(r[:19], r[20:]...)                                        // item 20 was really removed
		},
		changes: "",
		held:    "1 rejected row(s) led to 0 record(s) of their own through the transforms",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir, srv := ftpCase(t, tc.pipeline, n)
			applyNight1(t, dir, srv, n)
			night2(t, srv, tc.edit, tc.cut)
			pl := mustPlan(t, loadAt(t, dir))
			if got := strings.Join(changesOf(pl), ", "); got != tc.changes {
				t.Errorf("changes %q, want %q", got, tc.changes)
			}
			if tc.held != "" && noteKind(pl, tc.held) != spec.NoteHeldRemoval {
				t.Errorf("notes %q, want one saying %q", pl.NoteTexts(), tc.held)
			}
			if tc.held == "" && notesWith(pl, "held") {
				t.Errorf("notes %q: nothing should be held", pl.NoteTexts())
			}
		})
	}
}

// posPipeline syncs the Retail POS emulator's catalog at %[1]s (token %[2]s) to a file, three products a page.
const posPipeline = `version: 1
name: pos
merchant: acme-outdoor
key: sku
sources:
  catalog:
    type: retailpos
    base_url: %[1]s
    token: %[2]s
    page_size: 3
    requests_per_minute: 0
transforms:
  - type: filter
    expr: deleted != true
  - type: map
    fields:
      sku: sku
      name: name
      price: price
sink:
  type: file
  path: out/records.csv
guards:
  max_delete_percent: -1
`

// A Retail POS listing that fails in the middle never looks like products were deleted: a failure that
// retries cure gives the whole catalog, one that persists fails the plan, and the state is untouched.
func TestRetailPOSListingFailingMidway(t *testing.T) {
	srv := rpt.New(rpt.Options{})
	t.Cleanup(srv.Close)
	srv.Generate(12, 1)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(posPipeline, srv.URL(), srv.Token()))
	rep := mustApply(t, loadAt(t, dir), runner.Options{})
	if rep.Applied.Create != 12 {
		t.Fatalf("first apply %+v, want 12 creates", rep.Applied)
	}
	for _, tc := range []struct {
		name         string
		after, n, st int
		fails        string // part of the plan's error; "" when the plan succeeds
	}{
		{"a 500 on page 2, cured by a retry", 2, 1, http.StatusInternalServerError, ""},
		{"a 503 twice on page 3", 3, 2, http.StatusServiceUnavailable, ""},
		{"a 403 on page 2", 2, 1, http.StatusForbidden, "403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.ResetRequests()
			srv.FailAfter(tc.after, tc.n, tc.st)
			pl, err := runner.Plan(context.Background(), loadAt(t, dir), runner.Options{FullRefresh: true})
			switch {
			case tc.fails == "" && err != nil:
				t.Fatalf("plan: %v", err)
			case tc.fails == "" && pl.Summary.Total() != 0:
				t.Errorf("plan after a cured failure: %+v %v", pl.Summary, changesOf(pl))
			case tc.fails != "" && (err == nil || !strings.Contains(err.Error(), tc.fails)):
				t.Errorf("plan error %v, want one naming %s", err, tc.fails)
			}
			failed := 0
			for _, r := range srv.Requests() {
				if r.Status == tc.st {
					failed++
				}
			}
			if failed != tc.n {
				t.Errorf("%d request(s) failed, want the %d injected mid-listing", failed, tc.n)
			}
		})
	}
	srv.FailNext(0, 0)
	if pl := mustPlan(t, loadAt(t, dir)); pl.Summary.Total() != 0 {
		t.Errorf("after the failures: %+v", pl.Summary)
	}
}

// A Retail POS product without a SKU is a reject that can never have had a record: it holds nothing, and a
// product deleted in the POS is still deleted.
func TestRetailPOSProductWithoutSKUHoldsNothing(t *testing.T) {
	srv := rpt.New(rpt.Options{})
	t.Cleanup(srv.Close)
	ps := srv.Generate(6, 1)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(posPipeline, srv.URL(), srv.Token()))
	mustApply(t, loadAt(t, dir), runner.Options{})
	srv.Upsert(rpt.Product{Name: "No SKU yet", Active: true})
	srv.Delete(ps[0].ID)
	pl := mustPlan(t, loadAt(t, dir))
	if got := strings.Join(changesOf(pl), ", "); got != "delete "+ps[0].SKU || len(pl.Rejects) != 1 || notesWith(pl, "held") {
		t.Errorf("changes %q, rejects %v, notes %q; want only the deletion of %s", got, pl.Rejects, pl.NoteTexts(), ps[0].SKU)
	}
}
