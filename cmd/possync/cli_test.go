package main

import "testing"

// TestSummary: a command's summary in lists (subcommands, shell completions) is its about's first sentence,
// whole, with the line breaks of a long about joined.
func TestSummary(t *testing.T) {
	for _, tc := range []struct{ about, want string }{
		{"Print the JSON Schema of pipeline files.", "Print the JSON Schema of pipeline files."},
		{"Test every connector (for PostgreSQL: the\nconnection, the lock's holder). More text.",
			"Test every connector (for PostgreSQL: the connection, the lock's holder)."},
		{"Show what would change (a dry run).\nExit codes: 0 no changes.", "Show what would change (a dry run)."},
		{"Print a script.\n  bash: source <(possync completion bash)", "Print a script."},
		{"Sends ver=2.00 and reads docs/state.md.\nMore.", "Sends ver=2.00 and reads docs/state.md."},
		{"No full stop at all", "No full stop at all"},
		{"", ""},
	} {
		if got := summary(tc.about); got != tc.want {
			t.Errorf("summary(%q) = %q, want %q", tc.about, got, tc.want)
		}
	}
}
