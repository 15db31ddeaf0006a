package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/state"
)

// MerchantChange is what `possync state set-merchant` changed.
type MerchantChange struct {
	Pipeline string `json:"pipeline"`
	// State names the state: its file, or the PostgreSQL server (never its password), schema and pipeline.
	State string `json:"state"`
	// From is the merchant the state recorded ("" for a state written before merchants were recorded); To
	// the pipeline's, which it records now.
	From string `json:"from"`
	To   string `json:"to"`
}

// SetStateMerchant records the pipeline's merchant in its state, replacing the one the state records: for a
// merchant renamed on purpose (the same sink and records, the pipeline's name kept), whose runs are refused
// until then (state.MerchantError). It holds the pipeline's lock meanwhile (a held one returns
// *state.LockedError, exit 75) and changes nothing else (serial, lineage, snapshot and journal stay). A
// pipeline without state is an error wrapping state.ErrNoState.
func SetStateMerchant(ctx context.Context, p *pipelines.Pipeline) (*MerchantChange, error) {
	cfg := stateConfig(p)
	cfg.Merchant = "" // the store must open a state of another merchant: that is what this replaces
	store := state.New(cfg, p.Name)
	defer state.Close(store)
	ch := &MerchantChange{Pipeline: p.Name, State: stateName(store), To: p.Merchant}
	unlock, err := store.Lock(state.Holder{PID: pid(), Host: host(), RunID: "set-merchant-" + state.NewRunID(time.Now()), StartedAt: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	defer unlock()
	d, err := openEngine(ctx, p.State)
	if err != nil {
		return nil, err
	}
	defer d.Close() // before the unlock: the next run must find the state closed
	if ch.From, err = store.SetMerchant(ctx, d.Conn(), p.Merchant); err != nil {
		if errors.Is(err, state.ErrNoState) {
			return nil, fmt.Errorf("pipeline %s has no state in %s: nothing to change (its first apply records merchant %q)", p.Name, ch.State, p.Merchant)
		}
		return nil, fmt.Errorf("record merchant %q in %s: %w", p.Merchant, ch.State, err)
	}
	return ch, nil
}

// stateName names a store's state in messages: its file (local), or the PostgreSQL server (never its
// password), the schema and the pipeline.
func stateName(st state.Store) string {
	if s, ok := st.(fmt.Stringer); ok {
		return s.String() // DuckStore's file, PgStore's server, schema and pipeline
	}
	return "the pipeline's state"
}
