package runner

import (
	"context"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/stage"
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
	in := stage.Input{Name: name, Type: src.comp.Type, Source: src.src, Request: req, Stored: s.store.SourceSnapshot(name)}
	switch src.src.(type) {
	case connectors.Confirmer, connectors.Committer: // never short-circuited (rerun.go): always read
	default:
		in.Expect, in.ExpectRecords = s.expected(name)
	}
	return stage.Run(ctx, s.d, in)
}
