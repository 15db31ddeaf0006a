package pipelines

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/possync/possync/spec"
)

// YAML short tags.
const (
	tagNull  = "!!null"
	tagStr   = "!!str"
	tagInt   = "!!int"
	tagFloat = "!!float"
	tagBool  = "!!bool"
	tagMerge = "!!merge"
)

// entry is one key and its value in a mapping.
type entry struct{ key, val *yaml.Node }

// entries returns the pairs of mapping n: the first occurrence of a key wins (repeats were reported by
// prepare), and YAML merge keys (`<<: *anchor`) are expanded, explicit keys winning over merged ones.
func (l *loader) entries(n *yaml.Node, path string) []entry {
	var (
		out    []entry
		merges []*yaml.Node
		seen   = map[string]bool{}
	)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			l.errorf(k, path, spec.CodeWrongType, "write keys as plain strings", "want a string key, have %s", describe(k))
		case k.ShortTag() == tagMerge:
			merges = append(merges, v)
		case !seen[k.Value]:
			seen[k.Value] = true
			out = append(out, entry{k, v})
		}
	}
	for _, m := range merges {
		m = deref(m)
		from := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			from = m.Content
		}
		for _, src := range from {
			src = deref(src)
			if src.Kind != yaml.MappingNode {
				l.errorf(src, path, spec.CodeWrongType, "merge a mapping: `<<: *anchor`", "want a mapping to merge, have %s",
					describe(src))
				continue
			}
			for _, e := range l.entries(src, path) {
				if !seen[e.key.Value] {
					seen[e.key.Value] = true
					out = append(out, e)
				}
			}
		}
	}
	return out
}

// get returns the value of key in mapping n, or nil. It reports nothing: its caller validates n with object,
// whose entries report n's malformed keys and merges once.
func (l *loader) get(n *yaml.Node, path, key string) *yaml.Node {
	reported := len(l.diags)
	defer func() { l.diags = l.diags[:reported] }()
	for _, e := range l.entries(n, path) {
		if e.key.Value == key {
			return e.val
		}
	}
	return nil
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is an empty or null value.
func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull)
}

// object validates the mapping n at path against fields and returns the converted values, with defaults
// applied, and the value node of every key. Keys in skip are declared but validated by the caller, presence
// included. When open, undeclared keys are accepted unvalidated (the block's component is unknown, so its
// fields are too). A null value counts as absent; a value that named an unset variable is neither converted
// nor missing. It returns nil maps when n is not a mapping.
func (l *loader) object(n *yaml.Node, path string, fields []spec.Field, skip map[string]bool, open bool,
) (map[string]any, map[string]*yaml.Node) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		l.errorf(n, path, spec.CodeWrongType, hintFor(spec.TypeObject), "want a mapping, have %s", describe(n))
		return nil, nil
	}
	values := map[string]any{}
	nodes := map[string]*yaml.Node{}
	for _, e := range l.entries(n, path) {
		name := e.key.Value
		kp := spec.PointerJoin(path, name)
		f, ok := spec.FindField(fields, name)
		if !ok {
			if !open {
				l.errorf(e.key, kp, spec.CodeUnknownField, didYouMean(name, spec.FieldNames(fields), "valid keys"),
					"unknown field `%s`", name)
			}
			continue
		}
		nodes[name] = e.val
		if skip[name] || isNull(e.val) {
			continue
		}
		if v, ok := l.value(f, e.val, kp); ok {
			values[name] = v
		}
	}
	for i := range fields {
		f := &fields[i]
		if skip[f.Name] {
			continue
		}
		if _, ok := values[f.Name]; ok {
			continue
		}
		if v, has := nodes[f.Name]; has && (!isNull(v) || l.unset[deref(v)]) {
			if f.Secret {
				l.secretUnset(deref(v))
			}
			continue // present but invalid, or naming an unset variable: reported
		}
		if f.Required {
			l.missing(n, nodes[f.Name], spec.PointerJoin(path, f.Name), f)
		} else if d := f.DefaultValue(); d != nil {
			values[f.Name] = d
		}
	}
	return values, nodes
}

// missing reports the required field f absent from block (or present with a null value, or with the value
// of variables that are set but empty).
func (l *loader) missing(block, null *yaml.Node, path string, f *spec.Field) {
	if null != nil {
		if names := l.empty[deref(null)]; len(names) > 0 {
			vars := strings.Join(names, " and ")
			l.errorf(null, path, spec.CodeMissingField, fmt.Sprintf("set %s to the value of `%s` in possync's environment",
				vars, f.Name), "field `%s` is empty: environment variable %s is set but empty", f.Name, vars)
			return
		}
	}
	at, msg := block, "missing required field `%s`"
	if null != nil {
		at, msg = null, "field `%s` needs a value"
	}
	hint := fmt.Sprintf("add `%s:` to this block", f.Name)
	if f.Description != "" {
		hint += " (" + strings.TrimSuffix(f.Description, ".") + ")"
	}
	l.errorf(at, path, spec.CodeMissingField, hint, msg, f.Name)
}

// value converts n, the value of field f at path, to the Config value of f's type, reporting what is wrong.
func (l *loader) value(f *spec.Field, n *yaml.Node, path string) (any, bool) {
	n = deref(n)
	if l.unset[n] {
		return nil, false
	}
	if l.held[n] {
		return placeholderValue(f), true
	}
	switch f.Type {
	case spec.TypeString:
		if !l.scalar(f, n, path) {
			return nil, false
		}
		return l.str(f, n, path)
	case spec.TypeExpr, spec.TypeSQL:
		if !l.scalar(f, n, path) {
			return nil, false
		}
		pos, block := l.exprPos(n, path)
		return spec.Expr{Text: n.Value, Pos: pos, Block: block}, true
	case spec.TypeInt:
		var x int64
		return x, l.decode(f, n, path, &x, tagInt)
	case spec.TypeFloat:
		var x float64
		return x, l.decode(f, n, path, &x, tagInt, tagFloat)
	case spec.TypeBool:
		var x bool
		return x, l.decode(f, n, path, &x, tagBool)
	case spec.TypeDuration:
		if !l.scalar(f, n, path) {
			return nil, false
		}
		d, err := time.ParseDuration(n.Value)
		if err != nil {
			l.errorf(n, path, spec.CodeBadDuration, "write a Go duration: a number and a unit (ns, us, ms, s, m, h), "+
				"e.g. 30s, 5m or 1h30m", "`%s` is not a duration", n.Value)
			return nil, false
		}
		return d, true
	case spec.TypeStringOrList:
		if n.Kind == yaml.ScalarNode && !isNull(n) {
			return []any{n.Value}, true
		}
		if n.Kind != yaml.SequenceNode {
			l.wrongType(f, n, path)
			return nil, false
		}
		return l.list(&spec.Field{Type: spec.TypeString}, n, path)
	case spec.TypeObject:
		values, _ := l.object(n, path, f.Fields, nil, false)
		return values, values != nil
	case spec.TypeList:
		if n.Kind != yaml.SequenceNode {
			l.wrongType(f, n, path)
			return nil, false
		}
		return l.list(f.Items, n, path)
	case spec.TypeMap:
		if n.Kind != yaml.MappingNode {
			l.wrongType(f, n, path)
			return nil, false
		}
		out, ok := map[string]any{}, true
		for _, e := range l.entries(n, path) {
			v, good := l.value(f.Items, e.val, spec.PointerJoin(path, e.key.Value))
			out[e.key.Value], ok = v, ok && good
		}
		return out, ok
	}
	return l.plain(n, path), true
}

// list converts the items of sequence n, each declared by item.
func (l *loader) list(item *spec.Field, n *yaml.Node, path string) ([]any, bool) {
	out, ok := make([]any, len(n.Content)), true
	for i, c := range n.Content {
		v, good := l.value(item, c, spec.PointerJoin(path, fmt.Sprint(i)))
		out[i], ok = v, ok && good
	}
	return out, ok
}

// str converts a string scalar: enum check, and Secret for secret fields (whose value no message shows).
func (l *loader) str(f *spec.Field, n *yaml.Node, path string) (any, bool) {
	s := n.Value
	if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
		hint := "want one of: " + strings.Join(f.Enum, ", ")
		if best, ok := spec.Closest(s, f.Enum); ok {
			hint = fmt.Sprintf("did you mean `%s`? %s", best, hint)
		}
		shown := "`" + s + "`"
		if f.Secret {
			shown = "the value"
		}
		l.errorf(n, path, spec.CodeBadEnum, hint, "%s is not an allowed value", shown)
		return nil, false
	}
	if f.Secret {
		l.secrets = append(l.secrets, s)
		return spec.NewSecret(s), true
	}
	if f.HTTPURL && !l.httpURL(n, path, s) {
		return nil, false
	}
	return s, true
}

// scalar reports whether n is a non-null scalar, reporting a wrong type otherwise. Strings accept any scalar
// (`sku: 12345` is the text "12345").
func (l *loader) scalar(f *spec.Field, n *yaml.Node, path string) bool {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		return true
	}
	l.wrongType(f, n, path)
	return false
}

// decode decodes the scalar n into dst when its tag is one of tags.
func (l *loader) decode(f *spec.Field, n *yaml.Node, path string, dst any, tags ...string) bool {
	if n.Kind != yaml.ScalarNode || !slices.Contains(tags, n.ShortTag()) {
		l.wrongType(f, n, path)
		return false
	}
	if err := n.Decode(dst); err != nil {
		l.errorf(n, path, spec.CodeBadValue, "use a smaller number", "`%s` is out of range", n.Value)
		return false
	}
	return true
}

// plain converts n to a Go value: string, int64, float64, bool, nil, []any or map[string]any.
func (l *loader) plain(n *yaml.Node, path string) any {
	n = deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		var (
			i int64
			f float64
			b bool
		)
		switch n.ShortTag() {
		case tagNull:
			return nil
		case tagInt:
			if n.Decode(&i) == nil {
				return i
			}
		case tagFloat:
			if n.Decode(&f) == nil {
				return f
			}
		case tagBool:
			if n.Decode(&b) == nil {
				return b
			}
		}
		return n.Value
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			out[i] = l.plain(c, spec.PointerJoin(path, fmt.Sprint(i)))
		}
		return out
	case yaml.MappingNode:
		out := map[string]any{}
		for _, e := range l.entries(n, path) {
			out[e.key.Value] = l.plain(e.val, spec.PointerJoin(path, e.key.Value))
		}
		return out
	}
	return nil
}

// exprPos returns the position of the first character of the scalar's text, and whether it is a block
// scalar. Quoted text starts after the quote; block text (| or >) on the line after the indicator, at the
// block's indentation (taken from its first non-blank line).
func (l *loader) exprPos(n *yaml.Node, path string) (spec.Pos, bool) {
	p := l.pos(n, path)
	switch {
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		p.Col++
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		p.Line, p.Col = n.Line+1, 1
		for i := n.Line; i < len(l.lines); i++ { // l.lines[n.Line] is the line after the indicator
			line := l.lines[i]
			if trimmed := strings.TrimLeft(line, " "); trimmed != "" {
				p.Col = len(line) - len(trimmed) + 1
				break
			}
		}
		return p, true
	}
	return p, false
}

// wrongType reports that n is not of f's type.
func (l *loader) wrongType(f *spec.Field, n *yaml.Node, path string) {
	l.errorf(n, path, spec.CodeWrongType, hintForField(f), "want %s, have %s", typeNoun(f.Type), describe(n))
}
