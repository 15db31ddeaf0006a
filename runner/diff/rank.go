package diff

import (
	"fmt"
	"strings"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/spec"
)

// rankOrder is the leading ORDER BY term of the diff's numbering for a sink's rank (connectors.Ranker),
// followed by ", "; "" without one. It is evaluated over a row of the diff query (l.query's columns), and
// gives every change the rank connectors.Rank.Of gives its sink form (SinkChange): the same rules, with
// Field set when it holds a non-empty string in the after-values (unless a delete) or in the before-values
// (unless a create). A Field that is not a string column is never set, as a non-string value is not in Go.
func (l *Layout) rankOrder(r *connectors.Rank) string {
	if r == nil {
		return ""
	}
	set := l.rankFieldSet(r.Field)
	var b strings.Builder
	b.WriteString("CASE")
	for _, rule := range r.Rules {
		cond := "NOT " + set
		if rule.Set {
			cond = set
		}
		fmt.Fprintf(&b, " WHEN __op = %s AND %s THEN %d", spec.QuoteString(string(rule.Action)), cond, rule.Rank)
	}
	fmt.Fprintf(&b, " ELSE %d END, ", r.Default)
	return b.String()
}

// rankFieldSet is the SQL condition (never NULL) that field is set on a diff row.
func (l *Layout) rankFieldSet(field string) string {
	nonEmpty := func(col string) string { return fmt.Sprintf("coalesce(%s <> '', false)", engine.Ident(col)) }
	var desired, compared bool
	for _, c := range l.Desired {
		if c.Name == field {
			desired = c.Type == "VARCHAR"
		}
	}
	for _, c := range l.Compared {
		if c.Name == field {
			compared = c.Type == "VARCHAR"
		}
	}
	switch {
	case field == "" || !desired:
		return "false"
	case isIn(l.Key, field): // in both forms of every change
		return nonEmpty(field)
	case !compared: // ignored by the diff: only in the after-values
		return fmt.Sprintf("(__op <> 'delete' AND %s)", nonEmpty(field))
	}
	return fmt.Sprintf("((__op <> 'delete' AND %s) OR (__op <> 'create' AND %s))", nonEmpty(field), nonEmpty("__o_"+field))
}

// createRankOrder is rankOrder for a first sync's diff (createsQuery), whose changes are all creates of the
// desired records (alias n): the same ranks, evaluated over the desired columns, so that a first sync is
// numbered in the order rankOrder gives the same creates.
func (l *Layout) createRankOrder(r *connectors.Rank) string {
	if r == nil {
		return ""
	}
	set := "false"
	for _, c := range l.Desired {
		if r.Field != "" && c.Name == r.Field && c.Type == "VARCHAR" {
			set = fmt.Sprintf("coalesce(n.%s <> '', false)", engine.Ident(c.Name))
		}
	}
	var b strings.Builder
	b.WriteString("CASE")
	for _, rule := range r.Rules {
		if rule.Action != connectors.Create {
			continue
		}
		cond := "NOT " + set
		if rule.Set {
			cond = set
		}
		fmt.Fprintf(&b, " WHEN %s THEN %d", cond, rule.Rank)
	}
	fmt.Fprintf(&b, " ELSE %d END, ", r.Default)
	return b.String()
}
