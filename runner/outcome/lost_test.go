package outcome

import (
	"fmt"
	"testing"

	"github.com/possync/possync/runner/state"
)

// TestLockLossExits75: a run that lost its PostgreSQL lock to a newer run exits 75 like a locked one, with
// its own reason, also when the error is wrapped.
func TestLockLossExits75(t *testing.T) {
	lost := fmt.Errorf("commit: %w", &state.LockLostError{Pipeline: "p", Fence: 3, Current: 4, Reason: "a newer run took the lock"})
	if reason, code := Classify(lost); reason != "lock_lost" || code != ExitLocked || ExitLocked != 75 {
		t.Errorf("lost lock: %s %d", reason, code)
	}
	if reason, code := Classify(&state.LockedError{Pipeline: "p"}); reason != "locked" || code != 75 {
		t.Errorf("locked: %s %d", reason, code)
	}
}
