package planhtml

// These tests load the page in headless Chromium through the Chrome DevTools Protocol (chromedp): they read
// what a person sees, the numbers and the table rows, and use the controls as a person would. They skip when
// no Chromium is installed, and fail under CI=true (.ci/run installs Debian's chromium).

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/plan"
)

var screenshots = flag.String("screenshots", "", "TestScreenshots writes the README's PNGs of the page to this directory")

// chromium returns the browser's path: $POSSYNC_CHROMIUM, or chromium (Debian's) on the PATH.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("POSSYNC_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: .ci/run installs Debian's chromium package for this test")
	}
	t.Skip("chromium is not installed (apt-get install chromium); the page's browser tests are skipped")
	return ""
}

// open starts a headless Chromium showing the page rendered from pg, once its script has drawn the tables.
func open(t *testing.T, pg Page, width, height int) context.Context {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, pg); err != nil {
		t.Fatal(err)
	}
	return openPage(t, b.Bytes(), width, height)
}

// openPage starts a headless Chromium showing page.
func openPage(t *testing.T, page []byte, width, height int) context.Context {
	t.Helper()
	path := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(path, page, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.WindowSize(width, height), chromedp.Flag("hide-scrollbars", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+path)); err != nil {
		t.Fatalf("load the page: %v", err)
	}
	wait(t, ctx, `body[data-ready="true"]`)
	return ctx
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// choose picks an option of a select as a person would (the value, then a change event).
func choose(t *testing.T, ctx context.Context, id, value string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q; s.dispatchEvent(new Event("change", {bubbles: true})); return s.value; })()`, id, value)
	if got := eval[string](t, ctx, js); got != value {
		t.Fatalf("select %s has no option %q", id, value)
	}
}

// waitMatches waits until the table of tab id says it shows n matching rows.
func waitMatches(t *testing.T, ctx context.Context, id string, n int) {
	t.Helper()
	wait(t, ctx, fmt.Sprintf(`#%s-shown[data-matches="%d"]`, id, n))
}

// rows returns the data-action of every row in the changes table's DOM.
func rows(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#changes-table tbody tr")).map(r => r.dataset.action)`)
}

func TestBrowserSummaryAndFilter(t *testing.T) {
	p := samplePlan(250)
	// The page is rendered from the saved plan document, as `possync show plan.json --html` does.
	saved := filepath.Join(t.TempDir(), "plan.json")
	if err := plan.Write(saved, p); err != nil {
		t.Fatal(err)
	}
	read, err := plan.Read(saved)
	if err != nil {
		t.Fatal(err)
	}
	ctx := open(t, Page{Plan: read}, 1280, 900)

	// The summary numbers, as shown, are the JSON document's.
	var doc struct {
		Summary map[string]int64 `json:"summary"`
	}
	b, err := os.ReadFile(saved)
	if err != nil || json.Unmarshal(b, &doc) != nil || len(doc.Summary) != 5 {
		t.Fatalf("read the plan document's summary: %v %v", err, doc.Summary)
	}
	for id, want := range doc.Summary {
		text := eval[string](t, ctx, fmt.Sprintf(`document.getElementById("sum-%s").textContent`, id))
		if got, err := strconv.ParseInt(strings.ReplaceAll(text, ",", ""), 10, 64); err != nil || got != want {
			t.Errorf("summary %s shows %q, the plan document has %d", id, text, want)
		}
	}
	bars := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("svg.chart g.bar")).map(g => g.classList[1] + "=" + g.lastElementChild.textContent)`)
	if want := fmt.Sprintf("create=%d update=%d deactivate=%d delete=%d", p.Summary.Create, p.Summary.Update, p.Summary.Deactivate, p.Summary.Delete); strings.Join(bars, " ") != want {
		t.Errorf("chart bars %v, want %s", bars, want)
	}
	if got := eval[string](t, ctx, `document.getElementById("estimate-calls").textContent`); got != strconv.Itoa(p.Estimate.Calls) {
		t.Errorf("estimate shows %s calls, the plan %d", got, p.Estimate.Calls)
	}
	if got := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#guards tbody tr")).map(r => r.cells[0].textContent + ":" + r.cells[1].textContent)`); strings.Join(got, " ") != "max_delete_ratio:pass max_change_ratio:pass" {
		t.Errorf("guards shown: %v", got)
	}
	// Each tab's count, and the script's injection attempt did not run.
	tabs := eval[map[string]string](t, ctx, `Object.fromEntries(Array.from(document.querySelectorAll("nav.tabs button")).map(b => [b.dataset.tab, b.querySelector(".pill").textContent]))`)
	for id, want := range map[string]string{"changes": "250", "rejects": "2", "pending": "2", "unmatched": "1", "reservations": "2", "drift": "2", "upcoming": "0", "notes": "3"} {
		if tabs[id] != want {
			t.Errorf("tab %s counts %q, want %s", id, tabs[id], want)
		}
	}
	if eval[bool](t, ctx, `window.pwned === 1`) {
		t.Fatal("a field value ran as script")
	}

	// The table shows one page of all changes.
	waitMatches(t, ctx, "changes", 250)
	if n := len(rows(t, ctx)); n != 100 {
		t.Fatalf("the first page has %d rows, want 100", n)
	}

	// Filter by action: only updates, as many as the summary counts.
	choose(t, ctx, "changes-action", "1") // actions are listed as create, update, deactivate, delete
	waitMatches(t, ctx, "changes", p.Summary.Update)
	for _, a := range rows(t, ctx) {
		if a != "update" {
			t.Fatalf("filtered by update, a %s row shows", a)
		}
	}
	// And by field: updates that change the title.
	wantTitle := 0
	for _, c := range p.Changes {
		if c.Action == connectors.Update && len(c.Fields) > 0 && c.Fields[len(c.Fields)-1].Name == "title" {
			wantTitle++
		}
	}
	choose(t, ctx, "changes-field", strconv.Itoa(fieldIndexOf(t, ctx, "title")))
	waitMatches(t, ctx, "changes", wantTitle)
	choose(t, ctx, "changes-action", "")
	choose(t, ctx, "changes-field", "")
	waitMatches(t, ctx, "changes", 250)

	// Search as a person types: one record, its before → after with the changed part marked.
	search(t, ctx, "HB-00004")
	waitMatches(t, ctx, "changes", 1)
	cell := eval[[]string](t, ctx, `(() => { const r = document.querySelector("#changes-table tbody tr"); return [r.cells[2].textContent, r.querySelector("li[data-field=price] .before").textContent, r.querySelector("li[data-field=price] .after mark").textContent]; })()`)
	c := p.Changes[3] // an update of price 33.99 → 33.49: the 4 is what changed
	if cell[0] != "sku=HB-00004" || cell[1] != c.Fields[0].Before || cell[2] != "4" {
		t.Errorf("the searched row shows %q (want sku=HB-00004, before %v, marked after part 4)", cell, c.Fields[0].Before)
	}

	// The injected value shows as text.
	search(t, ctx, "window.pwned")
	waitMatches(t, ctx, "changes", 1)
	if got := eval[string](t, ctx, `document.querySelector("#changes-table tbody tr li[data-field=title] .after").textContent`); got != "Deck shoe "+injection {
		t.Errorf("the injected title shows as %q", got)
	}

	// Sorting by record, descending.
	search(t, ctx, "")
	waitMatches(t, ctx, "changes", 250)
	for _, order := range []string{"ascending", "descending"} {
		click(t, ctx, `#changes-table th:nth-child(3)`)
		wait(t, ctx, fmt.Sprintf(`#changes-table th[aria-sort=%q]`, order))
	}
	if got := eval[string](t, ctx, `document.querySelector("#changes-table tbody tr").cells[2].textContent`); got != "sku=HB-00250" {
		t.Errorf("sorted by record descending, the first row is %s", got)
	}

	// An empty tab says so; a full one lists its rows.
	click(t, ctx, "#tab-upcoming")
	wait(t, ctx, "#panel-upcoming .empty")
	click(t, ctx, "#tab-pending")
	wait(t, ctx, "#pending-table")
	if got := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#pending-table tbody tr")).map(r => r.cells[0].textContent)`); strings.Join(got, " ") != "sku=HB-0101 sku=HB-0102" {
		t.Errorf("pending mappings tab lists %v", got)
	}
	// The notes tab names each note's kind.
	click(t, ctx, "#tab-notes")
	wait(t, ctx, "#notes-table")
	if got := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#notes-table tbody tr")).map(r => r.cells[0].textContent + "/" + r.cells[1].textContent)`); strings.Join(got, " ") != "input/source pos order status/order_id=#1039 held removal/" {
		t.Errorf("notes tab lists %v", got)
	}
}

// search types text into the changes' search box, as a person would, after clearing it, and presses Enter.
func search(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	eval[string](t, ctx, `document.getElementById("changes-search").value = ""`)
	click(t, ctx, "#changes-search")
	if err := chromedp.Do(ctx, chromedp.KeyEvent(text+"\r")); err != nil {
		t.Fatalf("type %q: %v", text, err)
	}
}

// wait waits until an element matching sel shows; it gives up after a minute (a page that never gets there), saying
// what the page shows instead of hanging until the test binary's timeout.
func wait(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	waitJS(t, ctx, fmt.Sprintf(`(e => e != null && e.getClientRects().length > 0)(document.querySelector(%q))`, sel))
}

// waitJS waits until the expression is true in the page; it gives up after a minute, saying what the
// changes table's status line shows.
func waitJS(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(0))); err != nil {
		t.Fatalf("waiting for %s: %v; the changes table says %q", expr, err,
			eval[string](t, ctx, `(e => e ? e.textContent : "(no changes table)")(document.getElementById("changes-shown"))`))
	}
}

// click clicks the middle of the element sel with the mouse, as a person would, once it is scrolled into
// view. (Coordinates from the page, not chromedp's node queries: those lose track of nodes in a table whose
// body is redrawn.)
func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	wait(t, ctx, sel)
	xy := eval[[]float64](t, ctx, fmt.Sprintf(`(e => { e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2]; })(document.querySelector(%q))`, sel))
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(xy[0], xy[1])); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

func fieldIndexOf(t *testing.T, ctx context.Context, name string) int {
	t.Helper()
	return eval[int](t, ctx, fmt.Sprintf(`window.possync.data.fields.indexOf(%q)`, name))
}

// TestBrowserLargePlan: with 100,000 changes the DOM holds one page of rows, filtering and paging still work.
func TestBrowserLargePlan(t *testing.T) {
	p, page := large()
	ctx := openPage(t, page, 1280, 900)
	waitMatches(t, ctx, "changes", 100_000)
	if n := eval[int](t, ctx, `document.querySelectorAll("tr").length`); n > 150 {
		t.Fatalf("the page holds %d table rows for 100,000 changes: the table is not paged", n)
	}
	choose(t, ctx, "changes-action", "3")
	waitMatches(t, ctx, "changes", p.Summary.Delete)
	click(t, ctx, "#panel-changes .pager button:nth-child(2)")
	waitJS(t, ctx, `document.querySelector("#panel-changes .pager span").textContent.startsWith("Page 2 of")`)
	got := rows(t, ctx)
	if len(got) != 100 {
		t.Fatalf("page 2 of the deletes has %d rows", len(got))
	}
	t.Logf("100,000 changes: page ready %.0f ms after navigation start, filtering by action took %.0f ms",
		eval[float64](t, ctx, `window.possync.readyMs`), eval[float64](t, ctx, `window.possync.tables.changes.ms`))
	for _, a := range got {
		if a != "delete" {
			t.Fatalf("filtered by delete, a %s row shows", a)
		}
	}
	first := eval[string](t, ctx, `document.querySelector("#changes-table tbody tr").cells[2].textContent`)
	if first != "sku=HB-01010" { // deletes are every tenth change from the 10th: page 2 starts at the 101st
		t.Fatalf("page 2 starts at %s", first)
	}
	choose(t, ctx, "changes-action", "")
	search(t, ctx, "HB-99999")
	waitMatches(t, ctx, "changes", 1)
	t.Logf("100,000 changes: the first search took %.0f ms", eval[float64](t, ctx, `window.possync.tables.changes.ms`))
}

// TestBrowserOutcome: the page apply and run write shows what was applied and what failed.
func TestBrowserOutcome(t *testing.T) {
	p := samplePlan(30)
	bad := p.Changes[3]
	o := &Outcome{Command: "apply", Planned: p.Summary, Applied: p.Summary, ExitReason: "changes_rejected", ExitCode: 1,
		Failed: []Failed{{ID: bad.ID, Action: bad.Action, Key: bad.Key, Reason: "422 Unprocessable: price must be positive"}}}
	o.Applied.Update--
	ctx := open(t, Page{Plan: p, Outcome: o}, 1280, 900)
	applied := eval[string](t, ctx, `document.querySelector('#outcome-table tr[data-action="update"] .applied').textContent`)
	if applied != strconv.Itoa(o.Applied.Update) {
		t.Errorf("applied updates shown as %s, want %d", applied, o.Applied.Update)
	}
	choose(t, ctx, "changes-status", "failed")
	waitMatches(t, ctx, "changes", 1)
	got := eval[[]string](t, ctx, `(() => { const r = document.querySelector("#changes-table tbody tr"); return [r.cells[2].textContent, r.cells[4].textContent]; })()`)
	if got[0] != "sku=HB-00004" || !strings.Contains(got[1], "price must be positive") {
		t.Errorf("the failed change shows as %q", got)
	}
	choose(t, ctx, "changes-status", "applied")
	waitMatches(t, ctx, "changes", 29)
}

// TestBrowserPrint: printed, the page drops its controls and shows every tab's section with its heading, not
// only the tab that was open.
func TestBrowserPrint(t *testing.T) {
	ctx := open(t, Page{Plan: samplePlan(250)}, 1280, 900)
	// A plan this size prints every change, not only the page on screen; after printing, the page is back.
	eval[bool](t, ctx, `window.dispatchEvent(new Event("beforeprint"))`)
	if n := len(rows(t, ctx)); n != 250 {
		t.Errorf("printing, the changes table holds %d rows, want all 250", n)
	}
	eval[bool](t, ctx, `window.dispatchEvent(new Event("afterprint"))`)
	if n := len(rows(t, ctx)); n != 100 {
		t.Errorf("after printing, the changes table holds %d rows, want its page of 100", n)
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	shown := eval[map[string]bool](t, ctx, `Object.fromEntries(Array.from(document.querySelectorAll("nav.tabs, .controls, .pager button, section.panel, section.panel h2.print-only")).map((e, i) => [(e.id || e.className || e.tagName) + "#" + i, e.getClientRects().length > 0]))`)
	panels := 0
	for name, visible := range shown {
		switch {
		case strings.HasPrefix(name, "panel-"), strings.HasPrefix(name, "print-only"):
			if !visible {
				t.Errorf("printed, %s is hidden", name)
			}
			if strings.HasPrefix(name, "panel-") {
				panels++
			}
		case visible:
			t.Errorf("printed, the control %s shows", name)
		}
	}
	if panels != len(tabDefs) {
		t.Errorf("%d panels checked, want %d", panels, len(tabDefs))
	}
}

// TestScreenshots writes the README's pictures of the page (make screenshots): the summary, and the changes
// filtered to the updates of one field.
func TestScreenshots(t *testing.T) {
	if *screenshots == "" {
		t.Skip("-screenshots DIR not given")
	}
	p := samplePlan(1250)
	p.Guards[1] = plan.Guard{Name: "max_change_ratio", Limit: 0.5, Value: 0.61, Verdict: plan.Overridden,
		Message: "61% of records change, limit 50% (let through by --allow-mass-change)"}
	p.Changes[0].Fields[0].After = "Deck shoe Navy 38"
	ctx := open(t, Page{Plan: p}, 1280, 1000)
	shot := func(name string, a chromedp.Action[[]byte]) {
		b, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*screenshots, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shot("plan-summary.png", chromedp.CaptureScreenshot())
	choose(t, ctx, "changes-action", "1")
	choose(t, ctx, "changes-field", strconv.Itoa(fieldIndexOf(t, ctx, "price")))
	choose(t, ctx, "changes-size", "50")
	waitMatches(t, ctx, "changes", p.Summary.Update)
	click(t, ctx, `#changes-table th:nth-child(4)`)
	wait(t, ctx, `#changes-table th[aria-sort]`)
	eval[float64](t, ctx, `window.scrollTo(0, document.querySelector("nav.tabs").offsetTop - 12), window.scrollY`)
	waitJS(t, ctx, `window.scrollY > 0`)
	shot("plan-changes-filtered.png", chromedp.CaptureScreenshot())
}
