// Package outcome is how a run ends, as a scheduler sees it: the exit reasons and codes of the CLI and the
// run report, the errors that refuse a plan (StaleError, BlockedError), and Classify, which maps an error to
// its reason and code. The CLI and the runner's report share it.
//
// It owns: the exit codes and reasons. It may not touch: anything of a run (it only classifies errors).
package outcome

import (
	"errors"
	"fmt"
	"strings"

	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// Exit reasons and codes of a run.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitInvalid = 2
	ExitBlocked = 3
	ExitLocked  = 75
	// ExitInterrupted ends a run stopped by SIGINT or SIGTERM (128 + SIGINT's number, as shells report an
	// interrupted command): what the sink acknowledged before it is recorded, the rest is planned again.
	ExitInterrupted = 130
	ReasonOK        = "applied"
	ReasonNoop      = "no_changes"
	ReasonReject    = "changes_rejected"
)

// StaleError refuses a saved plan that no longer matches the inputs, the state or the configuration.
type StaleError struct{ Reasons []string }

func (e *StaleError) Error() string {
	return "the saved plan is stale, nothing was applied: " + strings.Join(e.Reasons, "; ") + "; make a new plan"
}

// BlockedError refuses a plan a guard blocked.
type BlockedError struct{ Guards []plan.Guard }

func (e *BlockedError) Error() string {
	var msgs []string
	for _, g := range e.Guards {
		if g.Verdict == plan.Blocked {
			msgs = append(msgs, g.Name+": "+g.Message)
		}
	}
	return "blocked by guard, nothing was applied: " + strings.Join(msgs, "; ")
}

// InterruptedError ends a run whose context was cancelled (SIGINT or SIGTERM) before it was done. The
// changes the sink acknowledged before the interrupt are recorded in the state (the batch in flight is
// committed); those not sent are planned again by the next run, and any left in doubt are settled by it.
type InterruptedError struct {
	Applied, Planned int   // changes applied and recorded, of those planned (Planned 0: stopped before a plan)
	Err              error // what the cancellation made fail
}

func (e *InterruptedError) Error() string {
	if e.Planned == 0 {
		return "interrupted before the plan was made: no change was applied; run it again"
	}
	if e.Applied >= e.Planned {
		return fmt.Sprintf("interrupted after all %d planned changes were applied and recorded in the state, before the run "+
			"ended (its records file or checkpoints may be behind); run it again to finish", e.Planned)
	}
	return fmt.Sprintf("interrupted: %d of %d planned changes applied and recorded in the state; run it again to apply the rest", e.Applied, e.Planned)
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// Classify maps an error to a run's exit reason and code (the CLI's exit code for it).
func Classify(err error) (string, int) {
	var stale *StaleError
	var blocked *BlockedError
	var invalid interface{ HasErrors() bool }
	var lost *state.LockLostError
	var interrupted *InterruptedError
	var merchant *state.MerchantError
	switch {
	case errors.As(err, &interrupted):
		return "interrupted", ExitInterrupted
	case errors.As(err, &lost):
		return "lock_lost", ExitLocked // a newer run took over (PostgreSQL state): retry later, like "locked"
	case errors.Is(err, state.ErrLocked):
		return "locked", ExitLocked
	case errors.As(err, &blocked):
		return "guard_blocked", ExitBlocked
	case errors.As(err, &stale):
		return "stale_plan", ExitFailure
	case errors.As(err, &invalid):
		return "invalid_config", ExitInvalid
	case errors.As(err, &merchant):
		// Two pipelines share one state (a name kept in a copy for another merchant): fix the file, no retry.
		return "invalid_config", ExitInvalid
	}
	return "error", ExitFailure
}
