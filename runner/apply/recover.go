package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
)

// Recover settles the changes an interrupted run sent without hearing back: those the sink confirms
// (connectors.Reconciler, or connectors.EntryReconciler for intents that hold only a change's ID) are
// committed under that run's ID; the rest are dropped from the intents and planned again. It returns how
// many were committed and a note for the report (empty when there was nothing to settle).
func (a *Applier) Recover(ctx context.Context) (int, string, error) {
	intents, err := a.Store.Intents(ctx, a.DB.Conn())
	if err != nil || len(intents) == 0 {
		return 0, "", err
	}
	sch := engine.Canonical(a.Schema)
	ids := make([]string, len(intents))
	var changes []connectors.Change // of the intents that hold their change
	var bare []string               // IDs of the intents that hold only that (recordIntents)
	for i, in := range intents {
		ids[i] = in.ID
		if len(in.Change) == 0 {
			bare = append(bare, in.ID)
			continue
		}
		c, err := DecodeChange(in.Change, sch)
		if err != nil {
			return 0, "", fmt.Errorf("intent %s: %w", in.ID, err)
		}
		changes = append(changes, c)
	}
	var landed []connectors.Change
	unknown := 0 // changes the sink cannot confirm
	if len(changes) > 0 {
		if r, ok := a.Sink.(connectors.Reconciler); ok {
			ok, err := r.Reconcile(ctx, changes)
			if err != nil {
				return 0, "", fmt.Errorf("sink %s: reconcile: %w", a.SinkType, err)
			}
			for i, c := range changes {
				if i < len(ok) && ok[i] {
					landed = append(landed, c)
				}
			}
		} else {
			unknown += len(changes)
		}
	}
	if len(bare) > 0 {
		if r, ok := a.Sink.(connectors.EntryReconciler); ok {
			entries, err := r.LandedEntries(ctx, bare)
			if err != nil {
				return 0, "", fmt.Errorf("sink %s: reconcile: %w", a.SinkType, err)
			}
			for i, e := range entries {
				if i >= len(bare) || e == nil {
					continue
				}
				c, err := DecodeChange(e, sch)
				if err != nil {
					return 0, "", fmt.Errorf("sink %s: entry of change %s: %w", a.SinkType, bare[i], err)
				}
				if c.ID != bare[i] {
					return 0, "", fmt.Errorf("sink %s: the entry given for change %s is change %s's", a.SinkType, bare[i], c.ID)
				}
				landed = append(landed, c)
			}
		} else {
			// The pipeline's sink is no longer the one that kept these changes: nothing tells whether they landed.
			unknown += len(bare)
		}
	}
	var note string
	switch {
	case unknown == 0:
		note = fmt.Sprintf("settled %d change(s) of an interrupted run: %d had reached the sink", len(intents), len(landed))
	case unknown == len(intents):
		note = fmt.Sprintf("%d change(s) of an interrupted run may have reached the sink, which cannot confirm; they are planned again", len(intents))
	default:
		note = fmt.Sprintf("settled %d change(s) of an interrupted run: %d had reached the sink; %d more may have, which the sink cannot confirm: they are planned again",
			len(intents)-unknown, len(landed), unknown)
	}
	if err := a.commit(ctx, intents[0].RunID, landed, ids, 0, true); err != nil { // every intent held settles
		return 0, note, err
	}
	a.logf("recovered %d change(s) of interrupted run %s", len(landed), intents[0].RunID)
	return len(landed), note, nil
}

// DecodeChange restores a change from its intent JSON, with values typed by the schema.
func DecodeChange(b []byte, sch *arrow.Schema) (connectors.Change, error) {
	var c connectors.Change
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return c, err
	}
	for _, r := range []record.Record{c.Key, c.Before, c.After} {
		for k, v := range r {
			idx := sch.FieldIndices(k)
			if len(idx) == 0 {
				continue
			}
			tv, err := fromJSON(sch.Field(idx[0]).Type, v)
			if err != nil {
				return c, fmt.Errorf("field %s: %w", k, err)
			}
			r[k] = tv
		}
	}
	return c, nil
}

func fromJSON(t arrow.DataType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch record.TypeName(t) {
	case "int":
		if n, ok := v.(json.Number); ok {
			return n.Int64()
		}
	case "float":
		if n, ok := v.(json.Number); ok {
			return n.Float64()
		}
	case "date", "timestamp":
		if s, ok := v.(string); ok {
			return time.Parse(time.RFC3339Nano, s)
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("cannot read %v as %s", v, t)
}
