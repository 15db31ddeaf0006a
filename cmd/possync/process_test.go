package main

// Process-level tests: they build the real possync binary once and run it as a scheduler would, checking exit
// codes, reports, and the file sink's own record of what it applied (its change log and records file).

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// binary is the possync binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "possync-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "possync")
	build := exec.Command("go", "build", "-tags", "duckdb_arrow", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build possync:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pipelineName is the name of every test pipeline; its lock file is <state>/<pipelineName>.lock.
const pipelineName = "proc-test"

// productsSourceYAML is the source section of the test pipelines: the five columns of data/products.csv, as
// fixture.writeRows writes them.
const productsSourceYAML = `source:
  type: file
  path: data/products.csv
  columns:
    - {name: sku, type: string}
    - {name: name, type: string}
    - {name: price, type: float}
    - {name: qty, type: int}
    - {name: category, type: string}
`

// pipelineYAML reads data/products.csv, maps it, and writes out/products.csv plus its change log.
const pipelineYAML = `version: 1
name: ` + pipelineName + `
merchant: test-merchant
key: sku

` + productsSourceYAML + `
transforms:
  - type: map
    name: products
    fields:
      sku: sku
      title: upper(name)
      price: price
      stock: "qty > 0 ? qty : 0"
    types:
      stock: int

sink:
  type: file
  path: out/products.csv
  batch_size: 5000   # three batches for the 12,000 rows of the crash test

guards:
  max_delete_percent: 10
`

// row is one input row of the generated CSV.
type row struct {
	SKU, Name, Category string
	Price               float64
	Qty                 int64
}

// genRows returns n rows with keys SKU-<first+i>.
func genRows(first, n int) []row {
	rows := make([]row, n)
	for i := range rows {
		k := first + i
		name := fmt.Sprintf("item %d", k)
		if k%7 == 0 {
			name += `, "large"` // quoting in the CSV
		}
		rows[i] = row{
			SKU:      fmt.Sprintf("SKU-%06d", k),
			Name:     name,
			Category: []string{"tents", "boots", "packs"}[k%3],
			Price:    float64(k%1000) + 0.25,
			Qty:      int64(k%40) - 5,
		}
	}
	return rows
}

// desired is the record the map step makes of a row, as the sink receives it.
type desired struct {
	SKU, Title string
	Price      float64
	Stock      int64
}

func want(rows []row) map[string]desired {
	out := make(map[string]desired, len(rows))
	for _, r := range rows {
		out[r.SKU] = desired{SKU: r.SKU, Title: strings.ToUpper(r.Name), Price: r.Price, Stock: max(r.Qty, 0)}
	}
	return out
}

// fixture is a pipeline folder with its own state folder.
type fixture struct {
	dir, state string
}

func newFixture(t *testing.T, rows []row) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), state: t.TempDir()}
	if err := os.WriteFile(f.path("pipeline.yaml"), []byte(pipelineYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	f.writeRows(t, rows)
	return f
}

func (f *fixture) path(rel string) string { return filepath.Join(f.dir, filepath.FromSlash(rel)) }

// writeRows replaces the input CSV.
func (f *fixture) writeRows(t *testing.T, rows []row) {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"sku", "name", "price", "qty", "category"})
	for _, r := range rows {
		_ = w.Write([]string{r.SKU, r.Name, strconv.FormatFloat(r.Price, 'f', -1, 64), strconv.FormatInt(r.Qty, 10), r.Category})
	}
	w.Flush()
	if err := os.MkdirAll(f.path("data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path("data/products.csv"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// result is the outcome of one possync process.
type result struct {
	code           int
	killed         bool // ended by SIGKILL
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d (killed %v)\nstdout:\n%s\nstderr:\n%s", r.code, r.killed, r.stdout, r.stderr)
}

// command prepares possync with args in the fixture's folder, its state folder, and extra environment.
func (f *fixture) command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Dir = f.dir
	cmd.Env = append(os.Environ(), "POSSYNC_STATE_DIR="+f.state, "NO_COLOR=1", "POSSYNC_FAILPOINT=", "POSSYNC_FAILPOINT_RELEASE=")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// run runs possync to its end.
func (f *fixture) run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runCmd(t, f.command(env, args...))
}

// runPossync runs possync with args to its end in the test's own folder and environment (for commands that
// need no pipeline folder: -h, validate of files named by path).
func runPossync(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, exec.Command(binary, args...))
}

// runCmd runs a prepared possync command to its end and captures its output; every test that runs the
// binary to its end comes through here.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return finish(t, cmd.Run(), cmd, &out, &errb)
}

// finish turns the error of a finished command into a result.
func finish(t *testing.T, err error, cmd *exec.Cmd, out, errb *bytes.Buffer) result {
	t.Helper()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	ps := cmd.ProcessState
	r.code = ps.ExitCode()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		r.killed = true
	}
	return r
}

// report is the part of the run report the tests read.
type report struct {
	RunID   string `json:"run_id"`
	Planned struct {
		Create, Update, Deactivate, Delete int
	} `json:"planned"`
	Applied struct {
		Create, Update, Deactivate, Delete int
	} `json:"applied"`
	Recovered  int                `json:"recovered"`
	Durations  map[string]float64 `json:"durations_seconds"`
	PlanHash   string             `json:"plan_hash"`
	ExitReason string             `json:"exit_reason"`
	ExitCode   int                `json:"exit_code"`
	Notes      []string           `json:"notes"`
}

func parseReport(t *testing.T, r result) report {
	t.Helper()
	var rep report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("run report is not JSON: %v\n%s", err, r)
	}
	return rep
}

// logLine is one line of the file sink's change log.
type logLine struct {
	ID     string         `json:"id"`
	Action string         `json:"action"`
	Key    map[string]any `json:"key"`
	Fields []string       `json:"fields"`
	After  map[string]any `json:"after"`
}

func (l logLine) sku() string { s, _ := l.Key["sku"].(string); return s }

// changeLog reads the sink's change log; a missing log is empty. Every line must be complete JSON.
func (f *fixture) changeLog(t *testing.T) []logLine {
	t.Helper()
	b, err := os.ReadFile(f.path("out/products.changes.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("change log ends in a partial line")
	}
	var lines []logLine
	for i, s := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if s == "" {
			continue
		}
		var l logLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("change log line %d: %v: %s", i+1, err, s)
		}
		lines = append(lines, l)
	}
	return lines
}

// checkAfter reports a difference between a change log line's after-record and the desired record.
func checkAfter(l logLine, d desired) error {
	price, _ := l.After["price"].(float64)
	stock, _ := l.After["stock"].(float64)
	if l.After["sku"] != d.SKU || l.After["title"] != d.Title || price != d.Price || int64(stock) != d.Stock {
		return fmt.Errorf("%s %s: after = %v, want %+v", l.Action, d.SKU, l.After, d)
	}
	return nil
}

// checkChanges asserts that lines hold exactly the changes in wantActions (sku → action), each once, with
// unique IDs, and that creates and updates carry the desired record. It reports the first few problems and
// their number.
func checkChanges(t *testing.T, lines []logLine, wantActions map[string]string, records map[string]desired) {
	t.Helper()
	var problems []string
	seen := map[string]bool{}
	ids := map[string]bool{}
	for _, l := range lines {
		k := l.sku()
		switch w, ok := wantActions[k]; {
		case ids[l.ID]:
			problems = append(problems, fmt.Sprintf("change ID %s (%s %s) appears twice", l.ID, l.Action, k))
		case seen[k]:
			problems = append(problems, fmt.Sprintf("%s %s: key changed twice", l.Action, k))
		case !ok || w != l.Action:
			problems = append(problems, fmt.Sprintf("unexpected change %s %s (want %q)", l.Action, k, w))
		case l.Action != "delete":
			if err := checkAfter(l, records[k]); err != nil {
				problems = append(problems, err.Error())
			}
		}
		ids[l.ID], seen[k] = true, true
	}
	for _, k := range slices.Sorted(maps.Keys(wantActions)) {
		if !seen[k] {
			problems = append(problems, fmt.Sprintf("change %s %s missing", wantActions[k], k))
		}
	}
	if len(problems) > 0 {
		t.Errorf("change log: %d problem(s) in %d lines, the first:\n  %s", len(problems), len(lines),
			strings.Join(problems[:min(5, len(problems))], "\n  "))
	}
}

// checkRecords asserts that the records file holds exactly records.
func (f *fixture) checkRecords(t *testing.T, records map[string]desired) {
	t.Helper()
	b, err := os.ReadFile(f.path("out/products.csv"))
	if err != nil {
		t.Fatalf("records file: %v", err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("records file: %v", err)
	}
	if len(recs) == 0 || !slices.Equal(recs[0], []string{"sku", "title", "price", "stock"}) {
		t.Fatalf("records file header = %v, want [sku title price stock]", recs[:min(1, len(recs))])
	}
	got := map[string]bool{}
	bad := 0
	for _, r := range recs[1:] {
		price, perr := strconv.ParseFloat(r[2], 64)
		stock, serr := strconv.ParseInt(r[3], 10, 64)
		d, ok := records[r[0]]
		if got[r[0]] || !ok || perr != nil || serr != nil || d != (desired{SKU: r[0], Title: r[1], Price: price, Stock: stock}) {
			if bad++; bad <= 5 {
				t.Errorf("records file row %v, want %+v (present %v, duplicate %v)", r, d, ok, got[r[0]])
			}
		}
		got[r[0]] = true
	}
	if len(recs)-1 != len(records) {
		t.Errorf("records file has %d records, want %d", len(recs)-1, len(records))
	}
}
