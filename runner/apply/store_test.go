package apply

import (
	"context"
	"testing"

	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/state"
)

// openStore opens, for t, an engine and the local state of pipeline "p" in a scratch folder (both closed
// when t ends), and returns them with the state's meta as opened.
func openStore(t *testing.T) (*engine.DB, *state.DuckStore, state.Meta) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := engine.Open(ctx, engine.Options{TempDir: dir + "/tmp"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := state.NewDuckStore(dir, "p")
	meta, err := store.Open(ctx, db.Conn(), false)
	if err != nil {
		t.Fatal(err)
	}
	return db, store, meta
}
