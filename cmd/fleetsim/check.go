package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// phaseResult is one worker count's runs and the checks' findings.
type phaseResult struct {
	workers, pipelines int
	elapsed            time.Duration
	runs, final        []runRecord
	// Findings.
	lockViolations []string
	duplicates     []string // changes applied twice (a change ID again, a create of a present key, a no-op update)
	lost           []string // changes missing (the sink differs from the last input; an update of an absent key)
	unexpected     []string // exits other than 0 and 75 that no kill explains
	changes        int      // change log lines over all pipelines
}

func (r *phaseResult) ok() bool {
	return len(r.lockViolations) == 0 && len(r.duplicates) == 0 && len(r.lost) == 0 && len(r.unexpected) == 0
}

// check runs every check over the pipelines and all runs (the phase's and the convergence runs).
func (r *phaseResult) check(ps []*pipeline, all []runRecord) {
	byPipeline := map[int][]runRecord{}
	for _, run := range all {
		byPipeline[run.Pipeline] = append(byPipeline[run.Pipeline], run)
		if !run.Killed && run.ExitCode != 0 && run.ExitCode != 75 {
			r.unexpected = append(r.unexpected, fmt.Sprintf("%s (worker %d): exit %d:\n%s", ps[run.Pipeline].name, run.Worker, run.ExitCode, tail(run.Stderr, 8)))
		}
	}
	for i, p := range ps {
		for _, v := range lockViolations(byPipeline[i]) {
			r.lockViolations = append(r.lockViolations, p.name+": "+v)
		}
		lines, err := readChangeLog(filepath.Join(p.dir, "out", "products.changes.jsonl"))
		if err != nil {
			r.lost = append(r.lost, p.name+": "+err.Error())
			continue
		}
		r.changes += len(lines)
		state, dups, lost := replay(lines)
		want := p.desired()
		lost = append(lost, diffRecords("the change log replayed", state, want)...)
		recs, err := readRecords(filepath.Join(p.dir, "out", "products.csv"))
		if err != nil {
			lost = append(lost, err.Error())
		} else {
			lost = append(lost, diffRecords("the records file", recs, want)...)
		}
		for _, d := range dups {
			r.duplicates = append(r.duplicates, p.name+": "+d)
		}
		for _, l := range lost {
			r.lost = append(r.lost, p.name+": "+l)
		}
	}
}

// lockViolations reports the pairs of runs whose in-lock intervals overlap: two runs of one pipeline inside
// its lock at once. The intervals lie within the true holding times (see runRecord), so an overlap is never
// a false alarm; log timestamps have millisecond precision, hence the strict comparison.
func lockViolations(runs []runRecord) []string {
	var in []runRecord
	for _, r := range runs {
		if !r.InLockFirst.IsZero() {
			in = append(in, r)
		}
	}
	sort.Slice(in, func(i, j int) bool { return in[i].InLockFirst.Before(in[j].InLockFirst) })
	var out []string
	for i := range in {
		for j := i + 1; j < len(in) && in[j].InLockFirst.Before(in[i].InLockLast); j++ {
			out = append(out, fmt.Sprintf("runs of workers %d and %d both inside the lock: %s-%s and %s-%s",
				in[i].Worker, in[j].Worker, in[i].InLockFirst.Format("15:04:05.000"), in[i].InLockLast.Format("15:04:05.000"),
				in[j].InLockFirst.Format("15:04:05.000"), in[j].InLockLast.Format("15:04:05.000")))
		}
	}
	return out
}

// changeLine is one line of the file sink's change log.
type changeLine struct {
	ID     string         `json:"id"`
	Action string         `json:"action"`
	Key    map[string]any `json:"key"`
	Fields []string       `json:"fields"`
	After  map[string]any `json:"after"`
}

func readChangeLog(path string) ([]changeLine, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("change log: %w", err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return nil, fmt.Errorf("change log %s ends in a partial line", path)
	}
	var out []changeLine
	for i, s := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if s == "" {
			continue
		}
		var l changeLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			return nil, fmt.Errorf("change log line %d: %w", i+1, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// replay applies the change log to an empty sink and reports what a sink receiving each change exactly once
// would never see: a change ID twice, a create of a present key, an update that changes nothing (duplicates);
// an update or a delete of an absent key (a lost create).
func replay(lines []changeLine) (state map[string]record, dups, lost []string) {
	state = map[string]record{}
	ids := map[string]bool{}
	for n, l := range lines {
		sku, _ := l.Key["sku"].(string)
		at := fmt.Sprintf("line %d: %s %s", n+1, l.Action, sku)
		if ids[l.ID] {
			dups = append(dups, at+": change ID "+l.ID+" again")
			continue
		}
		ids[l.ID] = true
		cur, present := state[sku]
		switch l.Action {
		case "create":
			if present {
				dups = append(dups, at+": created again")
			}
			state[sku] = recordOf(l.After)
		case "update":
			if !present {
				lost = append(lost, at+": update of a key never created")
			}
			next := recordOf(l.After)
			if present && next == cur {
				dups = append(dups, at+": an update that changes nothing (sent twice)")
			}
			state[sku] = next
		case "delete":
			if !present {
				lost = append(lost, at+": delete of a key never created (or deleted twice)")
			}
			delete(state, sku)
		default:
			lost = append(lost, at+": unexpected action")
		}
	}
	return state, dups, lost
}

func recordOf(after map[string]any) record {
	var r record
	r.SKU, _ = after["sku"].(string)
	r.Title, _ = after["title"].(string)
	r.Price, _ = after["price"].(float64)
	stock, _ := after["stock"].(float64)
	r.Stock = int64(stock)
	return r
}

// readRecords reads the file sink's records file.
func readRecords(path string) (map[string]record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("records file: %w", err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("records file: %w", err)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], []string{"sku", "title", "price", "stock"}) {
		return nil, fmt.Errorf("records file header %v", rows[:min(1, len(rows))])
	}
	out := map[string]record{}
	for _, row := range rows[1:] {
		price, perr := strconv.ParseFloat(row[2], 64)
		stock, serr := strconv.ParseInt(row[3], 10, 64)
		if perr != nil || serr != nil {
			return nil, fmt.Errorf("records file row %v", row)
		}
		if _, dup := out[row[0]]; dup {
			return nil, fmt.Errorf("records file: %s twice", row[0])
		}
		out[row[0]] = record{SKU: row[0], Title: row[1], Price: price, Stock: stock}
	}
	return out, nil
}

// diffRecords lists the differences between got and want (at most 5, then a count).
func diffRecords(what string, got, want map[string]record) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok {
			out = append(out, fmt.Sprintf("%s lacks %s", what, k))
		} else if g != want[k] {
			out = append(out, fmt.Sprintf("%s has %s = %+v, want %+v", what, k, g, want[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%s has %s, which the input no longer has", what, k))
		}
	}
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("%s: %d more differences", what, len(out)-5))
	}
	return out
}

// printProblems prints the first findings of each kind.
func (r *phaseResult) printProblems(w io.Writer) {
	for _, f := range []struct {
		what string
		list []string
	}{{"lock violations", r.lockViolations}, {"duplicate changes", r.duplicates}, {"lost changes", r.lost}, {"unexpected exits", r.unexpected}} {
		if len(f.list) == 0 {
			continue
		}
		fmt.Fprintf(w, "%d worker(s): %d %s, the first:\n", r.workers, len(f.list), f.what)
		for _, s := range f.list[:min(5, len(f.list))] {
			fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(s, "\n", "\n    "))
		}
	}
}

// printTable prints one line per worker count.
func printTable(w io.Writer, results []*phaseResult) {
	fmt.Fprintf(w, "\n%7s %7s %7s %8s %7s %7s %7s %6s %7s %6s %7s %5s %4s %4s %5s\n",
		"workers", "seconds", "runs", "runs/s", "applied", "no-op", "locked", "killed", "in-lock", "failed", "changes", "final", "lock", "dup", "lost")
	for _, r := range results {
		var applied, noop, locked, killed, killedInLock, failed int
		for _, run := range r.runs {
			switch {
			case run.Killed:
				killed++
				if !run.InLockFirst.IsZero() {
					killedInLock++
				}
			case run.ExitCode == 75:
				locked++
			case run.ExitCode == 0 && run.ExitReason == "no_changes":
				noop++
			case run.ExitCode == 0:
				applied++
			default:
				failed++
			}
		}
		fmt.Fprintf(w, "%7d %7.1f %7d %8.2f %7d %7d %7d %6d %7d %6d %7d %5d %4d %4d %5d\n",
			r.workers, r.elapsed.Seconds(), len(r.runs), float64(len(r.runs))/r.elapsed.Seconds(), applied, noop, locked, killed, killedInLock, failed,
			r.changes, len(r.final), len(r.lockViolations), len(r.duplicates), len(r.lost))
	}
	fmt.Fprintln(w, "runs/s counts every process of the phase (applied, no-op, locked out, killed); in-lock: killed while holding")
	fmt.Fprintln(w, "the lock (it had logged a step); changes: change log lines of all pipelines; final: the convergence runs after it.")
}
