package spec

import "strings"

// EditDistance is the Levenshtein distance between a and b, in runes: what did-you-mean hints rank by.
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// Closest returns the candidate most similar to s, ignoring case, when one is similar enough: at most 2 edits
// away (and fewer edits than s has characters), or, for s of 3 characters or more, a prefix of s or the other
// way round. Ties go to the candidate first in sort order.
func Closest(s string, candidates []string) (string, bool) {
	low := strings.ToLower(s)
	best, bestDist := "", 3
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := EditDistance(low, lc)
		if d > 2 && len(low) >= 3 && (strings.HasPrefix(lc, low) || strings.HasPrefix(low, lc)) {
			d = 2
		}
		if d >= len(low) {
			continue
		}
		if d < bestDist || (d == bestDist && best != "" && c < best) {
			best, bestDist = c, d
		}
	}
	return best, best != ""
}
