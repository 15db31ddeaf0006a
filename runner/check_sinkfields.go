package runner

import (
	"context"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/spec"
)

// checkSinkFields checks what the pipeline file says about the records delivered to the sink, before anything
// is diffed: the key fields (checkKey) and the diff options (checkDiff). plan, apply and validate all run it,
// so a misnamed field is a finding at its line instead of a DuckDB error with internal SQL. Findings get
// the position of the value they are about.
func (s *session) checkSinkFields() spec.Diagnostics {
	diags := append(s.checkKey(), s.checkDiff()...)
	placeFindings(s.p, diags)
	return diags
}

// checkDiff checks diff.active_field (a boolean field of the records) and diff.ignore (fields of the
// records) against the desired schema.
func (s *session) checkDiff() spec.Diagnostics {
	var diags spec.Diagnostics
	sch := s.schemas[s.desired]
	if sch == nil {
		return nil
	}
	names := engine.FieldNames(sch)
	hint := func(name string) string {
		if best, ok := spec.Closest(name, names); ok {
			return fmt.Sprintf("did you mean `%s`? The records delivered to the sink have: %s", best, joinComma(names))
		}
		return "the records delivered to the sink have: " + joinComma(names)
	}
	if a := s.p.Diff.ActiveField; a != "" {
		switch idx := sch.FieldIndices(a); {
		case len(idx) == 0:
			diags.Append(spec.Errorf(s.p.PosOf("/diff/active_field"), spec.CodeDiffField, hint(a),
				"active_field %q is not a field of the records delivered to the sink", a))
		case sch.Field(idx[0]).Type.ID() != arrow.BOOL:
			diags.Append(spec.Errorf(s.p.PosOf("/diff/active_field"), spec.CodeDiffField,
				"name a boolean field, or compute one in a map step (e.g. `enabled: status == \"active\"`)",
				"active_field %q is a %s field; it must be a boolean", a, typeWord(sch.Field(idx[0]).Type)))
		}
	}
	for i, f := range s.p.Diff.Ignore {
		if len(sch.FieldIndices(f)) == 0 {
			diags.Append(spec.Errorf(s.p.PosOf(fmt.Sprintf("/diff/ignore/%d", i)), spec.CodeDiffField, hint(f),
				"ignore names %q, which is not a field of the records delivered to the sink", f))
		}
	}
	return diags
}

// typeWord names an Arrow type as pipeline files name field types (string, int, float, ...).
func typeWord(t arrow.DataType) string {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return "string"
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return "int"
	case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.DECIMAL256:
		return "float"
	case arrow.DATE32, arrow.DATE64:
		return "date"
	case arrow.TIMESTAMP:
		return "timestamp"
	}
	return t.String()
}

// placeFindings gives every finding without a line the position of the value it is about (its Path), so
// that each one can be found in the file.
func placeFindings(p *pipelines.Pipeline, diags spec.Diagnostics) {
	for _, d := range diags {
		if d.Line == 0 && d.Code != spec.CodeFileError {
			pos := p.PosOf(d.Path)
			d.Line, d.Col = pos.Line, pos.Col
			if d.File == "" {
				d.File = pos.File
			}
		}
	}
}

// Validate checks the pipeline file at path as `possync validate` does: it loads it and, when the file could
// be assembled, type-checks it with Check. A structural error (an unknown or invalid field) does not hide the
// findings about the file's expressions and SQL: those are checked on what could be assembled. Every finding
// that concerns the file's content has a line and a column. Validate writes nothing.
func Validate(ctx context.Context, path string, opts pipelines.Options) spec.Diagnostics {
	opts.Partial = true
	p, diags := pipelines.Load(path, opts)
	if p == nil {
		return diags
	}
	if !diags.HasErrors() {
		more := Check(ctx, p)
		placeFindings(p, more)
		return append(diags, more...)
	}
	if len(p.Sources) == 0 || p.Sink == nil || p.TimeZone == nil || len(p.Key) == 0 {
		return diags // too broken to type-check
	}
	for _, d := range checkPartial(ctx, p) {
		// A finding with neither a position nor a path is about an expression the file does not hold (a
		// required one missing, reported already): placed, it would point at the file's first line.
		if expressionCode[d.Code] && !duplicate(diags, d) && (d.Line > 0 || d.Path != "") {
			diags = append(diags, d)
		}
	}
	placeFindings(p, diags)
	return diags
}

// expressionCode are the codes of findings about expressions and SQL, which a structural error elsewhere in
// the file does not invalidate.
var expressionCode = map[string]bool{
	spec.CodeExprCompile: true, spec.CodeExprUnknownField: true, spec.CodeExprNotBool: true,
	spec.CodeExprTypeMismatch: true, spec.CodeExprTypeUnknown: true, spec.CodeSQLError: true, spec.CodeSQLEmpty: true,
	spec.CodeDiffField: true, spec.CodeKeyNotFound: true,
}

// checkPartial runs Check on a pipeline assembled from a file with errors. Such a pipeline may lack what
// Check takes for granted; a failure there only means there is nothing more to report.
func checkPartial(ctx context.Context, p *pipelines.Pipeline) (diags spec.Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			if os.Getenv("POSSYNC_DEBUG") != "" {
				fmt.Fprintf(os.Stderr, "possync: validate: type-check of a partial pipeline stopped: %v\n", r)
			}
			diags = nil
		}
	}()
	return Check(ctx, p)
}

// duplicate reports whether diags already holds a finding with d's code at d's position.
func duplicate(diags spec.Diagnostics, d *spec.Diagnostic) bool {
	for _, x := range diags {
		if x.Code == d.Code && x.Line == d.Line && x.Col == d.Col {
			return true
		}
	}
	return false
}
