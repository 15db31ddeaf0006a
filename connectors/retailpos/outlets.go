package retailpos

import (
	"fmt"
	"sort"
	"strings"
)

// selectOutlets resolves the configured outlets (IDs or names, case-insensitive) against the retailer's
// outlets: the outlets setting when set, else ecom_outlet, else the only outlet. It returns their IDs,
// sorted, and their names for notes. Errors list the outlets to choose from.
func selectOutlets(wanted []string, ecom string, all []outlet) (ids, names []string, err error) {
	if len(wanted) == 0 && ecom != "" {
		wanted = []string{ecom}
	}
	if len(wanted) == 0 {
		if len(all) == 1 {
			return []string{all[0].ID}, []string{all[0].Name}, nil
		}
		return nil, nil, fmt.Errorf("the retailer has %d outlets: set outlets (or ecom_outlet, the outlet of the "+
			"register linked to eCom) to the ones whose inventory is sold online; outlets: %s", len(all), listOutlets(all))
	}
	seen := map[string]bool{}
	for _, w := range wanted {
		o, err := findOutlet(strings.TrimSpace(w), all)
		if err != nil {
			return nil, nil, err
		}
		if !seen[o.ID] {
			seen[o.ID] = true
			ids = append(ids, o.ID)
		}
	}
	sort.Strings(ids)
	byID := map[string]string{}
	for _, o := range all {
		byID[o.ID] = o.Name
	}
	for _, id := range ids {
		names = append(names, byID[id])
	}
	return ids, names, nil
}

// findOutlet matches an ID exactly, else a name case-insensitively.
func findOutlet(w string, all []outlet) (outlet, error) {
	var byName []outlet
	for _, o := range all {
		if o.ID == w {
			return o, nil
		}
		if strings.EqualFold(strings.TrimSpace(o.Name), w) {
			byName = append(byName, o)
		}
	}
	switch len(byName) {
	case 1:
		return byName[0], nil
	case 0:
		return outlet{}, fmt.Errorf("no outlet %q; outlets: %s", w, listOutlets(all))
	}
	return outlet{}, fmt.Errorf("%d outlets are named %q: name it by ID; outlets: %s", len(byName), w, listOutlets(byName))
}

func listOutlets(all []outlet) string {
	if len(all) == 0 {
		return "(none)"
	}
	parts := make([]string, len(all))
	for i, o := range all {
		parts[i] = fmt.Sprintf("%q (id %s)", o.Name, o.ID)
	}
	return strings.Join(parts, ", ")
}
