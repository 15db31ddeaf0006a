package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestInterruptRecordsTheBatchInFlight: SIGINT (and SIGTERM) while the sink has taken a batch ends the run
// after that batch is recorded in the state, not inside its commit: the run exits 130 saying how far it got,
// its report says "interrupted", the next run has nothing in doubt to settle (recovered 0) and applies the
// rest, and the change log holds every change once.
func TestInterruptRecordsTheBatchInFlight(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			rows := genRows(0, 12000) // three batches of 5,000 (pipelineYAML's batch_size)
			f := newFixture(t, rows)
			seen := &watch{want: "possync: interrupted: stopping after what is in flight", seen: make(chan struct{})}
			// The monitoring sees the interrupt: the metrics file is written and the push is made, after it.
			pushed := make(chan string, 1)
			gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				select {
				case pushed <- string(b):
				default:
				}
			}))
			defer gw.Close()
			cmd, done, release := holdAtTee(t, f.command, seen, "after-sink:1", "run", "pipeline.yaml",
				"--metrics-file", "m.prom", "--pushgateway", gw.URL)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// The run is released once it has taken the signal (its context is cancelled before it says so),
			// so that the batch after the one in flight is certain to find it.
			select {
			case <-seen.seen:
			case r := <-done:
				t.Fatalf("the run ended before it said it was interrupted: %s", r)
			}
			if err := os.WriteFile(release, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			r := <-done
			if r.code != 130 {
				t.Fatalf("interrupted run: want exit 130, got %s", r)
			}
			if !strings.Contains(r.stderr, "interrupted: 5000 of 12000 planned changes applied and recorded in the state; run it again") {
				t.Errorf("interrupted run: stderr does not say how far it got:\n%s", r.stderr)
			}
			m, err := os.ReadFile(f.path("m.prom"))
			if err != nil || !strings.Contains(string(m), "} 130\n") || !strings.Contains(string(m), `reason="interrupted"`) {
				t.Errorf("interrupted run's metrics file (%v): want exit code 130 and reason interrupted:\n%s", err, m)
			}
			select {
			case body := <-pushed:
				if !strings.Contains(body, `reason="interrupted"`) {
					t.Errorf("interrupted run's push: no reason interrupted:\n%s", body)
				}
			default:
				t.Error("the interrupted run pushed no metrics")
			}
			if strings.Contains(r.stderr, "metrics") || strings.Contains(r.stderr, "could not be written") {
				t.Errorf("interrupted run: its metrics failed:\n%s", r.stderr)
			}
			rep := parseReport(t, r)
			if rep.ExitReason != "interrupted" || rep.ExitCode != 130 || rep.Applied.Create != 5000 {
				t.Errorf("interrupted run's report: reason %q, code %d, %d created; want interrupted, 130, 5000", rep.ExitReason, rep.ExitCode, rep.Applied.Create)
			}
			if n := len(f.changeLog(t)); n != 5000 {
				t.Errorf("after the interrupt the change log holds %d changes, want the first batch's 5000", n)
			}

			r = f.run(t, nil, "run", "pipeline.yaml")
			if r.code != 0 {
				t.Fatalf("rerun after the interrupt: %s", r)
			}
			if rep := parseReport(t, r); rep.Recovered != 0 || rep.Applied.Create != 7000 {
				t.Errorf("rerun after the interrupt: recovered %d, created %d; want 0 (the batch in flight was recorded) and 7000", rep.Recovered, rep.Applied.Create)
			}
			creates := map[string]string{}
			for _, r := range rows {
				creates[r.SKU] = "create"
			}
			checkChanges(t, f.changeLog(t), creates, want(rows))
			f.checkRecords(t, want(rows))
		})
	}
}

// watch is a writer that closes seen once what was written to it holds want.
type watch struct {
	mu   sync.Mutex
	buf  []byte
	want string
	seen chan struct{}
	done bool
}

func (w *watch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if !w.done && strings.Contains(string(w.buf), w.want) {
		w.done = true
		close(w.seen)
	}
	return len(p), nil
}
