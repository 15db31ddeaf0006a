package pipelines

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/possync/possync/spec"
)

// prepare walks the YAML tree before validation: it reports keys repeated in one mapping (the first one
// counts), interpolates the environment into every scalar value (mapping keys are left alone) and replaces
// an alias to a block that contains it by null (so that the tree has no cycle).
func (l *loader) prepare(n *yaml.Node, path string) {
	if _, seen := l.at[path]; !seen && n.Kind != yaml.DocumentNode {
		l.at[path] = l.pos(n, path)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			l.prepare(c, path)
		}
	case yaml.AliasNode:
		if l.open[n.Alias] {
			l.errorf(n, path, spec.CodeBadValue, "an alias cannot refer to a block that contains it",
				"alias *%s refers to itself", n.Value)
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
	case yaml.MappingNode:
		l.open[n] = true
		defer delete(l.open, n)
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := spec.PointerJoin(path, k.Value)
			if first, dup := seen[k.Value]; dup && k.Kind == yaml.ScalarNode {
				l.errorf(k, kp, spec.CodeDuplicateKey, fmt.Sprintf("the first `%s` is on line %d; remove one", k.Value, first.Line),
					"key `%s` appears twice in this mapping", k.Value)
			} else if k.Kind == yaml.ScalarNode {
				seen[k.Value] = k
			}
			l.prepare(v, kp)
		}
	case yaml.SequenceNode:
		l.open[n] = true
		defer delete(l.open, n)
		for i, c := range n.Content {
			l.prepare(c, spec.PointerJoin(path, fmt.Sprint(i)))
		}
	case yaml.ScalarNode:
		l.interpolate(n, path)
	}
}

// interpolate replaces ${VAR} and ${VAR:-default} in the scalar n. A scalar that was exactly one reference,
// quoted or not, takes the YAML type of its resolved text (`threads: ${N}` is an integer, and so is
// `threads: "${N}"`, which flow mappings need); any other interpolated scalar is a string. An explicit tag
// (`!!str ${N}`) is kept.
func (l *loader) interpolate(n *yaml.Node, path string) {
	if !strings.Contains(n.Value, "${") {
		return
	}
	missing := ""
	if l.noEnv {
		missing = placeholderText
	}
	out, whole, unset, empty, err := expandWith(n.Value, l.env, missing)
	if err != nil {
		l.errorf(n, path, spec.CodeBadValue, "write $${ for a literal ${", "bad interpolation: %v", err)
		return
	}
	if l.noEnv {
		if whole && len(unset) == 1 {
			l.held[n] = true // typed by its field in value()
		}
		unset = nil // placeholders, not errors
	}
	if len(unset) > 0 {
		l.unset[n] = true
	}
	for _, name := range unset {
		d := spec.Errorf(l.pos(n, path), spec.CodeUnsetVariable,
			fmt.Sprintf("set the environment variable %s, or give a default: ${%s:-value}", name, name),
			"environment variable %s is not set", name)
		l.diags.Append(d)
		l.unsetDiags[n] = append(l.unsetDiags[n], unsetReport{name, d})
	}
	if out == "" && len(empty) > 0 {
		l.empty[n] = empty
	}
	n.Value = out
	switch {
	case n.Style&yaml.TaggedStyle != 0:
		// An explicit tag wins.
	case whole:
		n.Tag = (&yaml.Node{Kind: yaml.ScalarNode, Value: out}).ShortTag() // as if the text were written plain
	default:
		n.Tag = tagStr
	}
}

// unsetReport is the diagnostic of a variable that is not set, as interpolate reported it.
type unsetReport struct {
	name string
	d    *spec.Diagnostic
}

// secretUnset gives the reports of the unset variables n named the hint for a secret field: set the variable,
// and no ${VAR:-value} default, which would write the secret into the pipeline file.
func (l *loader) secretUnset(n *yaml.Node) {
	for _, r := range l.unsetDiags[n] {
		r.d.Hint = fmt.Sprintf("set the environment variable %s; the field is a secret, so its value belongs in the "+
			"environment, not in the pipeline file", r.name)
	}
}

// expand interpolates s: ${VAR} is the variable's value, ${VAR:-default} is default when VAR is unset or
// empty, and $${ is a literal ${. It returns the result, whether s was exactly one reference, and the
// variables that are unset without a default (they expand to "").
func expand(s string, lookup func(string) (string, bool)) (out string, whole bool, unset []string, err error) {
	out, whole, unset, _, err = expandWith(s, lookup, "")
	return out, whole, unset, err
}

// expandWith is expand writing missing for each variable that is unset without a default; it also returns
// the variables that are set but empty, without a default.
func expandWith(s string, lookup func(string) (string, bool), missing string) (out string, whole bool, unset, empty []string, err error) {
	var b strings.Builder
	refs, text := 0, false
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
			text = true
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", false, nil, nil, fmt.Errorf("unterminated ${ at offset %d", i)
			}
			body := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(body, ":-")
			if !isVarName(name) {
				return "", false, nil, nil, fmt.Errorf("%q is not a variable name (letters, digits and _)", name)
			}
			v, ok := lookup(name)
			switch {
			case hasDef && v == "":
				v = def
			case !ok:
				unset = append(unset, name)
				v = missing
			case v == "" && !hasDef:
				empty = append(empty, name)
			}
			b.WriteString(v)
			refs++
			i += 2 + end + 1
		default:
			b.WriteByte(s[i])
			i++
			text = true
		}
	}
	return b.String(), refs == 1 && !text, unset, empty, nil
}

// isVarName reports whether s is an environment variable name: [A-Za-z_][A-Za-z0-9_]*.
func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
