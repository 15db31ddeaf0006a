package runner

import (
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/apply"
	"github.com/possync/possync/runner/outcome"
	"github.com/possync/possync/runner/plan"
)

// StaleError and BlockedError refuse a plan (see package outcome, which the CLI shares).
type (
	StaleError   = outcome.StaleError
	BlockedError = outcome.BlockedError
)

// RejectedChange is a change the sink refused.
type RejectedChange = apply.Rejected

// Report is the outcome of an apply or run, for schedulers and people.
type Report struct {
	RunID      string    `json:"run_id"`
	Pipeline   string    `json:"pipeline"`
	Merchant   string    `json:"merchant"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	PlanHash   string    `json:"plan_hash,omitempty"`
	// Planned counts the plan's changes per action; Applied those the sink acknowledged.
	Planned plan.Summary `json:"planned"`
	Applied plan.Summary `json:"applied"`
	// Rejected are changes the sink refused; they stay planned for the next run.
	Rejected []RejectedChange `json:"rejected"`
	// InputRejects are input rows the sources could not use; their records were left untouched.
	InputRejects []connectors.Reject `json:"input_rejects"`
	// Recovered counts changes of an interrupted earlier run that were settled before planning.
	Recovered int      `json:"recovered"`
	Notes     []string `json:"notes,omitempty"`
	// API counts each connector's API requests, retries and rate-limit answers (connectors that made any).
	API []APICalls `json:"api,omitempty"`
	// Durations are seconds per stage.
	Durations map[string]float64 `json:"durations_seconds"`
	// State is what the run moved to and from a shared state backend (absent for the local one).
	State *StateTransfer `json:"state_transfer,omitempty"`
	// StateSerial is the state's serial the run left: after its last commit, or the one it found when it
	// committed nothing (absent when there was no state, or the run did not get to open it).
	StateSerial int64  `json:"state_serial,omitempty"`
	ExitReason  string `json:"exit_reason"`
	ExitCode    int    `json:"exit_code"`
	Error       string `json:"error,omitempty"`
}

// Exit reasons and codes of a run (package outcome's).
const (
	ExitOK      = outcome.ExitOK
	ExitFailure = outcome.ExitFailure
	ExitInvalid = outcome.ExitInvalid
	ExitBlocked = outcome.ExitBlocked
	ExitLocked  = outcome.ExitLocked
	// ExitInterrupted: SIGINT or SIGTERM stopped the run (outcome.InterruptedError).
	ExitInterrupted = outcome.ExitInterrupted
	ReasonOK        = outcome.ReasonOK
	ReasonNoop      = outcome.ReasonNoop
	ReasonReject    = outcome.ReasonReject
)
