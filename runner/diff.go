package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/pipelines/spec"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// diffTable holds the planned changes: __seq (the change's place in apply order, from 0), __op, __present
// (the record is in the desired set), one __c_<i> flag per compared column, the after-values of every desired column, and the
// before-values __o_<col> of every compared column.
const diffTable = "__diff"

// checkDesired fails on records the planner cannot key: null key fields and duplicate keys. One grouping
// finds both.
func (s *session) checkDesired(ctx context.Context) error {
	key := s.p.Key
	keys := identList(key, "")
	var nulls []string
	for _, k := range key {
		nulls = append(nulls, ident(k)+" IS NULL")
	}
	anyNull := strings.Join(nulls, " OR ")
	q := fmt.Sprintf(`SELECT %s, n, (%s) AS __null, count(*) FILTER (WHERE NOT (%s)) OVER () AS __dups,
			sum(n) FILTER (WHERE %s) OVER () AS __nulls
		FROM (SELECT %s, count(*) AS n FROM %s GROUP BY ALL HAVING count(*) > 1 OR %s)
		ORDER BY __null, %s LIMIT %d`,
		keys, anyNull, anyNull, anyNull, keys, ident(s.desired), anyNull, keys, maxListed)
	var lines []string
	var dups, nullRows int64
	err := s.d.query(ctx, q, func(b arrow.RecordBatch) error {
		for i := 0; i < int(b.NumRows()); i++ {
			r := connectors.RowRecord(b, i)
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
		return fmt.Errorf("%d desired record(s) have an empty key field (%s); nothing was planned", nullRows, strings.Join(key, ", "))
	}
	if dups > 0 {
		more := ""
		if dups > int64(len(lines)) {
			more = fmt.Sprintf("\n  ... and %d more", dups-int64(len(lines)))
		}
		return fmt.Errorf("%d key(s) appear more than once in the desired records; nothing was planned:\n%s%s",
			dups, strings.Join(lines, "\n"), more)
	}
	return nil
}

// diffSpec is the column layout of a diff.
type diffSpec struct {
	key      []string
	desired  []state.Column // desired columns, in order
	compared []state.Column // non-key, non-ignored desired columns
	annot    []state.Column // annotation columns (shown with changes, never compared or stored)
	inOld    map[string]string
}

// diff compares the desired table with the state snapshot (or, with --refresh, with the base built from the
// target's records) and fills diffTable.
func (s *session) diff(ctx context.Context, rf *refreshed) (*diffSpec, error) {
	sch, err := s.d.schemaOf(ctx, ident(s.desired))
	if err != nil {
		return nil, err
	}
	ds := &diffSpec{key: s.p.Key, inOld: map[string]string{}}
	ignore := map[string]bool{}
	for _, f := range s.p.Diff.Ignore {
		ignore[f] = true
	}
	isKey := map[string]bool{}
	for _, k := range ds.key {
		isKey[k] = true
	}
	for _, f := range sch.Fields() {
		c := state.Column{Name: f.Name, Type: duckType(f.Type)}
		if isIn(s.annotations, f.Name) {
			ds.annot = append(ds.annot, c)
			continue
		}
		ds.desired = append(ds.desired, c)
		if !isKey[f.Name] && !ignore[f.Name] {
			ds.compared = append(ds.compared, c)
		}
	}
	for _, c := range s.meta.Columns {
		ds.inOld[c.Name] = c.Type
	}
	snap := s.store.Snapshot()
	if rf != nil {
		snap = baseTable
		ds.inOld = map[string]string{}
		for _, c := range rf.cols {
			ds.inOld[c.Name] = c.Type
		}
	} else if snap == "" {
		// Nothing applied yet: an empty snapshot of the desired layout.
		snap = "(SELECT * FROM " + ident(s.desired) + " WHERE false)"
		for _, c := range ds.desired {
			ds.inOld[c.Name] = c.Type
		}
	}
	// Two stages (perf notes §4): join only keys and a hash of the compared values, which finds the few
	// changed keys in a fraction of the memory of joining whole rows; then compare field by field only for
	// those keys. (A 64-bit hash collision could hide an update: about one in 2^64 per record and run.)
	if err := s.d.exec(ctx, "CREATE OR REPLACE TABLE "+changedKeys+" AS "+s.changedKeysQuery(ds, snap)); err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	// __seq numbers the changes in apply order, so that apply can read them a batch at a time.
	q := fmt.Sprintf("SELECT row_number() OVER (ORDER BY %s, %s) - 1 AS __seq, * FROM (%s)",
		actionOrder, identList(ds.key, ""), s.diffQuery(ds, restrict(snap, ds.key), restrict(ident(s.desired), ds.key)))
	if err := s.d.exec(ctx, "CREATE OR REPLACE TABLE "+diffTable+" AS "+q); err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	return ds, s.d.exec(ctx, "DROP TABLE "+changedKeys)
}

// changedKeys holds the keys whose record is new, gone, or differs in a compared field.
const changedKeys = "__changed_keys"

func (s *session) changedKeysQuery(ds *diffSpec, snap string) string {
	var oldVals, newVals, keys []string
	for _, c := range ds.compared {
		oldVals = append(oldVals, ds.oldCol(c))
		newVals = append(newVals, "n."+ident(c.Name))
	}
	hashOf := func(vals []string) string {
		if len(vals) == 0 {
			return "0::UBIGINT"
		}
		return "hash(" + strings.Join(vals, ", ") + ")"
	}
	for _, k := range ds.key {
		keys = append(keys, fmt.Sprintf("coalesce(n.%s, o.%s) AS %s", ident(k), ident(k), ident(k)))
	}
	return fmt.Sprintf(`SELECT %s FROM (SELECT %s, %s AS __h FROM %s o) o FULL OUTER JOIN (SELECT %s, %s AS __h FROM %s n) n ON %s
		WHERE o.__h IS NULL OR n.__h IS NULL OR o.__h <> n.__h`,
		strings.Join(keys, ", "), identList(ds.key, "o."), hashOf(oldVals), snap,
		identList(ds.key, "n."), hashOf(newVals), ident(s.desired), spec.KeysEqual(ds.key, "o", "n"))
}

// restrict narrows a relation to the changed keys.
func restrict(rel string, key []string) string {
	return fmt.Sprintf("(SELECT r.* FROM %s r SEMI JOIN %s c ON %s)", rel, changedKeys, spec.KeysEqual(key, "r", "c"))
}

// oldCol is the snapshot's value of a desired column, cast to the desired type; NULL for a new column.
func (ds *diffSpec) oldCol(c state.Column) string {
	t, ok := ds.inOld[c.Name]
	switch {
	case !ok:
		return "CAST(NULL AS " + c.Type + ")"
	case t != c.Type:
		return fmt.Sprintf("TRY_CAST(o.%s AS %s)", ident(c.Name), c.Type)
	}
	return "o." + ident(c.Name)
}

func (s *session) diffQuery(ds *diffSpec, snap, desired string) string {
	var keys []string
	for _, k := range ds.key {
		keys = append(keys, fmt.Sprintf("coalesce(n.%s, o.%s) AS %s", ident(k), ident(k), ident(k)))
	}
	active := s.p.Diff.ActiveField
	missing := "'delete'"
	deactivateMissing := s.p.Diff.OnMissing == pipelines.MissingDeactivate
	if deactivateMissing {
		missing = "'deactivate'"
	}
	// afterOf is the value a column takes: the desired value, or for a missing record that is deactivated,
	// its last value with the active field false.
	afterOf := func(c state.Column) string {
		v := "n." + ident(c.Name)
		switch {
		case !deactivateMissing:
		case c.Name == active:
			v = fmt.Sprintf("CASE WHEN n.__n THEN n.%s ELSE false END", ident(c.Name))
		default:
			v = fmt.Sprintf("CASE WHEN n.__n THEN n.%s ELSE %s END", ident(c.Name), ds.oldCol(c))
		}
		return v
	}
	var flags, changed, after, before []string
	for i, c := range ds.compared {
		d := fmt.Sprintf("(%s IS DISTINCT FROM %s)", ds.oldCol(c), afterOf(c))
		changed = append(changed, d)
		flags = append(flags, fmt.Sprintf("%s AS __c_%d", d, i))
		before = append(before, fmt.Sprintf("%s AS %s", ds.oldCol(c), ident("__o_"+c.Name)))
	}
	for _, c := range ds.desired {
		if !isIn(ds.key, c.Name) {
			after = append(after, afterOf(c)+" AS "+ident(c.Name))
		}
	}
	op := fmt.Sprintf("CASE WHEN o.__o IS NULL THEN 'create' WHEN n.__n IS NULL THEN %s ELSE 'update' END", missing)
	if active != "" {
		oa, na := ds.oldCol(state.Column{Name: active, Type: "BOOLEAN"}), "n."+ident(active)
		op = fmt.Sprintf("CASE WHEN o.__o IS NULL THEN 'create' WHEN n.__n IS NULL THEN %s WHEN %s AND NOT coalesce(%s, false) THEN 'deactivate' ELSE 'update' END",
			missing, oa, na)
	}
	where := []string{"o.__o IS NULL", "n.__n IS NULL"}
	if len(changed) > 0 {
		where = append(where, strings.Join(changed, " OR "))
	}
	cond := "(" + strings.Join(where, " OR ") + ")" + s.onChangeCond()
	switch s.p.Diff.OnMissing {
	case pipelines.MissingKeep:
		cond += " AND n.__n IS NOT NULL"
	case pipelines.MissingDeactivate:
		// A missing record that is already inactive needs nothing.
		cond += fmt.Sprintf(" AND (n.__n IS NOT NULL OR coalesce(%s, true))", ds.oldCol(state.Column{Name: active, Type: "BOOLEAN"}))
	}
	if s.protected != "" {
		var pk []string
		for _, k := range ds.key {
			pk = append(pk, fmt.Sprintf("p.%s = coalesce(n.%s, o.%s)", ident(k), ident(k), ident(k)))
		}
		cond += fmt.Sprintf(" AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)", ident(s.protected), strings.Join(pk, " AND "))
	}
	cols := []string{op + " AS __op", "n.__n IS NOT NULL AS __present"}
	cols = append(cols, keys...)
	for _, a := range ds.annot {
		cols = append(cols, fmt.Sprintf("n.%s AS %s", ident(a.Name), ident("__a_"+a.Name)))
	}
	cols = append(cols, flags...)
	cols = append(cols, after...)
	cols = append(cols, before...)
	return fmt.Sprintf("SELECT %s FROM (SELECT *, true AS __o FROM %s) o FULL OUTER JOIN (SELECT *, true AS __n FROM %s) n ON %s WHERE %s",
		strings.Join(cols, ", "), snap, desired, spec.KeysEqual(ds.key, "o", "n"), cond)
}

func isIn(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// actionOrder is the order changes are listed and applied in: creates and updates before deactivations and
// deletions, so an interrupted apply never leaves a store with less than it had.
const actionOrder = "CASE __op WHEN 'create' THEN 0 WHEN 'update' THEN 1 WHEN 'deactivate' THEN 2 ELSE 3 END"

// changes reads the diff into plan changes and, with sink, the sink's changes (in apply order), each with its
// ID. A plan that is only shown or saved needs no sink changes.
func (s *session) changes(ctx context.Context, ds *diffSpec, sink bool) ([]plan.Change, []connectors.Change, error) {
	return s.changeRange(ctx, ds, sink, 0, -1)
}

// changeRange reads the changes numbered lo (from 0) up to hi (exclusive; -1: to the end).
func (s *session) changeRange(ctx context.Context, ds *diffSpec, sink bool, lo, hi int64) ([]plan.Change, []connectors.Change, error) {
	var pcs []plan.Change
	var ccs []connectors.Change
	where := fmt.Sprintf("__seq >= %d", lo)
	if hi >= 0 {
		where += fmt.Sprintf(" AND __seq < %d", hi)
	}
	q := fmt.Sprintf("SELECT * FROM %s WHERE %s ORDER BY __seq", diffTable, where)
	err := s.d.query(ctx, q, func(b arrow.RecordBatch) error {
		cols := ds.columns(b)
		for i := 0; i < int(b.NumRows()); i++ {
			pc := s.planChange(ds, cols, i)
			pcs = append(pcs, pc)
			if sink {
				ccs = append(ccs, sinkChange(ds, cols, i, pc.ID))
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read diff: %w", err)
	}
	return pcs, ccs, nil
}

// diffColumns are the columns of one batch of the diff table, resolved once per batch.
type diffColumns struct {
	op                 arrow.Array
	key, after, before []arrow.Array // by ds.key, ds.desired, ds.compared
	comparedAfter      []arrow.Array // the after-values of ds.compared
	flags              []arrow.Array // by ds.compared
	annot              []arrow.Array // by ds.annot
	afterIsKey         []bool
}

func (ds *diffSpec) columns(b arrow.RecordBatch) *diffColumns {
	col := func(name string) arrow.Array { return b.Column(b.Schema().FieldIndices(name)[0]) }
	c := &diffColumns{op: col("__op")}
	for _, k := range ds.key {
		c.key = append(c.key, col(k))
	}
	for _, d := range ds.desired {
		c.after = append(c.after, col(d.Name))
		c.afterIsKey = append(c.afterIsKey, isIn(ds.key, d.Name))
	}
	for _, a := range ds.annot {
		c.annot = append(c.annot, col("__a_"+a.Name))
	}
	for i, d := range ds.compared {
		c.before = append(c.before, col("__o_"+d.Name))
		c.comparedAfter = append(c.comparedAfter, col(d.Name))
		c.flags = append(c.flags, col("__c_"+strconv.Itoa(i)))
	}
	return c
}

func (c *diffColumns) action(i int) connectors.Action {
	return connectors.Action(connectors.Value(c.op, i).(string)) // copied: batch memory is freed on Next
}

func (c *diffColumns) changed(j, i int) bool {
	f, ok := c.flags[j].(*array.Boolean)
	return ok && f.IsValid(i) && f.Value(i)
}

// planChange turns row i of a diff batch into a plan change.
func (s *session) planChange(ds *diffSpec, c *diffColumns, i int) plan.Change {
	action := c.action(i)
	pc := plan.Change{Action: action, Key: make(map[string]any, len(ds.key))}
	for j, k := range ds.key {
		pc.Key[k] = jsonValue(connectors.Value(c.key[j], i))
	}
	switch action {
	case connectors.Create:
		for j, d := range ds.desired {
			if v := connectors.Value(c.after[j], i); v != nil && !c.afterIsKey[j] {
				pc.Fields = append(pc.Fields, plan.FieldChange{Name: d.Name, After: jsonValue(v)})
			}
		}
	case connectors.Update, connectors.Deactivate:
		for j, d := range ds.compared {
			if c.changed(j, i) {
				pc.Fields = append(pc.Fields, plan.FieldChange{Name: d.Name,
					Before: jsonValue(connectors.Value(c.before[j], i)), After: jsonValue(connectors.Value(c.comparedAfter[j], i))})
			}
		}
	}
	if action != connectors.Delete {
		for j, a := range ds.annot {
			if v := connectors.Value(c.annot[j], i); v != nil {
				if pc.Annotations == nil {
					pc.Annotations = map[string]any{}
				}
				pc.Annotations[a.Name] = jsonValue(v)
			}
		}
	}
	pc.ID = s.changeID(ds, &pc)
	return pc
}

// sinkChange turns row i of a diff batch into the sink's change with the given ID.
func sinkChange(ds *diffSpec, c *diffColumns, i int, id string) connectors.Change {
	action := c.action(i)
	cc := connectors.Change{ID: id, Action: action, Key: make(connectors.Record, len(ds.key))}
	for j, k := range ds.key {
		cc.Key[k] = connectors.Value(c.key[j], i)
	}
	if action != connectors.Create {
		cc.Before = make(connectors.Record, len(ds.key)+len(ds.compared))
		for k, v := range cc.Key {
			cc.Before[k] = v
		}
		for j, d := range ds.compared {
			cc.Before[d.Name] = connectors.Value(c.before[j], i)
		}
	}
	if action != connectors.Delete {
		cc.After = make(connectors.Record, len(ds.desired))
		for j, d := range ds.desired {
			cc.After[d.Name] = connectors.Value(c.after[j], i)
		}
	}
	if action == connectors.Update || action == connectors.Deactivate {
		for j, d := range ds.compared {
			if c.changed(j, i) {
				cc.Fields = append(cc.Fields, d.Name)
			}
		}
	}
	return cc
}

// changeID identifies a change by the state it was planned against and its content, so the same plan
// recomputed gives the same IDs, and a change planned against another serial never shares one.
func (s *session) changeID(ds *diffSpec, pc *plan.Change) string {
	h := sha256.New()
	var buf []byte
	buf = append(buf, s.planned.Lineage...)
	buf = append(buf, 0)
	buf = strconv.AppendInt(buf, s.planned.Serial, 10)
	buf = append(buf, 0)
	buf = append(buf, pc.Action...)
	for _, k := range ds.key {
		buf = appendValue(append(buf, 0), pc.Key[k])
	}
	for _, f := range pc.Fields {
		buf = append(append(buf, 0), f.Name...)
		buf = appendValue(append(buf, 0), f.Before)
		buf = appendValue(append(buf, 0), f.After)
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// appendValue appends a type-tagged canonical form of a plan value.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'n')
	case string:
		return append(append(strconv.AppendInt(append(b, 's'), int64(len(x)), 10), ':'), x...)
	case int64:
		return strconv.AppendInt(append(b, 'i'), x, 10)
	case float64:
		return strconv.AppendFloat(append(b, 'f'), x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(append(b, 'b'), x)
	}
	return append(b, fmt.Sprint(v)...)
}

func keyJSON(key []string, r connectors.Record) map[string]any {
	m := make(map[string]any, len(key))
	for _, k := range key {
		m[k] = jsonValue(r[k])
	}
	return m
}

// jsonValue converts a record value to the value a plan document holds (times as RFC 3339 text).
func jsonValue(v any) any {
	if v == nil {
		return nil
	}
	if _, ok := v.(string); ok {
		return v
	}
	switch v.(type) {
	case int64, float64, bool:
		return v
	}
	return connectors.FormatValue(v)
}

var sqlLine = regexp.MustCompile(`(?m)^LINE (\d+): (.*)\n( *)\^`)

// sqlError positions a DuckDB error about a SQL step's query at the query's line and column when DuckDB
// says where it is.
func sqlError(q spec.Expr, err error) error {
	msg := err.Error()
	pos := q.Pos
	if m := sqlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		col := len(m[3]) - len("LINE "+m[1]+": ") + 1
		if strings.HasPrefix(m[2], "...") || col < 1 {
			col = 1
		}
		pos = q.At(line, col)
		msg = strings.TrimSpace(msg[:strings.Index(msg, "LINE ")])
	}
	first, _, _ := strings.Cut(msg, "\n")
	return &spec.Diagnostic{Severity: spec.Error, Code: spec.CodeSQLError, Pos: pos, Message: first}
}
