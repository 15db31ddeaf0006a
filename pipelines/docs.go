package pipelines

import (
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/possync/possync/spec"
)

// docWidth is the width of the plain-text docs, in columns.
const docWidth = 100

// WriteDocs writes the human docs of one component (for `possync connectors NAME`): its name, kind, summary
// and description, a table of its fields (nested fields indented, advanced ones last) and its example. Plain
// text, at most 100 columns except for example lines the declaration makes longer (they are kept whole so
// that they stay valid YAML).
func WriteDocs(w io.Writer, c *spec.Component) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)\n", c.Name, c.Kind)
	for _, line := range wrap(c.Summary, docWidth-2) {
		b.WriteString("  " + line + "\n")
	}
	for _, para := range strings.Split(strings.TrimSpace(c.Description), "\n\n") {
		if para == "" {
			continue
		}
		b.WriteString("\n")
		for _, line := range wrap(para, docWidth-2) {
			b.WriteString("  " + line + "\n")
		}
	}
	b.WriteString("\nFIELDS\n")
	writeTable(&b, fieldRows(docFields(c), ""))
	if ex := strings.TrimRight(c.Example, "\n "); ex != "" {
		b.WriteString("\nEXAMPLE\n")
		for _, line := range strings.Split(ex, "\n") {
			b.WriteString(strings.TrimRight("  "+line, " ") + "\n")
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write docs of %s %q: %w", c.Kind, c.Name, err)
	}
	return nil
}

// WriteIndex writes one line per registered source, sink and transform of cat with its summary, grouped by
// kind.
func WriteIndex(w io.Writer, cat Catalog) error {
	nameW := 0
	for _, kind := range kinds {
		for _, t := range cat.Types(kind) {
			nameW = max(nameW, utf8.RuneCountInString(t))
		}
	}
	var b strings.Builder
	for i, kind := range kinds {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%sS\n", strings.ToUpper(string(kind)))
		types := cat.Types(kind)
		if len(types) == 0 {
			b.WriteString("  (none registered)\n")
		}
		for _, t := range types {
			summary := ""
			if c, ok := cat.Component(kind, t); ok {
				summary = c.Summary
			}
			writeCells(&b, []string{t}, []int{nameW}, summary, "  ")
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write component index: %w", err)
	}
	return nil
}

// row is one line of the field table.
type row struct{ name, typ, req, desc string }

// fieldRows flattens fields into table rows, advanced fields after the others, nested fields indented.
func fieldRows(fields []spec.Field, indent string) []row {
	var rows []row
	for _, advanced := range []bool{false, true} {
		for i := range fields {
			f := &fields[i]
			if f.Advanced != advanced {
				continue
			}
			rows = append(rows, row{name: indent + f.Name, typ: typeLabel(f), req: requirement(f), desc: fieldDesc(f)})
			sub := f.Fields
			if f.Items != nil && f.Items.Type == spec.TypeObject {
				sub = f.Items.Fields
			}
			rows = append(rows, fieldRows(sub, indent+"  ")...)
		}
	}
	return rows
}

// typeLabel names f's type in docs ("list of string").
func typeLabel(f *spec.Field) string {
	switch {
	case f.Type == spec.TypeStringOrList:
		return "string|list"
	case f.Items != nil && (f.Type == spec.TypeList || f.Type == spec.TypeMap):
		return string(f.Type) + " of " + typeLabel(f.Items)
	}
	return string(f.Type)
}

// requirement says whether f is required or what its default is.
func requirement(f *spec.Field) string {
	switch d := f.DefaultValue(); {
	case f.Required:
		return "required"
	case d != nil:
		return "default " + formatValue(d)
	}
	return "optional"
}

// fieldDesc is f's description with its allowed values, example and secrecy.
func fieldDesc(f *spec.Field) string {
	parts := []string{strings.TrimSpace(f.Description)}
	if len(f.Enum) > 0 {
		parts = append(parts, "One of: "+strings.Join(f.Enum, ", ")+".")
	}
	if f.Example != nil && f.Type != spec.TypeObject {
		parts = append(parts, "Example: "+formatValue(f.Example)+".")
	}
	if f.Secret {
		parts = append(parts, secretNote)
	}
	if f.Advanced {
		parts = append([]string{"(advanced)"}, parts...)
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

// formatValue formats a default or example value the way YAML flow style would show it.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" || strings.ContainsAny(x, " :#,[]{}\"'|&*!%@`") {
			return strconv.Quote(x)
		}
		return x
	case time.Duration:
		return x.String()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		items := make([]string, rv.Len())
		for i := range items {
			items[i] = formatValue(rv.Index(i).Interface())
		}
		return "[" + strings.Join(items, ", ") + "]"
	case reflect.Map:
		keys := make([]string, 0, rv.Len())
		vals := map[string]any{}
		for it := rv.MapRange(); it.Next(); {
			k := fmt.Sprint(it.Key().Interface())
			keys = append(keys, k)
			vals[k] = it.Value().Interface()
		}
		sort.Strings(keys)
		for i, k := range keys {
			keys[i] = formatValue(k) + ": " + formatValue(vals[k])
		}
		return "{" + strings.Join(keys, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// writeTable writes the field table with a header; descriptions wrap in the last column, or below the row
// when the other columns leave less than 30 columns for them.
func writeTable(b *strings.Builder, rows []row) {
	header := row{"NAME", "TYPE", "REQUIRED/DEFAULT", "DESCRIPTION"}
	widths := []int{0, 0, 0}
	for _, r := range append([]row{header}, rows...) {
		widths[0] = max(widths[0], utf8.RuneCountInString(r.name))
		widths[1] = max(widths[1], utf8.RuneCountInString(r.typ))
		widths[2] = max(widths[2], utf8.RuneCountInString(r.req))
	}
	for _, r := range append([]row{header}, rows...) {
		writeCells(b, []string{r.name, r.typ, r.req}, widths, r.desc, "  ")
	}
}

// writeCells writes one line of padded cells followed by text wrapped in the remaining width (continuation
// lines aligned under it); when less than 30 columns remain, the text goes on the next lines, indented.
func writeCells(b *strings.Builder, cells []string, widths []int, text, indent string) {
	var line strings.Builder
	line.WriteString(indent)
	used := utf8.RuneCountInString(indent)
	for i, c := range cells {
		line.WriteString(c + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
		used += widths[i] + 2
	}
	avail, pad := docWidth-used, strings.Repeat(" ", used)
	if avail < 30 {
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
		avail, pad = docWidth-len(indent)-6, indent+strings.Repeat(" ", 6)
		line.Reset()
		line.WriteString(pad)
	}
	lines := wrap(text, avail)
	if len(lines) == 0 {
		lines = []string{""}
	}
	line.WriteString(lines[0])
	b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	for _, l := range lines[1:] {
		b.WriteString(pad + l + "\n")
	}
}

// wrap splits text into lines of at most width columns at spaces; a longer word is cut into pieces.
func wrap(text string, width int) []string {
	var (
		lines []string
		cur   string
	)
	for _, word := range strings.Fields(text) {
		r := []rune(word)
		for len(r) > width {
			if cur != "" {
				lines, cur = append(lines, cur), ""
			}
			lines, r = append(lines, string(r[:width])), r[width:]
		}
		switch {
		case len(r) == 0:
		case cur == "":
			cur = string(r)
		case utf8.RuneCountInString(cur)+1+len(r) <= width:
			cur += " " + string(r)
		default:
			lines, cur = append(lines, cur), string(r)
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// docFields are the fields a component's docs list: the reserved keys of its block (`type`, and for a
// transform `name` and, but for sql, `input`), then the component's own. Both the text docs and the Markdown
// pages use it.
func docFields(c *spec.Component) []spec.Field {
	typ := typeField
	typ.Description = fmt.Sprintf("Must be `%s`.", c.Name)
	fields := []spec.Field{typ}
	if c.Kind == spec.KindTransform {
		fields = append(fields, nameField)
		if c.Name != sqlType { // a sql step reads the relations its query names
			fields = append(fields, inputField)
		}
	}
	return append(fields, c.Fields...)
}
