package state

import (
	"context"
	"database/sql"
	"errors"
)

// PgStore keeps a pipeline's state in PostgreSQL (15+), shared by every worker of an installation: one schema
// per installation (default "possync"), tables keyed by pipeline name. See docs/state.md.
//
// The planner still diffs in DuckDB: Open copies the snapshot and the stored source records from PostgreSQL
// into an in-memory database attached to the planner's connection as `st` (COPY … TO STDOUT in CSV, streamed
// through a spill file into DuckDB's CSV reader; never row-by-row), so relations are named as with DuckStore.
// Commit sends only the changed rows back (COPY into a temporary table, then one DELETE and one INSERT), in
// one PostgreSQL transaction that also checks the fencing token (see Lock) and settles intents, journal and
// checkpoints.
//
// Lock takes a session-level advisory lock on a connection of its own, held for the run, and records the
// holder (host, pid, run id, start) with a fencing token incremented at every take. Every write checks, in
// its transaction, that the token is still this run's and that the lock session is alive; otherwise it
// returns *LockLostError and records nothing.
type PgStore struct {
	url, schema, dir, pipeline string
}

// NewPgStore returns the store of pipeline in the PostgreSQL database at url (password from the URL or
// $PGPASSWORD), in schema ("" means "possync"); dir is where bulk copies spill. It connects on Open or Lock.
func NewPgStore(url, schema, dir, pipeline string) *PgStore {
	if schema == "" {
		schema = "possync"
	}
	return &PgStore{url: url, schema: schema, dir: dir, pipeline: pipeline}
}

var errTODO = errors.New("postgres state: not implemented yet")

func (s *PgStore) Open(ctx context.Context, conn *sql.Conn, readOnly bool) (Meta, error) {
	return Meta{}, errTODO
}
func (s *PgStore) Snapshot() string                    { return "" }
func (s *PgStore) SourceSnapshot(source string) string { return "" }
func (s *PgStore) Checkpoint(ctx context.Context, conn *sql.Conn, source string) ([]byte, error) {
	return nil, errTODO
}
func (s *PgStore) Intents(ctx context.Context, conn *sql.Conn) ([]Intent, error) { return nil, errTODO }
func (s *PgStore) AddIntents(ctx context.Context, conn *sql.Conn, relation string) error {
	return errTODO
}
func (s *PgStore) BeginRun(ctx context.Context, conn *sql.Conn, r Run) error  { return errTODO }
func (s *PgStore) FinishRun(ctx context.Context, conn *sql.Conn, r Run) error { return errTODO }
func (s *PgStore) Commit(ctx context.Context, conn *sql.Conn, c *Commit) (Meta, error) {
	return Meta{}, errTODO
}
func (s *PgStore) MarkExported(ctx context.Context, conn *sql.Conn, serial int64, stamp string) error {
	return errTODO
}
func (s *PgStore) Lock(h Holder) (func() error, error) { return nil, errTODO }
