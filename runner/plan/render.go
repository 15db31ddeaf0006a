package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/possync/possync/connectors"
)

// TextOptions control the human rendering.
type TextOptions struct {
	// Color adds ANSI colours (for terminals).
	Color bool
	// Limit caps the number of changes listed (0 = all); the summary always counts them all.
	Limit int
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiPurple = "\x1b[35m"
)

var symbols = map[connectors.Action]struct{ sym, color string }{
	connectors.Create:     {"+", ansiGreen},
	connectors.Update:     {"~", ansiYellow},
	connectors.Deactivate: {"!", ansiPurple},
	connectors.Delete:     {"-", ansiRed},
}

// WriteText renders the plan for a person: what the plan covers and its summary first, then guard verdicts,
// rejects and notes, then each change with its field diffs.
func WriteText(w io.Writer, p *Plan, o TextOptions) error {
	tw := &textWriter{w: w, color: o.Color}
	tw.printf("%s for pipeline %s (merchant %s)\n", tw.bold("Plan"), p.Pipeline.Name, p.Pipeline.Merchant)
	tw.printf("  evaluated at %s\n", p.EvaluatedAt.Format("2006-01-02T15:04:05Z07:00"))
	for _, in := range p.Inputs {
		tw.printf("  input %-12s %s records (%s, %s)\n", in.Name, Thousands(in.Records), in.Type, in.Mode)
	}
	if p.State.Serial == 0 {
		tw.printf("  state: empty (first apply)\n")
	} else {
		tw.printf("  state: %s records, serial %d\n", Thousands(p.State.Records), p.State.Serial)
	}
	tw.printf("\n")
	s := p.Summary
	switch {
	case s.Total() == 0 && p.Blocked():
		// Nothing planned, but removals held from it count for a guard (they are in the notes): the
		// apply is refused all the same.
		tw.printf("%s %s records up to date, but a guard blocks the apply.\n", tw.bold("No changes planned;"),
			Thousands(s.Unchanged))
	case s.Total() == 0:
		tw.printf("%s %s records up to date.\n", tw.bold("No changes."), Thousands(s.Unchanged))
		if p.Shortcut != "" {
			tw.printf("  (%s; --full-plan computes it)\n", p.Shortcut)
		}
	default:
		tw.printf("%s %s to create, %s to update, %s to deactivate, %s to delete, %s unchanged.\n",
			tw.bold("Plan:"), Thousands(int64(s.Create)), Thousands(int64(s.Update)), Thousands(int64(s.Deactivate)),
			Thousands(int64(s.Delete)), Thousands(s.Unchanged))
	}
	if p.Estimate != nil && s.Total() > 0 {
		tw.printf("Cost: %s\n", p.Estimate.Note)
	}
	for _, g := range p.Guards {
		verdict := g.Verdict
		switch g.Verdict {
		case Blocked:
			verdict = tw.paint(ansiRed, "BLOCKED")
		case Overridden:
			verdict = tw.paint(ansiYellow, "overridden")
		}
		tw.printf("Guard %s: %s (%s)\n", g.Name, verdict, g.Message)
	}
	if len(p.Rejects) > 0 {
		tw.printf("\n%s (%d): rows left untouched\n", tw.bold("Rejects"), len(p.Rejects))
		for i, r := range p.Rejects {
			if o.Limit > 0 && i >= o.Limit {
				tw.printf("  ... and %d more\n", len(p.Rejects)-i)
				break
			}
			tw.printf("  %s%s: %s\n", r.Where, rejectKey(r.Key), r.Reason)
		}
	}
	for _, n := range p.Notes {
		tw.printf("Note: %s\n", n.String())
	}
	if len(p.Upcoming) > 0 {
		tw.printf("\n%s (%d): due without a new input\n", tw.bold("Upcoming"), len(p.Upcoming))
		for i, u := range p.Upcoming {
			if o.Limit > 0 && i >= o.Limit {
				tw.printf("  ... and %d more\n", len(p.Upcoming)-i)
				break
			}
			tw.printf("  %s  %s: %s\n", u.At.Format("2006-01-02 15:04 MST"), u.Subject, u.Message)
		}
	}
	if len(p.Drift) > 0 {
		tw.printf("\n%s (%d): edited or removed directly on the target since the last apply; the changes below put them back\n",
			tw.bold("Drift"), len(p.Drift))
		for i, d := range p.Drift {
			if o.Limit > 0 && i >= o.Limit {
				tw.printf("  ... and %d more\n", len(p.Drift)-i)
				break
			}
			if d.Missing {
				tw.printf("%s %s: removed from the target\n", tw.paint(ansiPurple, "?"), formatKey(p.Key, d.Key))
				continue
			}
			tw.printf("%s %s\n", tw.paint(ansiPurple, "?"), formatKey(p.Key, d.Key))
			for _, f := range d.Fields {
				tw.printf("    %s  applied %s, now %s\n", f.Name, formatJSON(f.Before), formatJSON(f.After))
			}
		}
	}
	if len(p.Changes) > 0 {
		tw.printf("\n")
	}
	for i, c := range p.Changes {
		if o.Limit > 0 && i >= o.Limit {
			tw.printf("\n... and %s more changes (--limit 0 shows all)\n", Thousands(int64(len(p.Changes)-i)))
			break
		}
		sy := symbols[c.Action]
		tw.printf("%s %s %s\n", tw.paint(sy.color, sy.sym), tw.paint(sy.color, string(c.Action)), formatKey(p.Key, c.Key))
		width := 0
		for _, f := range c.Fields {
			width = max(width, len(f.Name))
		}
		for _, name := range sortedNames(c.Annotations) {
			tw.printf("    (%s: %s)\n", name, formatJSON(c.Annotations[name]))
		}
		for _, f := range c.Fields {
			if c.Action == connectors.Create {
				tw.printf("    %-*s  %s\n", width, f.Name, formatJSON(f.After))
			} else {
				tw.printf("    %-*s  %s -> %s\n", width, f.Name, tw.paint(ansiRed, formatJSON(f.Before)), tw.paint(ansiGreen, formatJSON(f.After)))
			}
		}
	}
	return tw.err
}

type textWriter struct {
	w     io.Writer
	color bool
	err   error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

func (t *textWriter) paint(color, s string) string {
	if !t.color || color == "" {
		return s
	}
	return color + s + ansiReset
}

func (t *textWriter) bold(s string) string { return t.paint(ansiBold, s) }

func formatKey(key []string, k map[string]any) string {
	names := key
	if len(names) == 0 {
		names = sortedNames(k)
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + formatJSON(k[n])
	}
	return strings.Join(parts, " ")
}

// formatJSON prints a value as in the JSON document (strings quoted), so that "12" and 12 differ visibly.
func formatJSON(v any) string {
	if v == nil {
		return "null"
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // descriptions hold HTML: show <p>, not \u003cp\u003e
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Thousands formats n with thousands separators (-1,234,567), as plans show counts.
func Thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// sortedNames returns m's names in order.
func sortedNames(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// rejectKey shows the key a reject protects, as " (sku=A1)"; "" for none.
func rejectKey(key map[string]any) string {
	if len(key) == 0 {
		return ""
	}
	return " (" + connectors.FormatKey(sortedNames(key), key) + ")"
}
