package runner

import (
	"context"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/export"
)

// mergeExports turns merging off (tests compare the two ways).
var mergeExports = true

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
		Meta: s.meta, Key: s.p.Key, Schema: s.recordSchema(), Base: s.exportBase, Touched: s.touched, Merge: mergeExports, Log: s.logf}
	if beside != nil {
		in.Beside = func() { _ = beside() }
	}
	out, err := export.Run(ctx, s.d, in)
	if err != nil || !out.Written {
		return err
	}
	return s.store.MarkExported(ctx, s.d.Conn(), s.meta.Serial, out.Stamp)
}
