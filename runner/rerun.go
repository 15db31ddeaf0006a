package runner

// The no-change rerun. Most scheduled runs find nothing to change: the same export of the POS catalog, the
// same pipeline, the state as the last run left it. Such a run is answered without transforms or a diff:
// a successful apply records what it saw (its basis: the inputs' fingerprints, the pipeline's hash, the
// state's lineage and the serial it left, the possync build, the evaluation date when a step depends on the
// date), and a later plan whose inputs, pipeline, build and state all equal the basis is the empty plan,
// saying why. File inputs are hashed before they are parsed, so an unchanged file is never loaded.
//
// It must be safe, so anything it cannot vouch for plans in full: a step that reads the clock (a call of now()
// in an expression, transforms.ReadsClock, which the transform cache asks too; a volatile function in SQL),
// the last-applied records (_applied) or other files than its mappings, a transform it does not know,
// a source that reads incrementally, keeps a checkpoint, confirms what it read or had rejected rows, a run
// whose changes were not all acknowledged or that held removals, --refresh, --full-refresh, --full-plan,
// an evaluation time before the basis's, and an unsettled intent of a killed run.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/zeebo/xxh3"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/stage"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// basisVersion is the layout of a recorded basis; a basis of another version is ignored.
const basisVersion = 2 // 2: notes with kinds (plan.Note)

// basis is what a successful apply saw, recorded in the state (state.Store.SetBasis) as JSON.
type basis struct {
	Version int    `json:"version"`
	Build   string `json:"build"`
	RunID   string `json:"run_id"`
	Config  string `json:"config"`
	Lineage string `json:"lineage"`
	Serial  int64  `json:"serial"`
	// At is the evaluation time; Date its date in the pipeline's zone, set when a step depends on the date
	// (promotions): the basis then holds on that date only.
	At   time.Time `json:"at"`
	Date string    `json:"date,omitempty"`
	// Inputs are the plan's inputs; Files the fingerprints of other files the steps read (mappings).
	Inputs []plan.Input `json:"inputs"`
	// Checkpoints are the checkpoints the file sources' reviews committed (connectors.ScanReviewer), by
	// source: a function of the file, so the same file under the same checkpoint reviews the same.
	Checkpoints map[string][]byte `json:"checkpoints,omitempty"`
	Files       map[string]string `json:"files,omitempty"`
	// Desired, Schema (Arrow IPC) and Annotations describe the desired records, for the sink.
	Desired     string   `json:"desired"`
	Schema      []byte   `json:"schema"`
	Annotations []string `json:"annotations,omitempty"`
	// Records is how many desired records there were; Notes and Upcoming what the plan said besides changes.
	Records  int64           `json:"records"`
	Notes    []plan.Note     `json:"notes,omitempty"`
	Upcoming []plan.Upcoming `json:"upcoming,omitempty"`
}

// ShortcutStage is the stage a short-circuited plan reports instead of transforms and diff.
const ShortcutStage = "shortcut"

// buildID identifies the possync binary: its module version and VCS revision, and the executable's size and
// modification time (a rebuild of uncommitted code keeps the revision).
func buildID() string {
	var b strings.Builder
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.WriteString(bi.Main.Version)
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
				b.WriteString("|" + s.Value)
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			fmt.Fprintf(&b, "|%d|%d", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b.String()
}

// volatileSQL matches what an sql step may read besides its relations, or that changes between runs: the
// clock, random values, sequences, settings, files and URLs (any quoted text with a dot or a slash).
var volatileSQL = regexp.MustCompile(`(?i)\b(now|today|current_\w+|get_current_\w+|transaction_timestamp|epoch_ms|random|uuid|gen_random_uuid|setseed|nextval|currval|getenv|read_\w+|glob|sniff_csv|parquet_\w+|query|query_table|\w+_scan|attach|install|load)\b|'[^']*[./][^']*'`)

// stepRules says whether the steps are a function of their inputs, their configuration and (dated) the
// evaluation date; why is non-empty when they are not (or possync cannot tell). files lists the files the
// steps read, by path.
func (s *session) stepRules() (dated bool, files []string, why string) {
	if s.usesApplied() {
		// Its desired records were computed from the state before the apply that recorded the basis.
		return false, nil, "a step reads the last-applied records (_applied)"
	}
	for _, st := range s.p.Transforms {
		text := fmt.Sprintf("%v", st.Config.Values)
		switch st.Type {
		case "map", "filter":
			// The transform cache asks the same (tcache.Eligible), so a step it caches is one this vouches for.
			reads, where, err := transforms.ReadsClock(st.Type, st.Config)
			if err != nil {
				return false, nil, fmt.Sprintf("transform %s: cannot tell whether it reads the clock: %v", st.Name, err)
			}
			if reads {
				return false, nil, fmt.Sprintf("transform %s reads the clock (now() in %s)", st.Name, where)
			}
		case "sql":
			q := text
			switch v := st.Config.Values["query"].(type) {
			case spec.Expr:
				q = v.Text
			case string:
				q = v
			}
			if volatileSQL.MatchString(q) {
				return false, nil, fmt.Sprintf("transform %s may read the clock, files or other changing data", st.Name)
			}
		case "promotions":
			dated = true
		case "match":
			if m, ok := st.Config.Values["mappings"].(string); ok && m != "" {
				if !filepath.IsAbs(m) {
					m = filepath.Join(s.p.Dir, m)
				}
				files = append(files, m)
			}
		default:
			return false, nil, fmt.Sprintf("transform %s (%s) is not known to depend on its inputs alone", st.Name, st.Type)
		}
	}
	return dated, files, ""
}

// fileSums fingerprints files by their bytes (a missing file has its own fingerprint).
func fileSums(paths []string) map[string]string {
	if len(paths) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			out[p] = "missing"
			continue
		}
		h := xxh3.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			out[p] = "unreadable"
			continue
		}
		sum := h.Sum128().Bytes()
		out[p] = hex.EncodeToString(sum[:])
	}
	return out
}

// evalDate is the evaluation date in the pipeline's zone.
func (s *session) evalDate() string {
	loc := s.p.TimeZone
	if loc == nil {
		loc = time.UTC
	}
	return s.now.In(loc).Format(time.DateOnly)
}

// sourceEligible says whether a source's read can be vouched for by its fingerprint alone: a snapshot read
// with no rejected rows and no holds, by a source that neither confirms nor acts after the commit, and with
// no checkpoint unless the checkpoint is the review of its files (connectors.ScanReviewer: the file source
// notes the file's rows and header, to hold removals when the next file is suspect).
//
// It is asked twice. When a run is decided (decideShortcut), a read with rejected rows plans in full: the
// fingerprint covers the records, not the rows the source rejected, and the plan must report them. When a
// successful apply records its basis (recordBasis), a read that had rejected rows records none: a rejected
// row protected its record, and a later read without that row (and so the same records) must plan the
// record's removal rather than rely on this run.
func sourceEligible(src *source, st *stage.Output) bool {
	switch src.src.(type) {
	case connectors.Confirmer, connectors.Committer:
		return false
	}
	if st.Unchanged {
		return true
	}
	r := st.Result
	if _, reviews := src.src.(connectors.ScanReviewer); r.Checkpoint != nil && !reviews {
		return false
	}
	return r.Mode == connectors.Snapshot && len(r.Rejects) == 0 && len(r.Holds) == 0 && st.Delta == ""
}

// candidateBasis returns the recorded basis when everything but the inputs still holds, else nil (and why,
// for the log).
func (s *session) candidateBasis(ctx context.Context) (*basis, string) {
	switch {
	case s.opts.FullPlan:
		return nil, "a full plan was asked for"
	case s.opts.Refresh || s.opts.FullRefresh:
		return nil, "--refresh or --full-refresh"
	case s.trace != nil || s.opts.Desired != nil:
		return nil, "the desired records are asked for (explain, test)"
	case s.meta.Basis == "":
		return nil, "no basis recorded"
	}
	var b basis
	if err := json.Unmarshal([]byte(s.meta.Basis), &b); err != nil {
		return nil, "unreadable basis"
	}
	dated, files, why := s.stepRules()
	switch {
	case why != "":
		return nil, why
	case b.Version != basisVersion:
		return nil, "basis of another version"
	case b.Build != buildID():
		return nil, "another possync build"
	case b.Config != s.p.Hash || s.p.Hash == "":
		return nil, "the pipeline changed"
	case b.Lineage != s.meta.Lineage || b.Serial != s.meta.Serial || s.meta.Serial == 0:
		return nil, fmt.Sprintf("the state moved (serial %d then, %d now)", b.Serial, s.meta.Serial)
	case s.meta.Exported != 0 && s.meta.Exported != s.meta.Serial:
		return nil, "the sink's export lags behind the state"
	case s.now.Before(b.At):
		return nil, "evaluated before the last run"
	case dated && b.Date != s.evalDate():
		return nil, "another date (a promotion may start or end)"
	case len(b.Inputs) != len(s.sources):
		return nil, "other inputs"
	}
	if !maps2Equal(b.Files, fileSums(files)) {
		return nil, "a mappings file changed"
	}
	for _, src := range s.sources {
		cp, err := s.store.Checkpoint(ctx, s.d.Conn(), src.comp.Name)
		if err != nil || !bytes.Equal(cp, b.Checkpoints[src.comp.Name]) {
			return nil, "a source's checkpoint moved"
		}
	}
	ins, err := s.store.Intents(ctx, s.d.Conn())
	if err != nil || len(ins) > 0 {
		return nil, "an interrupted run left intents"
	}
	return &b, ""
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// expected is the fingerprint the basis recorded for a source ("" without a candidate basis).
func (s *session) expected(name string) (string, int64) {
	if s.candidate == nil {
		return "", 0
	}
	for _, in := range s.candidate.Inputs {
		if in.Name == name {
			return in.Fingerprint, in.Records
		}
	}
	return "", 0
}

// decideShortcut runs once the sources are staged: with a candidate basis whose inputs all equal this run's,
// the run is short-circuited (s.shortcut); otherwise every input that was not loaded because its hash
// matched is loaded now. It returns whether the run is short-circuited.
func (s *session) decideShortcut(ctx context.Context) (bool, error) {
	b := s.candidate
	if b == nil {
		return false, nil
	}
	same := true
	for i, src := range s.sources {
		st := s.staged[src.comp.Name]
		in := b.Inputs[i]
		if st == nil || !sourceEligible(src, st) || in.Name != st.Input.Name || in.Type != st.Input.Type ||
			in.Fingerprint != st.Input.Fingerprint || in.Records != st.Input.Records || in.Mode != st.Input.Mode {
			same = false
			break
		}
	}
	if same {
		sch, err := decodeSchema(b.Schema)
		if err != nil {
			same = false
		} else {
			s.shortcut = b
			s.desired, s.annotations = b.Desired, b.Annotations
			s.schemas[b.Desired] = sch
			s.logf("plan: inputs unchanged since run %s: no transform or diff needed", b.RunID)
			return true, nil
		}
	}
	s.candidate = nil
	for _, src := range s.sources {
		if st := s.staged[src.comp.Name]; st != nil && st.Unchanged {
			done := s.timings.start("read " + src.comp.Name)
			st, err := s.stage(ctx, src)
			done()
			if err != nil {
				return false, err
			}
			s.staged[src.comp.Name] = st
		}
	}
	return false, nil
}

// prepareShortcut is the rest of prepare for a short-circuited run: the sink, built for the recorded desired
// schema; the staged tables are freed.
func (s *session) prepareShortcut(ctx context.Context) error {
	for _, src := range s.sources {
		if err := s.d.Exec(ctx, "DROP TABLE IF EXISTS "+engine.Ident(src.comp.Name)); err != nil {
			return err
		}
	}
	if diags := s.buildSink(); diags.HasErrors() {
		return diags
	}
	return nil
}

// shortcutPlan is the plan of a short-circuited run: no change, the inputs read now, the notes and upcoming
// events of the basis's run, and why.
func (s *session) shortcutPlan() *plan.Plan {
	done := s.timings.start(ShortcutStage)
	defer done()
	b := s.shortcut
	s.planned = plan.State{Serial: s.meta.Serial, Lineage: s.meta.Lineage}
	pl := s.newPlan() // the state's serial is the basis's, never 0
	pl.Notes, pl.Upcoming, pl.Changes = slices.Clone(b.Notes), slices.Clone(b.Upcoming), []plan.Change{}
	pl.Shortcut = fmt.Sprintf("inputs, pipeline and state unchanged since run %s (serial %d): nothing to transform or diff",
		b.RunID, b.Serial)
	for _, src := range s.sources {
		pl.Inputs = append(pl.Inputs, s.staged[src.comp.Name].Input)
	}
	pl.Summary.Unchanged = b.Records
	pl.Guards = s.guards(pl)
	pl.Hash = pl.ComputeHash()
	return pl
}

// recordBasis records what this successful apply saw, when a later run may rely on it; otherwise it leaves
// the state alone (a basis of an earlier serial never holds again).
func (s *session) recordBasis(ctx context.Context, pl *plan.Plan, rep *Report) error {
	// A source's rejected rows keep the basis from being recorded: sourceEligible.
	if s.shortcut != nil || s.opts.Refresh || s.opts.FullRefresh || len(rep.Rejected) > 0 ||
		s.heldRemovals() > 0 || s.meta.Serial == 0 {
		return nil
	}
	dated, files, why := s.stepRules()
	if why != "" {
		return nil
	}
	cps := map[string][]byte{}
	for _, src := range s.sources {
		st := s.staged[src.comp.Name]
		if st == nil || !sourceEligible(src, st) {
			return nil
		}
		// The checkpoint the state holds now, as candidateBasis reads it: a review that found the files
		// as the last one did commits none (st.Result.Checkpoint nil) and the state keeps the last.
		cp, err := s.store.Checkpoint(ctx, s.d.Conn(), src.comp.Name)
		if err != nil {
			return nil // not recorded: the next run plans in full
		}
		if cp != nil {
			cps[src.comp.Name] = cp
		}
	}
	sch, err := encodeSchema(s.schemas[s.desired])
	if err != nil {
		return nil // not recorded: the next run plans in full
	}
	b := basis{Version: basisVersion, Build: buildID(), RunID: rep.RunID, Config: s.p.Hash, Lineage: s.meta.Lineage,
		Serial: s.meta.Serial, At: s.now, Inputs: pl.Inputs, Checkpoints: cps, Files: fileSums(files),
		Desired: s.desired, Schema: sch, Annotations: s.annotations, Records: s.desiredCount, Notes: pl.Notes, Upcoming: pl.Upcoming}
	if dated {
		b.Date = s.evalDate()
	}
	js, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("record plan basis: %w", err)
	}
	return s.store.SetBasis(ctx, s.d.Conn(), string(js))
}

// encodeSchema and decodeSchema keep an Arrow schema as the IPC stream of no batches.
func encodeSchema(sch *arrow.Schema) ([]byte, error) {
	if sch == nil {
		return nil, fmt.Errorf("no schema")
	}
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(sch))
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeSchema(b []byte) (*arrow.Schema, error) {
	r, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer r.Release()
	return r.Schema(), nil
}
