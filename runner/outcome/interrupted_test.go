package outcome

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestInterrupted: an interrupted run exits 130 with reason "interrupted", whatever failed with the
// cancellation, and says how far it got and what is left.
func TestInterrupted(t *testing.T) {
	for _, c := range []struct {
		applied, planned int
		want             string
	}{
		{0, 0, "interrupted before the plan was made: no change was applied; run it again"},
		{5000, 12000, "interrupted: 5000 of 12000 planned changes applied and recorded in the state; run it again to apply the rest"},
		{0, 12000, "interrupted: 0 of 12000 planned changes applied and recorded in the state; run it again to apply the rest"},
		{5000, 5000, "interrupted after all 5000 planned changes were applied and recorded in the state, before the run ended " +
			"(its records file or checkpoints may be behind); run it again to finish"},
	} {
		err := fmt.Errorf("apply: %w", &InterruptedError{Applied: c.applied, Planned: c.planned, Err: context.Canceled})
		if reason, code := Classify(err); reason != "interrupted" || code != 130 {
			t.Errorf("%d of %d: Classify gives %q, %d; want interrupted, 130", c.applied, c.planned, reason, code)
		}
		var ie *InterruptedError
		if !errors.As(err, &ie) || ie.Error() != c.want {
			t.Errorf("%d of %d: %q, want %q", c.applied, c.planned, ie, c.want)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%d of %d: the cancellation is not wrapped", c.applied, c.planned)
		}
	}
}
