// Package outcome is how a run ends, as a scheduler sees it: the exit reasons and codes of the CLI and the
// run report, the errors that refuse a plan (StaleError, BlockedError), and Classify, which maps an error to
// its reason and code. The CLI and the runner's report share it.
//
// It owns: the exit codes and reasons. It may not touch: anything of a run (it only classifies errors).
package outcome

import (
	"errors"
	"strings"

	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// Exit reasons and codes of a run.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitInvalid  = 2
	ExitBlocked  = 3
	ExitLocked   = 75
	ReasonOK     = "applied"
	ReasonNoop   = "no_changes"
	ReasonReject = "changes_rejected"
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

// Classify maps an error to a run's exit reason and code (the CLI's exit code for it).
func Classify(err error) (string, int) {
	var stale *StaleError
	var blocked *BlockedError
	var invalid interface{ HasErrors() bool }
	var lost *state.LockLostError
	switch {
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
	}
	return "error", ExitFailure
}
