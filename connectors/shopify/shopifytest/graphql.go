package shopifytest

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// This file is a small GraphQL parser: enough of the language for the emulator to answer the queries and
// mutations a client sends (an operation with variables, fields with aliases and arguments, inline
// fragments). It does not validate against a schema; the resolver rejects fields the model lacks.

// operation is a parsed GraphQL document's single operation.
type operation struct {
	kind string // "query" or "mutation"
	sel  []*field
}

// field is one selected field (or an inline fragment's fields, flattened into its parent).
type field struct {
	alias, name string
	args        map[string]any // values: variableRef, string, int64, float64, bool, nil, enumValue, []any, map[string]any
	sel         []*field
}

// key is the field's name in the response.
func (f *field) key() string {
	if f.alias != "" {
		return f.alias
	}
	return f.name
}

type variableRef string
type enumValue string

// token kinds.
const (
	tPunct = iota
	tName
	tString
	tNumber
	tEOF
)

type token struct {
	kind int
	text string
	pos  int
}

type parser struct {
	src  string
	toks []token
	i    int
}

// parse parses a document holding one operation (a bare selection set is a query).
func parse(src string) (*operation, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	op := &operation{kind: "query"}
	if t := p.peek(); t.kind == tName {
		switch t.text {
		case "query", "mutation":
			op.kind = t.text
		default:
			return nil, p.errorf(t, "unsupported operation type %q", t.text)
		}
		p.i++
		if p.peek().kind == tName {
			p.i++ // operation name
		}
		if p.is("(") {
			if err := p.skipBalanced("(", ")"); err != nil {
				return nil, err
			}
		}
	}
	sel, err := p.selectionSet()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errorf(t, "unexpected %q after the operation (one operation per document)", t.text)
	}
	op.sel = sel
	return op, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) is(punct string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == punct
}

func (p *parser) expect(punct string) error {
	if !p.is(punct) {
		t := p.peek()
		return p.errorf(t, "expected %q, found %q", punct, t.text)
	}
	p.i++
	return nil
}

func (p *parser) errorf(t token, format string, args ...any) error {
	line, col := 1, 1
	for _, r := range p.src[:min(t.pos, len(p.src))] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Errorf("syntax error at line %d, column %d: %s", line, col, fmt.Sprintf(format, args...))
}

func (p *parser) skipBalanced(open, close string) error {
	depth := 0
	for {
		t := p.peek()
		if t.kind == tEOF {
			return p.errorf(t, "unbalanced %q", open)
		}
		p.i++
		if t.kind == tPunct && t.text == open {
			depth++
		} else if t.kind == tPunct && t.text == close {
			depth--
			if depth == 0 {
				return nil
			}
		}
	}
}

func (p *parser) selectionSet() ([]*field, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	var out []*field
	for !p.is("}") {
		if p.is("...") {
			p.i++
			if t := p.peek(); t.kind == tName && t.text == "on" {
				p.i += 2 // on TypeName
			}
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			out = append(out, sel...)
			continue
		}
		t := p.peek()
		if t.kind != tName {
			return nil, p.errorf(t, "expected a field name, found %q", t.text)
		}
		p.i++
		f := &field{name: t.text}
		if p.is(":") {
			p.i++
			n := p.peek()
			if n.kind != tName {
				return nil, p.errorf(n, "expected a field name after the alias %q", f.name)
			}
			p.i++
			f.alias, f.name = f.name, n.text
		}
		if p.is("(") {
			p.i++
			f.args = map[string]any{}
			for !p.is(")") {
				n := p.peek()
				if n.kind != tName {
					return nil, p.errorf(n, "expected an argument name, found %q", n.text)
				}
				p.i++
				if err := p.expect(":"); err != nil {
					return nil, err
				}
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				f.args[n.text] = v
			}
			p.i++
		}
		if p.is("{") {
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			f.sel = sel
		}
		out = append(out, f)
	}
	p.i++
	return out, nil
}

func (p *parser) value() (any, error) {
	t := p.peek()
	p.i++
	switch {
	case t.kind == tPunct && t.text == "$":
		n := p.peek()
		if n.kind != tName {
			return nil, p.errorf(n, "expected a variable name")
		}
		p.i++
		return variableRef(n.text), nil
	case t.kind == tString:
		return t.text, nil
	case t.kind == tNumber:
		if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, p.errorf(t, "bad number %q", t.text)
		}
		return f, nil
	case t.kind == tName:
		switch t.text {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
		return enumValue(t.text), nil
	case t.kind == tPunct && t.text == "[":
		list := []any{}
		for !p.is("]") {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		p.i++
		return list, nil
	case t.kind == tPunct && t.text == "{":
		obj := map[string]any{}
		for !p.is("}") {
			n := p.peek()
			if n.kind != tName {
				return nil, p.errorf(n, "expected an object field name")
			}
			p.i++
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			obj[n.text] = v
		}
		p.i++
		return obj, nil
	}
	return nil, p.errorf(t, "unexpected %q where a value belongs", t.text)
}

// lex splits a document into tokens; commas and comments are insignificant.
func lex(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "..."):
			toks = append(toks, token{tPunct, "...", i})
			i += 3
		case strings.ContainsRune("{}()[]:!$=@", rune(c)):
			toks = append(toks, token{tPunct, string(c), i})
			i++
		case c == '"':
			if strings.HasPrefix(src[i:], `"""`) {
				end := strings.Index(src[i+3:], `"""`)
				if end < 0 {
					return nil, fmt.Errorf("syntax error: unterminated block string at offset %d", i)
				}
				toks = append(toks, token{tString, src[i+3 : i+3+end], i})
				i += end + 6
				continue
			}
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("syntax error: unterminated string at offset %d", i)
			}
			s, err := strconv.Unquote(src[i : j+1])
			if err != nil {
				return nil, fmt.Errorf("syntax error: bad string at offset %d: %v", i, err)
			}
			toks = append(toks, token{tString, s, i})
			i = j + 1
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(src) && strings.ContainsRune("0123456789.eE+-", rune(src[j])) {
				j++
			}
			toks = append(toks, token{tNumber, src[i:j], i})
			i = j
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i + 1
			for j < len(src) && (src[j] == '_' || unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			toks = append(toks, token{tName, src[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("syntax error: unexpected character %q at offset %d", c, i)
		}
	}
	return append(toks, token{tEOF, "<end>", len(src)}), nil
}
