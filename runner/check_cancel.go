package runner

import (
	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// checkCancels requires, for a sink whose cancellations are irreversible (connectors.Canceller: an order
// canceled on a website), that diff.active_field is the sink's cancel field. A cancellation is then always
// planned as a deactivate, which guards.max_delete_percent counts like any destructive change; without it,
// it would be an update that no guard sees. plan, apply and validate all run it, once the sink is built.
func (s *session) checkCancels() spec.Diagnostics {
	c, ok := s.sink.(connectors.Canceller)
	if !ok {
		return nil
	}
	field := c.CancelField()
	switch a := s.p.Diff.ActiveField; {
	case a == field:
		return nil
	case a == "":
		at := s.p.Sink.Pos
		at.Path = "/diff/active_field"
		return spec.Diagnostics{spec.Errorf(at, spec.CodeDiffField,
			"add `diff: {active_field: "+field+"}`: a cancellation is then a deactivate, which guards.max_delete_percent counts",
			"the %s sink cancels orders, which cannot be undone, when %q turns false: set diff.active_field to %q so that "+
				"every cancellation goes through the mass-change guard", s.p.Sink.Type, field, field)}
	default:
		return spec.Diagnostics{spec.Errorf(s.p.PosOf("/diff/active_field"), spec.CodeDiffField,
			"set `active_field: "+field+"`",
			"active_field is %q, but the %s sink cancels orders when %q turns false: with another field a cancellation "+
				"would be an update that the mass-change guard does not count", a, s.p.Sink.Type, field)}
	}
}
