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

// TestSyntaxErrorLines: a YAML syntax error points at the line it is on. yaml.v3 gives its parser's errors
// one line early (a flow collection left open, a key where the block expects none, an unknown tag handle),
// and a tab that breaks the indentation at the line where the value before it began; its scanner's other
// errors are on their line already.
func TestSyntaxErrorLines(t *testing.T) {
	const top = "version: 1\nname: x\n" // lines 1-2
	tests := []struct {
		name, data string
		line, col  int
		msg        string
	}{
		{"tab after a plain value", top + "\tmerchant: y\n", 3, 1, "found a tab character that violates indentation"},
		{"tab after a value on two lines", top + "merchant: a\n  b\n\tkey: sku\n", 5, 1, "tab character"},
		{"tab in a block scalar", top + "merchant: |\n\tfoo\n", 4, 1, "found a tab character where an indentation space is expected"},
		{"flow sequence left open", top + "merchant: [y\n", 3, 1, "did not find expected ',' or ']'"},
		{"flow sequence left open at the end", top + "merchant: [y", 3, 1, "did not find expected ',' or ']'"},
		{"flow sequence left open before more keys", top + "key: [a, b\nsink: {}\n", 3, 1, "did not find expected ',' or ']'"},
		{"flow mapping left open", top + "merchant: {a: 1\nkey: sku\n", 3, 1, "did not find expected ',' or '}'"},
		{"flow sequence on the first line", "[a\n", 1, 1, "did not find expected ',' or ']'"},
		{"list item in a mapping", top + "- a\n", 3, 1, "did not find expected key"},
		{"key indented less than its block", top + "source:\n  type: file\n path: a\n", 5, 1, "did not find expected key"},
		{"undefined tag handle", top + "merchant: !foo!x y\n", 3, 1, "found undefined tag handle"},
		// Scanner errors, already on their line.
		{"key indented under a value", top + "merchant: y\n  key: sku\n", 4, 1, "mapping values are not allowed in this context"},
		{"two colons", top + "merchant: y: z\n", 3, 1, "mapping values are not allowed in this context"},
		{"no colon", top + "merchant y\nkey: sku\n", 3, 1, "could not find expected ':'"},
		{"reserved character", top + "merchant: @y\n", 3, 1, "found character that cannot start any token"},
		{"unknown escape", top + "merchant: \"a\\qb\"\n", 3, 1, "found unknown escape character"},
	}
	for _, tt := range tests {
		_, diags := Parse("p.yaml", []byte(tt.data), Options{Catalog: newTestCatalog(t)})
		if len(diags) != 1 || diags[0].Code != spec.CodeYAMLSyntax {
			t.Errorf("%s: %v, want one YAML syntax error", tt.name, diags)
			continue
		}
		if d := diags[0]; d.Line != tt.line || d.Col != tt.col || !strings.Contains(d.Message, tt.msg) {
			t.Errorf("%s: %s, want line %d, column %d: %s", tt.name, d, tt.line, tt.col, tt.msg)
		}
	}
}
