package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
	"github.com/possync/possync/runner/steps"
)

// Explanation is one record's path through a plan (possync explain): the source rows and each step's rows
// with its key, the state row, and the planned action with the rule that decided it. It is computed by
// the plan itself (Plan's stages, with a trace of the key taken before the intermediate tables are freed),
// so it says what a plan would do, not a re-implementation of it.
type Explanation struct {
	Pipeline string            `json:"pipeline"`
	Key      map[string]string `json:"key"`
	// Sources and Steps are the rows with the key in each source and each transform step's output, in order.
	Sources []TraceRows `json:"sources"`
	Steps   []TraceRows `json:"steps"`
	// State is the last-applied row (none when the record was never applied); Serial the state's serial.
	State  TraceRows `json:"state"`
	Serial int64     `json:"serial"`
	// Action is the planned action, or "none"; Change the plan's change for the key, if any.
	Action string       `json:"action"`
	Change *plan.Change `json:"change,omitempty"`
	// Rule says why: which comparison or diff option decided the action.
	Rule string `json:"rule"`
	// Options are the diff options and guard that apply, as the pipeline sets them.
	Options []string `json:"options"`
	// Guards are the plan's guard verdicts.
	Guards []plan.Guard `json:"guards"`
}

// TraceRows are the rows of one relation that carry the key.
type TraceRows struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
	// Rows are the rows as JSON objects (at most explainRows of them).
	Rows []json.RawMessage `json:"rows"`
	// Note says why the rows cannot be found by the key (the relation lacks a key field).
	Note string `json:"note,omitempty"`
}

// explainRows caps the rows shown per relation.
const explainRows = 20

// Explain plans the pipeline as Plan does (the state is only read) and explains the record whose key
// fields have the given values (compared as text).
func Explain(ctx context.Context, p *pipelines.Pipeline, key map[string]string, opts Options) (*Explanation, error) {
	for k := range key {
		if !isIn(p.Key, k) {
			return nil, fmt.Errorf("%s is not a key field (the key is %s)", k, strings.Join(p.Key, ", "))
		}
	}
	for _, k := range p.Key {
		if _, ok := key[k]; !ok {
			return nil, fmt.Errorf("the key is %s: give a value for %s", strings.Join(p.Key, ", "), k)
		}
	}
	x := &Explanation{Pipeline: p.Name, Key: key, Sources: []TraceRows{}, Steps: []TraceRows{}, State: TraceRows{Name: "state", Rows: []json.RawMessage{}}}
	s := newSession(p, opts)
	defer s.close()
	unlock, err := s.store.Lock(state.Holder{PID: pid(), Host: host(), RunID: "explain", StartedAt: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.trace = func(ctx context.Context) error {
		for _, src := range s.sources {
			t, err := s.traceRows(ctx, src.comp.Name, key)
			if err != nil {
				return err
			}
			t.Type = src.comp.Type
			x.Sources = append(x.Sources, t)
		}
		for i, st := range p.Transforms {
			t, err := s.traceRows(ctx, steps.Table(i, st), key)
			if err != nil {
				return err
			}
			t.Name, t.Type = steps.Name(st), st.Type
			x.Steps = append(x.Steps, t)
		}
		return nil
	}
	if err := s.prepare(ctx, true); err != nil {
		return nil, err
	}
	x.Serial = s.meta.Serial
	if snap := s.store.Snapshot(); snap != "" {
		st, err := s.traceRows(ctx, snap, key)
		if err != nil {
			return nil, err
		}
		x.State.Rows = st.Rows
	}
	desired, err := s.traceRows(ctx, s.desired, key)
	if err != nil {
		return nil, err
	}
	protected := false
	if s.protected != "" {
		pr, err := s.traceRows(ctx, s.protected, key)
		if err != nil {
			return nil, err
		}
		protected = len(pr.Rows) > 0
	}
	pl, _, _, err := s.plan(ctx, planHeld)
	var keyErr *diff.KeyError
	if errors.As(err, &keyErr) {
		// The rows behind a duplicated key are what the person needs to see: the trace, and why no plan.
		x.Action, x.Guards, x.Options = "none", []plan.Guard{}, s.diffOptions()
		x.Rule = "no plan can be made: " + keyErr.Reason()
		return x, nil
	}
	if err != nil {
		return nil, err
	}
	x.Guards = pl.Guards
	x.Action = "none"
	for i := range pl.Changes {
		if keyMatches(pl.Changes[i].Key, key) {
			x.Change = &pl.Changes[i]
			x.Action = string(x.Change.Action)
			break
		}
	}
	x.Options = s.diffOptions()
	x.Rule = s.rule(x, len(desired.Rows) > 0, len(x.State.Rows) > 0, protected)
	return x, nil
}

// keyMatches says whether a plan change's key has the given values.
func keyMatches(k map[string]any, want map[string]string) bool {
	for f, v := range want {
		if fmt.Sprint(k[f]) != v {
			return false
		}
	}
	return true
}

// traceRows reads the rows of relation rel whose key fields have the key's values.
func (s *session) traceRows(ctx context.Context, rel string, key map[string]string) (TraceRows, error) {
	t := TraceRows{Name: rel, Rows: []json.RawMessage{}}
	ref := rel
	if !strings.Contains(rel, ".") {
		ref = engine.Ident(rel)
	}
	sch, err := s.d.SchemaOf(ctx, ref)
	if err != nil {
		return t, fmt.Errorf("explain: %s: %w", rel, err)
	}
	var where []string
	var args []any
	for _, k := range s.p.Key {
		if len(sch.FieldIndices(k)) == 0 {
			t.Note = fmt.Sprintf("no %s field here (fields: %s), so its rows cannot be matched by the key", k, joinComma(engine.FieldNames(sch)))
			return t, nil
		}
		where = append(where, "CAST(t."+engine.Ident(k)+" AS VARCHAR) = ?")
		args = append(args, key[k])
	}
	rows, err := s.d.Rows(ctx, fmt.Sprintf("SELECT CAST(to_json(t) AS VARCHAR) FROM %s t WHERE %s LIMIT %d", ref, strings.Join(where, " AND "), explainRows), args...)
	if err != nil {
		return t, fmt.Errorf("explain: %s: %w", rel, err)
	}
	defer rows.Close()
	for rows.Next() {
		var j string
		if err := rows.Scan(&j); err != nil {
			return t, fmt.Errorf("explain: %s: %w", rel, err)
		}
		t.Rows = append(t.Rows, json.RawMessage(s.p.Secrets.Redact(j)))
	}
	return t, rows.Err()
}

// diffOptions lists the diff settings and the guard as the pipeline sets them.
func (s *session) diffOptions() []string {
	d := s.p.Diff
	out := []string{"diff.on_missing: " + string(orDefault(string(d.OnMissing), "delete")),
		"diff.on_change: " + orDefault(string(d.OnChange), "update")}
	if d.ActiveField != "" {
		out = append(out, "diff.active_field: "+d.ActiveField)
	}
	if len(d.Ignore) > 0 {
		out = append(out, "diff.ignore: "+joinComma(d.Ignore))
	}
	out = append(out, fmt.Sprintf("guards.max_delete_percent: %g", s.p.Guards.MaxDeletePercent))
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// rule says which comparison or diff option decided the record's action.
func (s *session) rule(x *Explanation, inDesired, inState, protected bool) string {
	d := s.p.Diff
	var r string
	switch x.Action {
	case string(connectors.Create):
		r = "in the desired records and not in the state (never applied, or deleted since): create"
	case string(connectors.Update):
		var names []string
		for _, f := range x.Change.Fields {
			names = append(names, f.Name)
		}
		sort.Strings(names)
		r = "in the desired records and in the state, with different values of " + joinComma(names) + ": update"
	case string(connectors.Deactivate):
		if inDesired {
			r = fmt.Sprintf("diff.active_field %s turns false (it is true in the state): deactivate", d.ActiveField)
		} else {
			r = fmt.Sprintf("in the state but missing from the desired records, and diff.on_missing is deactivate: %s set to false", d.ActiveField)
		}
	case string(connectors.Delete):
		r = "in the state but missing from the desired records, and diff.on_missing is delete (the default): delete"
	default:
		switch {
		case protected:
			r = "protected: a rejected input row leads to this record, so its last applied values stay (see the plan's rejects)"
		case inDesired && inState && d.OnChange == pipelines.ChangeKeep:
			r = "in the desired records and in the state, and diff.on_change is keep: never updated"
		case inDesired && inState:
			r = "unchanged: every compared field equals the state's"
			if len(d.Ignore) > 0 {
				r += " (diff.ignore: " + joinComma(d.Ignore) + " are not compared)"
			}
		case inState && d.OnMissing == pipelines.MissingKeep:
			r = "in the state but missing from the desired records, and diff.on_missing is keep: left alone"
		case inState && d.OnMissing == pipelines.MissingDeactivate:
			r = "in the state but missing from the desired records, and already inactive: nothing to deactivate"
		case inState && s.heldRemovals() > 0:
			r = "in the state but missing from the desired records; its removal is held this run: " + strings.Join(s.prot.holds, "; ")
		case inState:
			r = "in the state but missing from the desired records, yet no change is planned"
		default:
			r = "neither in the desired records nor in the state: nothing to plan"
			if last := lastWith(x); last != "" {
				r += "; the last relation that has it is " + last
			}
		}
	}
	if x.Action == string(connectors.Delete) || x.Action == string(connectors.Deactivate) {
		for _, g := range x.Guards {
			if g.Verdict == plan.Blocked {
				r += "; but guard " + g.Name + " blocks the apply: " + g.Message
			}
		}
	}
	return r
}

// lastWith names the last source or step whose output has the key, and the step that dropped it.
func lastWith(x *Explanation) string {
	last := ""
	for _, t := range x.Sources {
		if len(t.Rows) > 0 {
			last = "source " + t.Name
		}
	}
	for i, t := range x.Steps {
		if len(t.Rows) > 0 {
			last = "step " + t.Name
			continue
		}
		if last != "" && t.Note == "" {
			return last + ", and step " + x.Steps[i].Name + " (" + x.Steps[i].Type + ") dropped it"
		}
	}
	return last
}
