package spec

import "testing"

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"transforms", "transfroms", 2}, {"sku", "sku", 0}, {"", "abc", 3}, {"größe", "grösse", 2}, {"kitten", "sitting", 3},
	} {
		if got := EditDistance(c.a, c.b); got != c.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestQuoting(t *testing.T) {
	if got := QuoteIdent(`we"ird`); got != `"we""ird"` {
		t.Errorf("QuoteIdent = %s", got)
	}
	if got := QuoteString(`it's`); got != `'it''s'` {
		t.Errorf("QuoteString = %s", got)
	}
	// A key named like an alias prefix stays intact (an earlier string replacement of "x." corrupted it).
	if got := KeysEqual([]string{"store", `tax.id`}, "x", "b"); got != `x."store" = b."store" AND x."tax.id" = b."tax.id"` {
		t.Errorf("KeysEqual = %s", got)
	}
}
