package pipelines

import (
	"strings"
	"testing"

	"github.com/possync/possync/spec"
)

// TestUnclosedQuoteHint checks that a YAML syntax error caused by a quote left open points at that quote,
// lines above where the parser gives up.
func TestUnclosedQuoteHint(t *testing.T) {
	tests := []struct {
		name, data string
		hint       string // "" for the general hint
	}{
		{"double quote", "version: 1\nname: \"shop\nmerchant: m\nkey: sku\n", "the quote at line 2, column 7 is not closed on its line"},
		{"single quote in a list", "version: 1\nkey: ['sku, name]\nname: x\nmerchant: m\n", "the quote at line 2, column 7 is not closed"},
		{"closed quotes and apostrophes", "version: 1\nname: \"a \\\" b\" # it's\nmerchant: o'brien\nkey: [a\n", ""},
	}
	for _, tt := range tests {
		_, diags := Parse("p.yaml", []byte(tt.data), Options{Catalog: newTestCatalog(t)})
		if len(diags) == 0 || diags[0].Code != spec.CodeYAMLSyntax {
			t.Errorf("%s: %v, want a YAML syntax error", tt.name, diags)
			continue
		}
		h := diags[0].Hint
		if tt.hint == "" && h != "check the indentation and quoting near this line" || tt.hint != "" && !strings.Contains(h, tt.hint) {
			t.Errorf("%s: hint %q, want %q", tt.name, h, tt.hint)
		}
	}
}
