package runner

import (
	"fmt"

	"github.com/possync/possync/runner/plan"
)

// overrideNotes returns the report notes (kept in the run journal) of the guards that --allow-mass-change
// let through in now, the plan being applied, saying when the saved plan (nil without one) was made without
// the override: overriding a guard at apply time is the point of reviewing a saved plan.
func overrideNotes(saved, now *plan.Plan) []string {
	before := map[string]string{}
	if saved != nil {
		for _, g := range saved.Guards {
			before[g.Name] = g.Verdict
		}
	}
	var notes []string
	for _, g := range now.Guards {
		if g.Verdict != plan.Overridden {
			continue
		}
		n := fmt.Sprintf("guard %s overridden with --allow-mass-change: %s", g.Name, g.Message)
		if before[g.Name] == plan.Blocked {
			n += " (the saved plan was blocked by it; the override was given at apply time)"
		}
		notes = append(notes, n)
	}
	return notes
}
