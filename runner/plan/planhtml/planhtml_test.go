package planhtml

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/spec"
)

func render(t *testing.T, pg Page) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, pg); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// pageData decodes the JSON the page embeds.
func pageData(t *testing.T, page string) data {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="plan-data">(.*?)</script>`).FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		t.Fatalf("want the data embedded once, found %d script elements", len(m))
	}
	var d data
	if err := json.Unmarshal([]byte(m[0][1]), &d); err != nil {
		t.Fatalf("embedded data: %v", err)
	}
	return d
}

func TestSelfContained(t *testing.T) {
	page := render(t, Page{Plan: samplePlan(40)})
	// Nothing is loaded from elsewhere: no external scripts, styles, images or fonts.
	for _, re := range []string{`<script[^>]+src=`, `<link`, `<img`, `@import`, `url\(`, `https?://`} {
		if regexp.MustCompile(re).MatchString(page) {
			t.Errorf("the page refers to an external asset (%s)", re)
		}
	}
	if !strings.Contains(page, "default-src 'none'") {
		t.Error("the page has no Content-Security-Policy that forbids network access")
	}
	if !strings.Contains(page, "@media print") {
		t.Error("the page has no print style")
	}
}

// TestScriptInjection: a value that would close the data's script element is escaped, and still reads back
// as itself.
func TestScriptInjection(t *testing.T) {
	p := samplePlan(10)
	p.Notes = append(p.Notes, plan.Note{Kind: spec.NoteOther, Subject: "sku=X", Message: injection})
	page := render(t, Page{Plan: p})
	if strings.Contains(page, "window.pwned") && strings.Contains(page, "<script>window.pwned") {
		t.Fatal("a field value ends the script element")
	}
	if n := strings.Count(strings.ToLower(page), "</script"); n != 2 {
		t.Fatalf("want 2 closing script tags (data, code), have %d", n)
	}
	d := pageData(t, page)
	if got := d.Changes[0][2].([]any)[0].([]any)[2]; got != "Deck shoe "+injection {
		t.Fatalf("the value reads back as %q", got)
	}
}

func TestDataMatchesPlan(t *testing.T) {
	p := samplePlan(200)
	d := pageData(t, render(t, Page{Plan: p}))
	if len(d.Changes) != len(p.Changes) {
		t.Fatalf("%d changes embedded, the plan has %d", len(d.Changes), len(p.Changes))
	}
	for i, c := range p.Changes {
		row := d.Changes[i]
		if d.Actions[int(row[0].(float64))] != string(c.Action) || row[1] != "sku="+c.Key["sku"].(string) {
			t.Fatalf("change %d embedded as %v, want %s %v", i, row[:2], c.Action, c.Key)
		}
		fs := row[2].([]any)
		if len(fs) != len(c.Fields) {
			t.Fatalf("change %d: %d fields embedded, want %d", i, len(fs), len(c.Fields))
		}
		for j, f := range c.Fields {
			e := fs[j].([]any)
			if d.Fields[int(e[0].(float64))] != f.Name || e[2] != display(f.After) || e[1] != display(f.Before) {
				t.Fatalf("change %d field %s embedded as %v", i, f.Name, e)
			}
		}
	}
	want := map[string]int{"rejects": 2, "pending": 2, "unmatched": 1, "reservations": 2, "drift": 2, "upcoming": 0, "notes": 3}
	for k, n := range want {
		if d.Counts[k] != n {
			t.Errorf("tab %s: %d rows, want %d", k, d.Counts[k], n)
		}
	}
}

// TestLargePlanSize: 100,000 changes make a page of a sane size: the data is embedded once, compactly.
func TestLargePlanSize(t *testing.T) {
	_, page := large()
	const perChange = 100 // bytes: the sample's changes average about 60 in the page, 160 in the plan document
	t.Logf("page %d bytes for 100,000 changes", len(page))
	if len(page) > 100_000*perChange+256<<10 {
		t.Errorf("the page is %d bytes for 100,000 changes, more than %d a change", len(page), perChange)
	}
	if n := bytes.Count(page, []byte(`"sku=HB-54321"`)); n != 1 {
		t.Errorf("a change's key appears %d times in the page, want once", n)
	}
}

func TestOutcomeStatuses(t *testing.T) {
	p := samplePlan(20)
	failed := p.Changes[4]
	o := &Outcome{Command: "apply", Planned: p.Summary, Applied: p.Summary, ExitReason: "changes_rejected", ExitCode: 1,
		Failed: []Failed{{ID: failed.ID, Action: failed.Action, Key: failed.Key, Reason: "422: price must be positive"}}}
	o.Applied.Update--
	d := pageData(t, render(t, Page{Plan: p, Outcome: o}))
	for i, row := range d.Changes {
		want := statusApplied
		if i == 4 {
			want = statusFailed
		}
		if row[4] != want {
			t.Fatalf("change %d: status %v, want %s", i, row[4], want)
		}
	}
	if d.Changes[4][5] != "422: price must be positive" {
		t.Fatalf("the failed change's reason is %v", d.Changes[4][5])
	}
	// A run that stopped part way cannot say which changes were applied.
	o = &Outcome{Command: "run", Planned: p.Summary, Applied: plan.Summary{Create: 2}, ExitReason: "failed", ExitCode: 1, Error: "store unreachable"}
	page := render(t, Page{Plan: p, Outcome: o})
	if d := pageData(t, page); d.Changes[0][4] != statusUnknown {
		t.Fatalf("a stopped run's change has status %v, want %q", d.Changes[0][4], statusUnknown)
	}
	if !strings.Contains(page, "store unreachable") {
		t.Fatal("the outcome's error is not shown")
	}
	// Without a plan (run, apply without --plan) the changes are the failed ones.
	o = &Outcome{Command: "run", Planned: p.Summary, Applied: p.Summary, ExitReason: "changes_rejected", ExitCode: 1,
		Failed:       []Failed{{ID: "x", Action: connectors.Update, Key: map[string]any{"sku": "HB-1"}, Reason: "no"}},
		InputRejects: []connectors.Reject{{Where: "f:1", Reason: "bad"}}, StartedAt: time.Now(), FinishedAt: time.Now()}
	d = pageData(t, render(t, Page{Outcome: o, Key: []string{"sku"}}))
	if len(d.Changes) != 1 || d.Changes[0][1] != "sku=HB-1" || d.Counts["rejects"] != 1 {
		t.Fatalf("report-only page: changes %v, rejects %d", d.Changes, d.Counts["rejects"])
	}
}

// TestStreamedRun: a run whose planner streamed its changes hands over a plan without them; the page lists
// the refused changes and says why the others are not listed.
func TestStreamedRun(t *testing.T) {
	p := samplePlan(50)
	refused := p.Changes[7]
	p.Changes = []plan.Change{}
	o := &Outcome{Command: "run", Planned: p.Summary, Applied: p.Summary, ExitReason: "changes_rejected", ExitCode: 1,
		Failed: []Failed{{ID: refused.ID, Action: refused.Action, Key: refused.Key, Reason: "409 conflict"}}}
	o.Applied.Update--
	page := render(t, Page{Plan: p, Outcome: o})
	d := pageData(t, page)
	if len(d.Changes) != 1 || d.Changes[0][1] != "sku=HB-00008" || d.Changes[0][4] != statusFailed {
		t.Fatalf("streamed run's changes: %v", d.Changes)
	}
	if !strings.Contains(page, `id="changes-note"`) || !strings.Contains(page, "lists only the changes the store refused") {
		t.Fatal("the page does not say why only the refused changes are listed")
	}
	if !strings.Contains(page, `id="sum-update" data-count="25"`) {
		t.Fatal("the summary is not the plan's")
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "plan.html")
	if err := Write(path, Page{Plan: samplePlan(3)}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) {
		t.Fatalf("read back: %v, %.40q", err, b)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatal("the temporary file is left behind")
	}
	if err := Write(path, Page{}); err == nil {
		t.Fatal("an empty page was written")
	}
}

// TestNotesByKind: the tabs take each note by its kind, whatever its wording: a source's note about an
// order is no held-back order, an order-status note is no held-back order either, a held removal is listed
// with its kind among the other notes. A note of an old plan (no kind) and the run report's notes are other
// notes too.
func TestNotesByKind(t *testing.T) {
	p := samplePlan(3)
	p.Notes = []plan.Note{
		{Kind: spec.NoteInput, Subject: "source orders", Message: "order 1042: no bill-to email; pending mapping: decide in the mappings file"},
		{Kind: spec.NoteOrderStatus, Subject: "order_id=1040", Message: "the POS sale is open again after the website was told Completed"},
		{Kind: spec.NoteHeldOrder, Subject: "order_id=1041", Message: "Unknown Customer: no POS customer has the email"},
		{Kind: spec.NoteHeldRemoval, Message: "2 deletion(s) or deactivation(s) of records missing from this run were held, not planned: x"},
		{Kind: spec.NoteReservation, Subject: "order_id=1043", Message: "its lines are not a JSON array: nothing is reserved for it"},
		{Message: "sku=A-1: pending mapping: an old plan's note"},
	}
	o := &Outcome{Command: "apply", Planned: p.Summary, Applied: p.Summary, Notes: []string{"settled 1 change of run r-1"}}
	d := pageData(t, render(t, Page{Plan: p, Outcome: o}))
	rows := func(tab string) []string {
		var out []string
		for _, r := range d.Lists[tab].Rows {
			parts := make([]string, len(r))
			for i, v := range r {
				parts[i] = v.(string)
			}
			out = append(out, strings.Join(parts, " | "))
		}
		return out
	}
	want := map[string][]string{
		"pending":      nil,
		"unmatched":    {"order_id=1041 | Unknown Customer: no POS customer has the email"},
		"reservations": {"order_id=1043 | its lines are not a JSON array: nothing is reserved for it"},
		"notes": {
			"input | source orders | order 1042: no bill-to email; pending mapping: decide in the mappings file",
			"order status | order_id=1040 | the POS sale is open again after the website was told Completed",
			"held removal |  | 2 deletion(s) or deactivation(s) of records missing from this run were held, not planned: x",
			"other |  | sku=A-1: pending mapping: an old plan's note",
			"run |  | settled 1 change of run r-1",
		},
	}
	for tab, w := range want {
		if got := rows(tab); strings.Join(got, "\n") != strings.Join(w, "\n") {
			t.Errorf("tab %s:\n%s\nwant:\n%s", tab, strings.Join(got, "\n"), strings.Join(w, "\n"))
		}
		if d.Counts[tab] != len(w) {
			t.Errorf("tab %s counts %d, want %d", tab, d.Counts[tab], len(w))
		}
	}
	if cols := d.Lists["notes"].Cols; strings.Join(cols, ",") != "Kind,Subject,Note" {
		t.Errorf("notes tab columns %v", cols)
	}
}
