package planhtml

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/spec"
)

// injection is a value that would end the data's script element if it were not escaped.
const injection = `</script><script>window.pwned=1</script><!--`

// samplePlan returns a plan of n changes (creates, updates, deactivations and deletes in a fixed mix) with
// rejects, notes of every kind the page sorts into tabs (and kinds it lists together as other notes), drift, a guard and an estimate; its summary and
// hash are consistent, so plan.Read accepts it once written.
func samplePlan(n int) *plan.Plan {
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	p := &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Pipeline:      plan.Pipeline{Name: "harbor-inventory", Merchant: "Harbor Outfitters", File: "pipelines/harbor.yaml", ConfigHash: "sha256:c0ffee"},
		CreatedAt:     at, EvaluatedAt: at,
		Key:    []string{"sku"},
		Inputs: []plan.Input{{Name: "pos", Type: "retailpos", Mode: "full", Records: int64(n) + 840, Fingerprint: "sha256:1"}},
		State:  plan.State{Lineage: "l-1", Serial: 41, Records: int64(n) + 800},
		Guards: []plan.Guard{
			{Name: "max_delete_ratio", Limit: 0.1, Value: 0.02, Verdict: plan.Pass, Message: "2% of records deleted, limit 10%"},
			{Name: "max_change_ratio", Limit: 0.5, Value: 0.31, Verdict: plan.Pass, Message: "31% of records change, limit 50%"},
		},
		Estimate: &connectors.Estimate{Calls: n/50 + 3, Note: fmt.Sprintf("~%d calls, ~%d s at 600/min", n/50+3, (n/50+3)/10+1)},
		Rejects: []connectors.Reject{
			{Where: "Downtown_20261127_070000_inv.txt:12", Key: map[string]any{"sku": "HB-BAD-1"}, Reason: "price \"12,9O\" is not a number"},
			{Where: "Downtown_20261127_070000_inv.txt:31", Reason: "a line of 3 fields, want 9"},
		},
		Notes: []plan.Note{
			{Kind: spec.NotePendingMapping, Subject: "sku=HB-0101", Message: "pending mapping: GTIN 00012345678905 matches several website products: W-1, W-2; decide in the mappings file"},
			{Kind: spec.NotePendingMapping, Subject: "sku=HB-0102", Message: "pending mapping: MPN \"TR-22\" matches website products W-7 but the item has no brand; decide in the mappings file"},
			{Kind: spec.NoteHeldOrder, Subject: "order_id=#1042", Message: "Unknown Pickup Location: the order's pickup location \"Pier 9\" is no outlet of the POS"},
			{Kind: spec.NoteReservation, Subject: "sku=HB-0007", Message: "2 reserved by open website orders the POS has not imported: #1040, #1041; quantity 9 -> 7"},
			{Kind: spec.NoteReservation, Subject: "order_id=#1043", Message: "line 2 (code \"X-1\"): no stock item matches by code, gtin; nothing is reserved for its 1 unit(s)"},
			{Kind: spec.NoteInput, Subject: "source pos", Message: "skipped Downtown_20261126_070000_inv.txt (already applied)"},
			{Kind: spec.NoteOrderStatus, Subject: "order_id=#1039", Message: "1 of 2 lines are ready for pickup in the POS: the website is told Ready for Pickup once every line is"},
			{Kind: spec.NoteHeldRemoval, Message: "3 deletion(s) or deactivation(s) of records missing from this run were held, not planned: Downtown_20261127_070000_inv.txt ends inside a row. Fix the input, and the next run plans them if they are still missing; or, if the input is right (a new header, a smaller catalog), apply with --allow-mass-change to plan them and take it as the baseline"},
		},
		Drift: []plan.Drift{
			{Key: map[string]any{"sku": "HB-0300"}, Fields: []plan.FieldChange{{Name: "price", Before: "19.99", After: "17.99"}}},
			{Key: map[string]any{"sku": "HB-0301"}, Missing: true},
		},
	}
	colors := []string{"Navy", "Sand", "Olive", "Charcoal", "Rust"}
	for i := range n {
		sku := fmt.Sprintf("HB-%05d", i+1)
		c := plan.Change{ID: fmt.Sprintf("c%06d", i+1), Key: map[string]any{"sku": sku}}
		switch {
		case i%10 < 3:
			c.Action = connectors.Create
			c.Fields = []plan.FieldChange{
				{Name: "title", After: fmt.Sprintf("Deck shoe %s %d", colors[i%len(colors)], 38+i%8)},
				{Name: "price", After: fmt.Sprintf("%d.%02d", 40+i%60, i%100)},
				{Name: "quantity", After: int64(i % 13)},
			}
		case i%10 < 8:
			c.Action = connectors.Update
			c.Fields = []plan.FieldChange{{Name: "price", Before: fmt.Sprintf("%d.99", 30+i%50), After: fmt.Sprintf("%d.49", 30+i%50)}}
			if i%3 == 0 {
				c.Fields = append(c.Fields, plan.FieldChange{Name: "quantity", Before: int64(i % 17), After: int64(i%17 + 2)})
			}
			if i%7 == 0 {
				c.Fields = append(c.Fields, plan.FieldChange{Name: "title", Before: "Deck shoe " + colors[i%5], After: "Deck shoe " + colors[i%5] + " (2026)"})
				c.Annotations = map[string]any{"promotion_won": "P-7 (Black Friday)"}
			}
		case i%10 == 8:
			c.Action = connectors.Deactivate
			c.Fields = []plan.FieldChange{{Name: "status", Before: "active", After: "archived"}}
		default:
			c.Action = connectors.Delete
		}
		p.Summary.Add(c.Action)
		p.Changes = append(p.Changes, c)
	}
	if n > 0 {
		p.Changes[0].Fields[0].After = "Deck shoe " + injection
	}
	p.Summary.Unchanged = 800
	if n <= 10_000 { // the large plan's page is never read back by plan.Read: spare the tests its IDs and hash
		for i := range p.Changes {
			p.Changes[i].ID = plan.ChangeID(p.State, p.Key, &p.Changes[i]) // as the planner sets them (plan.Read checks)
		}
		p.Hash = p.ComputeHash()
	}
	return p
}

// large is the plan of 100,000 changes and its page, made once for the tests that need them.
var large = sync.OnceValues(func() (*plan.Plan, []byte) {
	p := samplePlan(100_000)
	var b bytes.Buffer
	if err := Render(&b, Page{Plan: p}); err != nil {
		panic(err)
	}
	return p, b.Bytes()
})
