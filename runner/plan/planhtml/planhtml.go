// Package planhtml renders a plan document, and optionally the outcome of applying it, as one self-contained
// HTML page a merchant can read and approve: the summary per action with a chart, the guard verdicts, the
// estimated cost, the changes as a searchable, filterable, sortable and paged table, and tabs for rejects,
// pending mappings, unmatched orders, reservations, drift, upcoming changes and other notes.
//
// The page needs no network: its CSS and JavaScript are inlined from files embedded in the binary, and the
// data the script shows is embedded once as JSON in a <script type="application/json"> element, with <, >
// and & escaped so no value can close that element. The summary, guards and estimate are rendered on the
// server side (html/template), so they read, print and test without the script.
//
// It owns: the page's layout, its view model and its assets. It may not touch: DuckDB, the state, the
// pipeline file or any connector: it renders a plan (already redacted by the planner) and an Outcome the
// caller has redacted.
package planhtml

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/outcome"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/spec"
)

//go:embed assets/page.html.tmpl assets/page.css assets/page.js
var assets embed.FS

// pageTemplate is parsed once; its assets are inlined as trusted CSS and JS (they are ours, not data).
var pageTemplate = func() *template.Template {
	css, err := assets.ReadFile("assets/page.css")
	if err != nil {
		panic(err)
	}
	js, err := assets.ReadFile("assets/page.js")
	if err != nil {
		panic(err)
	}
	funcs := template.FuncMap{
		"css":   func() template.CSS { return template.CSS(css) },
		"js":    func() template.JS { return template.JS(js) },
		"group": group,
		"num":   func(f float64) string { return trimFloat(f) },
	}
	return template.Must(template.New("page.html.tmpl").Funcs(funcs).ParseFS(assets, "assets/page.html.tmpl"))
}()

// Outcome is what applying a plan did, from the run report: the page shows it beside the plan. Its texts
// (Error, Notes, reasons) must already be redacted. Its Notes are the report's, shown in the notes tab as
// the run's; the caller leaves out those the plan also has.
type Outcome struct {
	Command    string // "apply" or "run"
	RunID      string
	StartedAt  time.Time
	FinishedAt time.Time
	Planned    plan.Summary
	Applied    plan.Summary
	// Failed are the changes the sink refused, by change ID (the plan's Change.ID).
	Failed     []Failed
	Recovered  int
	ExitReason string
	ExitCode   int
	Error      string
	Notes      []string
	Durations  map[string]float64
	// InputRejects are shown when there is no plan to carry them.
	InputRejects []connectors.Reject
}

// Failed is one change the sink refused.
type Failed struct {
	ID     string
	Action connectors.Action
	Key    map[string]any
	Reason string
}

// Page is what is rendered: a plan, an outcome, or both. Key names the record key fields (for an outcome
// without a plan; a plan carries its own).
type Page struct {
	Plan    *plan.Plan
	Outcome *Outcome
	Key     []string
}

// Write renders the page to path atomically (a temporary file, then rename).
func Write(path string, pg Page) (err error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write html: %w", err)
		}
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write html: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := Render(f, pg); err != nil {
		return fmt.Errorf("write html %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write html: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write html: %w", err)
	}
	return nil
}

// Render writes the page to w.
func Render(w io.Writer, pg Page) error {
	if pg.Plan == nil && pg.Outcome == nil {
		return fmt.Errorf("render html: neither a plan nor an outcome")
	}
	v, err := buildView(pg)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.Grow(len(v.Data) + 64<<10)
	if err := pageTemplate.Execute(&buf, v); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// view is the template's model.
type view struct {
	Title       string
	Pipeline    plan.Pipeline
	HasPlan     bool
	CreatedAt   string
	EvaluatedAt string
	Hash        string
	State       plan.State
	Inputs      []plan.Input
	Summary     summary
	Chart       chart
	Guards      []plan.Guard
	Blocked     bool
	Estimate    *connectors.Estimate
	Outcome     *outcomeView
	Tabs        []tab
	// ChangesNote says why the changes table does not list every change.
	ChangesNote string
	// Data is the JSON the script reads (see data), already escaped for a script element.
	Data template.JS
}

type summary struct {
	Create, Update, Deactivate, Delete, Total int
	Unchanged                                 int64
}

type outcomeView struct {
	Command, RunID, StartedAt, FinishedAt, Seconds string
	ExitReason, Error                              string
	ExitCode, Recovered, Failed                    int
	OK                                             bool
	Rows                                           []outcomeRow
	Durations                                      []duration
}

type outcomeRow struct {
	Action           string
	Planned, Applied int
}

type duration struct {
	Stage   string
	Seconds string
}

type tab struct {
	ID, Label, Noun string
	Count           int
	Empty           string // what an empty tab says
}

// chart is the inline SVG bar chart of the summary.
type chart struct {
	Width, Height int
	Bars          []bar
}

type bar struct {
	Action, Label string
	Count         int
	Y, W, TextX   int
}

// data is the JSON the script renders the tables from. Changes are arrays, not objects, to keep a page of
// 100,000 changes small: [action index, key, [[field index, before, after]...], annotations, status, reason].
type data struct {
	Actions []string          `json:"actions"`
	Fields  []string          `json:"fields"`
	Changes [][]any           `json:"changes"`
	Outcome bool              `json:"outcome"`
	Lists   map[string]*list  `json:"lists"`
	Counts  map[string]int    `json:"counts"`
	Meta    map[string]string `json:"meta"`
}

// list is one tab's table: column names and kinds ("text", "diff", "time"), and its rows.
type list struct {
	Cols  []string `json:"cols"`
	Kinds []string `json:"kinds"`
	Rows  [][]any  `json:"rows"`
}

// Change statuses after an apply.
const (
	statusApplied = "applied"
	statusFailed  = "failed"
	statusUnknown = "not known" // the run stopped: the report counts what was applied, not which
)

// tabs in order: id, label, what the empty tab says.
var tabDefs = [][3]string{
	{"changes", "Changes", "No changes: every record is up to date."},
	{"rejects", "Rejects", "No rejected input rows."},
	{"pending", "Pending mappings", "No pending mappings."},
	{"unmatched", "Unmatched orders", "No orders held back."},
	{"reservations", "Reservations", "No reservations."},
	{"drift", "Drift", "No drift found (drift is checked with --refresh)."},
	{"upcoming", "Upcoming", "No changes due without a new input."},
	{"notes", "Notes", "No other notes."},
}

func buildView(pg Page) (*view, error) {
	v := &view{}
	p := pg.Plan
	d := &data{Actions: make([]string, len(connectors.Actions)), Lists: map[string]*list{}, Counts: map[string]int{},
		Meta: map[string]string{}, Changes: [][]any{}, Fields: []string{}}
	for i, a := range connectors.Actions {
		d.Actions[i] = string(a)
	}
	key := pg.Key
	var s plan.Summary
	var notes []plan.Note
	var rejects []connectors.Reject
	if p != nil {
		v.HasPlan = true
		v.Pipeline = p.Pipeline
		v.CreatedAt = stamp(p.CreatedAt)
		v.EvaluatedAt = stamp(p.EvaluatedAt)
		v.Hash = p.Hash
		v.State = p.State
		v.Inputs = p.Inputs
		v.Guards = p.Guards
		v.Blocked = p.Blocked()
		v.Estimate = p.Estimate
		key = p.Key
		s = p.Summary
		notes = p.Notes
		rejects = p.Rejects
	}
	o := pg.Outcome
	if o != nil {
		ov := &outcomeView{Command: o.Command, RunID: o.RunID, StartedAt: stamp(o.StartedAt), FinishedAt: stamp(o.FinishedAt),
			Seconds: trimFloat(o.FinishedAt.Sub(o.StartedAt).Seconds()), ExitReason: o.ExitReason, ExitCode: o.ExitCode,
			Error: o.Error, Recovered: o.Recovered, Failed: len(o.Failed), OK: o.ExitCode == 0}
		for _, a := range connectors.Actions {
			ov.Rows = append(ov.Rows, outcomeRow{Action: string(a), Planned: o.Planned.Count(a), Applied: o.Applied.Count(a)})
		}
		for _, k := range slices.Sorted(maps.Keys(o.Durations)) {
			ov.Durations = append(ov.Durations, duration{Stage: k, Seconds: trimFloat(o.Durations[k])})
		}
		v.Outcome = ov
		d.Outcome = true
		if p == nil {
			s = o.Planned
			rejects = o.InputRejects
		}
		notes = slices.Clip(notes)
		for _, n := range o.Notes {
			notes = append(notes, plan.Note{Kind: kindRun, Message: n})
		}
	}
	v.Summary = summary{Create: s.Create, Update: s.Update, Deactivate: s.Deactivate, Delete: s.Delete, Total: s.Total(), Unchanged: s.Unchanged}
	v.Chart = makeChart(s)
	v.Title = "possync plan"
	if v.Pipeline.Name != "" {
		v.Title += ": " + v.Pipeline.Name
	}
	if o != nil {
		v.Title = "possync " + o.Command + " report"
		if v.Pipeline.Name != "" {
			v.Title += ": " + v.Pipeline.Name
		}
	}

	buildChanges(d, p, o, key)
	if o != nil && (p == nil || len(p.Changes) < p.Summary.Total()) && s.Total() > 0 {
		v.ChangesNote = fmt.Sprintf("The run applied its %s planned changes without holding them in memory: "+
			"this table lists only the changes the store refused. `possync plan --out` and `apply --plan` keep every change.", group(s.Total()))
	}
	d.Lists["rejects"] = rejectList(key, rejects)
	pending, unmatched, reservations, other := sortNotes(notes)
	d.Lists["pending"] = noteList(pending)
	d.Lists["unmatched"] = noteList(unmatched)
	d.Lists["reservations"] = noteList(reservations)
	d.Lists["notes"] = otherList(other)
	d.Lists["drift"] = &list{Cols: []string{"Record", "Found", "Last applied → on the store"}, Kinds: []string{"text", "text", "diff"}, Rows: [][]any{}}
	d.Lists["upcoming"] = &list{Cols: []string{"At", "Subject", "What"}, Kinds: []string{"time", "text", "text"}, Rows: [][]any{}}
	if p != nil {
		for _, dr := range p.Drift {
			found := "edited"
			if dr.Missing {
				found = "removed"
			}
			d.Lists["drift"].Rows = append(d.Lists["drift"].Rows, []any{formatKey(key, dr.Key), found, fieldDiffs(d, dr.Fields)})
		}
		for _, u := range p.Upcoming {
			d.Lists["upcoming"].Rows = append(d.Lists["upcoming"].Rows, []any{stamp(u.At), u.Subject, u.Message})
		}
	}
	d.Counts["changes"] = len(d.Changes)
	for _, t := range tabDefs {
		n := len(d.Changes)
		if t[0] != "changes" {
			n = len(d.Lists[t[0]].Rows)
			d.Counts[t[0]] = n
		}
		empty := t[2]
		if t[0] == "changes" && v.ChangesNote != "" {
			empty = "No change was refused by the store."
		}
		v.Tabs = append(v.Tabs, tab{ID: t[0], Label: t[1], Noun: strings.ToLower(t[1]), Count: n, Empty: empty})
	}
	d.Meta["title"] = v.Title
	b, err := json.Marshal(d) // escapes <, > and & (and U+2028/9): no value can end the script element
	if err != nil {
		return nil, fmt.Errorf("render html: page data: %w", err)
	}
	v.Data = template.JS(b)
	return v, nil
}

// buildChanges fills d.Changes (and d.Fields) from the plan's changes; with an outcome, each carries its
// status. Without a plan, the changes are the outcome's failed ones.
func buildChanges(d *data, p *plan.Plan, o *Outcome, key []string) {
	failed := map[string]Failed{}
	if o != nil {
		for _, f := range o.Failed {
			failed[f.ID] = f
		}
	}
	// A run that ended as ok or with sink rejects applied every change it did not report as failed; one that
	// stopped early only counts what it applied.
	settled := o != nil && (o.ExitCode == 0 || o.ExitReason == outcome.ReasonReject || o.Applied.Total()+len(o.Failed) == o.Planned.Total())
	fieldIndex := map[string]int{}
	if p != nil {
		for _, c := range p.Changes {
			for _, f := range c.Fields {
				if _, ok := fieldIndex[f.Name]; !ok {
					fieldIndex[f.Name] = -1
				}
			}
		}
	}
	names := slices.Sorted(maps.Keys(fieldIndex))
	for i, n := range names {
		fieldIndex[n] = i
	}
	d.Fields = names
	if p == nil || len(p.Changes) < p.Summary.Total() {
		if o == nil {
			return
		}
		for _, f := range o.Failed {
			d.Changes = append(d.Changes, []any{actionIndex(f.Action), formatKey(key, f.Key), [][]any{}, "", statusFailed, f.Reason})
		}
		return
	}
	d.Changes = make([][]any, 0, len(p.Changes))
	for i := range p.Changes {
		c := &p.Changes[i]
		fs := make([][]any, len(c.Fields))
		for j, f := range c.Fields {
			fs[j] = []any{fieldIndex[f.Name], display(f.Before), display(f.After)}
		}
		row := []any{actionIndex(c.Action), formatKey(key, c.Key), fs, annotations(c.Annotations)}
		if o != nil {
			switch f, ok := failed[c.ID]; {
			case ok:
				row = append(row, statusFailed, f.Reason)
			case settled:
				row = append(row, statusApplied, "")
			default:
				row = append(row, statusUnknown, "")
			}
		}
		d.Changes = append(d.Changes, row)
	}
}

// fieldDiffs returns drift fields in the changes' form, adding field names to d.Fields' tail as needed.
func fieldDiffs(d *data, fs []plan.FieldChange) [][]any {
	out := make([][]any, len(fs))
	for i, f := range fs {
		j := slices.Index(d.Fields, f.Name)
		if j < 0 {
			j = len(d.Fields)
			d.Fields = append(d.Fields, f.Name)
		}
		out[i] = []any{j, display(f.Before), display(f.After)}
	}
	return out
}

func actionIndex(a connectors.Action) int {
	if i := slices.Index(connectors.Actions, a); i >= 0 {
		return i
	}
	return 0
}

func rejectList(key []string, rs []connectors.Reject) *list {
	l := &list{Cols: []string{"Where", "Record", "Reason"}, Kinds: []string{"text", "text", "text"}, Rows: make([][]any, 0, len(rs))}
	for _, r := range rs {
		k := ""
		if len(r.Key) > 0 {
			k = formatKey(key, r.Key)
		}
		l.Rows = append(l.Rows, []any{r.Where, k, r.Reason})
	}
	return l
}

func noteList(ns []plan.Note) *list {
	l := &list{Cols: []string{"Subject", "Note"}, Kinds: []string{"text", "text"}, Rows: make([][]any, 0, len(ns))}
	for _, n := range ns {
		l.Rows = append(l.Rows, []any{n.Subject, n.Message})
	}
	return l
}

// otherList is the notes tab: each note with what kind it is.
func otherList(ns []plan.Note) *list {
	l := &list{Cols: []string{"Kind", "Subject", "Note"}, Kinds: []string{"text", "text", "text"}, Rows: make([][]any, 0, len(ns))}
	for _, n := range ns {
		l.Rows = append(l.Rows, []any{kindLabel(n.KindOrOther()), n.Subject, n.Message})
	}
	return l
}

// kindRun is the kind the page gives the run report's notes (Outcome.Notes).
const kindRun = "run"

// kindLabel is how the notes tab names a note kind: its words ("held removal"); a kind this page does not
// know is shown as it is.
func kindLabel(kind string) string {
	return strings.ReplaceAll(kind, "_", " ")
}

// sortNotes splits the notes into the tabs by their kind (plan.Note.Kind): pending mappings (the match
// transform), orders held back (order_match), reservations (reserve) and every other kind. A note of an
// old plan has no kind: it is one of the others.
func sortNotes(notes []plan.Note) (pending, unmatched, reservations, other []plan.Note) {
	for _, n := range notes {
		switch n.KindOrOther() {
		case spec.NotePendingMapping:
			pending = append(pending, n)
		case spec.NoteHeldOrder:
			unmatched = append(unmatched, n)
		case spec.NoteReservation:
			reservations = append(reservations, n)
		default:
			other = append(other, n)
		}
	}
	return
}

// display is a field value as the page shows it: null stays null (shown as an empty value), strings as they
// are, other values as JSON.
func display(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return x
	case json.Number:
		return x.String()
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case bool, float64, int64, int:
		return connectors.FormatValue(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func annotations(m map[string]any) string {
	if len(m) == 0 {
		return ""
	}
	names := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + ": " + text(m[k])
	}
	return strings.Join(parts, "; ")
}

// text is a value as the page writes it within a text: display's, and "null" for null.
func text(v any) string {
	if s, ok := display(v).(string); ok {
		return s
	}
	return "null"
}

// formatKey formats a record key as the text plan does (key fields in the pipeline's order, then any other).
func formatKey(key []string, k map[string]any) string {
	var b strings.Builder
	seen := map[string]bool{}
	add := func(name string) {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name + "=" + text(k[name]))
		seen[name] = true
	}
	for _, name := range key {
		if _, ok := k[name]; ok {
			add(name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(k)) {
		if !seen[name] {
			add(name)
		}
	}
	return b.String()
}

func makeChart(s plan.Summary) chart {
	const barH, gap, labelW, maxW = 22, 10, 96, 360
	c := chart{Width: labelW + maxW + 90, Height: len(connectors.Actions)*(barH+gap) + gap}
	most := 1
	for _, a := range connectors.Actions {
		most = max(most, s.Count(a))
	}
	for i, a := range connectors.Actions {
		n := s.Count(a)
		w := n * maxW / most
		if n > 0 {
			w = max(w, 2)
		}
		c.Bars = append(c.Bars, bar{Action: string(a), Label: string(a), Count: n, Y: gap + i*(barH+gap), W: w, TextX: labelW + w + 6})
	}
	return c
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// group formats n (an int or int64) with thousands separators.
func group(n any) string {
	var v int64
	switch x := n.(type) {
	case int:
		v = int64(x)
	case int64:
		v = x
	}
	return plan.Thousands(v)
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.3f", f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-0" {
		return "0"
	}
	return s
}
