// Package stage reads one source into a DuckDB table named after it: Arrow batches through DuckDB's Arrow
// scan, or files read by DuckDB's own readers (connectors.Scanner); an incremental read (connectors.Changes)
// is overlaid on the source's stored records. It also fingerprints what was read, for the plan's inputs.
//
// It owns: the source's table, its delta table and the reject tables of a file scan. It may not touch: the
// state store (the caller passes the checkpoint in the request and names the stored records), other
// sources' tables, transforms or the diff.
package stage

import (
	"context"
	"fmt"
	"regexp"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
)

// Input is a source to stage.
type Input struct {
	// Name is the source's name (the table it is read into) and Type its type (for errors and the plan).
	Name, Type string
	Source     connectors.Source
	// Request is the read request (the checkpoint already set, or not for a full refresh).
	Request connectors.ReadRequest
	// Stored is the relation of the source's stored records (an incremental source), or "".
	Stored string
	// Expect, when set, is the fingerprint the caller last saw for this input and ExpectRecords its record
	// count: a Scanner then has its files hashed before they are parsed, and when the hash equals Expect
	// nothing is loaded or reviewed (Output.Unchanged; the caller vouches that a review of the same files
	// under this request's checkpoint finds what it found then).
	Expect        string
	ExpectRecords int64
	// Defer, for a Scanner of CSV or TSV files, makes the relation named after the source a view over
	// DuckDB's reader of its files instead of a table (Output.Deferred), for a caller whose one reader of it
	// is a single query (a row transform's pushdown): the files are then parsed once, into that query's
	// output, instead of into a table that query copies. A connectors.ScanReviewer reviews the read in
	// Deferred.Finish, with the record count the caller gives.
	Defer bool
	// Redact, when set, masks the pipeline's secrets in the text of the read's result (the rejects' places
	// and reasons, holds and notes), which a source may have taken from a server's answer and which plans
	// and reports show. Reject keys are left as they are: they identify the records to protect.
	Redact func(string) string
}

// Deferred is a source read as a view (Input.Defer). Exactly one of Finish or Load must be called before the
// output is used: until then Output.Input.Records is unknown (-1), Output.Input.Fingerprint may be empty (the
// files are hashed while the query over the view parses them) and the files' malformed rows unreported.
type Deferred struct {
	db     *engine.DB
	in     Input
	scan   *connectors.Scan
	target string
	out    *Output
	// hash is the files' fingerprint being computed (nil once it is in out.Input.Fingerprint).
	hash <-chan fileHash
}

// fingerprint waits for the files' hash and sets the output's fingerprint (the same as a load's).
func (d *Deferred) fingerprint() error {
	if d.hash == nil {
		return nil
	}
	h := <-d.hash
	d.hash = nil
	if h.err != nil {
		return fmt.Errorf("%s source %q: fingerprint: %w", d.in.Type, d.in.Name, h.err)
	}
	d.out.Input.Fingerprint = h.sum
	return nil
}

// Finish reports the read after a query over the view succeeded, with records the rows the view gave it:
// the malformed rows the query's scan of the files found (the read's error, as loading would have
// reported it), then the record count.
func (d *Deferred) Finish(ctx context.Context, records int64) error {
	if err := csvRejects(ctx, d.db, "__rejects_"+d.in.Name); err != nil {
		return fmt.Errorf("%s source %q: %w", d.in.Type, d.in.Name, err)
	}
	if err := reviewRows(ctx, d.in, d.scan, d.out, records); err != nil {
		return fmt.Errorf("%s source %q: %w", d.in.Type, d.in.Name, err)
	}
	if err := d.fingerprint(); err != nil {
		return err
	}
	d.out.Input.Records = records
	return d.db.Exec(ctx, "DROP VIEW "+d.target)
}

// Load replaces the view by the table Run would have loaded, with the errors it would have reported: for a
// reader that cannot read the view in one query, or after a query over it failed (which may be the files'
// fault).
func (d *Deferred) Load(ctx context.Context) error {
	if err := d.db.Exec(ctx, "DROP VIEW IF EXISTS "+d.target); err != nil {
		return err
	}
	if err := dropRejects(ctx, d.db, d.in.Name); err != nil {
		return err
	}
	if err := loadScan(ctx, d.db, d.in, d.target, d.scan, d.out); err != nil {
		return err
	}
	if err := d.fingerprint(); err != nil {
		return err
	}
	n, err := d.db.Count(ctx, "SELECT count(*) FROM "+d.target)
	if err != nil {
		return err
	}
	d.out.Input.Records = n
	return nil
}

// Scanned prepares the view for the query that reads it: the rejects tables are emptied, so that they hold
// only what that query's scan finds.
func (d *Deferred) Scanned(ctx context.Context) error { return dropRejects(ctx, d.db, d.in.Name) }

// dropRejects drops a CSV scan's rejects tables (DuckDB's reader adds to them, scan after scan).
func dropRejects(ctx context.Context, db *engine.DB, name string) error {
	for _, t := range []string{"__rejects_" + name, "__rejects_" + name + "_scan"} {
		if err := db.Exec(ctx, "DROP TABLE IF EXISTS "+engine.Ident(t)); err != nil {
			return err
		}
	}
	return nil
}

// Output is what staging a source produced.
type Output struct {
	// Input describes the read for the plan (records, mode, fingerprint).
	Input  plan.Input
	Result connectors.ReadResult
	// Delta is the table of this read's records when the source read Changes (merged into the table named
	// after the source); empty otherwise.
	Delta string
	// Unchanged is true when the input's fingerprint equals Input.Expect and nothing was loaded: no table
	// named after the source exists, and Input.Records is Input.ExpectRecords.
	Unchanged bool
	// Deferred is set when the relation named after the source is a view (Input.Defer).
	Deferred *Deferred
}

// redactResult masks secrets in the text of a read's result (Input.Redact).
func redactResult(in Input, r *connectors.ReadResult) {
	if in.Redact == nil {
		return
	}
	for i := range r.Rejects {
		r.Rejects[i].Where, r.Rejects[i].Reason = in.Redact(r.Rejects[i].Where), in.Redact(r.Rejects[i].Reason)
	}
	for i := range r.Holds {
		r.Holds[i] = in.Redact(r.Holds[i])
	}
	for i := range r.Notes {
		r.Notes[i] = in.Redact(r.Notes[i])
	}
}

// missingColumn recognises DuckDB's error for a declared column the file does not have.
var missingColumn = regexp.MustCompile(`(?:Referenced column "([^"]+)" not found|Columns with names: "([^"]+)" do not exist)`)

// maxListed caps how many bad rows an error message lists.
const maxListed = 20

// loadScan loads a scan's files into target and reviews them: Run's read of a Scanner's files, and
// Deferred.Load's, which must fail alike.
func loadScan(ctx context.Context, db *engine.DB, in Input, target string, scan *connectors.Scan, st *Output) error {
	if err := scanFiles(ctx, db, in.Name, target, in.Source, scan); err != nil {
		return fmt.Errorf("%s source %q: %w", in.Type, in.Name, err)
	}
	if err := reviewScan(ctx, db, in, scan, st); err != nil {
		return fmt.Errorf("%s source %q: %w", in.Type, in.Name, err)
	}
	return nil
}

// Run reads a source into the table named after it.
func Run(ctx context.Context, db *engine.DB, in Input) (*Output, error) {
	name := in.Name
	st := &Output{Input: plan.Input{Name: name, Type: in.Type}}
	target := engine.Ident(name)
	var filesFP <-chan fileHash
	if sc, ok := in.Source.(connectors.Scanner); ok {
		scan, err := sc.Scan(ctx, in.Request)
		if err != nil {
			return nil, fmt.Errorf("%s source %q: %w", in.Type, name, err)
		}
		if in.Expect != "" {
			// The hash first, alone: an unchanged file is then never parsed (a no-change rerun).
			h := <-hashFiles(scan.Paths)
			if h.err != nil {
				return nil, fmt.Errorf("%s source %q: fingerprint: %w", in.Type, name, h.err)
			}
			if h.sum == in.Expect {
				st.Input.Mode, st.Input.Fingerprint, st.Input.Records, st.Unchanged = connectors.Snapshot.String(), h.sum, in.ExpectRecords, true
				return st, nil
			}
			done := make(chan fileHash, 1)
			done <- h
			filesFP = done
		} else {
			filesFP = hashFiles(scan.Paths) // beside DuckDB's parse of the same (cached) bytes
		}
		if in.Defer && deferrable(scan) {
			if st.Deferred = deferScan(ctx, db, in, scan, st); st.Deferred != nil {
				// The hash goes on beside the query that parses the files through the view (not a pass of
				// its own before it): Finish or Load sets the fingerprint.
				st.Deferred.hash = filesFP
				st.Input.Mode, st.Input.Records = st.Result.Mode.String(), -1
				if in.Expect != "" { // hashed already: known now
					if err := st.Deferred.fingerprint(); err != nil {
						return nil, err
					}
				}
				return st, nil
			}
		}
		if err := loadScan(ctx, db, in, target, scan, st); err != nil {
			return nil, err
		}
	} else {
		res, err := readBatches(ctx, db, name, in.Source, in.Request)
		if err != nil {
			return nil, fmt.Errorf("%s source %q: %w", in.Type, name, err)
		}
		st.Result = res
		redactResult(in, &st.Result)
	}
	if st.Result.Mode == connectors.Changes {
		if err := mergeChanges(ctx, db, name, in.Stored, st); err != nil {
			return nil, fmt.Errorf("%s source %q: %w", in.Type, name, err)
		}
	}
	st.Input.Mode = st.Result.Mode.String()
	if filesFP != nil {
		h := <-filesFP
		if h.err != nil {
			return nil, fmt.Errorf("%s source %q: fingerprint: %w", in.Type, name, h.err)
		}
		n, err := db.Count(ctx, "SELECT count(*) FROM "+target)
		if err != nil {
			return nil, err
		}
		st.Input.Fingerprint, st.Input.Records = h.sum, n
		return st, nil
	}
	fp, n, err := Fingerprint(ctx, db, target)
	if err != nil {
		return nil, fmt.Errorf("%s source %q: fingerprint: %w", in.Type, name, err)
	}
	st.Input.Fingerprint, st.Input.Records = fp, n
	return st, nil
}
