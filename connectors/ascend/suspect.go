package ascend

import (
	"fmt"
	"slices"
	"strings"
)

// Suspect full uploads (issue 16): a file that reads without error but is probably not the whole catalog.
// The source reports them as connectors.ReadResult.Holds; the runner then plans no deletion or deactivation
// of an item missing from the run. A file cut inside a row is found by parseInventory.

// suspectFull compares a location's new full upload with the full upload the last applied run read for
// it (prev, from the checkpoint) and returns why the new one is suspect: far fewer rows, or another header.
// Without facts of the last one, nothing is suspect. The facts are those of the last read that was not
// suspect (see withFacts), so a suspect file read again is suspect again.
func suspectFull(prev []appliedUpload, inv *inventory, minRowsPercent float64) []string {
	if len(prev) == 0 || prev[0].Rows == 0 {
		return nil
	}
	last := prev[0]
	var holds []string
	if minRowsPercent > 0 && float64(inv.rows)*100 < minRowsPercent*float64(last.Rows) {
		holds = append(holds, fmt.Sprintf("%s has %d row(s), %.0f%% of the %d of the last applied full upload %s (min_rows_percent %g): "+
			"it may be cut short", inv.upload.Name, inv.rows,
			float64(inv.rows)*100/float64(last.Rows), last.Rows, last.Name, minRowsPercent))
	}
	if len(last.Header) > 0 && !slices.Equal(last.Header, inv.header) {
		holds = append(holds, fmt.Sprintf("%s has another header than the last applied full upload %s (%s): "+
			"check the POS export settings", inv.upload.Name, last.Name,
			headerChange(last.Header, inv.header)))
	}
	return holds
}

// headerChange says how a header changed: the columns removed and added, or that their order changed.
func headerChange(before, after []string) string {
	var removed, added []string
	for _, c := range before {
		if !slices.Contains(after, c) {
			removed = append(removed, c)
		}
	}
	for _, c := range after {
		if !slices.Contains(before, c) {
			added = append(added, c)
		}
	}
	var parts []string
	if len(removed) > 0 {
		parts = append(parts, "without "+strings.Join(removed, ", "))
	}
	if len(added) > 0 {
		parts = append(parts, "with "+strings.Join(added, ", "))
	}
	if len(parts) == 0 {
		return "the same columns in another order"
	}
	return strings.Join(parts, "; ")
}

// withFacts records, in a checkpoint, the rows and header of each location's full upload that was read; for
// a suspect one (in suspect) it keeps the facts of the last applied one instead (prev), unless keep is
// false (the user allowed the mass change).
func withFacts(b []byte, fulls map[string]*inventory, prev *checkpoint, suspect map[string]bool, keep bool) []byte {
	cp, err := decodeCheckpoint(b)
	if err != nil {
		return b // written by checkpointOf just before: cannot happen
	}
	for loc, inv := range fulls {
		list := cp.Locations[loc]
		if len(list) == 0 || list[0].Name != inv.upload.Name {
			continue
		}
		list[0].Rows, list[0].Header = inv.rows, inv.header
		if last := prev.Locations[loc]; suspect[loc] && keep && len(last) > 0 {
			list[0].Rows, list[0].Header = last[0].Rows, last[0].Header
		}
	}
	return cp.encode()
}
