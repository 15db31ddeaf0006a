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
func (s *session) export(ctx context.Context) error {
	ex, ok := s.sink.(connectors.Exporter)
	if !ok || s.store.Snapshot() == "" {
		return nil
	}
	out, err := export.Run(ctx, s.d, export.Input{Export: ex.Export(), SinkType: s.p.Sink.Type, Snapshot: s.store.Snapshot(),
		Meta: s.meta, Key: s.p.Key, Schema: s.recordSchema(), Base: s.exportBase, Touched: s.touched, Merge: mergeExports, Log: s.logf})
	if err != nil || !out.Written {
		return err
	}
	return s.store.MarkExported(ctx, s.d.Conn(), s.meta.Serial, out.Stamp)
}
