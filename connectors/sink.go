package connectors

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Sink applies planned changes to a target system (an eCom store, a POS, a file).
type Sink interface {
	// Apply applies changes, in order, and returns one outcome per change (len(outcomes) == len(changes)):
	// nil when the sink acknowledged the change (it is durable on the target), or the reason it was not
	// applied (a *ChangeError for a change the target rejected; ErrNotAttempted for one the sink never tried).
	//
	// err is non-nil when the sink cannot go on (network down, auth refused, ctx cancelled); the outcomes
	// still tell which changes were acknowledged before that, so no acknowledged change is lost and none is
	// sent twice. The runner moves state only for acknowledged changes.
	//
	// A sink must tolerate seeing a change again after a crash (same Change.ID): either it recognises the
	// ID, or it implements Reconciler, or its operations are idempotent.
	Apply(ctx context.Context, changes []Change) (outcomes []error, err error)
	// Close releases the sink's resources.
	Close() error
}

// ErrNotAttempted is the outcome of a change a sink did not try because it stopped earlier.
var ErrNotAttempted = errors.New("not attempted")

// ChangeError is a change the target system refused (bad data, a validation error). Retrying the same change
// will fail the same way; the run reports it as a reject and moves on to the other changes.
type ChangeError struct {
	Status int    // protocol status, e.g. the HTTP status code; 0 when none
	Reason string // the target's message, secrets removed
}

func (e *ChangeError) Error() string { return e.Reason }

// Batcher is implemented by sinks that want changes in batches of a given size (the runner's default is 500).
type Batcher interface {
	BatchSize() int
}

// Sequencer is implemented by sinks whose changes depend on each other (a variant needs its product to exist;
// a product should lose its variants first). Before batching, the runner hands it the run's whole change
// list to reorder in place; it must keep every change and should keep the relative order of independent ones.
type Sequencer interface {
	Sequence(changes []Change)
}

// Ranker is implemented by sinks whose order (a Sequencer's) follows from each change's action and whether
// one string field of its record is set. The runner then numbers the changes in that order where it
// computes them (the diff, in DuckDB) and streams them to the sink a batch at a time, instead of holding the
// run's whole change list to hand it to Sequence. A sink that is both keeps the two in agreement: its
// Sequence is Rank().Sort.
type Ranker interface {
	Rank() Rank
}

// Rank is an apply order stated as data. A change's rank is that of the first rule matching its action and
// whether Field is set on it (a non-empty string value in After, or, for a change other than a create, in
// Before); a change no rule matches ranks Default. Changes are applied by rank, lowest first; changes of
// equal rank keep the runner's order (creates, updates, deactivations, deletions, each by key).
type Rank struct {
	// Field names the string field the rules test ("" tests nothing: every change is unset).
	Field   string
	Rules   []RankRule
	Default int
}

// RankRule ranks the changes of one action with Field set (Set) or not.
type RankRule struct {
	Action Action
	Set    bool
	Rank   int
}

// Of is c's rank.
func (r Rank) Of(c *Change) int {
	set := r.IsSet(c)
	for _, rule := range r.Rules {
		if rule.Action == c.Action && rule.Set == set {
			return rule.Rank
		}
	}
	return r.Default
}

// IsSet says whether c has Field set: a non-empty string in After (unless c is a delete) or in Before
// (unless c is a create).
func (r Rank) IsSet(c *Change) bool {
	if r.Field == "" {
		return false
	}
	has := func(rec map[string]any) bool {
		s, ok := rec[r.Field].(string)
		return ok && s != ""
	}
	return (c.Action != Delete && has(c.After)) || (c.Action != Create && has(c.Before))
}

// Sort orders changes by rank, keeping the relative order of changes of equal rank.
func (r Rank) Sort(changes []Change) {
	ranks := make([]int, len(changes))
	idx := make([]int, len(changes))
	for i := range changes {
		ranks[i], idx[i] = r.Of(&changes[i]), i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return ranks[a] - ranks[b] })
	sorted := make([]Change, len(changes))
	for i, j := range idx {
		sorted[i] = changes[j]
	}
	copy(changes, sorted)
}

// EncodedApplier is implemented by sinks that write each change as its entry (Change.AppendEntry, written
// by record.JSON{UTC: true}), such as a change log. The runner encodes every change in that form for its
// intent before sending it, and hands the sink the same bytes, so that a change is encoded once: entries[i]
// is changes[i]'s entry; changes and entries are valid only during the call (a streamed apply reuses their
// memory for the batches after). changes[i] may hold only the change's ID and
// action, its Key nil (a streamed apply reads its batches as entries, without building the records or the
// key in Go): the entry holds the rest. Outcomes and error are as Apply's; the runner calls ApplyEncoded instead of Apply.
type EncodedApplier interface {
	ApplyEncoded(ctx context.Context, changes []Change, entries [][]byte) ([]error, error)
}

// Reconciler is implemented by sinks that can tell, after a crash, which changes of an interrupted batch
// reached the target. The runner calls it on the next run, before planning, with the changes it had sent
// without hearing back; those that landed are committed to state instead of being planned again.
type Reconciler interface {
	Reconcile(ctx context.Context, changes []Change) (landed []bool, err error)
}

// EntryReconciler is implemented by EncodedAppliers that keep, where they can read it back after a crash,
// the entry of every change they applied (the file sink's change log). The runner's intent of a change sent
// to such a sink then holds the change's ID only (an empty Intent.Change): on the next run the sink says
// which of those IDs landed and gives back their entries, from which the runner commits them. That spares
// every batch a second durable copy of its entries (in the state) that is dropped a moment later.
// LandedEntries returns entries[i], the entry (Change.AppendEntry, maybe with members added) of the change
// with ID ids[i] that landed, or nil when none did.
type EntryReconciler interface {
	LandedEntries(ctx context.Context, ids []string) (entries [][]byte, err error)
}

// Lister is implemented by sinks that can read the target's current records (for `possync plan --refresh`,
// which diffs against the live target and shows drift: edits made directly on the target). Records carry the
// key and the desired-schema fields the target reports, with the same names and types; a field the target
// cannot report is left out of the batches' schema (never sent as null), so it is not taken for drift. Every
// batch has the same schema. Records the pipeline never delivered (target-only products) are ignored.
//
// A target may know a field for some records and not others (a variant that only shows its product's name):
// such a listing adds a string column named by Unreported holding, per record, the comma-separated names of
// the fields it cannot report for that record. The runner keeps the last-applied value of those fields, so
// they are neither drift nor put back.
type Lister interface {
	List(ctx context.Context, req ReadRequest) (Reader, error)
}

// Unreported is the optional listing column naming, per record, the fields the target cannot report.
const Unreported = "__unreported"

// Exporter is implemented by sinks whose target is a file holding the whole applied record set. After the
// changes of a run are committed, the runner writes the full set there itself (DuckDB's COPY), atomically.
type Exporter interface {
	Export() Export
}

// Export describes a whole-set output file.
type Export struct {
	// Path of the file; written to a temporary name first and renamed.
	Path string
	// Format is one of "csv", "tsv", "jsonl", "parquet".
	Format string
}

// Estimator is implemented by sinks that can tell what applying a plan will cost (API calls and the time
// their rate limit implies). The plan shows it before anything is applied.
type Estimator interface {
	Estimate(counts map[Action]int) Estimate
}

// Estimate is the cost of applying a plan.
type Estimate struct {
	Calls    int           `json:"calls"`
	Duration time.Duration `json:"-"`
	// Note explains the estimate, e.g. "~1,240 calls, ~2.1 min at 600/min".
	Note string `json:"note"`
}

// Canceller is implemented by sinks for which a record turning inactive is irreversible on the target: an
// order cancelled on a website (the customer refunded and emailed). CancelField names the boolean field of
// the records that turns false on such a change. The runner then requires the pipeline's diff.active_field
// to be that field, so that the change is always planned as a deactivate, which guards.max_delete_percent
// counts like any destructive change; without it the change would be an update no guard sees. Such a sink
// refuses a change that turns the field false as a create or an update.
type Canceller interface {
	CancelField() string
}

// ConnectionTester is implemented by connectors that can test connectivity and credentials without reading
// or writing data (`possync check`).
type ConnectionTester interface {
	Check(ctx context.Context) error
}
