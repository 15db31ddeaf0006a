package connectors

import (
	"testing"

	"github.com/possync/possync/record"
)

// A change's rank follows its action and whether the field holds a non-empty string on the side of the
// change that has a record: the after-values unless a delete, the before-values unless a create.
func TestRankOf(t *testing.T) {
	r := Rank{Field: "parent", Default: 9, Rules: []RankRule{
		{Action: Create, Set: false, Rank: 0}, {Action: Create, Set: true, Rank: 1},
		{Action: Update, Set: true, Rank: 2}, {Action: Delete, Set: true, Rank: 3}}}
	set, unset := record.Record{"parent": "P"}, record.Record{"parent": ""}
	tests := []struct {
		name string
		c    Change
		want int
	}{
		{"create, set", Change{Action: Create, After: set}, 1},
		{"create, empty", Change{Action: Create, After: unset}, 0},
		{"create, not a string", Change{Action: Create, After: record.Record{"parent": int64(4)}}, 0},
		{"create, before ignored", Change{Action: Create, After: unset, Before: set}, 0},
		{"update, set before only", Change{Action: Update, After: unset, Before: set}, 2},
		{"update, set after only", Change{Action: Update, After: set, Before: record.Record{}}, 2},
		{"update, unset: default", Change{Action: Update, After: unset, Before: unset}, 9},
		{"delete, set", Change{Action: Delete, Before: set}, 3},
		{"delete, after ignored", Change{Action: Delete, After: set}, 9},
		{"deactivate: default", Change{Action: Deactivate, After: set, Before: set}, 9},
	}
	for _, tt := range tests {
		if got := r.Of(&tt.c); got != tt.want {
			t.Errorf("%s: rank %d, want %d", tt.name, got, tt.want)
		}
	}
	if got := (Rank{Default: 5, Rules: []RankRule{{Action: Create, Set: true, Rank: 0}}}).Of(&Change{Action: Create, After: set}); got != 5 {
		t.Errorf("no field: rank %d, want the default 5", got)
	}
}
