package runner

import (
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/state"
)

// StateTransfer is what a run moved between a shared state backend (PostgreSQL) and the planner: the
// snapshot and stored source records copied in on open, the changed rows sent back on commit.
type StateTransfer struct {
	Backend  string `json:"backend"` // "postgres"
	BytesIn  int64  `json:"bytes_in"`
	BytesOut int64  `json:"bytes_out"`
}

// stateConfig is the pipeline's state configuration as the state package takes it.
func stateConfig(p *pipelines.Pipeline) state.Config {
	return state.Config{Backend: p.State.Backend, Schema: p.State.Schema, Dir: p.State.Dir}
}

// newStore is the pipeline's own store (local DuckDB file or PostgreSQL, per state.backend).
func newStore(p *pipelines.Pipeline) state.Store {
	return state.New(stateConfig(p), p.Name)
}

// stateTransfer reports the bytes a shared store moved (nil for the local store).
func stateTransfer(st state.Store) *StateTransfer {
	m, ok := st.(interface{ BytesMoved() (int64, int64) })
	if !ok {
		return nil
	}
	in, out := m.BytesMoved()
	return &StateTransfer{Backend: "postgres", BytesIn: in, BytesOut: out}
}

// closeStore closes a store the session made itself (not one handed in through Options.Store), logging what
// it moved.
func (s *session) closeStore() {
	if s.opts.Store != nil || s.store == nil {
		return
	}
	if t := stateTransfer(s.store); t != nil {
		s.logf("state: %d bytes from %s, %d bytes to it", t.BytesIn, t.Backend, t.BytesOut)
	}
	_ = state.Close(s.store)
}
