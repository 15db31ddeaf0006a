// Package tcache is the transform cache: the outputs of the row transforms that run in Go (a map or filter
// whose expressions cannot be pushed down to DuckDB), kept between runs so that a run where few rows changed
// pays for those rows only (issue #15). runner/steps runs a cached step; this package owns which steps may be
// cached, their fingerprints and the cache files.
//
// A step's cache is a Parquet file under the pipeline's cache folder (Dir, by default
// <state.dir>/tcache/<pipeline>/), named after the step's position and name and its fingerprint, and a
// smaller file of the rows later runs added (Set):
//
//	<state.dir>/tcache/<pipeline>/<NN>-<step>.<fingerprint>.<generation>.base.parquet
//	<state.dir>/tcache/<pipeline>/<NN>-<step>.<fingerprint>.<generation>.delta.parquet
//
// Each row holds a hash of an input row (DuckDB's hash() over the columns the step reads) in the column
// __h, and what the step made of it: the output row of a map, or whether a filter kept it (__keep). The
// fingerprint covers everything else the output depends on (Fingerprint): the step's configuration with the
// environment resolved into it, the input's schema, the store's time zone, the possync build and this
// package's format, so any change to the pipeline or the binary reads no cache. Steps whose results depend
// on the time (now()) or that are not a pure function of one row are never cached (Eligible).
//
// The cache is not the state: it is local to the machine (a worker of the PostgreSQL backend without it
// just runs every row), it is written after the step succeeded, to temporary files renamed into place, and
// it is bounded: a compaction keeps the rows of its run's input only, and happens once the rows added since
// pass a fifth of them, or the rows no longer in the input a half (the step's older files are removed).
// Losing it, or a file that cannot be read, costs speed only: the step then runs every row and writes a new
// cache.
//
// A hash is 64 bits: two different input rows with the same hash (about n·m/2^64 for n cached and m
// changed rows, 1e-9 for a million rows of which 20,000 changed) would take each other's output.
// DuckDB's hash() also does not tell -0.0 from 0.0.
package tcache

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/zeebo/xxh3"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// Version is the layout of a cache file; it is part of every fingerprint.
const Version = 1

// HashColumn is the cache files' column of input-row hashes; KeepColumn a filter's verdict.
const (
	HashColumn = "__h"
	KeepColumn = "__keep"
)

// EnvVar turns the cache off when set to "off" (or "0", "false"), as do `--no-transform-cache` and the
// pipeline's `state.transform_cache: false` (pipelines.State.NoTransformCache).
const EnvVar = "POSSYNC_TRANSFORM_CACHE"

// Disabled says whether the environment turns the cache off.
func Disabled() bool {
	switch strings.ToLower(os.Getenv(EnvVar)) {
	case "off", "0", "false", "no":
		return true
	}
	return false
}

// Cache is where one pipeline's step caches live, and what identifies the binary that wrote them.
type Cache struct {
	// Dir is the pipeline's cache folder (created when a file is written).
	Dir string
	// Build identifies the possync build; a file written by another build is not read.
	Build string
}

// PipelineDir is the cache folder of a pipeline whose state lives in stateDir.
func PipelineDir(stateDir, pipeline string) string {
	return filepath.Join(stateDir, "tcache", safeName(pipeline))
}

// Eligible says whether a step's results are a pure function of its input row, its configuration and the
// build: a map or filter whose expressions do not read the clock (transforms.ReadsClock, the test the
// no-change rerun applies too). why says what rules it out.
func Eligible(st *pipelines.Step) (ok bool, why string) {
	switch st.Type {
	case "map", "filter":
	default:
		return false, fmt.Sprintf("a %s step is not known to be a function of each row alone", st.Type)
	}
	reads, where, err := transforms.ReadsClock(st.Type, st.Config)
	if err != nil {
		return false, fmt.Sprintf("cannot tell whether it reads the clock: %v", err)
	}
	if reads {
		return false, fmt.Sprintf("it reads the clock (now() in %s)", where)
	}
	return true, ""
}

// Fingerprint identifies everything a cached step's output depends on besides its input rows: the cache's
// format, the build, the step's position, name, type and configuration (the environment is interpolated
// into it when the pipeline loads; expressions with the order of their positions, which orders a map's
// fields, not the positions themselves), the input's schema and the time zone.
func Fingerprint(build string, index int, st *pipelines.Step, input *arrow.Schema, loc *time.Location) string {
	h := xxh3.New()
	zone := "UTC"
	if loc != nil {
		zone = loc.String()
	}
	// %#v prints maps with sorted keys, so equal configurations print alike.
	fmt.Fprintf(h, "v%d\x00%s\x00%d\x00%s\x00%s\x00%#v\x00%s\x00%s", Version, build, index, st.Name, st.Type,
		ranked(st.Config.Values), input, zone)
	sum := h.Sum128().Bytes()
	return hex.EncodeToString(sum[:])
}

// ranked returns a copy of a step's configuration values in which each expression's position is its rank
// among the step's expressions (by line, then column): the order of a map's fields, which the positions
// give, is kept, but a step that only moved in its file (a line added above it) or was read through another
// path to the file keeps its fingerprint.
func ranked(values map[string]any) any {
	var pos []spec.Pos
	walkExprs(values, func(e spec.Expr) spec.Expr { pos = append(pos, e.Pos); return e })
	byPlace := func(a, b spec.Pos) int { return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col)) }
	slices.SortFunc(pos, byPlace)
	return walkExprs(values, func(e spec.Expr) spec.Expr {
		i, _ := slices.BinarySearchFunc(pos, e.Pos, byPlace)
		e.Pos = spec.Pos{Line: i + 1}
		return e
	})
}

// walkExprs returns v with f applied to each expression in it (configuration values: scalars, spec.Expr,
// []any and map[string]any).
func walkExprs(v any, f func(spec.Expr) spec.Expr) any {
	switch x := v.(type) {
	case spec.Expr:
		return f(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = walkExprs(e, f)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = walkExprs(e, f)
		}
		return l
	}
	return v
}

// Set is one step's cache: a base file and, once later runs added rows, a delta file, of one generation:
//
//	<NN>-<step>.<fingerprint>.<generation>.base.parquet
//	<NN>-<step>.<fingerprint>.<generation>.delta.parquet
//
// A run that transformed rows not in the cache rewrites the (small) delta file with them; when the delta
// grows past a fifth of the base, or the cache holds many rows no longer in the input, the run compacts:
// it writes the next generation's base, holding the rows of its input only, and removes the older files.
// Readers take the newest base and the delta of its generation, so a run killed between writing a base and
// removing the older files leaves a consistent cache, and runs racing on one step at worst lose rows.
type Set struct {
	dir  string
	slot string // <NN>-<step>: the step's files, of any fingerprint
	fp   string
	// Gen is the newest base's generation (0: there is none); Base and Delta are that generation's files, or
	// "" when absent.
	Gen         int
	Base, Delta string
}

// slot is the prefix of a step's file names: its position and name.
func slot(index int, st *pipelines.Step) string {
	name := st.Name
	if name == "" {
		name = st.Type
	}
	return fmt.Sprintf("%02d-%s", index, safeName(name))
}

// Prune removes the files of steps the pipeline no longer has at their position and name (steps is the
// pipeline's whole list), or that are no longer Eligible (one that now reads the clock, or became another
// type, is never read through its cache again), so that such a change does not leave the cache behind.
func (c *Cache) Prune(steps []*pipelines.Step) {
	keep := map[string]bool{}
	for i, st := range steps {
		if ok, _ := Eligible(st); ok {
			keep[slot(i, st)] = true
		}
	}
	entries, err := os.ReadDir(c.Dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		prefix, _, _ := strings.Cut(e.Name(), ".")
		if !keep[prefix] {
			os.Remove(filepath.Join(c.Dir, e.Name()))
		}
	}
}

// Set returns the cache of the step at index with the given fingerprint, as the files on disk are now.
func (c *Cache) Set(index int, st *pipelines.Step, fingerprint string) Set {
	s := Set{dir: c.Dir, slot: slot(index, st), fp: fingerprint}
	matches, _ := filepath.Glob(filepath.Join(s.dir, s.slot+"."+s.fp+".*.base.parquet"))
	for _, m := range matches {
		g, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), s.slot+"."+s.fp+"."), ".base.parquet"))
		if err == nil && g > s.Gen && regular(m) {
			s.Gen, s.Base = g, m
		}
	}
	if s.Gen > 0 {
		if d := s.path(s.Gen, "delta"); regular(d) {
			s.Delta = d
		}
	}
	return s
}

func regular(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

func (s Set) path(gen int, kind string) string {
	return filepath.Join(s.dir, fmt.Sprintf("%s.%s.%d.%s.parquet", s.slot, s.fp, gen, kind))
}

// Files are the cache's files to read: the base and the delta, when there are.
func (s Set) Files() []string {
	var out []string
	for _, f := range []string{s.Base, s.Delta} {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Dir is the folder the files are in.
func (s Set) Dir() string { return s.dir }

// Temp returns a new temporary path beside the files, for a writer (DuckDB's COPY, which creates the file)
// to fill before CommitDelta or CommitBase; it creates the folder.
func (s Set) Temp() (string, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return "", fmt.Errorf("transform cache: %w", err)
	}
	t, err := os.CreateTemp(s.dir, s.slot+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("transform cache: %w", err)
	}
	name := t.Name()
	t.Close()
	if err := os.Remove(name); err != nil {
		return "", fmt.Errorf("transform cache: %w", err)
	}
	return name, nil
}

// CommitDelta renames the filled temporary file into place as the current generation's delta (which it
// replaces).
func (s Set) CommitDelta(tmp string) error {
	if s.Gen == 0 {
		os.Remove(tmp)
		return fmt.Errorf("transform cache: a delta needs a base")
	}
	if err := os.Rename(tmp, s.path(s.Gen, "delta")); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("transform cache: %w", err)
	}
	return nil
}

// CommitBase renames the filled temporary file into place as the next generation's base, then removes the
// step's other files (older generations and fingerprints, temporary files of a killed run).
func (s Set) CommitBase(tmp string) error {
	next := s.path(s.Gen+1, "base")
	if err := os.Rename(tmp, next); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("transform cache: %w", err)
	}
	s.removeExcept(next)
	return nil
}

// Emptied is the set without its files (after Remove).
func (s Set) Emptied() Set { return Set{dir: s.dir, slot: s.slot, fp: s.fp} }

// Remove removes the step's files (an unreadable cache).
func (s Set) Remove() { s.removeExcept("") }

func (s Set) removeExcept(keep string) {
	matches, _ := filepath.Glob(filepath.Join(s.dir, s.slot+".*"))
	for _, m := range matches {
		if m != keep {
			os.Remove(m)
		}
	}
}

// safeName keeps the letters, digits, '-' and '_' of a name (others become '_'), so it is one path element.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
