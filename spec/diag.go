package spec

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Pos is where a value stands in a pipeline file: 1-based line and column, and the JSON pointer of the value
// (e.g. /transforms/0/fields/price).
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
	Path string `json:"path"`
}

// String formats the position as file:line:col.
func (p Pos) String() string {
	switch {
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	case p.Line > 0:
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	default:
		return p.File
	}
}

// Severity of a diagnostic.
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Diagnostic is one finding about a pipeline file: where, a stable code, what, and a hint.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	Pos
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Error implements error: "file:line:col: error[code]: message (hint)".
func (d *Diagnostic) Error() string {
	var b strings.Builder
	if s := d.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%s[%s]: %s", d.Severity, d.Code, d.Message)
	if d.Path != "" {
		fmt.Fprintf(&b, " (at %s)", d.Path)
	}
	if d.Hint != "" {
		b.WriteString("; ")
		b.WriteString(d.Hint)
	}
	return b.String()
}

// Errorf returns an error diagnostic at pos.
func Errorf(pos Pos, code, hint, format string, args ...any) *Diagnostic {
	return &Diagnostic{Severity: Error, Code: code, Pos: pos, Message: fmt.Sprintf(format, args...), Hint: hint}
}

// Diagnostics is a list of findings. Its zero value is ready to use.
type Diagnostics []*Diagnostic

// Add appends diagnostics; a plain error becomes an error diagnostic with code CodeError at pos, and a
// *Diagnostic or Diagnostics inside err (errors.As) is kept as is.
func (ds *Diagnostics) Add(pos Pos, err error) {
	if err == nil {
		return
	}
	var many Diagnostics
	if errors.As(err, &many) {
		*ds = append(*ds, many...)
		return
	}
	var d *Diagnostic
	if errors.As(err, &d) {
		*ds = append(*ds, d)
		return
	}
	*ds = append(*ds, &Diagnostic{Severity: Error, Code: CodeError, Pos: pos, Message: err.Error()})
}

// Append adds one diagnostic.
func (ds *Diagnostics) Append(d *Diagnostic) { *ds = append(*ds, d) }

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Err returns ds as an error when it holds errors, else nil.
func (ds Diagnostics) Err() error {
	if ds.HasErrors() {
		return ds
	}
	return nil
}

// Error implements error: one diagnostic per line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders diagnostics by file, line, column, then code.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Code < b.Code
	})
}
