// Package pipelines loads pipeline files: it parses the YAML (version 1), interpolates ${VAR} and
// ${VAR:-default} from the environment, validates every block against the declaration of its component
// (package spec) and reports all findings in one pass as diagnostics with file:line:col, a JSON pointer, a
// stable code and a hint. It also writes the JSON Schema of the pipeline file and the components' docs (plain
// text for `possync connectors`, Markdown pages for docs/components).
//
// Type checking that needs data schemas (compiling expressions against upstream fields, SQL steps) is done by
// the runner, which owns DuckDB; it reports through the same diagnostics.
package pipelines

import (
	"strings"
	"time"

	"github.com/possync/possync/spec"
)

// Version is the pipeline file format version this package reads.
const Version = 1

// Pipeline is a loaded, validated pipeline file.
type Pipeline struct {
	// File is the path the pipeline was loaded from; Dir its folder (relative paths in components resolve there).
	File string
	Dir  string
	// Hash identifies the pipeline's effective configuration (after interpolation, with secrets hashed, never
	// shown): a plan made under one configuration is stale under another.
	Hash string

	Version  int
	Name     string
	Merchant string
	// Key names the record key fields (at least one).
	Key []string
	// Sources are the pipeline's inputs, in file order. A single `source:` block is named "source".
	Sources []*Component
	// Transforms are the steps, in order.
	Transforms []*Step
	Sink       *Component
	State      State
	Diff       Diff
	Guards     Guards
	// TimeZone is the store's time zone (the `timezone` field, default UTC), for date logic and --at.
	TimeZone *time.Location

	// Secrets redacts every secret value of the file from text: diagnostics, errors, reports and logs pass
	// through it (plans hold record data, which never carries the file's secrets).
	Secrets *spec.Redactor

	// positions maps the JSON pointer of every value in the file to where it stands (see PosOf).
	positions map[string]spec.Pos
}

// PosOf returns the position of the value at the JSON pointer path (e.g. "/diff/active_field", "/key/1"),
// or, when the file has no such value, of the nearest enclosing one that it has; at worst the file's first
// line. Findings about the assembled pipeline use it so that each has a line and a column.
func (p *Pipeline) PosOf(path string) spec.Pos {
	for q := path; ; {
		if pos, ok := p.positions[q]; ok && pos.Line > 0 {
			pos.Path = path
			return pos
		}
		i := strings.LastIndexByte(q, '/')
		if i < 0 {
			break
		}
		q = q[:i]
	}
	return spec.Pos{File: p.File, Line: 1, Col: 1, Path: path}
}

// Component is one configured source, sink or transform.
type Component struct {
	// Name is the source's name (the key under `sources:`), the step's `name`, or "sink".
	Name string
	// Type is the component's registered name (the `type:` field).
	Type   string
	Spec   *spec.Component
	Config spec.Config
	// Pos is the position of the component's block.
	Pos spec.Pos
}

// Step is one transform.
type Step struct {
	Component
	// Input names the relation the step reads: a source or an earlier step's Name. Empty means the previous
	// step's output (the only source, for the first step). SQL steps read the relations their query names.
	Input    string
	InputPos spec.Pos
}

// State configures the state store.
type State struct {
	// Dir holds the pipeline's state database and lock file: the `state.dir` field, else $POSSYNC_STATE_DIR,
	// else ./.possync (relative to the working directory).
	Dir string
	// MemoryLimit caps DuckDB's memory (e.g. "512MB") for the whole run; empty means the runner's default (a
	// quarter of RAM, at most 256 MiB: engine.DefaultMemoryLimit), which a plan against the state raises to
	// the burst limit (engine.DefaultBurstLimit) from its transform to its diff. Past it DuckDB spills to Dir/tmp.
	MemoryLimit string
	// Threads caps DuckDB's threads; 0 means one per core.
	Threads int
	// NoTransformCache turns the transform cache (runner/tcache, kept under Dir/tcache) off for this
	// pipeline: `state.transform_cache: false`. The zero value keeps it on. It changes speed only, never the
	// records, so it is not part of the pipeline's hash (a saved plan stays applicable when it changes).
	NoTransformCache bool
	// Backend is where the state lives: "local" (a DuckDB file and a lock file under Dir, the default) or a
	// PostgreSQL URL (postgres://user@host:port/db?…) shared by every worker. $POSSYNC_STATE_URL overrides the
	// `state.backend` field. The URL may carry a password; print it only through state.RedactURL.
	Backend string
	// Schema is the PostgreSQL schema of the installation's state tables (`state.schema`, default
	// "possync"); ignored by the local backend.
	Schema string
}

// OnMissing says what a record in state that is missing from the desired set becomes.
type OnMissing string

// OnMissing values.
const (
	MissingDelete     OnMissing = "delete"
	MissingDeactivate OnMissing = "deactivate"
	MissingKeep       OnMissing = "keep"
)

// OnChange says what a record in state whose desired values changed becomes.
type OnChange string

// OnChange values.
const (
	ChangeUpdate OnChange = "update"
	// ChangeKeep never updates a record already applied (an order imported once is never sent again).
	ChangeKeep OnChange = "keep"
)

// Diff configures how desired records are compared with state.
type Diff struct {
	// OnMissing: delete (default), deactivate (needs ActiveField) or keep.
	OnMissing OnMissing
	// OnChange: update (default) or keep (a record already in state is never updated).
	OnChange OnChange
	// ActiveField names a boolean field saying whether a record is on sale. An update that turns it from true
	// to false is planned as a deactivate; with OnMissing deactivate, a missing record is planned as setting it
	// to false.
	ActiveField string
	// Ignore lists fields carried to the sink but never compared (e.g. a timestamp that changes every export).
	Ignore []string
}

// Guards block plans that look like accidents.
type Guards struct {
	// MaxDeletePercent blocks a plan that deletes or deactivates more than this percentage of the records in
	// state (default 10). A negative value disables the guard.
	MaxDeletePercent float64
}
