package ascend

import (
	"fmt"
	"slices"
)

// selection is what one location's current state is built from: its newest complete base upload (full, or
// promo for promotions) and, oldest first, the complete delta uploads (inv) newer than it.
type selection struct {
	loc    location
	base   upload // Name is "" when the location has no complete base upload yet
	deltas []upload
}

// uploads returns the selection's uploads, base first.
func (s selection) uploads() []upload {
	if s.base.Name == "" {
		return nil
	}
	return append([]upload{s.base}, s.deltas...)
}

// selectUploads picks each read location's uploads: the newest complete upload of baseKind and the newer
// ones of deltaKind ("" for none). It refuses to go back to a base upload older than the one the last applied
// run used (or to none): that file was removed or is being replaced, and reading without it would plan the
// location's records away.
func selectUploads(sv *survey, cfg *config, cp *checkpoint, baseKind, deltaKind string) ([]selection, []string, error) {
	var sels []selection
	var notes, fresh []string
	read := false
	for _, loc := range cfg.readLocations() {
		sel := selection{loc: loc}
		list := sv.complete[loc.ShortName]
		for _, u := range list {
			if u.Kind == baseKind {
				sel.base = u
			}
		}
		for _, p := range sv.partial[loc.ShortName] {
			notes = append(notes, fmt.Sprintf("skipped %s: %s; a later run reads it", p.Name, p.why))
		}
		prev := cp.Locations[loc.ShortName]
		if err := checkNotOlder(loc, baseKind, sel.base, prev); err != nil {
			return nil, nil, err
		}
		if sel.base.Name == "" {
			note := fmt.Sprintf("location %q has no complete %s upload yet: nothing is read for it", loc.ShortName, baseKind)
			if deltaKind != "" {
				note += fmt.Sprintf(" (its %s uploads apply once a %s upload arrives)", deltaKind, baseKind)
			}
			notes = append(notes, note)
			sels = append(sels, sel)
			continue
		}
		if len(prev) > 0 && prev[0].Name == sel.base.Name && !prev[0].same(sel.base) {
			notes = append(notes, fmt.Sprintf("%s changed on the server since it was applied (size or time): read again", sel.base.Name))
		}
		for _, u := range list {
			if deltaKind != "" && u.Kind == deltaKind && before(sel.base, u) {
				sel.deltas = append(sel.deltas, u)
			}
		}
		for _, u := range sel.uploads() {
			if !slices.ContainsFunc(prev, func(a appliedUpload) bool { return a.same(u) }) {
				fresh = append(fresh, u.Name)
			}
		}
		read = true
		sels = append(sels, sel)
	}
	switch {
	case len(fresh) > 0:
		notes = append(notes, "new upload(s): "+nameList(fresh))
	case read:
		notes = append(notes, "no new upload since the last applied run: the same files were read again")
	}
	return sels, notes, nil
}

// checkNotOlder fails when a location would be read from a base upload older than the last applied one.
func checkNotOlder(loc location, kind string, base upload, prev []appliedUpload) error {
	if len(prev) == 0 {
		return nil
	}
	last, ok := parseUploadName(prev[0].Name)
	if !ok || (base.Name != "" && !before(base, last)) {
		return nil
	}
	now := "there is no complete " + kind + " upload"
	if base.Name != "" {
		now = "the newest complete one is " + base.Name
	}
	return fmt.Errorf("location %q: the last applied run used %s, but %s on the server; it was removed or is "+
		"being replaced. Nothing was planned: restore the file, wait for the upload to finish, or run with "+
		"--full-refresh to accept the older data", loc.ShortName, last.Name, now)
}
