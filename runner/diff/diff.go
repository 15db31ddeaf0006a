// Package diff compares the desired records with the last-applied ones inside DuckDB and reads the result
// as Changes. Run fills the diff table (Table): one row per change, numbered in apply order (__seq). Read
// decodes rows of it once into Change values; the plan's change (PlanChange) and the sink's change
// (SinkChange) are derived from a Change by pure functions, so a record is decoded from DuckDB once however
// many forms it takes. Count and CountPresent summarise the table without decoding it.
//
// It owns: the key check of the desired records (CheckDesired), the diff table and its layout, change IDs,
// and the records-file lines of a batch of creates (EntriesCSV: DuckDB's CSV bytes, written in Go).
// It may not touch: the state store (the caller names the snapshot relation and its columns), the sink,
// the plan document beyond building plan.Change values, or any table but the desired one, the snapshot, the
// protected keys and its own.
package diff

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/state"
	"github.com/possync/possync/spec"
)

// Table holds the planned changes: __seq (the change's place in apply order, from 0), __op, __present (the
// record is in the desired set), the key columns, __a_<col> per annotation, one __c_<i> flag per compared
// column, the after-values of every desired column, and the before-values __o_<col> of every compared
// column. It is stored in __seq order. After a first sync's diff it is a view over createsTable (createView)
// that adds the columns a create holds as constants; readers see the same columns, types and rows either
// way, and Drop drops it in either form. (HoldRemovals, which replaces Table by a table, has nothing to take
// out of a first sync's diff, whose changes are all __present, so it leaves the view as it is.)
const Table = "__diff"

// createsTable holds a first sync's changes as stored: __seq and the desired columns (each annotation under
// its own name), in __seq order (createsQuery); or, when Run took the desired table itself (Input.Sorted), the
// desired table renamed, whose rowid is __seq. Table is a view over it.
const createsTable = "__diff_creates"

// changedKeys holds the keys whose record is new, gone, or differs in a compared field, each with the whole
// row of one side: the desired record (changedKeysQuery) or the snapshot's (changedOldQuery).
const changedKeys = "__changed_keys"

// maxListed caps how many duplicate keys an error message lists.
const maxListed = 20

// ActionOrder is the order changes are listed and applied in, after the sink's rank (Input.Rank): creates and
// updates before deactivations and deletions, so an interrupted apply never leaves a store with less than it had.
const ActionOrder = "CASE __op WHEN 'create' THEN 0 WHEN 'update' THEN 1 WHEN 'deactivate' THEN 2 ELSE 3 END"

// Input is what a diff compares.
type Input struct {
	// Desired is the table of desired records (a name, unquoted); Key the pipeline's key fields.
	Desired string
	Key     []string
	// Annotations are desired fields that explain changes and are not record data: shown, never compared.
	Annotations []string
	// Diff is the pipeline's diff settings (ignored fields, what a missing record becomes, the active field).
	Diff pipelines.Diff
	// Protected names a table of keys to leave alone (rejected input rows), or "".
	Protected string
	// Snapshot is the relation of the last-applied records and Columns its columns; "" when nothing was
	// applied yet (the diff then plans every desired record as a create).
	Snapshot string
	Columns  []state.Column
	// Rank is the sink's order (connectors.Ranker), which comes before ActionOrder in __seq; nil: none.
	Rank *connectors.Rank
	// Sorted says that Desired is stored in first-sync order: created by one CREATE TABLE AS whose query
	// ends in ORDER BY FirstSyncOrder(Key), run with preserve_insertion_order on (DuckDB then stores the rows
	// in that order, rowid counting them from 0), and no row deleted or updated since. A first sync (no
	// Snapshot) with neither Rank nor Protected, whose table has no column named rowid (which would hide the
	// row number), then numbers its creates in the table's own order instead of sorting a copy of it: Run
	// takes the table (Layout.TookDesired), renaming it to the diff's, and Drop frees it with the diff. Any
	// other diff ignores it.
	Sorted bool
	// CheckKeys makes Run check the desired keys as CheckDesired does, with its errors, from the counts of the
	// changed keys it finds anyway instead of a grouping of its own (checkChanged): for a Snapshot that holds
	// one record per key (a state store's). Without a Snapshot it has no effect: the caller checks the keys.
	CheckKeys bool
	// Consume lets Run drop the desired table once it has read it, with a snapshot: it then counts it first
	// (Layout.DesiredRows, Layout.Consumed) and runs under the engine's burst memory limit
	// (engine.DB.WithBurstMemory), which it puts back after the drop. Without a snapshot (a first sync) it
	// has no effect: the caller drops the table.
	Consume bool
	// keep forces which side's rows the changed-keys join keeps (tests); keepAuto lets chooseKeep decide.
	keep keepSide
}

// keepSide is the relation whose whole rows stream through the changed-keys join and are kept for the
// changed keys; the other relation gives only its keys and hashes (the join's build side) and is read
// again, restricted to the changed keys, for the field-by-field compare.
type keepSide int

const (
	keepAuto     keepSide = iota
	keepDesired           // changedKeysQuery: the snapshot is read twice
	keepSnapshot          // changedOldQuery: the desired table is read twice
)

// Layout is the column layout of a diff: which desired columns are keys, compared, or annotations.
type Layout struct {
	Key      []string
	Desired  []state.Column // desired columns, in order
	Compared []state.Column // non-key, non-ignored desired columns
	Annot    []state.Column // annotation columns (shown with changes, never compared or stored)
	inOld    map[string]string
	// compIdx places each compared column in Desired.
	compIdx []int
	// fields are the desired table's columns, in its order (Desired and Annot interleaved).
	fields []string
	// took: Run took the desired table as the first sync's diff (Input.Sorted).
	took bool
	// Consumed says Run dropped the desired table (Input.Consume), which held DesiredRows records.
	Consumed    bool
	DesiredRows int64
}

// TookDesired says whether Run took the desired table as the diff (Input.Sorted): it no longer exists under
// its name, Table reads its rows, and Drop frees it. The caller must not drop it; Table has one row per
// desired record (every one a create).
func (l *Layout) TookDesired() bool { return l.took }

// FirstSyncOrder is the ORDER BY list (without ORDER BY) a first sync's diff without a rank or protected
// keys numbers its creates in: the key columns, ascending, as createsQuery sorts them. A table stored in
// this order (Input.Sorted) is that diff's order already.
func FirstSyncOrder(key []string) string { return engine.IdentList(key, "") }

// Run compares the desired table with the snapshot and fills Table.
func Run(ctx context.Context, db *engine.DB, in Input) (*Layout, error) {
	sch, err := db.SchemaOf(ctx, engine.Ident(in.Desired))
	if err != nil {
		return nil, err
	}
	l := &Layout{Key: in.Key, inOld: map[string]string{}}
	ignore := map[string]bool{}
	for _, f := range in.Diff.Ignore {
		ignore[f] = true
	}
	isKey := map[string]bool{}
	for _, k := range l.Key {
		isKey[k] = true
	}
	for _, f := range sch.Fields() {
		l.fields = append(l.fields, f.Name)
		c := state.Column{Name: f.Name, Type: engine.Type(f.Type)}
		if isIn(in.Annotations, f.Name) {
			l.Annot = append(l.Annot, c)
			continue
		}
		l.Desired = append(l.Desired, c)
		if !isKey[f.Name] && !ignore[f.Name] {
			l.Compared = append(l.Compared, c)
			l.compIdx = append(l.compIdx, len(l.Desired)-1)
		}
	}
	for _, c := range in.Columns {
		l.inOld[c.Name] = c.Type
	}
	snap := in.Snapshot
	if snap == "" {
		// Nothing applied yet: an empty snapshot of the desired layout.
		snap = "(SELECT * FROM " + engine.Ident(in.Desired) + " WHERE false)"
		for _, c := range l.Desired {
			l.inOld[c.Name] = c.Type
		}
	}
	// __seq numbers the changes in apply order, so that apply can read them a batch at a time.
	numbered := func(changes string) string {
		return fmt.Sprintf("SELECT row_number() OVER () - 1 AS __seq, * FROM (SELECT * FROM (%s) ORDER BY %s%s, %s)",
			changes, l.rankOrder(in.Rank), ActionOrder, engine.IdentList(l.Key, ""))
	}
	// The last diff of this database, if any, may be of the other form (a table or a view).
	if err := Drop(ctx, db); err != nil {
		return nil, err
	}
	if in.Snapshot == "" {
		// A first sync: every desired record is a create, so there are no changed keys to find first.
		if err := l.creates(ctx, db, in); err != nil {
			return nil, fmt.Errorf("diff: %w", err)
		}
		if err := db.Exec(ctx, "CREATE VIEW "+Table+" AS "+l.createView()); err != nil {
			return nil, fmt.Errorf("diff: %w", err)
		}
		return l, nil
	}
	// Two stages (perf notes §4): join the keys and a hash of the compared values of one side (the build
	// side) with the other side's rows and their hash, which finds the few changed keys while holding only
	// keys and hashes, keeping the streamed side's rows of those keys as it goes; then compare field by
	// field only for those keys, reading the build side again restricted to them. The desired rows stream
	// when the desired table has spilled past the memory cap (3M rows: a second scan of it cost 1.2-1.3 cpu
	// s, the snapshot's 0.5); while it is in memory the snapshot's rows stream, which measured 0.1 cpu s
	// (12%) cheaper at 1M (BENCHMARKS.md, #15 plan). (A 64-bit hash collision could hide an update: about
	// one in 2^64 per record and run.)
	keep := in.keep
	if keep == keepAuto {
		keep = chooseKeep(ctx, db)
	}
	if !in.Consume {
		return l, l.changes(ctx, db, in, keep, snap, numbered)
	}
	// The desired table is the largest thing DuckDB holds, and past the cap (3M rows) most of it has spilled:
	// the changed-keys join reads it back beside its build side, and under the cap alone evicts about as much
	// of it again (a spilled block read back leaves the temp file, so evicting it again compresses and writes
	// it again: a third of the diff's processor time at 3M). Under the burst limit it is read back without
	// that, and dropped here before the cap is put back, not evicted to temp files just to be dropped.
	err = db.WithBurstMemory(ctx, func() error {
		if err := l.changes(ctx, db, in, keep, snap, numbered); err != nil {
			return err
		}
		n, err := db.Count(ctx, "SELECT count(*) FROM "+engine.Ident(in.Desired))
		if err != nil {
			return fmt.Errorf("diff: count the desired records: %w", err)
		}
		if err := db.Exec(ctx, "DROP TABLE "+engine.Ident(in.Desired)); err != nil {
			return fmt.Errorf("diff: drop the desired table: %w", err)
		}
		l.DesiredRows, l.Consumed = n, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// changes fills Table from the snapshot snap and the desired table in two stages, keeping keep's rows in
// the first (Run).
func (l *Layout) changes(ctx context.Context, db *engine.DB, in Input, keep keepSide, snap string, numbered func(string) string) error {
	first, snapRel, desiredRel := l.changedKeysQuery(snap, in.Desired), restrict(snap, l.Key),
		fmt.Sprintf("(SELECT %s FROM %s WHERE __new)", engine.IdentList(l.fields, ""), changedKeys)
	if keep == keepSnapshot {
		first, snapRel, desiredRel = l.changedOldQuery(snap, in.Desired),
			fmt.Sprintf("(SELECT * EXCLUDE (__old, __new) FROM %s WHERE __old)", changedKeys), restrict(engine.Ident(in.Desired), l.Key)
	}
	if err := db.Exec(ctx, "CREATE OR REPLACE TABLE "+changedKeys+" AS "+first); err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	if in.CheckKeys {
		if err := l.checkChanged(ctx, db, snap, in.Desired); err != nil {
			_ = db.Exec(ctx, "DROP TABLE IF EXISTS "+changedKeys)
			return err
		}
	}
	q := numbered(l.query(in, snapRel, desiredRel))
	if err := createInOrder(ctx, db, Table, q); err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	return db.Exec(ctx, "DROP TABLE "+changedKeys)
}

// createInOrder creates table (Table, or a first sync's createsTable) from q, a query that numbers its rows
// with row_number() OVER () over a subquery that sorts them (ORDER BY) into apply order. It is how the diff
// numbers its rows without a window that sorts them: a window's ORDER BY sorts (and, under the memory cap,
// spills) every column of the rows it numbers through the window's own buffers; at 1M first-sync creates
// under a 256 MiB cap that statement cost 4.0-8.7 cpu s, this one 2.3-3.4 (BENCHMARKS.md, #15). An empty
// OVER () is DuckDB's streaming window, which numbers rows in the order they reach it and declares that order
// fixed. DuckDB promises that the rows above a sorted subquery keep its order while preserve_insertion_order
// is on (a probe at 1M rows numbered them right with it off too, but that is not promised), so this turns it
// on for the statement and restores it after: the engine runs with it off, the setting is the database's, and
// nothing else runs on the database during the diff. The same ORDER BY leaves table stored in __seq order, so
// the zone maps of __seq find a batch's range without scanning the rest.
func createInOrder(ctx context.Context, db *engine.DB, table, q string) error {
	return db.WithSetting(ctx, "preserve_insertion_order", "true", func() error {
		return db.Exec(ctx, "CREATE OR REPLACE TABLE "+table+" AS "+q)
	})
}

// changedKeysQuery finds the keys whose record is new, gone, or differs in a compared field (by a hash of
// the compared values), with the desired record of each: its rows hold the key columns (the desired key,
// or the snapshot's for a record gone), __old and __new (the key is in the snapshot, in the desired set),
// and every other desired column (NULL for a record gone). Only the snapshot's side, keys and hashes, is
// held by the join: the desired rows stream through it whole and only the changed ones are kept.
func (l *Layout) changedKeysQuery(snap, desired string) string {
	oldHash, newHash := l.hashes()
	var cols []string
	for _, k := range l.Key {
		cols = append(cols, fmt.Sprintf("coalesce(n.%s, o.%s) AS %s", engine.Ident(k), engine.Ident(k), engine.Ident(k)))
	}
	cols = append(cols, "o.__h IS NOT NULL AS __old", "n.__h IS NOT NULL AS __new")
	for _, f := range l.fields {
		if !isIn(l.Key, f) {
			cols = append(cols, "n."+engine.Ident(f))
		}
	}
	return fmt.Sprintf(`SELECT %s FROM (SELECT %s, %s AS __h FROM %s o) o FULL OUTER JOIN (SELECT n.*, %s AS __h FROM %s n) n ON %s
		WHERE o.__h IS NULL OR n.__h IS NULL OR o.__h <> n.__h`,
		strings.Join(cols, ", "), engine.IdentList(l.Key, "o."), oldHash, snap,
		newHash, engine.Ident(desired), spec.KeysEqual(l.Key, "o", "n"))
}

// hashes are the expressions of the hash of a record's compared values, of the snapshot's record (o, its
// values cast to the desired types) and of the desired one (n), which the changed-keys joins compare.
func (l *Layout) hashes() (old, desired string) {
	if len(l.Compared) == 0 {
		return "0::UBIGINT", "0::UBIGINT"
	}
	oldVals, newVals := make([]string, len(l.Compared)), make([]string, len(l.Compared))
	for i, c := range l.Compared {
		oldVals[i], newVals[i] = l.oldCol(c), "n."+engine.Ident(c.Name)
	}
	return "hash(" + strings.Join(oldVals, ", ") + ")", "hash(" + strings.Join(newVals, ", ") + ")"
}

// changedOldQuery is changedKeysQuery the other way round: the desired keys and hashes are the join's
// build side and the snapshot's rows stream through it, so its rows hold the key columns, __old, __new and
// every other column of the snapshot (NULL for a new record). A key the desired set holds twice may pair
// its snapshot record twice; CheckKeys (or the caller's CheckDesired) refuses such a set before it is read.
func (l *Layout) changedOldQuery(snap, desired string) string {
	oldHash, newHash := l.hashes()
	var cols, keys []string
	for _, k := range l.Key {
		cols = append(cols, fmt.Sprintf("coalesce(o.%s, n.%s) AS %s", engine.Ident(k), engine.Ident(k), engine.Ident(k)))
		keys = append(keys, engine.Ident(k))
	}
	cols = append(cols, "o.__h IS NOT NULL AS __old", "n.__h IS NOT NULL AS __new",
		fmt.Sprintf("o.* EXCLUDE (%s, __h)", strings.Join(keys, ", ")))
	return fmt.Sprintf(`SELECT %s FROM (SELECT o.*, %s AS __h FROM %s o) o FULL OUTER JOIN (SELECT %s, %s AS __h FROM %s n) n ON %s
		WHERE o.__h IS NULL OR n.__h IS NULL OR o.__h <> n.__h`,
		strings.Join(cols, ", "), oldHash, snap,
		engine.IdentList(l.Key, "n."), newHash, engine.Ident(desired), spec.KeysEqual(l.Key, "o", "n"))
}

// chooseKeep keeps the desired rows when DuckDB's in-memory tables (the desired table the largest) have
// spilled more than an eighth of what they hold in memory (at 1M rows 2 MB of 197 MB, at 3M 290 of 194
// MB), else the snapshot's. It keeps the desired rows when it cannot tell.
func chooseKeep(ctx context.Context, db *engine.DB) keepSide {
	var mem, spilled int64
	err := db.QueryRow(ctx, `SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT, coalesce(sum(temporary_storage_bytes), 0)::BIGINT
		FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'`).Scan(&mem, &spilled)
	if err != nil || mem == 0 || spilled*8 > mem {
		return keepDesired
	}
	return keepSnapshot
}

// checkChanged is CheckDesired for a diff with a snapshot, from the changed keys (either query) and two
// table counts instead of a grouping of the desired keys. A desired record with an empty key field matches
// no snapshot record, so it is among the changed keys. Two desired records of one key are both there if the
// key is not in the snapshot (two added rows, one distinct key); if it is, both match its one snapshot
// record, so the desired records that matched (all desired records but the added ones) outnumber the
// snapshot records that were matched (all but the gone ones). When either count says so, CheckDesired runs
// and returns its error (its messages, its list of keys); when it finds nothing (a snapshot that holds a
// key twice also tips the counts), the diff goes on as it would have.
func (l *Layout) checkChanged(ctx context.Context, db *engine.DB, snap, desired string) error {
	var nulls []string
	for _, k := range l.Key {
		nulls = append(nulls, engine.Ident(k)+" IS NULL")
	}
	anyNull := strings.Join(nulls, " OR ")
	key := engine.IdentList(l.Key, "")
	if len(l.Key) > 1 {
		key = "row(" + key + ")"
	}
	var nullKeys, added, addedKeys, gone, desiredN, snapN int64
	err := db.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FILTER (WHERE %s), count(*) FILTER (WHERE __new AND NOT __old),
		count(DISTINCT %s) FILTER (WHERE __new AND NOT __old), count(*) FILTER (WHERE __old AND NOT __new),
		(SELECT count(*) FROM %s), (SELECT count(*) FROM %s) FROM %s`,
		anyNull, key, engine.Ident(desired), snap, changedKeys)).Scan(&nullKeys, &added, &addedKeys, &gone, &desiredN, &snapN)
	if err != nil {
		return fmt.Errorf("check keys: %w", err)
	}
	if nullKeys == 0 && addedKeys == added && desiredN-added == snapN-gone {
		return nil
	}
	return CheckDesired(ctx, db, desired, l.Key)
}

// restrict narrows a relation to the changed keys.
func restrict(rel string, key []string) string {
	return fmt.Sprintf("(SELECT r.* FROM %s r SEMI JOIN %s c ON %s)", rel, changedKeys, spec.KeysEqual(key, "r", "c"))
}

// oldCol is the snapshot's value of a desired column, cast to the desired type; NULL for a new column.
func (l *Layout) oldCol(c state.Column) string {
	t, ok := l.inOld[c.Name]
	switch {
	case !ok:
		return "CAST(NULL AS " + c.Type + ")"
	case t != c.Type:
		return fmt.Sprintf("TRY_CAST(o.%s AS %s)", engine.Ident(c.Name), c.Type)
	}
	return "o." + engine.Ident(c.Name)
}

func (l *Layout) query(in Input, snap, desired string) string {
	var keys []string
	for _, k := range l.Key {
		keys = append(keys, fmt.Sprintf("coalesce(n.%s, o.%s) AS %s", engine.Ident(k), engine.Ident(k), engine.Ident(k)))
	}
	active := in.Diff.ActiveField
	missing := "'delete'"
	deactivateMissing := in.Diff.OnMissing == pipelines.MissingDeactivate
	if deactivateMissing {
		missing = "'deactivate'"
	}
	// afterOf is the value a column takes: the desired value, or for a missing record that is deactivated,
	// its last value with the active field false.
	afterOf := func(c state.Column) string {
		v := "n." + engine.Ident(c.Name)
		switch {
		case !deactivateMissing:
		case c.Name == active:
			v = fmt.Sprintf("CASE WHEN n.__n THEN n.%s ELSE false END", engine.Ident(c.Name))
		default:
			v = fmt.Sprintf("CASE WHEN n.__n THEN n.%s ELSE %s END", engine.Ident(c.Name), l.oldCol(c))
		}
		return v
	}
	var flags, changed, after, before []string
	for i, c := range l.Compared {
		d := fmt.Sprintf("(%s IS DISTINCT FROM %s)", l.oldCol(c), afterOf(c))
		changed = append(changed, d)
		flags = append(flags, fmt.Sprintf("%s AS __c_%d", d, i))
		before = append(before, fmt.Sprintf("%s AS %s", l.oldCol(c), engine.Ident("__o_"+c.Name)))
	}
	for _, c := range l.Desired {
		if !isIn(l.Key, c.Name) {
			after = append(after, afterOf(c)+" AS "+engine.Ident(c.Name))
		}
	}
	op := fmt.Sprintf("CASE WHEN o.__o IS NULL THEN 'create' WHEN n.__n IS NULL THEN %s ELSE 'update' END", missing)
	if active != "" {
		oa, na := l.oldCol(state.Column{Name: active, Type: "BOOLEAN"}), "n."+engine.Ident(active)
		op = fmt.Sprintf("CASE WHEN o.__o IS NULL THEN 'create' WHEN n.__n IS NULL THEN %s WHEN %s AND NOT coalesce(%s, false) THEN 'deactivate' ELSE 'update' END",
			missing, oa, na)
	}
	where := []string{"o.__o IS NULL", "n.__n IS NULL"}
	if len(changed) > 0 {
		where = append(where, strings.Join(changed, " OR "))
	}
	cond := "(" + strings.Join(where, " OR ") + ")"
	if in.Diff.OnChange == pipelines.ChangeKeep {
		// diff.on_change: keep: a record present both in the snapshot and in the desired set is never planned
		// (neither updated nor deactivated): only creations, and the deletions on_missing allows.
		cond += " AND (o.__o IS NULL OR n.__n IS NULL)"
	}
	switch in.Diff.OnMissing {
	case pipelines.MissingKeep:
		cond += " AND n.__n IS NOT NULL"
	case pipelines.MissingDeactivate:
		// A missing record that is already inactive needs nothing.
		cond += fmt.Sprintf(" AND (n.__n IS NOT NULL OR coalesce(%s, true))", l.oldCol(state.Column{Name: active, Type: "BOOLEAN"}))
	}
	if in.Protected != "" {
		var pk []string
		for _, k := range l.Key {
			pk = append(pk, fmt.Sprintf("p.%s = coalesce(n.%s, o.%s)", engine.Ident(k), engine.Ident(k), engine.Ident(k)))
		}
		cond += fmt.Sprintf(" AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)", engine.Ident(in.Protected), strings.Join(pk, " AND "))
	}
	cols := []string{op + " AS __op", "n.__n IS NOT NULL AS __present"}
	cols = append(cols, keys...)
	for _, a := range l.Annot {
		cols = append(cols, fmt.Sprintf("n.%s AS %s", engine.Ident(a.Name), engine.Ident("__a_"+a.Name)))
	}
	cols = append(cols, flags...)
	cols = append(cols, after...)
	cols = append(cols, before...)
	return fmt.Sprintf("SELECT %s FROM (SELECT *, true AS __o FROM %s) o FULL OUTER JOIN (SELECT *, true AS __n FROM %s) n ON %s WHERE %s",
		strings.Join(cols, ", "), snap, desired, spec.KeysEqual(l.Key, "o", "n"), cond)
}

// creates makes createsTable for a first sync. A desired table stored in the diff's order (Input.Sorted,
// with no rank or protected keys to order or filter by) becomes it as it is: renamed, its rowid numbering
// its rows in apply order, which DuckDB's scan filters like a column (a range of rowid reaches the scan and
// skips the row groups outside it), so no copy of the desired records is sorted or stored (at 1M creates
// that copy cost the diff 1.6-2.6 cpu s; sorting in the step instead costs the step and the diff 0.8 cpu s
// less, the first sync 0.4 less: BENCHMARKS.md, #15 first sync). Any other first sync sorts a numbered copy
// (createsQuery): also one whose desired records have a field named rowid (in any case), which would shadow
// DuckDB's row number in the view (createView) and number the changes by the field's values.
func (l *Layout) creates(ctx context.Context, db *engine.DB, in Input) error {
	if in.Sorted && in.Rank == nil && in.Protected == "" && !engine.ShadowsRowid(l.fields) {
		err := db.Exec(ctx, fmt.Sprintf("ALTER TABLE %s RENAME TO %s", engine.Ident(in.Desired), createsTable))
		if err == nil {
			l.took = true
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		// A table DuckDB cannot rename is still sorted: the copy below numbers it all the same.
	}
	return createInOrder(ctx, db, createsTable, l.createsQuery(in))
}

// createsQuery fills createsTable, the stored part of a first sync's diff (no snapshot): each desired
// record is a create, numbered (__seq) by the sink's rank (createRankOrder) and key, with the desired
// columns alone (annotations under their own names). Its rows are numbered in the sort's order by a
// streaming row_number, so it is to be run by createInOrder. What a create holds as constants (its op, a
// changed flag per non-NULL value, NULL before-values: two thirds of the general diff's columns) is not
// stored but added by createView: the sort and the table move the desired columns only.
func (l *Layout) createsQuery(in Input) string {
	cols := []string{"row_number() OVER () - 1 AS __seq"}
	for _, k := range l.Key {
		cols = append(cols, "n."+engine.Ident(k))
	}
	for _, a := range l.Annot {
		cols = append(cols, "n."+engine.Ident(a.Name))
	}
	for _, c := range l.Desired {
		if !isIn(l.Key, c.Name) {
			cols = append(cols, "n."+engine.Ident(c.Name))
		}
	}
	where := ""
	if in.Protected != "" {
		var pk []string
		for _, k := range l.Key {
			pk = append(pk, fmt.Sprintf("p.%s = n.%s", engine.Ident(k), engine.Ident(k)))
		}
		where = fmt.Sprintf(" WHERE NOT EXISTS (SELECT 1 FROM %s p WHERE %s)", engine.Ident(in.Protected), strings.Join(pk, " AND "))
	}
	return fmt.Sprintf("SELECT %s FROM (SELECT n.* FROM %s n%s ORDER BY %s%s) n", strings.Join(cols, ", "), engine.Ident(in.Desired), where,
		l.createRankOrder(in.Rank), FirstSyncOrder(l.Key))
}

// createView is the query of the view Table over createsTable: the columns, in the order and of the types,
// of the general diff (query) against an empty snapshot. A reader's filter on __seq reaches the table's
// scan (its zone maps, or for a taken desired table its rowid) through the view, and the columns a reader
// does not select are not computed.
func (l *Layout) createView() string {
	seq := "__seq"
	if l.took {
		seq = "rowid AS __seq"
	}
	cols := []string{seq, "'create' AS __op", "true AS __present"}
	for _, k := range l.Key {
		cols = append(cols, engine.Ident(k))
	}
	for _, a := range l.Annot {
		cols = append(cols, engine.Ident(a.Name)+" AS "+engine.Ident("__a_"+a.Name))
	}
	for i, c := range l.Compared { // NULL IS DISTINCT FROM the value
		cols = append(cols, fmt.Sprintf("(%s IS NOT NULL) AS %s", engine.Ident(c.Name), ColumnFlag(i)))
	}
	for _, c := range l.Desired {
		if !isIn(l.Key, c.Name) {
			cols = append(cols, engine.Ident(c.Name))
		}
	}
	for _, c := range l.Compared { // NULL, of the column's own type
		cols = append(cols, fmt.Sprintf("(CASE WHEN false THEN %s END) AS %s", engine.Ident(c.Name), engine.Ident("__o_"+c.Name)))
	}
	return fmt.Sprintf("SELECT %s FROM %s", strings.Join(cols, ", "), createsTable)
}

// Drop drops the diff (Table, and createsTable under a first sync's view), if there is one: a diff's
// readers are done with it. Run drops the last diff itself before it fills a new one.
func Drop(ctx context.Context, db *engine.DB) error {
	// DROP VIEW IF EXISTS fails on a table of that name and DROP TABLE IF EXISTS on a view: the catalog says
	// which Table is.
	views, err := db.Count(ctx, "SELECT count(*) FROM duckdb_views() WHERE view_name = "+engine.Lit(Table)+
		" AND database_name = current_database() AND schema_name = current_schema()")
	if err != nil {
		return fmt.Errorf("drop the diff: %w", err)
	}
	kind := "TABLE"
	if views > 0 {
		kind = "VIEW"
	}
	for _, q := range []string{"DROP " + kind + " IF EXISTS " + Table, "DROP TABLE IF EXISTS " + createsTable} {
		if err := db.Exec(ctx, q); err != nil {
			return fmt.Errorf("drop the diff: %w", err)
		}
	}
	return nil
}

func isIn(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CheckDesired fails on records the planner cannot key: null key fields and duplicate keys. One grouping
// finds both. A diff against a snapshot can check the same from its changed keys instead (Input.CheckKeys).
func CheckDesired(ctx context.Context, db *engine.DB, desired string, key []string) error {
	keys := engine.IdentList(key, "")
	var nulls []string
	for _, k := range key {
		nulls = append(nulls, engine.Ident(k)+" IS NULL")
	}
	anyNull := strings.Join(nulls, " OR ")
	q := fmt.Sprintf(`SELECT %s, n, (%s) AS __null, count(*) FILTER (WHERE NOT (%s)) OVER () AS __dups,
			sum(n) FILTER (WHERE %s) OVER () AS __nulls
		FROM (SELECT %s, count(*) AS n FROM %s GROUP BY ALL HAVING count(*) > 1 OR %s)
		ORDER BY __null, %s LIMIT %d`,
		keys, anyNull, anyNull, anyNull, keys, engine.Ident(desired), anyNull, keys, maxListed)
	var lines []string
	var dups, nullRows int64
	err := db.Query(ctx, q, func(b arrow.RecordBatch) error {
		for i := 0; i < int(b.NumRows()); i++ {
			r := record.RowRecord(b, i)
			dups, _ = r["__dups"].(int64)
			if v, ok := r["__nulls"].(float64); ok {
				nullRows = int64(v)
			} else if v, ok := r["__nulls"].(int64); ok {
				nullRows = v
			}
			if r["__null"] != true {
				lines = append(lines, fmt.Sprintf("  %s (%d records)", connectors.FormatKey(key, r), r["n"]))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if nullRows > 0 {
		return &KeyError{msg: fmt.Sprintf("%d desired record(s) have an empty key field (%s); nothing was planned: fill the key in the source, "+
			"or drop those rows with a filter step (e.g. expr: %s != nil)", nullRows, strings.Join(key, ", "), key[0])}
	}
	if dups > 0 {
		more := ""
		if dups > int64(len(lines)) {
			more = fmt.Sprintf("\n  ... and %d more", dups-int64(len(lines)))
		}
		return &KeyError{msg: fmt.Sprintf("%d key(s) appear more than once in the desired records; nothing was planned:\n%s%s",
			dups, strings.Join(lines, "\n"), more), hint: "\n  (possync explain FILE KEY lists the source rows and steps behind a key)"}
	}
	return nil
}

// KeyError refuses desired records whose key is empty or not unique (CheckDesired): nothing can be planned
// from them.
type KeyError struct{ msg, hint string }

func (e *KeyError) Error() string { return e.msg + e.hint }

// Reason is the error without its hint of what to run next.
func (e *KeyError) Reason() string { return e.msg }

// CheckSortedDesired is CheckDesired for a desired table stored in its key's order, as a first sync's last
// step stores it (steps.Output.Ordered for OrderBy FirstSyncOrder(key): sorted by exactly the key columns,
// no row deleted or updated since). Such a table holds a NULL key field or a key twice exactly when
// keysSoundInOrder says it does not; only then does the grouping run (1M keys: the pass costs about 0.01
// cpu s, the grouping 0.12-0.19), for CheckDesired's errors word for word.
func CheckSortedDesired(ctx context.Context, db *engine.DB, desired string, key []string) error {
	sound, err := keysSoundInOrder(ctx, db, desired, key)
	if err != nil || sound {
		return err
	}
	return CheckDesired(ctx, db, desired, key)
}

// keysSoundInOrder says whether desired, stored sorted by key, has no NULL key field and no key twice. A
// sort puts equal keys next to each other, so one pass comparing each row's key with the one stored before
// it finds both. The pass must see the rows in their stored order: a table scan with
// preserve_insertion_order on (turned on for the statement, as createInOrder does) under lag() OVER (),
// DuckDB's streaming window, which takes rows in the order they reach it and declares that order fixed.
func keysSoundInOrder(ctx context.Context, db *engine.DB, desired string, key []string) (bool, error) {
	var cols, same, nulls []string
	for i, k := range key {
		prev := fmt.Sprintf("__prev_%d", i)
		cols = append(cols, engine.Ident(k), fmt.Sprintf("lag(%s) OVER () AS %s", engine.Ident(k), prev))
		same = append(same, fmt.Sprintf("%s = %s", engine.Ident(k), prev))
		nulls = append(nulls, engine.Ident(k)+" IS NULL")
	}
	q := fmt.Sprintf("SELECT count(*) FROM (SELECT %s FROM %s) WHERE (%s) OR (%s)", strings.Join(cols, ", "),
		engine.Ident(desired), strings.Join(same, " AND "), strings.Join(nulls, " OR "))
	var bad int64
	err := db.WithSetting(ctx, "preserve_insertion_order", "true", func() error {
		var err error
		bad, err = db.Count(ctx, q)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("check keys in order: %w", err)
	}
	return bad == 0, nil
}

// Counts are the diff's changes per action.
type Counts map[connectors.Action]int

// Count counts the diff's changes per action.
func Count(ctx context.Context, db *engine.DB) (Counts, error) {
	rows, err := db.Rows(ctx, "SELECT __op, count(*) FROM "+Table+" GROUP BY __op")
	if err != nil {
		return nil, fmt.Errorf("count changes: %w", err)
	}
	defer rows.Close()
	out := Counts{}
	for rows.Next() {
		var op string
		var n int
		if err := rows.Scan(&op, &n); err != nil {
			return nil, fmt.Errorf("count changes: %w", err)
		}
		out[connectors.Action(op)] = n
	}
	return out, rows.Err()
}

// CountPresent counts the changes of records that are in the desired set.
func CountPresent(ctx context.Context, db *engine.DB) (int64, error) {
	return db.Count(ctx, "SELECT count(*) FROM "+Table+" WHERE __present")
}

// ColumnFlag is the name of the changed-flag column of the i-th compared column.
func ColumnFlag(i int) string { return "__c_" + strconv.Itoa(i) }
