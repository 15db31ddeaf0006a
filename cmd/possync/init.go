package main

// `possync init`: a pipeline file scaffolded from the component declarations of a chosen source and sink.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/spec"
)

// schemaURL is the published JSON Schema, for a scaffold written outside a possync checkout.
const schemaURL = "https://raw.githubusercontent.com/possync/possync/main/schemas/pipeline.schema.json"

func cmdInit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("init", "possync init --source TYPE --sink TYPE [--name NAME] [-o FILE]",
		"Write a pipeline file for a source and a sink: their required fields, secrets as ${VAR} placeholders, the\n"+
			"optional fields as comments, and the schema modeline for editors. Refuses to overwrite a file.", stderr)
	src := c.fs.String("source", "", "the source type (possync connectors lists them)")
	snk := c.fs.String("sink", "", "the sink type")
	name := c.fs.String("name", "", "the pipeline's name (default: SOURCE-SINK)")
	out := c.fs.String("o", "", "write to FILE instead of stdout (never overwritten)")
	schema := c.fs.String("schema", "", "the $schema of the modeline (default: schemas/pipeline.schema.json of an enclosing checkout, else the published URL)")
	c.complete = completeSpec{args: argNone, flags: map[string]valueSpec{
		"source": {argWords, connectors.Sources.Names()}, "sink": {argWords, connectors.Sinks.Names()}, "name": {kind: argNone}}}
	pos, help, err := c.parse(args, stdout)
	if help {
		return 0
	}
	if err != nil || len(pos) > 0 || *src == "" || *snk == "" {
		if err == nil {
			c.usage(stderr)
		}
		return 2
	}
	cat := pipelines.DefaultCatalog()
	so, ok := cat.Component(spec.KindSource, *src)
	if !ok {
		fmt.Fprintf(stderr, "possync init: no source type %q (sources: %s)\n", *src, strings.Join(cat.Types(spec.KindSource), ", "))
		return 2
	}
	si, ok := cat.Component(spec.KindSink, *snk)
	if !ok {
		fmt.Fprintf(stderr, "possync init: no sink type %q (sinks: %s)\n", *snk, strings.Join(cat.Types(spec.KindSink), ", "))
		return 2
	}
	if *name == "" {
		*name = strings.ReplaceAll(*src+"-"+*snk, "_", "-")
	}
	if !regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`).MatchString(*name) {
		fmt.Fprintf(stderr, "possync init: --name %q: use lower-case letters, digits, - and _\n", *name)
		return 2
	}
	modeline := *schema
	if modeline == "" {
		modeline = schemaRef(*out)
	}
	b := scaffold(*name, modeline, scaffoldKey, nil, so, si)
	key := pickKey(ctx, b)
	b = scaffold(*name, modeline, key, nil, so, si)
	if hints := sinkHints(ctx, b); len(hints) > 0 {
		b = scaffold(*name, modeline, key, hints, so, si)
	}
	if *out == "" {
		_, _ = stdout.Write(b)
		return 0
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		fmt.Fprintf(stderr, "possync init: %s exists; not overwriting it (remove it, or choose another -o)\n", *out)
		return 1
	}
	if err == nil {
		_, err = f.Write(b)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "possync init:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Wrote %s. Fill in the TODOs, then: possync validate %s\n", *out, *out)
	return 0
}

// schemaRef is the modeline's schema for a file written to out: the schema of an enclosing possync checkout
// (relative, as the examples have it), else the published one.
func schemaRef(out string) string {
	dir, err := filepath.Abs(filepath.Dir(cmpOr(out, "x")))
	if err != nil {
		return schemaURL
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "schemas", "pipeline.schema.json")); err == nil {
			rel, err := filepath.Rel(dir, filepath.Join(d, "schemas", "pipeline.schema.json"))
			if err == nil {
				return filepath.ToSlash(rel)
			}
			return schemaURL
		}
		if filepath.Dir(d) == d {
			return schemaURL
		}
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// scaffold renders the pipeline file.
// hints are the sink's findings about the records the source delivers as read, shown where the transforms
// that fix them go.
func scaffold(name, schema, key string, hints []string, so, si *spec.Component) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# yaml-language-server: $schema=%s\n#\n", schema)
	fmt.Fprintf(&b, "# %s -> %s, scaffolded by `possync init`. Fill in the TODOs; secrets come from the environment.\n", so.Name, si.Name)
	fmt.Fprintf(&b, "# Source: %s\n# Sink: %s\n# `possync connectors %s` and `possync connectors %s` document every field.\n",
		so.Summary, si.Summary, so.Name, si.Name)
	fmt.Fprintf(&b, "version: 1\nname: %s\nmerchant: %s # TODO: the merchant's id\ntimezone: UTC # TODO: the merchant's time zone (IANA name)\n", name, name)
	fmt.Fprintf(&b, "key: %s # TODO: the field that identifies a record at the sink\n\n", key)
	fmt.Fprint(&b, "source:\n")
	writeFields(&b, so, "  ")
	fmt.Fprint(&b, "\n")
	if len(hints) > 0 {
		fmt.Fprintf(&b, "# TODO: the %s sink does not take the %s source's records as read; shape them with transforms:\n", si.Name, so.Name)
		for _, h := range hints {
			fmt.Fprintf(&b, "#   %s\n", h)
		}
	}
	fmt.Fprint(&b, "# transforms:\n#   - type: map\n#     fields:\n#       sku: sku\n# (possync connectors map, filter, sql, ...)\n\n")
	fmt.Fprint(&b, "sink:\n")
	writeFields(&b, si, "  ")
	fmt.Fprint(&b, "\nguards:\n  max_delete_percent: 10\n")
	return b.Bytes()
}

// scaffoldKey is the key a scaffold starts with.
const scaffoldKey = "id"

// sinkHints type-checks the scaffold b as `validate --no-env` does and returns the sink's error findings
// (the records it receives do not fit it), one line each.
func sinkHints(ctx context.Context, b []byte) []string {
	p, diags := pipelines.Parse("scaffold.yaml", b, pipelines.Options{Placeholders: true})
	if p == nil || diags.HasErrors() {
		return nil
	}
	var out []string
	for _, d := range runner.Check(ctx, p) {
		if d.Severity == spec.Error && d.Path == "/sink" {
			out = append(out, strings.Join(strings.Fields(d.Message), " "))
		}
	}
	return out
}

// keyPreference are the keys a scaffold takes when the source's records have them, best first.
var keyPreference = []string{"sku", "order_id", "id"}

// pickKey is the key of the scaffold b: the first of keyPreference among the fields its source delivers,
// else the first of them (type-checked without reading data, as validate does); scaffoldKey when the
// fields cannot be found.
func pickKey(ctx context.Context, b []byte) string {
	p, diags := pipelines.Parse("scaffold.yaml", b, pipelines.Options{Placeholders: true})
	if p == nil || diags.HasErrors() {
		return scaffoldKey
	}
	fields, _ := runner.DesiredFields(ctx, p)
	for _, k := range keyPreference {
		if slices.Contains(fields, k) {
			return k
		}
	}
	if len(fields) > 0 {
		return fields[0]
	}
	return scaffoldKey
}

// writeFields writes a component block: its type; the fields of its documented example (secrets as ${VAR}s,
// the rest marked TODO); the required fields the example lacks; then the other fields shown in its docs
// (not Advanced) as comments.
func writeFields(b *bytes.Buffer, c *spec.Component, indent string) {
	fmt.Fprintf(b, "%stype: %s\n", indent, c.Name)
	written := map[string]bool{"type": true}
	if ex := exampleBlock(c); ex != nil {
		for i := 0; i+1 < len(ex.Content); i += 2 {
			k, v := ex.Content[i].Value, ex.Content[i+1]
			f, ok := c.Field(k)
			if written[k] || !ok {
				continue
			}
			written[k] = true
			switch val := yamlInline(v); {
			case f.Secret && !strings.HasPrefix(val, "${"):
				fmt.Fprintf(b, "%s%s: ${%s}\n", indent, k, envName(c.Name+"_"+k))
			case strings.HasPrefix(val, "${"):
				fmt.Fprintf(b, "%s%s: %s\n", indent, k, val)
			default:
				fmt.Fprintf(b, "%s%s: %s # TODO: %s\n", indent, k, val, firstSentence(f.Description))
			}
		}
	}
	for _, f := range c.Fields {
		if f.Required && !written[f.Name] {
			written[f.Name] = true
			fmt.Fprintf(b, "%s%s: %s\n", indent, f.Name, fieldValue(c, f))
		}
	}
	for _, f := range c.Fields {
		if written[f.Name] || f.Advanced {
			continue
		}
		v := ""
		switch {
		case f.Default != nil:
			v = yamlInline(f.Default)
		case f.Example != nil:
			v = yamlInline(f.Example)
		}
		fmt.Fprintf(b, "%s# %s: %s  # %s\n", indent, f.Name, v, firstSentence(f.Description))
	}
}

// exampleBlock is the component's block in its documented example (spec.Component.Example): the mapping
// whose type is the component's; nil without one.
func exampleBlock(c *spec.Component) *yaml.Node {
	var doc yaml.Node
	if c.Example == "" || yaml.Unmarshal([]byte(c.Example), &doc) != nil {
		return nil
	}
	var find func(n *yaml.Node) *yaml.Node
	find = func(n *yaml.Node) *yaml.Node {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "type" && n.Content[i+1].Value == c.Name {
					return n
				}
			}
		}
		for _, ch := range n.Content {
			if m := find(ch); m != nil {
				return m
			}
		}
		return nil
	}
	return find(&doc)
}

// fieldValue is what a required field starts as: a ${VAR} for a secret, else its example (a TODO), else a
// placeholder of its type.
func fieldValue(c *spec.Component, f spec.Field) string {
	if f.Secret {
		if s, ok := f.Example.(string); ok && strings.HasPrefix(s, "${") {
			return s
		}
		return "${" + envName(c.Name+"_"+f.Name) + "}"
	}
	if f.Example != nil {
		return yamlInline(f.Example) + " # TODO: " + firstSentence(f.Description)
	}
	if len(f.Enum) > 0 {
		return f.Enum[0] + " # TODO: one of " + strings.Join(f.Enum, ", ")
	}
	return "${" + envName(c.Name+"_"+f.Name) + "} # TODO: " + firstSentence(f.Description)
}

func envName(s string) string {
	return strings.ToUpper(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(s, "_"))
}

// yamlInline renders v as one line of YAML (flow style).
func yamlInline(v any) string {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	n.Style = yaml.FlowStyle
	setFlow(&n)
	out, err := yaml.Marshal(&n)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(out))
}

func setFlow(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	for _, c := range n.Content {
		setFlow(c)
	}
}

// firstSentence is the description's first sentence, on one line.
func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}
