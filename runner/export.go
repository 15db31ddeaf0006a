package runner

import (
	"context"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/export"
	"github.com/possync/possync/runner/plan"
)

// mergeExports turns merging off (tests compare the two ways); earlyExports turns off the writing of a
// first sync's records file during its apply (startEarly).
var mergeExports, earlyExports = true, true

// startEarly starts writing the sink's records file (connectors.Exporter) while the apply of pl commits,
// when the file can be written that way (export.StartEarly: a first sync into an empty snapshot, in a
// format whose files concatenate, among others): each commit's records are written as a part, on a
// connection and a goroutine of their own, so that the export after the last commit only checks the parts
// and renames the file (issue #15). s.early stays nil otherwise; for a first sync (an empty snapshot) the
// reason is logged.
func (s *session) startEarly(ctx context.Context, pl *plan.Plan) error {
	ex, ok := s.sink.(connectors.Exporter)
	if !ok || !earlyExports || pl.Summary.Total() == 0 {
		return nil
	}
	e, why, err := export.StartEarly(ctx, s.d, export.Input{Export: ex.Export(), SinkType: s.p.Sink.Type, Snapshot: s.store.Snapshot(),
		Meta: s.meta, Key: s.p.Key, Schema: s.recordSchema(), Log: s.logf})
	if err != nil {
		return err
	}
	if e == nil && s.meta.Records == 0 {
		s.logf("export %s: written after the apply (%s)", ex.Export().Path, why)
	}
	s.early = e
	return nil
}

// export brings the sink's whole-set file (connectors.Exporter) up to date with the snapshot (export.Run)
// and records what was written.
func (s *session) export(ctx context.Context) error { return s.exportBeside(ctx, nil) }

// exportBeside is export, with beside (when set) run while a merge of the file writes it
// (export.Input.Beside); beside keeps its own error and runs once (sync.OnceValue): the caller calls it
// again afterwards, which runs it if the export did not.
func (s *session) exportBeside(ctx context.Context, beside func() error) error {
	ex, ok := s.sink.(connectors.Exporter)
	if !ok || s.store.Snapshot() == "" {
		return nil
	}
	in := export.Input{Export: ex.Export(), SinkType: s.p.Sink.Type, Snapshot: s.store.Snapshot(),
		Meta: s.meta, Key: s.p.Key, Schema: s.recordSchema(), Base: s.exportBase, Touched: s.touched, Merge: mergeExports,
		Early: s.early, Log: s.logf}
	if beside != nil {
		in.Beside = func() { _ = beside() }
	}
	out, err := export.Run(ctx, s.d, in)
	if err != nil || !out.Written {
		return err
	}
	return s.store.MarkExported(ctx, s.d.Conn(), s.meta.Serial, out.Stamp)
}
