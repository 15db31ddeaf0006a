package runner_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/memory"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/spec"
)

// committing is a test source implementing connectors.Committer: a snapshot of committed.skus with the
// checkpoint "cp1". Committed records its calls and fails with committed.fail (quoting the source's token)
// when that is set.
type committing struct{ token spec.Secret }

// committed is the state shared by the test and the committing sources it builds.
var committed struct {
	sync.Mutex
	skus  []string
	fail  string
	calls []string // the checkpoints Committed received, in order
	sunk  []int    // how many records the sink target held at each call
}

const committerTarget = "committer"

var committingSchema = arrow.NewSchema([]arrow.Field{{Name: "sku", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)

// committingConfig is the configuration of the test_committer source.
type committingConfig struct {
	Token spec.Secret `spec:"token"`
}

func init() {
	connectors.Sources.MustRegister(spec.Component{Kind: spec.KindSource, Name: "test_committer", Summary: "test only",
		Fields: []spec.Field{{Name: "token", Type: spec.TypeString, Secret: true, Description: "quoted in errors"}},
		Config: committingConfig{}},
		func(cfg spec.Config, env connectors.Env) (connectors.Source, error) {
			var c committingConfig
			if err := cfg.Decode(&c); err != nil {
				return nil, err
			}
			return &committing{token: c.Token}, nil
		})
}

func (c *committing) Schema() *arrow.Schema { return committingSchema }

func (c *committing) Read(_ context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	committed.Lock()
	defer committed.Unlock()
	return skuReader(req, committed.skus, connectors.ReadResult{Key: []string{"sku"}, Checkpoint: []byte("cp1")})
}

// skuReader reads one record per SKU (committingSchema) as one batch, then reports res.
func skuReader(req connectors.ReadRequest, skus []string, res connectors.ReadResult) (connectors.Reader, error) {
	recs := make([]record.Record, len(skus))
	for i, sku := range skus {
		recs[i] = record.Record{"sku": sku}
	}
	b, err := record.BuildBatch(req.Alloc, committingSchema, recs)
	if err != nil {
		return nil, err
	}
	return &oneBatch{b: b, res: res}, nil
}

func (c *committing) Committed(_ context.Context, checkpoint []byte) error {
	committed.Lock()
	defer committed.Unlock()
	committed.calls = append(committed.calls, string(checkpoint))
	committed.sunk = append(committed.sunk, len(memory.Target(committerTarget).Records()))
	if committed.fail != "" {
		return fmt.Errorf("%s (token %s)", committed.fail, c.token.Reveal())
	}
	return nil
}

// oneBatch yields one batch, then io.EOF.
type oneBatch struct {
	b   arrow.RecordBatch
	res connectors.ReadResult
}

func (r *oneBatch) Next(context.Context) (arrow.RecordBatch, error) {
	if r.b == nil {
		return nil, io.EOF
	}
	b := r.b
	r.b = nil
	return b, nil
}

func (r *oneBatch) Result() connectors.ReadResult { return r.res }

func (r *oneBatch) Close() error {
	if r.b != nil {
		r.b.Release()
		r.b = nil
	}
	return nil
}

// setCommitter sets what the committing source reads and whether Committed fails.
func setCommitter(skus []string, fail string) {
	committed.Lock()
	defer committed.Unlock()
	committed.skus, committed.fail = skus, fail
}

// commitCalls returns the checkpoints Committed received so far and the sink's record counts at each call.
func commitCalls() ([]string, []int) {
	committed.Lock()
	defer committed.Unlock()
	return append([]string(nil), committed.calls...), append([]int(nil), committed.sunk...)
}

func TestCommitterIsCalledOnlyAfterAnAppliedRun(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), `version: 1
name: committer
merchant: m
key: sku
sources:
  pos: {type: test_committer, token: "${COMMITTER_TOKEN}"}
sink: {type: memory, target: `+committerTarget+`}
`)
	const token = "tok-s3cret-42"
	t.Setenv("COMMITTER_TOKEN", token)
	memory.Target(committerTarget).Reset()
	committed.Lock()
	committed.calls, committed.sunk = nil, nil
	committed.Unlock()
	setCommitter([]string{"A"}, "")
	p := loadAt(t, dir)

	if pl := mustPlan(t, p); pl.Summary.Create != 1 {
		t.Fatalf("plan %+v, want 1 create", pl.Summary)
	}
	if calls, _ := commitCalls(); len(calls) != 0 {
		t.Fatalf("plan called Committed: %q", calls)
	}

	rep := mustApply(t, p, runner.Options{})
	calls, sunk := commitCalls()
	if rep.ExitCode != runner.ExitOK || len(calls) != 1 || calls[0] != "cp1" {
		t.Fatalf("apply (exit %d): Committed calls %q, want one with the run's checkpoint cp1", rep.ExitCode, calls)
	}
	if sunk[0] != 1 {
		t.Fatalf("Committed was called when the sink held %d records, want 1: before the changes were applied", sunk[0])
	}
	if _, ok := rep.Durations["committed pos"]; !ok {
		t.Errorf("durations %v: no committed pos stage", rep.Durations)
	}
	if pl := mustPlan(t, p); pl.Summary.Total() != 0 {
		t.Fatalf("plan after the apply %+v: the run's state was not committed", pl.Summary)
	}

	// An empty read would delete every record: the guard blocks the apply, and nothing is committed.
	setCommitter(nil, "")
	rep, err := runner.Apply(context.Background(), p, runner.Options{}, nil)
	var blocked *runner.BlockedError
	if !errors.As(err, &blocked) || rep.ExitCode != runner.ExitBlocked {
		t.Fatalf("apply of an empty read: %v (exit %d), want blocked", err, rep.ExitCode)
	}
	if calls, _ := commitCalls(); len(calls) != 1 {
		t.Fatalf("a blocked apply called Committed: %q", calls)
	}

	// A failing Committed is a note; the run (here without changes) still succeeds, secrets masked.
	setCommitter([]string{"A"}, "archive folder refused")
	rep = mustApply(t, p, runner.Options{})
	if calls, _ := commitCalls(); len(calls) != 2 {
		t.Fatalf("Committed calls %q, want a second one", calls)
	}
	if rep.ExitCode != runner.ExitOK || rep.ExitReason != runner.ReasonNoop || rep.Error != "" {
		t.Fatalf("report: exit %d %s, error %q; want OK", rep.ExitCode, rep.ExitReason, rep.Error)
	}
	var note string
	for _, n := range rep.Notes {
		if strings.Contains(n, "archive folder refused") {
			note = n
		}
	}
	if !strings.Contains(note, "source pos: after the commit: archive folder refused (token ***)") ||
		strings.Contains(strings.Join(rep.Notes, "\n"), token) {
		t.Fatalf("notes %q: want the Committed error naming the source, token masked", rep.Notes)
	}
}
