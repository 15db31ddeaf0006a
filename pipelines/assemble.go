package pipelines

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/possync/possync/spec"
)

// build validates the document's root mapping and assembles the Pipeline; nil when the root is unusable.
// The result is meaningful only when no error was reported.
func (l *loader) build(root *yaml.Node) *Pipeline {
	values, nodes := l.object(root, "", topFields, ownBlocks, false)
	if values == nil {
		return nil
	}
	p := &Pipeline{File: l.file, Dir: filepath.Dir(l.file)}
	l.header(p, values, nodes)
	var sourcesOK bool
	p.Sources, sourcesOK = l.sources(root, nodes)
	var namePos []spec.Pos
	p.Transforms, namePos = l.steps(nodes[slotTransforms])
	if n := nodes[slotSink]; n == nil || isNull(n) {
		f, _ := spec.FindField(topFields, slotSink)
		l.missing(root, n, "/"+slotSink, f)
	} else {
		p.Sink, _, _ = l.component(spec.KindSink, n, "/"+slotSink, nil)
		p.Sink.Name = slotSink
	}
	l.wire(p, namePos, sourcesOK)
	p.State = l.state(nodes)
	p.Diff = l.diff(nodes)
	p.Guards = l.guards(nodes)
	return p
}

// header sets the pipeline's scalar fields: version, name, merchant, time zone and key.
func (l *loader) header(p *Pipeline, values map[string]any, nodes map[string]*yaml.Node) {
	if v, ok := values["version"].(int64); ok {
		p.Version = int(v)
		if v != Version {
			l.errorf(deref(nodes["version"]), "/version", spec.CodeBadVersion,
				fmt.Sprintf("this possync reads version %d files", Version), "unsupported version %d", v)
		}
	}
	if s, ok := values["name"].(string); ok {
		p.Name = s
		if !pipelineNameRe.MatchString(s) {
			l.errorf(deref(nodes["name"]), "/name", spec.CodeBadValue,
				"use lowercase letters, digits, '-' and '_', starting with a letter or digit, e.g. acme-catalog",
				"`%s` is not a valid pipeline name", s)
		}
	}
	if s, ok := values["merchant"].(string); ok {
		p.Merchant = s
		if strings.TrimSpace(s) == "" {
			l.errorf(deref(nodes["merchant"]), "/merchant", spec.CodeBadValue, "name the merchant", "merchant is empty")
		}
	}
	if s, ok := values["timezone"].(string); ok {
		loc, err := time.LoadLocation(s)
		if err != nil || s == "" || s == "Local" {
			at := nodes["timezone"]
			l.errorf(deref(at), "/timezone", spec.CodeBadValue, "use an IANA time zone name such as America/Los_Angeles",
				"`%s` is not a time zone", s)
		}
		p.TimeZone = loc
	}
	if items, ok := values["key"].([]any); ok {
		l.key(p, items, nodes["key"])
	}
}

// key sets the record key fields: at least one, none empty, none twice.
func (l *loader) key(p *Pipeline, items []any, n *yaml.Node) {
	n = deref(n)
	if len(items) == 0 {
		l.errorf(n, "/key", spec.CodeBadValue, "name the field that identifies a record, e.g. `key: sku`",
			"key names no field")
	}
	for i, it := range items {
		s := it.(string)
		at, path := n, "/key"
		if n.Kind == yaml.SequenceNode {
			at, path = deref(n.Content[i]), spec.PointerJoin(path, fmt.Sprint(i))
		}
		switch {
		case strings.TrimSpace(s) == "":
			l.errorf(at, path, spec.CodeBadValue, "name a field", "key field name is empty")
		case slices.Contains(p.Key, s):
			l.errorf(at, path, spec.CodeBadValue, "list each key field once", "key field `%s` is listed twice", s)
		default:
			p.Key = append(p.Key, s)
		}
	}
}

// sources validates `source` or `sources`, exactly one of which must be set; ok is false when both are.
func (l *loader) sources(root *yaml.Node, nodes map[string]*yaml.Node) (out []*Component, ok bool) {
	one, many := nodes[slotSource], nodes[slotSources]
	if one != nil && isNull(one) {
		one = nil
	}
	if many != nil && isNull(many) {
		many = nil
	}
	switch {
	case one != nil && many != nil:
		l.errorf(deref(many), "/"+slotSources, spec.CodeSourceConflict,
			"use `source:` for one input or `sources:` for several, not both", "both `source` and `sources` are set")
	case one == nil && many == nil:
		l.errorf(root, "", spec.CodeSourceConflict, "add a `source:` block, or `sources:` with named blocks",
			"the pipeline has no source")
	}
	if one != nil {
		c, _, _ := l.component(spec.KindSource, one, "/"+slotSource, nil)
		c.Name = slotSource
		out = append(out, c)
	}
	if many == nil {
		return out, true
	}
	m := deref(many)
	if m.Kind != yaml.MappingNode {
		l.errorf(m, "/"+slotSources, spec.CodeWrongType, hintFor(spec.TypeMap), "want a mapping, have %s", describe(m))
		return out, one == nil
	}
	es := l.entries(m, "/"+slotSources)
	if len(es) == 0 {
		l.errorf(m, "/"+slotSources, spec.CodeBadValue, "add a named source block, or use `source:`", "sources is empty")
	}
	for _, e := range es {
		path := spec.PointerJoin("/"+slotSources, e.key.Value)
		if !relationNameRe.MatchString(e.key.Value) {
			l.errorf(e.key, path, spec.CodeBadValue, "use lowercase letters, digits and '_', starting with a letter",
				"`%s` is not a valid source name", e.key.Value)
		}
		c, _, _ := l.component(spec.KindSource, e.val, path, nil)
		c.Name = e.key.Value
		out = append(out, c)
	}
	return out, one == nil
}

// steps validates `transforms`. It returns the steps and the positions of their `name` values.
func (l *loader) steps(n *yaml.Node) ([]*Step, []spec.Pos) {
	if n == nil || isNull(n) {
		return nil, nil
	}
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, "/"+slotTransforms, spec.CodeWrongType, hintFor(spec.TypeList), "want a list, have %s", describe(n))
		return nil, nil
	}
	steps := make([]*Step, len(n.Content))
	namePos := make([]spec.Pos, len(n.Content))
	for i, item := range n.Content {
		path := spec.PointerJoin("/"+slotTransforms, fmt.Sprint(i))
		c, reserved, nodes := l.component(spec.KindTransform, item, path, stepFields)
		st := &Step{Component: *c}
		st.Name, _ = reserved["name"].(string)
		st.Input, _ = reserved["input"].(string)
		if in := nodes["input"]; in != nil {
			st.InputPos = l.pos(deref(in), path+"/input")
		}
		if nn := nodes["name"]; nn != nil {
			namePos[i] = l.pos(deref(nn), path+"/name")
			if st.Name != "" && !relationNameRe.MatchString(st.Name) {
				l.errorf(deref(nn), path+"/name", spec.CodeBadValue,
					"use lowercase letters, digits and '_', starting with a letter", "`%s` is not a valid step name",
					st.Name)
			}
		}
		steps[i] = st
	}
	return steps, namePos
}

// component validates a component block of the given kind at path: its `type` against the catalog, then its
// keys against the component's fields plus reserved (the keys every block of the kind may have besides
// `type`). It always returns a Component (with a nil Spec when the type is unknown), the values of the
// reserved keys (removed from the Config) and the value nodes of the block's keys.
func (l *loader) component(kind spec.Kind, n *yaml.Node, path string, reserved []spec.Field,
) (*Component, map[string]any, map[string]*yaml.Node) {
	n = deref(n)
	c := &Component{Pos: l.pos(n, path)}
	if n.Kind != yaml.MappingNode {
		l.errorf(n, path, spec.CodeWrongType, fmt.Sprintf("write the %s's `type:` and fields as indented lines", kind),
			"want a mapping, have %s", describe(n))
		return c, nil, nil
	}
	fields := append([]spec.Field{typeField}, reserved...)
	types := l.cat.Types(kind)
	known := false
	switch t := l.get(n, path, typeField.Name); {
	case t != nil && l.unset[deref(t)]:
		// Reported as an unset variable.
	case t == nil || isNull(t):
		hint := fmt.Sprintf("add `type:`; no %s is registered", kind)
		if len(types) > 0 {
			hint = "add `type:` with one of: " + strings.Join(types, ", ")
		}
		at := n
		if t != nil {
			at = deref(t)
		}
		l.errorf(at, path+"/type", spec.CodeMissingField, hint, "missing required field `type`")
	case deref(t).Kind != yaml.ScalarNode:
		l.wrongType(&typeField, deref(t), path+"/type")
	default:
		c.Type = deref(t).Value
		if cs, ok := l.cat.Component(kind, c.Type); ok {
			c.Spec, known = cs, true
			fields = append(fields, cs.Fields...)
		} else {
			l.errorf(deref(t), path+"/type", spec.CodeUnknownComponent,
				didYouMean(c.Type, types, fmt.Sprintf("registered %ss", kind)), "unknown %s type `%s`", kind, c.Type)
		}
	}
	values, nodes := l.object(n, path, fields, map[string]bool{typeField.Name: true}, !known)
	res := map[string]any{}
	for _, f := range reserved {
		if v, ok := values[f.Name]; ok {
			res[f.Name] = v
			delete(values, f.Name)
		}
	}
	c.Config = spec.Config{Pos: c.Pos, Values: values}
	return c, res, nodes
}

// wire checks what each step reads: names unique across sources and steps, `input` naming a source or an
// earlier step, and, unless the sources are in conflict (sourcesOK false), no doubt about the input when
// there are several sources.
func (l *loader) wire(p *Pipeline, namePos []spec.Pos, sourcesOK bool) {
	several := sourcesOK && len(p.Sources) > 1
	taken := map[string]string{}
	var readable []string
	for _, s := range p.Sources {
		taken[s.Name] = "a source"
		readable = append(readable, s.Name)
	}
	for i, st := range p.Transforms {
		switch {
		case st.Input != "" && st.Type == sqlType:
			l.warnf(st.InputPos, spec.CodeIgnoredInput, "remove `input:`; name the relations in the query",
				"a sql step reads the relations its query names; `input` is ignored")
		case st.Input != "" && slices.Contains(readable, st.Input):
		case st.Input != "" && hasStep(p.Transforms[i:], st.Input):
			l.diags.Append(spec.Errorf(st.InputPos, spec.CodeUnknownInput,
				"a step reads sources and earlier steps; move the step or read another relation",
				"step `%s` does not run before this one", st.Input))
		case st.Input != "":
			l.diags.Append(spec.Errorf(st.InputPos, spec.CodeUnknownInput,
				didYouMean(st.Input, readable, "sources and earlier steps"), "unknown input `%s`", st.Input))
		case i == 0 && several && st.Type != sqlType:
			l.diags.Append(spec.Errorf(st.Pos, spec.CodeAmbiguousInput,
				"set `input:` to one of: "+strings.Join(readable[:len(p.Sources)], ", "),
				"the pipeline has several sources; which one does this step read?"))
		}
		if st.Name == "" {
			continue
		}
		if what, dup := taken[st.Name]; dup {
			l.diags.Append(spec.Errorf(namePos[i], spec.CodeDuplicateName, "give the step another name",
				"`%s` already names %s", st.Name, what))
			continue
		}
		taken[st.Name] = "an earlier step"
		readable = append(readable, st.Name)
	}
	if len(p.Transforms) == 0 && several && p.Sink != nil {
		l.diags.Append(spec.Errorf(p.Sink.Pos, spec.CodeAmbiguousInput,
			"add a step that combines the sources, e.g. a `sql` step joining them",
			"the sink reads one input, and the pipeline has several sources"))
	}
}

// hasStep reports whether one of steps is called name.
func hasStep(steps []*Step, name string) bool {
	return slices.ContainsFunc(steps, func(s *Step) bool { return s.Name == name })
}
