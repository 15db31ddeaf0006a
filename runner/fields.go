package runner

import (
	"context"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/spec"
)

// DesiredFields are the fields of the records the pipeline's last step delivers to the sink, found as Check
// finds them: over empty inputs, without reading data (for `possync init`, which picks the key among them).
func DesiredFields(ctx context.Context, p *pipelines.Pipeline) ([]string, spec.Diagnostics) {
	s := newSession(p, Options{})
	scratch, cleanup, err := checkScratch()
	if err != nil {
		return nil, spec.Diagnostics{spec.Errorf(spec.Pos{File: p.File}, spec.CodeInternal, "", "%v", err)}
	}
	defer cleanup()
	if s.d, err = openEngine(ctx, pipelines.State{Dir: scratch}); err != nil {
		return nil, spec.Diagnostics{spec.Errorf(spec.Pos{File: p.File}, spec.CodeInternal, "", "%v", err)}
	}
	defer s.close()
	diags := s.buildSources()
	if diags.HasErrors() {
		return nil, diags
	}
	if err := s.stageAll(ctx, true); err != nil {
		diags.Add(spec.Pos{File: p.File}, err)
		return nil, diags
	}
	more, err := s.transformAll(ctx)
	diags = append(diags, more...)
	if err != nil {
		diags.Add(spec.Pos{File: p.File}, err)
	}
	if diags.HasErrors() || s.schemas[s.desired] == nil {
		return nil, diags
	}
	return engine.FieldNames(s.schemas[s.desired]), diags
}
