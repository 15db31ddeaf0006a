package connectors

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Source reads the records of one pipeline input.
//
// A Source is built from its validated configuration, so its Schema is known before any data moves: validate
// compiles every downstream expression against it. Read is called at most once per run.
type Source interface {
	// Schema returns the schema of every batch Read yields. It must not change between runs unless the
	// configuration changes.
	Schema() *arrow.Schema
	// Read starts reading. The returned Reader is used by one goroutine and closed by the caller.
	Read(ctx context.Context, req ReadRequest) (Reader, error)
}

// ReadRequest is what the runner tells a source about the run.
type ReadRequest struct {
	// Checkpoint is the value the source returned in ReadResult.Checkpoint on the last applied run, or nil on
	// the first run (and on a full refresh).
	Checkpoint []byte
	// Now is the evaluation time of the run (possync plan --at overrides the clock).
	Now time.Time
	// FullRefresh asks an incremental source to read everything, ignoring Checkpoint.
	FullRefresh bool
	// AllowMassChange says the user confirmed a mass change (possync --allow-mass-change): the runner plans
	// the deletions a read's Holds would hold, so a source takes a suspect read as its new baseline. A source
	// may then also read as it is input it refuses as suspect otherwise (a file that may be cut short), saying
	// so in a hold.
	AllowMassChange bool
	// Alloc allocates the batches the source builds.
	Alloc memory.Allocator
}

// Reader yields the batches of one read.
type Reader interface {
	// Next returns the next batch. At the end of input it returns (nil, io.EOF), unwrapped, and keeps doing so.
	// Any other error ends the read; the run fails and plans nothing. The caller owns each returned batch and
	// must Release it; a batch may have zero rows. Next honours ctx cancellation.
	Next(ctx context.Context) (arrow.RecordBatch, error)
	// Result reports what the read saw. It is valid only after Next returned io.EOF.
	Result() ReadResult
	// Close releases the reader's resources. It is safe to call at any point and more than once.
	Close() error
}

// Mode says how a read relates to the last applied run.
type Mode int

const (
	// Snapshot reads are the complete set of records: a key absent from the read no longer exists.
	Snapshot Mode = iota
	// Changes reads carry only the records that changed since ReadRequest.Checkpoint: a key absent from the
	// read keeps its last value. Removal must then be expressed in the data (e.g. a deleted_at column).
	Changes
)

// String names the mode.
func (m Mode) String() string {
	if m == Changes {
		return "changes"
	}
	return "snapshot"
}

// ReadResult is what a finished read reports.
type ReadResult struct {
	// Mode is Snapshot unless the source read incrementally.
	Mode Mode
	// Key names the fields identifying a record of this source. Required with Changes: the runner keeps the
	// source's records in state and merges each read's changes into them by this key.
	Key []string
	// Checkpoint is committed to state, with the run, only once the run's changes were applied; the next
	// run's ReadRequest carries it. nil keeps the previous checkpoint.
	Checkpoint []byte
	// Rejects are input rows the source could not turn into records. A reject with a Key protects the record
	// it would have become: the runner follows the key (with the reject's Fields) through the transforms to
	// the sink's records it leads to, and plans no change to them this run, so a bad row never looks like a
	// deletion and its record keeps its last applied values. A reject without a Key (the key itself was
	// unreadable) holds every deletion and deactivation of a record missing from the run, as Holds does.
	Rejects []Reject
	// Holds are reasons this read may be incomplete although it succeeded (a file that ends mid-row, a full
	// file much smaller than the last applied one, a header that changed). The runner then plans no deletion
	// or deactivation of a record because it is missing, says so in the plan's notes with these reasons, and
	// lets creates and updates through. Each reason should name the input and what is wrong with it (only why it is suspect: the runner says what it does about it, and how to accept the input). A
	// source keeps the baseline a suspect read is compared with (its checkpoint does not advance to it) unless
	// ReadRequest.AllowMassChange, so that the same suspect input is held again on the next run.
	Holds []string
	// Notes are human remarks for the run report (files ignored, partial uploads skipped, ...); the plan
	// lists them as notes of kind spec.NoteInput whose subject is the source.
	Notes []string
}

// Reject is one input row the source could not use.
type Reject struct {
	// Where names the place, e.g. "Downtown_20250115_140000_inv.txt:12" or "products page 3, item 17".
	Where string `json:"where"`
	// Key holds the record key fields when the source could still read them.
	Key map[string]any `json:"key,omitempty"`
	// Reason says what was wrong, in words a merchant's integrator can act on.
	Reason string `json:"reason"`
	// Fields holds other values of the row the source could still read with confidence, by the name of the
	// source's field, typed as in its schema (e.g. a GTIN). The runner gives them, with Key, to the
	// transforms when it follows the rejected record to the sink's records (a match by GTIN); they are never
	// shown.
	Fields map[string]any `json:"-"`
}

// Committer is implemented by sources that act on their input once a run is settled (an FTP source
// archiving the upload files it has applied). The runner calls Committed after the run's changes and the
// source's checkpoint are committed to state, with that checkpoint; an error is reported in the run
// report as a note and does not fail the run (the state is already right; the next run may retry).
type Committer interface {
	Committed(ctx context.Context, checkpoint []byte) error
}

// Scanner is implemented by sources whose data DuckDB reads natively (CSV, TSV, JSON lines, Parquet files).
// The runner then scans the files inside its own queries instead of calling Read, which is much faster for
// large catalogs. Such a source may still implement Read for callers without DuckDB.
type Scanner interface {
	Source
	// Scan describes the files to read. It is called once per run.
	Scan(ctx context.Context, req ReadRequest) (*Scan, error)
}

// Diagnoser is implemented by Scanners that can say better than DuckDB why their files could not be read.
type Diagnoser interface {
	// Diagnose is called after DuckDB failed to read the files of scan. It reads them itself and returns one
	// error naming file:line, what is wrong and what to do, or nil when it finds nothing wrong (the runner
	// then reports DuckDB's error).
	Diagnose(ctx context.Context, scan *Scan) error
}

// ScanReviewer is implemented by Scanners that check what the runner read from their files against the last
// applied run (a file far smaller than the last one, another header).
type ScanReviewer interface {
	// ReviewScan is called once the runner read the files of scan, rows records, for the read req. It returns
	// the read's Holds (see ReadResult) and the checkpoint to commit with the run (req.Checkpoint on the next).
	ReviewScan(ctx context.Context, req ReadRequest, scan *Scan, rows int64) (holds []string, checkpoint []byte, err error)
}

// Scan is a declarative description of files for DuckDB's readers.
type Scan struct {
	// Format is one of "csv", "tsv", "jsonl", "parquet".
	Format string
	// Paths are the files to read, all of the same layout. They must exist.
	Paths []string
	// Header says whether CSV/TSV files start with a header row (matched to Schema by name).
	Header bool
	// Delimiter overrides the CSV delimiter (TSV implies a tab).
	Delimiter string
	// NullString is the CSV text read as NULL ("" by default).
	NullString string
}
