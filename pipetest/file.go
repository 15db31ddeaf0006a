// Package pipetest owns `possync test`: the format of a pipeline's companion test file (`NAME_test.yaml`
// beside `NAME.yaml`), its JSON Schema, running its cases and the comparison of what a case expects with
// what the pipeline produced (Result, rendered as text or JSON).
//
// A case replaces every source of the pipeline with an in-memory source of the source's declared schema
// holding the case's input rows, runs the transforms, and compares the desired records with the case's
// expected rows; given state rows, it writes them as the last-applied snapshot of a scratch state (an apply
// of those records through a sink that acknowledges them) and compares the plan's changes with the expected
// actions. It never touches the pipeline's real state (every case gets a state folder under a scratch
// directory) and never reaches the network or the environment: every ${VAR} takes its default or a
// placeholder, sources are constructed only for their declared schemas, and the sink is never built (a
// double that acknowledges everything stands in for it). It uses
// the runner's public API only (runner.Plan, runner.Apply, runner.Options: Sources, Sink, Desired); its
// source and sink doubles are never registered, so the binary's catalog does not offer them.
package pipetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// FormatVersion is the version of the test file format (its `version:` field).
const FormatVersion = 1

// File is a parsed test file.
type File struct {
	// Version must be FormatVersion.
	Version int `yaml:"version" json:"version"`
	// Pipeline is the pipeline file the cases test, relative to the test file; empty means the test file's
	// name without `_test` (catalog_test.yaml tests catalog.yaml).
	Pipeline string `yaml:"pipeline,omitempty" json:"pipeline,omitempty"`
	// Now is the evaluation time of every case (RFC 3339) unless a case sets its own; empty means the clock.
	Now string `yaml:"now,omitempty" json:"now,omitempty"`
	// Cases run in order.
	Cases []Case `yaml:"cases" json:"cases"`
}

// Case is one test case.
type Case struct {
	// Name identifies the case (`-run` matches it); unique in the file.
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Now overrides the file's evaluation time for this case.
	Now string `yaml:"now,omitempty" json:"now,omitempty"`
	// Inputs are the rows each source delivers, by source name (`source` for a pipeline with one `source:`).
	// A source left out delivers no rows. Fields left out of a row are null.
	Inputs map[string][]map[string]any `yaml:"inputs,omitempty" json:"inputs,omitempty"`
	// Rows are the expected records after the transforms, matched by the pipeline's key in any order: every
	// expected row must be produced and no other. A row checks the fields it names (its key fields always),
	// or every field with AllFields. Nil (left out) means the rows are not checked.
	Rows *[]map[string]any `yaml:"rows,omitempty" json:"rows,omitempty"`
	// AllFields makes each expected row check every field the pipeline produced: a field it does not name
	// must be null.
	AllFields bool `yaml:"all_fields,omitempty" json:"all_fields,omitempty"`
	// State are the last-applied records the plan diffs against (the records as the sink received them);
	// none means an empty state (a first sync).
	State []map[string]any `yaml:"state,omitempty" json:"state,omitempty"`
	// Actions are the expected changes of the plan, matched by key in any order: every expected change must
	// be planned and no other. Nil (left out) means the plan is not checked.
	Actions *[]Action `yaml:"actions,omitempty" json:"actions,omitempty"`
	// Notes are texts each of which must appear in one of the plan's notes (held-back orders, pending
	// mappings, reservations).
	Notes []string `yaml:"notes,omitempty" json:"notes,omitempty"`
}

// Action is one expected change of the plan.
type Action struct {
	// Action is create, update, deactivate or delete.
	Action string `yaml:"action" json:"action"`
	// Key is the record's key: a mapping of the key fields, or the value itself for a one-field key.
	Key any `yaml:"key" json:"key"`
	// Fields are the expected new values of the named fields (for create, update and deactivate); a named
	// field the change leaves alone fails the case. Fields the change sets that are not named are not
	// checked.
	Fields map[string]any `yaml:"fields,omitempty" json:"fields,omitempty"`
}

// TestFileFor returns the companion test file of a pipeline file: dir/NAME_test.yaml for dir/NAME.yaml. A
// path that already names a test file is returned as it is.
func TestFileFor(path string) string {
	ext := filepath.Ext(path)
	base := strings.TrimSuffix(path, ext)
	if strings.HasSuffix(base, "_test") {
		return path
	}
	return base + "_test" + ext
}

// ReadFile reads and checks a test file: known fields only, version 1, named and unique cases.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read test file: %w", err)
	}
	return Parse(path, data)
}

// Parse parses test file data read from path (used in errors).
func Parse(path string, data []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty test file", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Version != FormatVersion {
		return nil, fmt.Errorf("%s: version is %d, want %d", path, f.Version, FormatVersion)
	}
	if len(f.Cases) == 0 {
		return nil, fmt.Errorf("%s: no cases", path)
	}
	seen := map[string]bool{}
	for i, c := range f.Cases {
		if strings.TrimSpace(c.Name) == "" {
			return nil, fmt.Errorf("%s: case %d has no name", path, i+1)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("%s: two cases are named %q", path, c.Name)
		}
		seen[c.Name] = true
		if c.Actions != nil {
			for j, a := range *c.Actions {
				if !validAction[a.Action] {
					return nil, fmt.Errorf("%s: case %q, action %d: action is %q, want create, update, deactivate or delete", path, c.Name, j+1, a.Action)
				}
				if a.Key == nil {
					return nil, fmt.Errorf("%s: case %q, action %d: no key", path, c.Name, j+1)
				}
			}
		}
	}
	return &f, nil
}

var validAction = map[string]bool{"create": true, "update": true, "deactivate": true, "delete": true}
