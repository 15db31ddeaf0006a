package runner

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/stage"
	"github.com/possync/possync/runner/steps"
	"github.com/possync/possync/transforms"
)

// source is a built source of the pipeline.
type source struct {
	comp *pipelines.Component
	src  connectors.Source
}

// stage reads a source into the table named after it (stage.Run), from its last checkpoint unless the run
// is a full refresh.
func (s *session) stage(ctx context.Context, src *source) (*stage.Output, error) {
	name := src.comp.Name
	req := connectors.ReadRequest{Now: s.now, FullRefresh: s.opts.FullRefresh, AllowMassChange: s.opts.AllowMassChange, Alloc: s.alloc}
	if !s.opts.FullRefresh {
		cp, err := s.store.Checkpoint(ctx, s.d.Conn(), name)
		if err != nil {
			return nil, err
		}
		req.Checkpoint = cp
	}
	in := stage.Input{Name: name, Type: src.comp.Type, Source: src.src, Request: req, Stored: s.store.SourceSnapshot(name),
		Defer: s.deferrable(src), Redact: s.p.Secrets.Redact}
	switch src.src.(type) {
	case connectors.Confirmer, connectors.Committer: // never short-circuited (rerun.go): always read
	default:
		in.Expect, in.ExpectRecords = s.expected(name)
	}
	out, err := stage.Run(ctx, s.d, in)
	if err == nil && out.Deferred != nil {
		if s.deferred == nil {
			s.deferred = map[string]steps.DeferredInput{}
		}
		s.deferred[name] = out.Deferred
	}
	return out, err
}

// deferrable says whether a source's files may be read through a view that the first step's query reads
// (stage.Input.Defer: the files are then parsed once, into that step's table, instead of into a table of
// their own that the step copies). Only when nothing else reads the source's records: the pipeline's only
// source, read by its first step, with no explain trace, desired-records hook or progress events (which
// read the source's table), no source that confirms or commits what it read, and steps that say so
// themselves (rowSteps): the first one gives one output row per record (transforms.RowPushdown, so its rows
// count the source's records), and the others read nothing but their input (transforms.Batch).
func (s *session) deferrable(src *source) bool {
	if len(s.sources) != 1 || len(s.p.Transforms) == 0 || s.trace != nil || s.opts.Desired != nil || s.timings.observe != nil {
		return false
	}
	switch src.src.(type) {
	case connectors.Confirmer, connectors.Committer:
		return false
	}
	if _, ok := src.src.(connectors.Scanner); !ok {
		return false
	}
	return s.rowSteps(src.comp.Name, src.src.Schema())
}

// rowSteps builds the pipeline's steps from the registry as steps.Run will (the same configuration, input
// schemas and Env; constructors are pure) and asks the built transforms, not their type names, whether the
// first reads source and gives one output row per input row (transforms.RowPushdown), and every later one
// is a row function of its own input only (transforms.Batch: not a SQL step, which may read any relation)
// that does not read source. A step that cannot be built answers no; steps.Run reports its error.
//
// What each constructor returned is kept in s.prebuilt, which steps.Run takes instead of building the step
// again when its Env turns out the same (steps.Input.Prebuilt): the first step's always is (its input is
// the source, of the schema given here); a later step's when its input's table has the schema the step
// before it stated.
func (s *session) rowSteps(source string, sch *arrow.Schema) bool {
	schemas := map[string]*arrow.Schema{source: sch}
	prev := source
	for i, st := range s.p.Transforms {
		input := st.Input
		if input == "" {
			input = prev
		}
		if (i == 0) != (input == source) || schemas[input] == nil {
			return false
		}
		_, ctor, ok := transforms.Registry.Lookup(st.Type)
		if !ok {
			return false
		}
		env := transforms.Env{Input: schemas[input], InputName: input, Now: s.now, Location: s.p.TimeZone,
			Alloc: s.alloc, Dir: s.p.Dir}
		tr, err := ctor(st.Config, env)
		if s.prebuilt == nil {
			s.prebuilt = map[*pipelines.Step]steps.Prebuilt{}
		}
		s.prebuilt[st] = steps.Prebuilt{Env: env, Transform: tr, Err: err}
		if err != nil {
			return false
		}
		if _, ok := tr.(transforms.RowPushdown); i == 0 && !ok {
			return false
		}
		if _, ok := tr.(transforms.Batch); !ok {
			return false
		}
		prev = steps.Table(i, st)
		schemas[prev] = tr.Schema()
	}
	return true
}

// deferredHolds adds the holds of the sources that were read through a view to the run's (collectRejects
// adds the others' before the transforms run; these are known once the first step read the files).
func (s *session) deferredHolds() {
	for _, src := range s.sources {
		name := src.comp.Name
		if st := s.staged[name]; st != nil && st.Deferred != nil {
			for _, h := range st.Result.Holds {
				s.prot.holds = append(s.prot.holds, fmt.Sprintf("source %s: %s", name, h))
			}
		}
	}
}
