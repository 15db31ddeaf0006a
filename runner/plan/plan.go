// Package plan is the plan document: what a run would change, as versioned JSON data first. The text a
// person reads (summary first, then per-record field diffs) is rendered from the document, never from the
// planner's internals, so `possync plan --json`, `--out` and the terminal always agree.
//
// The hash (Plan.Hash) covers the document's head and each change by its ID (ChangeID, a digest of the
// change's content) and annotations: its definition is in hash.go, and Read checks both.
//
// It owns: the document's types, its JSON encoding, its hash and its rendering. It may not touch: DuckDB,
// the state or any connector: it is data, built by the runner from the diff's changes.
package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// FormatVersion is the version of the plan document. Readers refuse a plan of another major version, and
// one of version 1.0, whose hash was over the whole document (see hash.go for the hash since 1.1).
const FormatVersion = "1.1"

// Plan is a dry-run of a pipeline: the changes that applying it would make, and why it may be refused.
type Plan struct {
	FormatVersion string    `json:"format_version"`
	Pipeline      Pipeline  `json:"pipeline"`
	CreatedAt     time.Time `json:"created_at"`
	// EvaluatedAt is the evaluation time (now, or `possync plan --at`).
	EvaluatedAt time.Time `json:"evaluated_at"`
	Key         []string  `json:"key"`
	Inputs      []Input   `json:"inputs"`
	State       State     `json:"state"`
	Summary     Summary   `json:"summary"`
	Guards      []Guard   `json:"guards"`
	// Rejects are input rows that could not be used; their keys (when known) are left untouched this run.
	Rejects []connectors.Reject `json:"rejects,omitempty"`
	// Notes are remarks besides the changes (a source's files skipped, removals held, pending mappings,
	// orders held back, ...), each with its kind.
	Notes []Note `json:"notes,omitempty"`
	// Upcoming lists changes due soon without a new input (a promotion starting or ending), by time.
	Upcoming []Upcoming `json:"upcoming,omitempty"`
	// Drift lists records whose state on the target differs from what was last applied (edited or removed
	// directly there); only with --refresh. The changes then put them back.
	Drift []Drift `json:"drift,omitempty"`
	// Estimate is the sink's estimate of what applying costs, when it can tell.
	Estimate *connectors.Estimate `json:"estimate,omitempty"`
	Changes  []Change             `json:"changes"`
	// Shortcut, when set, says why the plan was not computed: its inputs, pipeline and state are those of an
	// earlier successful run, so it has no change (possync plan --full-plan computes it anyway). The hash
	// leaves it out: the plan is the one a full computation gives.
	Shortcut string `json:"shortcut,omitempty"`
	// Hash covers everything in the plan but when it was made and evaluated (configuration, inputs, state,
	// summary, guards, changes: each change by its ID, a digest of its content, and its annotations; see
	// Hasher): apply recomputes the plan and refuses a saved one whose hash differs.
	Hash string `json:"hash"`
}

// Pipeline identifies the pipeline and its configuration.
type Pipeline struct {
	Name       string `json:"name"`
	Merchant   string `json:"merchant"`
	File       string `json:"file"`
	ConfigHash string `json:"config_hash"`
}

// Input describes one source as read for the plan.
type Input struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Mode        string `json:"mode"`
	Records     int64  `json:"records"`
	Fingerprint string `json:"fingerprint"`
}

// State identifies the state the plan was made against. An empty store has no lineage.
type State struct {
	Lineage string `json:"lineage,omitempty"`
	Serial  int64  `json:"serial"`
	Records int64  `json:"records"`
}

// Summary counts changes per action, and the records left as they are.
type Summary struct {
	Create     int   `json:"create"`
	Update     int   `json:"update"`
	Deactivate int   `json:"deactivate"`
	Delete     int   `json:"delete"`
	Unchanged  int64 `json:"unchanged"`
}

// Total is the number of changes.
func (s Summary) Total() int { return s.Create + s.Update + s.Deactivate + s.Delete }

// Count returns the count of one action.
func (s Summary) Count(a connectors.Action) int {
	switch a {
	case connectors.Create:
		return s.Create
	case connectors.Update:
		return s.Update
	case connectors.Deactivate:
		return s.Deactivate
	case connectors.Delete:
		return s.Delete
	}
	return 0
}

// Add counts one change.
func (s *Summary) Add(a connectors.Action) {
	switch a {
	case connectors.Create:
		s.Create++
	case connectors.Update:
		s.Update++
	case connectors.Deactivate:
		s.Deactivate++
	case connectors.Delete:
		s.Delete++
	}
}

// Verdicts of a guard.
const (
	Pass       = "pass"
	Blocked    = "blocked"
	Overridden = "overridden" // it would block, and --allow-mass-change let it through
)

// Guard is the verdict of one guard.
type Guard struct {
	Name    string  `json:"name"`
	Limit   float64 `json:"limit"`
	Value   float64 `json:"value"`
	Verdict string  `json:"verdict"`
	Message string  `json:"message"`
}

// Blocked reports whether any guard blocks the plan.
func (p *Plan) Blocked() bool {
	for _, g := range p.Guards {
		if g.Verdict == Blocked {
			return true
		}
	}
	return false
}

// Change is one planned change.
type Change struct {
	ID     string            `json:"id"`
	Action connectors.Action `json:"action"`
	Key    map[string]any    `json:"key"`
	// Fields: for create every non-null field (After only), for update and deactivate the changed fields
	// (Before → After), for delete none.
	Fields []FieldChange `json:"fields,omitempty"`
	// Annotations explain the change (e.g. which promotion won and which lost); they are not record data.
	Annotations map[string]any `json:"annotations,omitempty"`
}

// Note is one remark of the plan. Kind says what it is about (spec.NoteKinds: "held_removal", "input",
// "pending_mapping", ...), set by whoever wrote it; Subject names the one thing it is about, when it is
// about one ("sku=A-1", "order_id=1042", "source pos"); Message says it.
//
// A plan written before notes had kinds holds each note as a plain JSON string: it reads as a note of no
// kind (Kind "", which KindOrOther reads as spec.NoteOther) whose Message is the string, and such a note is
// written back as that string, so an old plan keeps its bytes and its hash. Every note possync writes now
// has a kind and is written as an object.
type Note struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject,omitempty"`
	Message string `json:"message"`
}

// String is the note as one line: "subject: message", or the message alone.
func (n Note) String() string {
	if n.Subject == "" {
		return n.Message
	}
	return n.Subject + ": " + n.Message
}

// KindOrOther is the note's kind, spec.NoteOther for a note of an old plan (no kind).
func (n Note) KindOrOther() string {
	if n.Kind == "" {
		return spec.NoteOther
	}
	return n.Kind
}

// note is Note's JSON object, without its methods.
type note Note

// MarshalJSON writes a note as an object, or, for a note of no kind (read from an old plan), as the plain
// string it was read from.
func (n Note) MarshalJSON() ([]byte, error) {
	if n.Kind == "" {
		return json.Marshal(n.String())
	}
	return json.Marshal(note(n))
}

// UnmarshalJSON reads a note object, or a plain string (a note of an old plan: no kind, its Message the string).
func (n *Note) UnmarshalJSON(b []byte) error {
	if s := bytes.TrimLeft(b, " \t\r\n"); len(s) > 0 && s[0] == '"' {
		var msg string
		if err := json.Unmarshal(b, &msg); err != nil {
			return err
		}
		*n = Note{Message: msg}
		return nil
	}
	var v note
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = Note(v)
	return nil
}

// NoteTexts returns the plan's notes as lines (Note.String), in order.
func (p *Plan) NoteTexts() []string {
	out := make([]string, len(p.Notes))
	for i, n := range p.Notes {
		out[i] = n.String()
	}
	return out
}

// Upcoming is a change that will take effect at a known time.
type Upcoming struct {
	At      time.Time `json:"at"`
	Subject string    `json:"subject"`
	Message string    `json:"message"`
}

// Drift is one record edited or removed directly on the target.
type Drift struct {
	Key map[string]any `json:"key"`
	// Missing is true when the record is gone from the target.
	Missing bool `json:"missing,omitempty"`
	// Fields: Before is the last-applied value, After the value found on the target.
	Fields []FieldChange `json:"fields,omitempty"`
}

// FieldChange is one field's before and after values.
type FieldChange struct {
	Name   string `json:"name"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// Read loads a plan written by Write and checks its version and hash.
func Read(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers keep their exact text, so the hash is recomputed over the same bytes
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("read plan %s: not a plan document: %s", path, decodeProblem(b, err))
	}
	if err := endOfDocument(dec); err != nil {
		return nil, fmt.Errorf("read plan %s: not a plan document: %w", path, err)
	}
	if p.FormatVersion == "" || p.FormatVersion[0] != FormatVersion[0] {
		return nil, fmt.Errorf("read plan %s: format version %q, this possync reads %s", path, p.FormatVersion, FormatVersion)
	}
	if p.FormatVersion == "1.0" {
		return nil, fmt.Errorf("read plan %s: format version 1.0 was written by an older possync, whose plan hash this one "+
			"does not compute (it writes %s): make the plan again with `possync plan --out`", path, FormatVersion)
	}
	for i := range p.Changes {
		if !checkID(&p, &p.Changes[i]) {
			return nil, fmt.Errorf("read plan %s: its hash does not match its content (edited or truncated): "+
				"change %d (ID %q) is not the change that ID names", path, i+1, p.Changes[i].ID)
		}
	}
	if got := p.ComputeHash(); got == "" || got != p.Hash { // "": its changes do not add up to its summary
		return nil, fmt.Errorf("read plan %s: its hash does not match its content (edited or truncated)", path)
	}
	return &p, nil
}
