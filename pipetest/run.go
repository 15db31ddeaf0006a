package pipetest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/spec"
)

// Options control a test run.
type Options struct {
	// Run, when set, selects the cases whose name it matches.
	Run *regexp.Regexp
	// Scratch is the folder the cases' states go in (a folder per case); empty means a new temporary folder,
	// removed afterwards.
	Scratch string
}

// Result is the outcome of a test file's cases.
type Result struct {
	// File is the test file; Pipeline the pipeline file it tests.
	File     string       `json:"file"`
	Pipeline string       `json:"pipeline"`
	Cases    []CaseResult `json:"cases"`
	// Passed and Failed count the cases run; Skipped those -run left out.
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// Error is why no case ran (the caller sets it from RunFile's error, for a report of several files).
	Error string `json:"error,omitempty"`
}

// OK reports whether the file's cases ran and every case that ran passed.
func (r *Result) OK() bool { return r.Failed == 0 && r.Error == "" }

// CaseResult is the outcome of one case.
type CaseResult struct {
	Name    string  `json:"name"`
	Passed  bool    `json:"passed"`
	Seconds float64 `json:"seconds"`
	// Error is why the case could not run (an input that does not fit the source, a pipeline error).
	Error    string    `json:"error,omitempty"`
	Failures []Failure `json:"failures,omitempty"`
}

// Failure is one difference between what a case expected and what the pipeline produced.
type Failure struct {
	// Section is "rows", "actions" or "notes".
	Section string `json:"section"`
	// Key is the record's key as plans print it (sku=A1), when the failure is about one record.
	Key string `json:"key,omitempty"`
	// Field is the field that differs, when the failure is about one field.
	Field string `json:"field,omitempty"`
	// Expected and Got are the values as text (JSON-like: strings quoted, null).
	Expected string `json:"expected,omitempty"`
	Got      string `json:"got,omitempty"`
	// Message says what differs, in a sentence.
	Message string `json:"message"`
}

// RunFile runs the cases of a test file. path may name the pipeline file (its companion NAME_test.yaml is
// read) or the test file. The error is for a test file or pipeline that cannot be read or is invalid;
// failed cases are in the Result.
func RunFile(ctx context.Context, path string, opts Options) (*Result, error) {
	testPath := TestFileFor(path)
	f, err := ReadFile(testPath)
	if err != nil {
		return nil, err
	}
	pipePath := f.Pipeline
	if pipePath == "" {
		ext := filepath.Ext(testPath)
		pipePath = filepath.Base(testPath[:len(testPath)-len(ext)-len("_test")] + ext)
	}
	if !filepath.IsAbs(pipePath) {
		pipePath = filepath.Join(filepath.Dir(testPath), pipePath)
	}
	// The pipeline must be valid on its own before any case runs.
	if _, diags := load(pipePath); diags.HasErrors() {
		return nil, fmt.Errorf("pipeline %s is invalid:\n%s", pipePath, diags.Error())
	}
	scratch := opts.Scratch
	if scratch == "" {
		if scratch, err = os.MkdirTemp("", "possync-test-"); err != nil {
			return nil, fmt.Errorf("scratch folder: %w", err)
		}
		defer os.RemoveAll(scratch)
	}
	res := &Result{File: testPath, Pipeline: pipePath}
	for i := range f.Cases {
		c := &f.Cases[i]
		if opts.Run != nil && !opts.Run.MatchString(c.Name) {
			res.Skipped++
			continue
		}
		start := time.Now()
		cr := CaseResult{Name: c.Name}
		failures, err := runCase(ctx, pipePath, f, c, filepath.Join(scratch, fmt.Sprintf("case-%d", i+1)))
		cr.Seconds = time.Since(start).Seconds()
		if err != nil {
			cr.Error = err.Error()
		}
		cr.Failures = failures
		cr.Passed = err == nil && len(failures) == 0
		if cr.Passed {
			res.Passed++
		} else {
			res.Failed++
		}
		res.Cases = append(res.Cases, cr)
	}
	return res, nil
}

// load reads the pipeline without its environment: every ${VAR} takes its default or a placeholder, so a
// case runs the same on every machine and never sees a secret.
func load(path string) (*pipelines.Pipeline, spec.Diagnostics) {
	return pipelines.Load(path, pipelines.Options{
		LookupEnv:    func(string) (string, bool) { return "", false },
		Placeholders: true,
	})
}

// runCase runs one case with its state under dir and returns the differences.
func runCase(ctx context.Context, pipePath string, f *File, c *Case, dir string) ([]Failure, error) {
	now, err := evalTime(f.Now, c.Now)
	if err != nil {
		return nil, err
	}
	p, diags := load(pipePath)
	if diags.HasErrors() {
		return nil, diags
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("scratch folder: %w", err)
	}
	p.State = pipelines.State{Dir: dir, Threads: 1}
	sources, err := caseSources(p, c)
	if err != nil {
		return nil, err
	}
	var desired *runner.Desired
	// The sink only plans, but is replaced all the same: a case never builds a client of the real target.
	opts := runner.Options{Now: now, AllowMassChange: true, Sources: sources, Sink: &ackSink{},
		Desired: func(d *runner.Desired) { desired = d }}
	pl, err := runner.Plan(ctx, p, opts)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	var failures []Failure
	if c.Rows != nil {
		failures = append(failures, compareRows(p.Key, *c.Rows, c.AllFields, desired)...)
	}
	if len(c.State) > 0 {
		if err := seedState(ctx, p, desired.RecordSchema(), c.State, now); err != nil {
			return failures, err
		}
		if pl, err = runner.Plan(ctx, p, runner.Options{Now: now, AllowMassChange: true, Sources: sources, Sink: &ackSink{}}); err != nil {
			return failures, fmt.Errorf("plan against the state: %w", err)
		}
	}
	if c.Actions != nil {
		failures = append(failures, compareActions(p.Key, *c.Actions, pl.Changes)...)
	}
	failures = append(failures, compareNotes(c.Notes, pl)...)
	return failures, nil
}

// evalTime is the case's evaluation time: its own, else the file's, else the clock.
func evalTime(file, own string) (time.Time, error) {
	s := own
	if s == "" {
		s = file
	}
	if s == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("now %q: want an RFC 3339 time such as 2026-11-20T12:00:00Z", s)
	}
	return t, nil
}

// caseSources returns, for every source of p, a source of the same declared schema delivering the case's
// input rows for it.
func caseSources(p *pipelines.Pipeline, c *Case) (map[string]connectors.Source, error) {
	known := map[string]bool{}
	for _, comp := range p.Sources {
		known[comp.Name] = true
	}
	for name := range c.Inputs {
		if !known[name] {
			return nil, fmt.Errorf("inputs: %q is not a source of the pipeline (sources: %s)", name, sourceNames(p))
		}
	}
	env := connectors.Env{Pipeline: p.Name, Dir: p.Dir, Key: p.Key}
	out := map[string]connectors.Source{}
	for _, comp := range p.Sources {
		schema, err := declaredSchema(comp, env)
		if err != nil {
			return nil, err
		}
		recs, err := toRecords(schema, c.Inputs[comp.Name])
		if err != nil {
			return nil, fmt.Errorf("inputs of %s: %w", comp.Name, err)
		}
		out[comp.Name] = &rowsSource{schema: schema, records: recs}
	}
	return out, nil
}

// declaredSchema builds the source as the pipeline configures it (with placeholders) and returns its schema;
// the source is never read.
func declaredSchema(comp *pipelines.Component, env connectors.Env) (*arrow.Schema, error) {
	_, ctor, ok := connectors.Sources.Lookup(comp.Type)
	if !ok {
		return nil, fmt.Errorf("source %s: unknown type %q", comp.Name, comp.Type)
	}
	src, err := ctor(comp.Config, env)
	if err != nil {
		return nil, fmt.Errorf("source %s (%s): %w", comp.Name, comp.Type, err)
	}
	if cl, ok := src.(io.Closer); ok {
		_ = cl.Close()
	}
	return src.Schema(), nil
}

func sourceNames(p *pipelines.Pipeline) string {
	s := ""
	for i, c := range p.Sources {
		if i > 0 {
			s += ", "
		}
		s += c.Name
	}
	return s
}

// seedState makes rows the last-applied snapshot of p's state: it applies them, as records of schema, to a
// sink that acknowledges everything, with p's name, key and state folder, one source and no steps.
func seedState(ctx context.Context, p *pipelines.Pipeline, schema *arrow.Schema, rows []map[string]any, now time.Time) error {
	recs, err := toRecords(schema, rows)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	seed := *p
	seed.Transforms = nil
	seed.Sources = []*pipelines.Component{{Name: "state", Type: "test_state", Pos: p.Sink.Pos}}
	seed.Diff = pipelines.Diff{OnMissing: pipelines.MissingDelete, OnChange: pipelines.ChangeUpdate}
	seed.Guards = pipelines.Guards{MaxDeletePercent: -1}
	sink := &ackSink{}
	rep, err := runner.Apply(ctx, &seed, runner.Options{Now: now, AllowMassChange: true,
		Sources: map[string]connectors.Source{"state": &rowsSource{schema: schema, records: recs}}, Sink: sink}, nil)
	if err != nil {
		return fmt.Errorf("write the state: %w", err)
	}
	if rep.Applied.Create != len(recs) {
		return fmt.Errorf("write the state: %d of %d records applied (%s)", rep.Applied.Create, len(recs), rep.Error)
	}
	return nil
}

// toRecords converts YAML rows to records of schema: each value to its field's type. A field the schema
// does not have is an error naming the fields it has.
func toRecords(schema *arrow.Schema, rows []map[string]any) ([]record.Record, error) {
	out := make([]record.Record, 0, len(rows))
	for i, row := range rows {
		r := make(record.Record, len(row))
		for name, v := range row {
			idx := schema.FieldIndices(name)
			if len(idx) == 0 {
				return nil, fmt.Errorf("row %d: no field %q (the fields are: %s)", i+1, name, fieldList(schema))
			}
			cv, err := convert(v, schema.Field(idx[0]).Type)
			if err != nil {
				return nil, fmt.Errorf("row %d, field %s: %w", i+1, name, err)
			}
			r[name] = cv
		}
		out = append(out, r)
	}
	return out, nil
}

func fieldList(schema *arrow.Schema) string {
	s := ""
	for i, f := range schema.Fields() {
		if i > 0 {
			s += ", "
		}
		s += f.Name + " (" + record.TypeName(f.Type) + ")"
	}
	return s
}
