package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

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

// StateCheck is what `possync check` found about the pipeline's state backend.
type StateCheck struct {
	// Backend is "local" or "postgres".
	Backend string
	// Detail says what was found (paths, the server with its password masked, schema version, lock holder).
	Detail string
	// Err is set when a run could not use the state as found.
	Err error
	// Diagnosis is PostgreSQL's, nil for the local backend or when the server could not be reached.
	Diagnosis *state.Diagnosis
}

// CheckState checks the pipeline's state backend without taking its lock or changing anything: for the local
// backend, that the state folder is (or can be made) writable; for PostgreSQL, that the server answers (the
// password from the URL or the environment, never printed), that the schema's version is one this possync
// uses (or migrates), that the role may use it, and who holds the pipeline's lock, if anyone.
func CheckState(ctx context.Context, p *pipelines.Pipeline) StateCheck {
	cfg := stateConfig(p)
	if cfg.IsLocal() {
		r := StateCheck{Backend: "local", Detail: "state folder " + cfg.Dir}
		r.Err = checkWritableDir(cfg.Dir)
		return r
	}
	r := StateCheck{Backend: "postgres"}
	st := state.NewPgStore(cfg.Backend, cfg.Schema, cfg.Dir, p.Name)
	defer st.Close()
	d, err := st.Diagnose(ctx)
	if err != nil {
		r.Detail, r.Err = state.RedactURL(cfg.Backend), err
		return r
	}
	r.Diagnosis, r.Detail = d, d.String()
	if !d.OK() {
		r.Err = errors.New(d.String())
	}
	return r
}

// checkWritableDir reports whether dir, or the nearest folder above it that exists (where the first run
// would create it), is a folder this process may write in.
func checkWritableDir(dir string) error {
	d := filepath.Clean(dir)
	for {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a folder", d)
			}
			const wOK, xOK = 2, 1 // access(2)'s W_OK and X_OK
			if err := syscall.Access(d, wOK|xOK); err != nil {
				return fmt.Errorf("state folder %s: not writable: %w", d, err)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("state folder %s: %w", d, err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return fmt.Errorf("state folder %s: %w", dir, err)
		}
		d = parent
	}
}
