// Package state keeps what a pipeline remembers between runs: the last-applied snapshot of its desired
// records (what the sink acknowledged), stored snapshots of incremental sources, connector checkpoints, a
// journal of runs, and the intents of an apply in progress (so a killed run converges without sending a
// change twice). It also provides the run lock.
//
// The planner diffs inside DuckDB, so a Store makes the snapshot visible as a relation of the planner's
// DuckDB connection. DuckStore keeps everything in one DuckDB file per pipeline (the `local` backend);
// PgStore keeps it in PostgreSQL, shared by a fleet of workers, copying the snapshot into the planner's
// database in bulk on Open and sending only changed rows back on Commit, with an advisory lock and a fencing
// token (docs/state.md). New picks one from the pipeline's `state` block.
//
// It owns: the state's tables (the `st` database, the PostgreSQL schema of the installation, the local
// mirror file of a PgStore) and the lock (file or advisory lock). It may not touch: the planner's own
// tables except the relations a Commit names, connectors, or the plan. It works on the *sql.Conn the engine
// hands it (runner/engine.DB.Conn) and never opens DuckDB itself; PostgreSQL it reaches through pgx only.
package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// FormatVersion is the version of the local state file's layout. A store written by a newer possync is
// refused; an older one is migrated at its next writable open. 2: packed intents (the intents table's ids
// and n columns).
const FormatVersion = 2

// Meta describes the state as of Open or the last Commit.
type Meta struct {
	// Lineage identifies this state store (random, fixed at creation): a plan made against one store is stale
	// against any other.
	Lineage string `json:"lineage"`
	// Serial counts commits; it moves with every commit of acknowledged changes.
	Serial int64 `json:"serial"`
	// Records is the number of records in the snapshot.
	Records int64 `json:"records"`
	// Exported is the serial whose snapshot the sink's export (if any) last received.
	Exported int64 `json:"exported"`
	// ExportStamp is what the runner recorded about the file of that export (see MarkExported).
	ExportStamp string `json:"export_stamp,omitempty"`
	// Columns of the snapshot, in order; empty before the first commit.
	Columns []Column `json:"columns,omitempty"`
	// Basis is what the runner last recorded with SetBasis ("" if nothing): opaque to the store.
	Basis string `json:"basis,omitempty"`
	// Merchant is the merchant the state belongs to: the pipeline's (Config.Merchant) that created it, or,
	// for a state written before possync recorded it, that of the pipeline whose commit first found none
	// there ("" until then). A store refuses to open a state of another merchant (*MerchantError).
	Merchant string `json:"merchant,omitempty"`
}

// Column is a snapshot column and its DuckDB type.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Intent is a change about to be sent to the sink. It is recorded before the send and resolved by the commit
// that follows; an intent left by a killed run is reconciled on the next run. It was recorded as a row of
// its own (AddIntents) or with others of its part in a packed row (AddIntentIDs); Intents reads both alike.
type Intent struct {
	ID    string
	RunID string
	// Change is the JSON of the change (connectors.Change), with typed values restored by the runner.
	Change []byte
}

// Commit is one atomic step of an apply: the acknowledged changes, their journal entry, and what else the
// run settles. Relation names refer to tables of the planner's database.
type Commit struct {
	RunID string
	// Changes is a relation holding, for every acknowledged change, the key columns, `__op` (create, update,
	// deactivate, delete) and the after-values of every snapshot column (ignored for delete).
	Changes string
	// Key names the key columns.
	Key []string
	// Columns is the desired schema: the snapshot is migrated to it (columns added, dropped, retyped).
	Columns []Column
	// NewKeys says that no create of Changes has its key in the snapshot: the creates were planned against
	// the snapshot itself (not a refreshed base), which since then only commits of the same plan moved, each
	// of other keys. The store then inserts the creates without first removing their keys (a first sync's
	// commits then never join the growing snapshot). Without it every key of Changes is looked up.
	NewKeys bool
	// Creates says that every change of Changes is a create. With NewKeys the store then removes nothing
	// before it inserts them: not even a statement that finds nothing to remove (a first sync's commits).
	Creates bool
	// Resolved lists intent IDs settled by this commit (acknowledged or refused by the sink).
	Resolved []string
	// ResolvesAll says Resolved are all the intents the store holds (the applier's batch when every earlier
	// one settled in full, or recovery): the store then clears its intents rather than look each one up. A
	// store that finds another number of intents than len(Resolved) looks them up all the same.
	ResolvesAll bool
	// Acked and Rejected count changes for the journal.
	Acked, Rejected int
	// Checkpoints to store, by source name.
	Checkpoints map[string][]byte
	// Sources to merge into stored source snapshots (incremental sources), by source name.
	Sources map[string]SourceDelta
}

// SourceDelta is a relation of changed source records and the source's key.
type SourceDelta struct {
	Relation string
	Key      []string
}

// Run is the journal entry of one run.
type Run struct {
	ID         string
	StartedAt  time.Time
	FinishedAt time.Time
	Status     string // applying, done, failed
	PlanHash   string
	Report     []byte // the run report JSON, when finished
}

// Store is a pipeline's state.
type Store interface {
	// Open makes the state visible on conn (creating an empty store on first use) and returns its Meta. With
	// readOnly the store is not created or changed; a missing store then reads as empty.
	Open(ctx context.Context, conn *sql.Conn, readOnly bool) (Meta, error)
	// Snapshot is the relation holding the last-applied snapshot, or "" before the first commit.
	Snapshot() string
	// SourceSnapshot is the relation holding the stored records of an incremental source, or "".
	SourceSnapshot(source string) string
	// Checkpoint returns a source's last committed checkpoint (nil if none).
	Checkpoint(ctx context.Context, conn *sql.Conn, source string) ([]byte, error)
	// Intents returns the unresolved intents of earlier runs: one per change, whether recorded a row each
	// (AddIntents) or packed (AddIntentIDs), in the order recorded, except that a packed row a commit settled
	// in part is recorded again with its IDs left, after the intents recorded before that commit.
	Intents(ctx context.Context, conn *sql.Conn) ([]Intent, error)
	// AddIntents records intents durably, before their changes are sent. relation is a table of the planner's
	// database with columns id, run_id and change (VARCHAR), one row per Intent.
	AddIntents(ctx context.Context, conn *sql.Conn, relation string) error
	// AddIntentIDs records intents of run runID that hold only their change's ID (an empty Intent.Change, for
	// a sink that keeps the entries: connectors.EntryReconciler) durably, before their changes are sent: the
	// IDs packed in one row, not a row each (intents.go). Intents returns them one Intent each; Commit
	// settles them by ID as any other.
	AddIntentIDs(ctx context.Context, conn *sql.Conn, runID string, ids []string) error
	// BeginRun and FinishRun journal a run. FinishRun records r.PlanHash when it is set (a streamed apply
	// knows its plan's hash only once it has read every change), else keeps BeginRun's.
	BeginRun(ctx context.Context, conn *sql.Conn, r Run) error
	FinishRun(ctx context.Context, conn *sql.Conn, r Run) error
	// Commit applies c atomically and returns the new Meta.
	Commit(ctx context.Context, conn *sql.Conn, c *Commit) (Meta, error)
	// SetMerchant makes merchant the one the state belongs to (Meta.Merchant), replacing the merchant it
	// records, which it returns ("" for a state written before merchants were recorded): `possync state
	// set-merchant`, for a merchant renamed on purpose. The caller holds the lock and has not opened the
	// store (SetMerchant opens it as it needs, without the merchant check); a pipeline without state is
	// ErrNoState. It changes nothing else: not the serial, the snapshot or the journal.
	SetMerchant(ctx context.Context, conn *sql.Conn, merchant string) (old string, err error)
	// MarkExported records that the sink's export received the snapshot of serial, with stamp: the runner's
	// description of the file written (so that a later run can tell whether the file is still that export).
	MarkExported(ctx context.Context, conn *sql.Conn, serial int64, stamp string) error
	// SetBasis replaces the runner's note of what its last successful plan saw (inputs' fingerprints, the
	// pipeline's hash, the serial it left): Meta.Basis from the next Open. The store keeps it as given, next
	// to the serial; it neither moves the serial nor touches the snapshot (the runner checks the serial it
	// wrote inside the basis before trusting it).
	SetBasis(ctx context.Context, conn *sql.Conn, basis string) error
	// Lock takes the pipeline's run lock; the returned function releases it.
	Lock(h Holder) (unlock func() error, err error)
	// Journal reads the run journal (Runs).
	Journal
}

// RunEntry is one run of the journal with what its commits settled: read by `possync state`.
type RunEntry struct {
	Run
	// Commits counts the run's state commits; Serial is the serial after its last one (0 without any).
	Commits int   `json:"commits"`
	Serial  int64 `json:"serial"`
	// Acked and Rejected sum the changes its commits acknowledged and the sink refused.
	Acked    int64 `json:"acked"`
	Rejected int64 `json:"rejected"`
}

// Journal reads a store's run journal. It is a separate interface so that readers (the `possync state`
// command) need only this, and a Store implements it next to the rest.
//
// Runs is a query of its own in each store rather than RunLog and CommitLog summed in Go: the journals are
// never pruned (a run and its commits are kept for good) and Runs is read with a small limit (one run per
// pipeline for `possync state`), so it must not read every run's report (from PostgreSQL, over the network).
type Journal interface {
	// Runs returns the journal's runs, newest first, at most limit of them (limit <= 0: all). Call it after
	// Open (read-only is enough); before the first run it returns none.
	Runs(ctx context.Context, conn *sql.Conn, limit int) ([]RunEntry, error)
	// LastSuccess is when the last run journaled as done finished (UTC), zero when none did. Like Runs it
	// needs Open first, except on a store that reads its own database (PgStore, where conn may be nil).
	LastSuccess(ctx context.Context, conn *sql.Conn) (time.Time, error)
}

// Config selects and configures a pipeline's store (pipelines.State, as the runner hands it over).
type Config struct {
	// Backend is "local" (or empty): a DuckStore under Dir; or a PostgreSQL URL (postgres://…): a PgStore.
	Backend string
	// Schema is the PostgreSQL schema of the installation's tables ("" means "possync").
	Schema string
	// Dir is the local state folder; a PgStore spills its bulk copies there.
	Dir string
	// Merchant is the pipeline's merchant. The store records it in a state it creates, and in a state that
	// records none at its next commit (Meta.Merchant), and refuses to open a state that records another
	// (*MerchantError). "" checks and records nothing (the store of a reader that knows no pipeline).
	Merchant string
}

// IsLocal reports whether the config selects the local DuckDB store.
func (c Config) IsLocal() bool { return c.Backend == "" || c.Backend == "local" }

// New returns the store of pipeline that c selects. It connects to nothing: a PgStore connects on Open or
// Lock, and reports a bad URL there. A store New returns may hold connections: close it with Close.
func New(c Config, pipeline string) Store {
	if c.IsLocal() {
		s := NewDuckStore(c.Dir, pipeline)
		s.merchant = c.Merchant
		return s
	}
	s := NewPgStore(c.Backend, c.Schema, c.Dir, pipeline)
	s.merchant = c.Merchant
	return s
}

// ErrNoState says that a pipeline has no state yet (SetMerchant).
var ErrNoState = errors.New("no state yet")

// MerchantError refuses a state that records another merchant than the pipeline that opens it. The state is
// found by the pipeline's name (in its state folder, or its PostgreSQL schema), so a copy of a pipeline file
// for another merchant whose `name:` was kept would otherwise share the first merchant's state: its plans
// diffed against the other merchant's records (nothing to create for records the other sink received).
type MerchantError struct {
	// State names the state: its file, or the PostgreSQL server (never its password), schema and pipeline.
	State string
	// Pipeline is the pipeline's name; Held the merchant the state records; Merchant the pipeline's.
	Pipeline, Held, Merchant string
	// Separate is the setting that gives a pipeline a state of its own besides its name: "state.dir" (local)
	// or "state.schema" (PostgreSQL).
	Separate string
	// File is the pipeline file, for the command the message gives ("" when the caller does not know it).
	File string
}

func (e *MerchantError) Error() string {
	file := e.File
	if file == "" {
		file = "PIPELINE_FILE"
	}
	return fmt.Sprintf("state %s belongs to merchant %q, but pipeline %s names merchant %q: refusing to use another merchant's state "+
		"(nothing was read or sent). If this pipeline file is a copy for merchant %q, give it a name of its own (name:) or its own %s; "+
		"if merchant %q was renamed to %q on purpose (the same sink, the same records), record that once with `possync state set-merchant %s`",
		e.State, e.Held, e.Pipeline, e.Merchant, e.Merchant, e.Separate, e.Held, e.Merchant, file)
}

// checkMerchant refuses (MerchantError) a state that records held when the pipeline's merchant is another
// one; a state that records none, or a store that knows no merchant (want ""), passes.
func checkMerchant(state, pipeline, held, want, separate string) error {
	if held == "" || want == "" || held == want {
		return nil
	}
	return &MerchantError{State: state, Pipeline: pipeline, Held: held, Merchant: want, Separate: separate}
}

// Close releases what a store holds (a PgStore's connections; a DuckStore holds nothing). The run lock is
// released by the function Lock returned, not by Close.
func Close(s Store) error {
	if c, ok := s.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// JournalEntry is one commit of the journal.
type JournalEntry struct {
	RunID       string    `json:"run_id"`
	CommittedAt time.Time `json:"committed_at"`
	Serial      int64     `json:"serial"`
	Acked       int64     `json:"acked"`
	Rejected    int64     `json:"rejected"`
}

// Checkpoint is a source's stored checkpoint and the serial of the commit that stored it.
type Checkpoint struct {
	Value  []byte
	Serial int64
}

// Transfer is everything a store holds, for moving a pipeline's state between backends (`possync state
// migrate`). Relation names refer to tables of the planner's database.
type Transfer struct {
	Meta Meta
	// Snapshot is a relation holding the snapshot ("" before the first commit); Key is the pipeline's key
	// (a PostgreSQL target indexes the snapshot on it).
	Snapshot string
	Key      []string
	// Sources holds the stored records of incremental sources: source name → relation.
	Sources     map[string]string
	Checkpoints map[string]Checkpoint
	Runs        []Run
	Journal     []JournalEntry
	Intents     []Intent
}

// Transferable is a store that can be copied whole into another (both DuckStore and PgStore are).
type Transferable interface {
	Store
	// Dump copies the state (opened with Open, read-only is enough) into tables of the planner's database
	// named with prefix, and returns it. It detaches the store's own relations afterwards, so that another
	// store can be opened on conn.
	Dump(ctx context.Context, conn *sql.Conn, prefix string) (*Transfer, error)
	// Load writes t into the store (opened with Open, not read-only), which must be empty (serial 0, no run
	// journaled): lineage, serial, export mark, merchant (when t records one), snapshot, source snapshots,
	// checkpoints, runs, journal and intents are kept as they are. The caller holds the store's lock.
	Load(ctx context.Context, conn *sql.Conn, t *Transfer) error
}

// Journaled is a store that can list its whole run and commit journals, as stored (for `possync state
// migrate`, which copies them, and LastSuccess). Journal.Runs is the reader's view (newest first, with each
// run's commits summed).
type Journaled interface {
	// RunLog lists the journaled runs, oldest first.
	RunLog(ctx context.Context, conn *sql.Conn) ([]Run, error)
	// CommitLog lists the commits, oldest first.
	CommitLog(ctx context.Context, conn *sql.Conn) ([]JournalEntry, error)
}
