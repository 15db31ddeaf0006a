package pipelines

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/possync/possync/spec"

	// The store's time zone must load the same on every host, including those without a zoneinfo database.
	_ "time/tzdata"
)

// Options configure loading.
type Options struct {
	// Catalog declares the components a pipeline may use; nil means DefaultCatalog().
	Catalog Catalog
	// LookupEnv resolves ${VAR} interpolation and $POSSYNC_STATE_DIR; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Placeholders makes an unset variable (without a default) a placeholder instead of an error, so that a
	// pipeline file can be checked without its secrets and variables (`possync validate --no-env`, in CI): a
	// reference that is a field's whole value takes a value of the field's declared type (its example or
	// default when usable, else a string, a number, false, 1s ...); inside longer text it reads "placeholder".
	Placeholders bool
	// Partial returns the Pipeline, as far as it could be assembled, even when the file has errors (the
	// values in error are left out), so that a validator can still check what does not depend on them (the
	// expressions of the same file). Such a Pipeline must not be planned or applied; its Hash is empty.
	Partial bool
}

// Load reads and parses the pipeline file at path (see Parse).
func Load(path string, opts Options) (*Pipeline, spec.Diagnostics) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, spec.Diagnostics{spec.Errorf(spec.Pos{File: path}, spec.CodeFileError,
			"check the path and its permissions", "read pipeline: %v", err)}
	}
	return Parse(path, data, opts)
}

// Parse parses, interpolates and validates the pipeline file data, read from file (used in positions, and
// whose folder becomes Pipeline.Dir). It reports every finding in one pass, sorted by position. The Pipeline
// is nil when a diagnostic is an error (unless Options.Partial); warnings come with a Pipeline. No diagnostic shows a secret value.
func Parse(file string, data []byte, opts Options) (*Pipeline, spec.Diagnostics) {
	l := &loader{
		file:       file,
		lines:      strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n"),
		cat:        opts.Catalog,
		env:        opts.LookupEnv,
		open:       map[*yaml.Node]bool{},
		unset:      map[*yaml.Node]bool{},
		empty:      map[*yaml.Node][]string{},
		unsetDiags: map[*yaml.Node][]unsetReport{},
		held:       map[*yaml.Node]bool{},
		noEnv:      opts.Placeholders,
		at:         map[string]spec.Pos{},
	}
	if l.cat == nil {
		l.cat = DefaultCatalog()
	}
	if l.env == nil {
		l.env = os.LookupEnv
	}
	p := l.parse(data)
	secrets := &spec.Redactor{}
	secrets.Add(l.secrets...)
	if p != nil {
		p.positions = l.at
	}
	if p != nil && !l.diags.HasErrors() {
		p.Secrets = secrets
		hash, err := configHash(p)
		p.Hash = hash
		l.diags.Add(spec.Pos{File: file}, err)
	}
	for _, d := range l.diags {
		d.Message, d.Hint = secrets.Redact(d.Message), secrets.Redact(d.Hint)
	}
	l.diags.Sort()
	if l.diags.HasErrors() {
		if opts.Partial && p != nil {
			p.Secrets = secrets
			return p, l.diags
		}
		return nil, l.diags
	}
	return p, l.diags
}

// loader holds the state of one Parse.
type loader struct {
	file  string
	lines []string
	cat   Catalog
	env   func(string) (string, bool)
	diags spec.Diagnostics
	// secrets are the values of secret fields, for redaction.
	secrets []string
	// open holds the mappings and sequences prepare is inside of, to find aliases that refer to them.
	open map[*yaml.Node]bool
	// unset holds the scalars that named an unset variable: reported once, they are not validated further.
	// unsetDiags are those reports, by scalar, for a secret field to change their hint.
	unset      map[*yaml.Node]bool
	unsetDiags map[*yaml.Node][]unsetReport
	// empty holds the scalars that are empty because the variables they named are set but empty, with those
	// variables' names: such a value counts as absent, and a required field says why.
	empty map[*yaml.Node][]string
	// noEnv is Options.Placeholders; held holds the scalars that were exactly one unset variable, which take
	// placeholderValue of their field.
	noEnv bool
	held  map[*yaml.Node]bool
	// at is the position of every value by JSON pointer (Pipeline.PosOf).
	at map[string]spec.Pos
}

// parse reads the YAML document and builds the pipeline; nil when the file is not usable YAML.
func (l *loader) parse(data []byte) *Pipeline {
	data, stop := l.checkText(data)
	if stop {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if err != nil && !errors.Is(err, io.EOF) {
		l.syntax(err)
		return nil
	}
	if len(doc.Content) == 0 {
		l.diags.Append(spec.Errorf(spec.Pos{File: l.file, Line: 1, Col: 1}, spec.CodeWrongType,
			"start with `version: 1`", "want a mapping, have an empty file"))
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		l.errorf(&extra, "", spec.CodeYAMLSyntax, "remove the `---` and what follows",
			"a pipeline file holds one YAML document")
	case !errors.Is(err, io.EOF):
		l.syntax(err)
	}
	l.prepare(&doc, "")
	return l.build(doc.Content[0])
}

// yamlLine extracts the line from the YAML parser's errors ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the problems yaml.v3's parser reports, as opposed to its scanner. yaml.v3 numbers lines
// from 0 inside and adds 1 for scanner errors only (go-yaml/yaml#205, #319), so the line of a parser error is
// one too early: `merchant: [y` on line 3 says "line 2: did not find expected ',' or ']'". A parser error on
// the first line has no line, and one found at the end of the input can point past its last line.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>": true, "did not find expected <document start>": true,
	"did not find expected node content": true, "did not find expected key": true,
	"did not find expected '-' indicator": true, "did not find expected ',' or ']'": true,
	"did not find expected ',' or '}'": true, "found undefined tag handle": true,
	"found duplicate %YAML directive": true, "found incompatible YAML document": true,
	"found duplicate %TAG directive": true,
}

// syntax reports a YAML parser error, at the line it is on.
func (l *loader) syntax(err error) {
	pos := spec.Pos{File: l.file, Line: 1, Col: 1}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		pos.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if parserProblems[msg] {
			pos.Line = max(1, min(pos.Line+1, l.lastLine()))
		}
	}
	if strings.Contains(msg, "tab character") {
		// The scanner reports the line where the scalar it was reading began, which can be lines above the
		// tab: point at the first tab that indents a line from there on.
		pos.Line, pos.Col = l.indentTab(pos.Line, pos.Col)
	}
	hint := "check the indentation and quoting near this line"
	if h, ok := l.quoteHint(pos.Line); ok {
		hint = h
	}
	l.diags.Append(spec.Errorf(pos, spec.CodeYAMLSyntax, hint, "invalid YAML: %s", msg))
}

// lastLine is the number of the file's last line (a final line break ends it; it does not start another).
func (l *loader) lastLine() int {
	n := len(l.lines)
	if n > 1 && l.lines[n-1] == "" {
		n--
	}
	return n
}

// indentTab returns the 1-based line and column of the first tab in the indentation of a line from line on;
// line and col when there is none.
func (l *loader) indentTab(line, col int) (int, int) {
	for i := max(line-1, 0); i < len(l.lines); i++ {
		indent := l.lines[i][:len(l.lines[i])-len(strings.TrimLeft(l.lines[i], " \t"))]
		if t := strings.IndexByte(indent, '\t'); t >= 0 {
			return i + 1, t + 1
		}
	}
	return line, col
}

// pos returns the position of n.
func (l *loader) pos(n *yaml.Node, path string) spec.Pos {
	return spec.Pos{File: l.file, Line: n.Line, Col: n.Column, Path: path}
}

// errorf reports an error at n.
func (l *loader) errorf(n *yaml.Node, path, code, hint, format string, args ...any) {
	l.diags.Append(spec.Errorf(l.pos(n, path), code, hint, format, args...))
}

// warnf reports a warning at pos.
func (l *loader) warnf(pos spec.Pos, code, hint, format string, args ...any) {
	d := spec.Errorf(pos, code, hint, format, args...)
	d.Severity = spec.Warning
	l.diags.Append(d)
}
