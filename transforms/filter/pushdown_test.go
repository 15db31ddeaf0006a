package filter

import (
	"testing"

	"github.com/possync/possync/spec"
)

func TestPushdownSQL(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"active", `SELECT * FROM "in" WHERE coalesce("active", error('possync: filter: the expression is NULL, want a bool'))`},
		{`note == "x"`, `SELECT * FROM "in" WHERE ("note" IS NOT DISTINCT FROM 'x')`},
		{"rank > 1", ""},         // an int32 column is not one a pipeline stages
		{`note matches "x"`, ""}, // outside the subset
	}
	for _, tt := range tests {
		f, err := newFilter(t, spec.Expr{Text: tt.expr}, input(t))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := f.PushdownSQL(`"in"`)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("%s: PushdownSQL = %v %s, want %s", tt.expr, ok, got, tt.want)
		}
	}
}
