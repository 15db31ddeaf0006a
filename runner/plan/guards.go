package plan

// hashGuards returns the guards as the plan's hash covers them: what was measured (name, limit, value), not
// the verdict and its message, which also depend on --allow-mass-change. A plan saved without the flag and
// applied with it (or the reverse) is the same plan; whether a guard lets it through is decided at apply
// time, where the override is recorded.
func hashGuards(gs []Guard) []Guard {
	if gs == nil {
		return nil
	}
	out := make([]Guard, len(gs))
	for i, g := range gs {
		out[i] = Guard{Name: g.Name, Limit: g.Limit, Value: g.Value}
	}
	return out
}
