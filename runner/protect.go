package runner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/spec"
)

// Protection of records whose input was bad (issue 16: a bad upload never deletes a product).
//
// A source reports the rows it could not use (connectors.ReadResult.Rejects) and the reasons its read may be
// incomplete (ReadResult.Holds). The runner then:
//
//   - follows each rejected row with a key to the sink's records it leads to, and plans no change to those
//     records: their last applied values stay. Following runs the transforms a second time, before the real
//     run, over stand-in rows (the reject's key and the fields the source could still read, every other field
//     null) in place of the rejecting source's records, with every other source as read. The keys of that
//     run's desired records that the real run does not have are the protected ones: the records that exist
//     only because of the rejected rows. This follows the record through transforms that re-key it (a POS
//     SKU matched to a website product, a SQL join) without any transform knowing about it.
//   - holds every deletion and deactivation of a record missing from the run (they are taken out of the plan
//     and counted in a note) when it cannot be sure what the bad input would have kept: a reject without a
//     key, stand-ins that did not all lead to a record of their own (a filter dropped one, a step failed on
//     the nulls), or a source's own Holds (a truncated file, a file much smaller than the last one).
//
// Creates and updates of the other records go through; the exit code is that of the plan.

// protection is what the session learnt about bad input.
type protection struct {
	// followed names a table of the desired keys the stand-in run produced; "" when there was none.
	followed string
	// standins counts the stand-in rows the followed table came from.
	standins int
	// holds are the reasons deletions and deactivations of missing records are held this run; held counts
	// those taken out of the plan (the guard counts them: a mass removal is blocked, held or not).
	holds []string
	held  int
}

// standIn is the stand-in rows of one source.
type standIn struct {
	src  *source
	key  []string
	recs []record.Record
}

// followTable and protectedTable are the tables of the followed and protected keys.
const (
	followTable    = "__followed"
	protectedTable = "__protected"
)

// collectRejects gathers the sources' holds and the stand-ins of their keyed rejects.
func (s *session) collectRejects() []standIn {
	var ins []standIn
	for _, src := range s.sources {
		name := src.comp.Name
		st := s.staged[name]
		if st == nil {
			continue
		}
		for _, h := range st.Result.Holds {
			s.prot.holds = append(s.prot.holds, fmt.Sprintf("source %s: %s", name, h))
		}
		in := standIn{src: src}
		var unkeyed []string
		for _, r := range st.Result.Rejects {
			if len(r.Key) == 0 {
				unkeyed = append(unkeyed, r.Where)
				continue
			}
			rec := make(record.Record, len(r.Key)+len(r.Fields))
			for k, v := range r.Fields {
				rec[k] = v
			}
			for k, v := range r.Key {
				rec[k] = v
			}
			if in.key == nil {
				for k := range r.Key {
					in.key = append(in.key, k)
				}
				sort.Strings(in.key)
			}
			in.recs = append(in.recs, rec)
		}
		if len(unkeyed) > 0 {
			s.prot.holds = append(s.prot.holds, fmt.Sprintf("source %s: %d rejected row(s) whose key could not be read (%s)",
				name, len(unkeyed), listSome(unkeyed, 3)))
		}
		if len(in.recs) > 0 {
			ins = append(ins, in)
		}
	}
	return ins
}

// listSome lists the first n items, then how many more there are.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// followRejects runs the transforms over the stand-ins of rejected rows (see protection) and keeps the keys
// of the desired records they lead to in followTable. It runs after staging and before the real transforms,
// and leaves the sources' tables and the session as it found them. A stand-in run that cannot complete holds
// removals instead; only a cancelled context is an error.
func (s *session) followRejects(ctx context.Context) error {
	ins := s.collectRejects()
	if len(ins) == 0 {
		return nil
	}
	// What transformAll sets on the session: the real run sets it again.
	schemas := make(map[string]*arrow.Schema, len(s.schemas))
	for k, v := range s.schemas {
		schemas[k] = v
	}
	annotations, upcoming, notes, pushed, desired, timings := s.annotations, s.upcoming, s.notes, s.pushed, s.desired, s.timings
	s.timings = newTimings()
	defer func() {
		s.schemas, s.annotations, s.upcoming, s.notes, s.pushed, s.desired, s.timings = schemas, annotations, upcoming, notes, pushed, desired, timings
	}()
	var swapped []string
	restore := func() error {
		var errs []error
		for _, name := range swapped {
			errs = append(errs, s.d.Exec(ctx, "DROP TABLE IF EXISTS "+engine.Ident(name)),
				s.d.Exec(ctx, fmt.Sprintf("ALTER TABLE %s RENAME TO %s", engine.Ident("__real_"+name), engine.Ident(name))))
		}
		return errors.Join(errs...)
	}
	err := s.runStandIns(ctx, ins, &swapped)
	if rerr := restore(); rerr != nil {
		return fmt.Errorf("follow rejected rows: restore the sources: %w", rerr)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		s.prot.followed = ""
		s.prot.holds = append(s.prot.holds, fmt.Sprintf("rejected rows could not be followed through the transforms (%v)", firstLine(err)))
	}
	return nil
}

// runStandIns puts the stand-ins in place of their sources' records (recording the swapped tables), runs
// the transforms and keeps the desired keys.
func (s *session) runStandIns(ctx context.Context, ins []standIn, swapped *[]string) error {
	for _, in := range ins {
		name := in.src.comp.Name
		rows := "__standin_" + name
		if err := s.d.LoadRecords(ctx, rows, in.src.src.Schema(), in.recs); err != nil {
			return fmt.Errorf("source %s: %w", name, err)
		}
		if err := s.d.Exec(ctx, fmt.Sprintf("ALTER TABLE %s RENAME TO %s", engine.Ident(name), engine.Ident("__real_"+name))); err != nil {
			return err
		}
		*swapped = append(*swapped, name)
		var eq []string
		for _, k := range in.key {
			eq = append(eq, fmt.Sprintf("r.%s = n.%s", engine.Ident(k), engine.Ident(k)))
		}
		// A key the source still has (an incremental source's stored record) keeps that record: no stand-in.
		q := fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM %s n WHERE NOT EXISTS (SELECT 1 FROM %s r WHERE %s)",
			engine.Ident(name), engine.Ident(rows), engine.Ident("__real_"+name), strings.Join(eq, " AND "))
		if err := s.d.Exec(ctx, q); err != nil {
			return err
		}
		if err := s.d.Exec(ctx, "DROP TABLE "+engine.Ident(rows)); err != nil {
			return err
		}
		n, err := s.d.Count(ctx, "SELECT count(*) FROM "+engine.Ident(name))
		if err != nil {
			return err
		}
		s.prot.standins += int(n)
	}
	if s.prot.standins == 0 {
		return nil
	}
	diags, err := s.transformAll(ctx)
	if err != nil {
		return err
	}
	if diags.HasErrors() {
		return diags
	}
	if d := s.checkKey(); d.HasErrors() {
		return d
	}
	// Every row, also one without a key: a stand-in that leads to a row the sink could not key (a product
	// without a SKU) was followed; its real row could not have a record either.
	if err := s.d.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT %s FROM %s",
		followTable, engine.IdentList(s.p.Key, ""), engine.Ident(s.desired))); err != nil {
		return err
	}
	s.prot.followed = followTable
	return nil
}

func firstLine(err error) string {
	first, _, _ := strings.Cut(err.Error(), "\n")
	return first
}

// protect turns the followed keys into the protected table (the keys the real run's desired records lack),
// once the real transforms ran. Stand-ins that led to fewer records of their own than there were stand-ins
// hold removals: one of them may have been dropped on its way, and its record would look deleted.
func (s *session) protect(ctx context.Context) error {
	if s.prot.followed == "" {
		return nil
	}
	keys := engine.IdentList(s.p.Key, "")
	var notNull []string
	for _, k := range s.p.Key {
		notNull = append(notNull, engine.Ident(k)+" IS NOT NULL")
	}
	// own counts the stand-ins' rows the real run lacks (a row without a key included).
	own, err := s.d.Count(ctx, fmt.Sprintf("SELECT count(*) FROM %s f WHERE NOT EXISTS (SELECT 1 FROM %s d WHERE %s)",
		s.prot.followed, engine.Ident(s.desired), spec.KeysEqual(s.p.Key, "f", "d")))
	if err != nil {
		return fmt.Errorf("protect rejected records: %w", err)
	}
	q := fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT %s FROM %s WHERE %s EXCEPT SELECT %s FROM %s",
		protectedTable, keys, s.prot.followed, strings.Join(notNull, " AND "), keys, engine.Ident(s.desired))
	if err := s.d.Exec(ctx, q); err != nil {
		return fmt.Errorf("protect rejected records: %w", err)
	}
	if err := s.d.Exec(ctx, "DROP TABLE "+s.prot.followed); err != nil {
		return fmt.Errorf("protect rejected records: %w", err)
	}
	n, err := s.d.Count(ctx, "SELECT count(*) FROM "+protectedTable)
	if err != nil {
		return fmt.Errorf("protect rejected records: %w", err)
	}
	if n > 0 {
		s.protected = protectedTable
	}
	if int(own) < s.prot.standins {
		s.prot.holds = append(s.prot.holds, fmt.Sprintf("%d rejected row(s) led to %d record(s) of their own through the transforms: the records of the others cannot be told apart",
			s.prot.standins, own))
	}
	return nil
}

// holdRemovals takes the deletions and deactivations of missing records out of the diff when removals are
// held (diff.HoldRemovals, which renumbers the rest), and says so in the plan's notes. --allow-mass-change
// plans them (with a note). The guard still counts held removals (guards): a mass removal blocks the run, as
// it would unheld.
func (s *session) holdRemovals(ctx context.Context) error {
	if len(s.prot.holds) == 0 {
		return nil
	}
	reasons := strings.Join(s.prot.holds, "; ")
	if s.opts.AllowMassChange {
		n, err := diff.CountRemovals(ctx, s.d)
		if err != nil {
			return fmt.Errorf("hold removals: %w", err)
		}
		if n > 0 {
			s.notes = append(s.notes, plan.Note{Kind: spec.NoteHeldRemoval, Message: fmt.Sprintf("%d deletion(s) or "+
				"deactivation(s) of records missing from this run are planned although the input is suspect, as "+
				"--allow-mass-change asks: %s", n, reasons)})
			return nil
		}
	}
	n, err := diff.HoldRemovals(ctx, s.d)
	if err != nil {
		return fmt.Errorf("hold removals: %w", err)
	}
	s.prot.held = int(n)
	if n == 0 {
		s.notes = append(s.notes, plan.Note{Kind: spec.NoteHeldRemoval,
			Message: "no record is missing from this run; deletions and deactivations would have been held: " + reasons})
		return nil
	}
	s.notes = append(s.notes, plan.Note{Kind: spec.NoteHeldRemoval, Message: fmt.Sprintf("%d deletion(s) or "+
		"deactivation(s) of records missing from this run were held, not planned: %s. Fix the input, and the next run "+
		"plans them if they are still missing; or, if the input is right (a new header, a smaller catalog), apply "+
		"with --allow-mass-change to plan them and take it as the baseline", n, reasons)})
	return nil
}

// heldRemovals is the number of removals holdRemovals took out of the plan, for the guard.
func (s *session) heldRemovals() int { return s.prot.held }
