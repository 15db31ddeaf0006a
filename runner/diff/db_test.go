package diff

import (
	"context"
	"testing"

	"github.com/possync/possync/runner/engine"
)

// openTestDB opens a DuckDB engine with opts for one test (its spill folder the test's own), closed when the
// test ends, and returns it with exec, which runs a statement and fails the test, naming it, on an error.
func openTestDB(t testing.TB, opts engine.Options) (*engine.DB, func(q string)) {
	t.Helper()
	ctx := context.Background()
	opts.TempDir = t.TempDir()
	db, err := engine.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	exec := func(q string) {
		t.Helper()
		if err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return db, exec
}
