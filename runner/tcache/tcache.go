// Package tcache is the transform cache: the outputs of the row transforms that run in Go (a map or filter
// whose expressions cannot be pushed down to DuckDB), kept between runs so that a run where few rows changed
// pays for those rows only (issue #15). runner/steps runs a cached step; this package owns which steps may be
// cached, their fingerprints and the cache files.
//
// A step's cache is one Parquet file under the pipeline's cache folder (Dir, by default
// <state.dir>/tcache/<pipeline>/), named after the step's position and name and its fingerprint:
//
//	<state.dir>/tcache/<pipeline>/<NN>-<step>.<fingerprint>.parquet
//
// Each row holds a hash of an input row (DuckDB's hash() over the columns the step reads) in the column
// __h, and what the step made of it: the output row of a map, or whether a filter kept it (__keep). The
// fingerprint covers everything else the output depends on (Fingerprint): the step's configuration with the
// environment resolved into it, the input's schema, the store's time zone, the possync build and this
// package's format, so any change to the pipeline or the binary reads no cache. Steps whose results depend
// on the time (now()) or that are not a pure function of one row are never cached (Eligible).
//
// The cache is not the state: it is local to the machine (a worker of the PostgreSQL backend without it
// just runs every row), it is written after the step succeeded, to a temporary file renamed into place, and
// it holds the last run's rows only (the step's older files are removed). Losing it, or a file that cannot
// be read, costs speed only: the step then runs every row and writes a new file.
//
// A hash is 64 bits: two different input rows with the same hash (about n·m/2^64 for n cached and m
// changed rows, 1e-9 for a million rows of which 20,000 changed) would take each other's output.
// DuckDB's hash() also does not tell -0.0 from 0.0.
package tcache

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/zeebo/xxh3"

	"github.com/possync/possync/pipelines"
)

// Version is the layout of a cache file; it is part of every fingerprint.
const Version = 1

// HashColumn is the cache files' column of input-row hashes; KeepColumn a filter's verdict.
const (
	HashColumn = "__h"
	KeepColumn = "__keep"
)

// EnvVar turns the cache off when set to "off" (or "0", "false"), as does `--no-transform-cache`.
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

// clock matches expressions that read the time: now() (the run's evaluation time).
var clock = regexp.MustCompile(`\bnow\b`)

// Eligible says whether a step's results are a pure function of its input row, its configuration and the
// build: a map or filter whose expressions do not read the clock. why says what rules it out.
func Eligible(st *pipelines.Step) (ok bool, why string) {
	switch st.Type {
	case "map", "filter":
	default:
		return false, fmt.Sprintf("a %s step is not known to be a function of each row alone", st.Type)
	}
	if clock.MatchString(fmt.Sprintf("%v", st.Config.Values)) {
		return false, "it reads the clock (now())"
	}
	return true, ""
}

// Fingerprint identifies everything a cached step's output depends on besides its input rows: the cache's
// format, the build, the step's position, name, type and configuration (the environment is interpolated
// into it when the pipeline loads; expressions with their positions, which order a map's fields), the
// input's schema and the time zone.
func Fingerprint(build string, index int, st *pipelines.Step, input *arrow.Schema, loc *time.Location) string {
	h := xxh3.New()
	zone := "UTC"
	if loc != nil {
		zone = loc.String()
	}
	// %#v prints maps with sorted keys, so equal configurations print alike.
	fmt.Fprintf(h, "v%d\x00%s\x00%d\x00%s\x00%s\x00%#v\x00%s\x00%s", Version, build, index, st.Name, st.Type,
		st.Config.Values, input, zone)
	sum := h.Sum128().Bytes()
	return hex.EncodeToString(sum[:])
}

// File is one step's cache file.
type File struct {
	dir  string
	slot string // <NN>-<step>: the step's files, of any fingerprint
	fp   string
}

// File returns the cache file of the step at index with the given fingerprint.
func (c *Cache) File(index int, st *pipelines.Step, fingerprint string) File {
	name := st.Name
	if name == "" {
		name = st.Type
	}
	return File{dir: c.Dir, slot: fmt.Sprintf("%02d-%s", index, safeName(name)), fp: fingerprint}
}

// Path is the file's path.
func (f File) Path() string { return filepath.Join(f.dir, f.slot+"."+f.fp+".parquet") }

// Exists says whether the file is there (a regular file).
func (f File) Exists() bool {
	fi, err := os.Stat(f.Path())
	return err == nil && fi.Mode().IsRegular()
}

// Temp returns a new temporary path beside the file, for a writer to fill before Commit; it creates the
// folder.
func (f File) Temp() (string, error) {
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return "", fmt.Errorf("transform cache: %w", err)
	}
	t, err := os.CreateTemp(f.dir, f.slot+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("transform cache: %w", err)
	}
	name := t.Name()
	t.Close()
	// The writer (DuckDB's COPY) creates the file itself.
	if err := os.Remove(name); err != nil {
		return "", fmt.Errorf("transform cache: %w", err)
	}
	return name, nil
}

// Commit renames the filled temporary file into place, then removes the step's other files (older
// fingerprints, temporary files left by a killed run), so the folder holds one file per step.
func (f File) Commit(tmp string) error {
	if err := os.Rename(tmp, f.Path()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("transform cache: %w", err)
	}
	f.removeOthers()
	return nil
}

// Remove removes the file (an unreadable one) and the step's other files.
func (f File) Remove() {
	os.Remove(f.Path())
	f.removeOthers()
}

func (f File) removeOthers() {
	matches, _ := filepath.Glob(filepath.Join(f.dir, f.slot+".*"))
	for _, m := range matches {
		if m != f.Path() {
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
