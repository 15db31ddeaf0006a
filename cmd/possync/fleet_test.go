package main

// Fleet tests (#13): several "machines" (processes with state folders of their own) sharing one PostgreSQL
// state through POSSYNC_STATE_URL. They need a PostgreSQL server: POSSYNC_TEST_PG_URL (.ci/run starts a
// throwaway one with runner/state/testdata/start-postgres.sh and exports it). They skip without it, and fail
// under CI=true without it.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pgTestURL is the test server's URL, or skips (fails under CI=true) without one.
func pgTestURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("POSSYNC_TEST_PG_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("POSSYNC_TEST_PG_URL is not set under CI=true: .ci/run must start PostgreSQL (runner/state/testdata/start-postgres.sh)")
		}
		t.Skip("POSSYNC_TEST_PG_URL not set: no PostgreSQL to share the state (run runner/state/testdata/start-postgres.sh and export its output)")
	}
	return u
}

// machine is one worker of a fleet: the shared pipeline folder (the sink's files are the shared outside
// system), a state folder of its own, and the shared state URL.
type machine struct {
	f        *fixture
	state    string
	stateURL string
	schema   string // the pipeline's state.schema
}

// newFleetFixture makes a pipeline folder whose pipeline has a name and a PostgreSQL schema of its own (the
// server is shared by every test and every run of the tests), and n machines.
func newFleetFixture(t *testing.T, rows []row, n int) (*fixture, []*machine) {
	t.Helper()
	u := pgTestURL(t)
	f := newFixture(t, rows)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "fleet-" + hex.EncodeToString(b[:])
	// A schema of the test's own (state.schema), dropped at its end: no state of other tests or older builds.
	schema := "fleet_" + hex.EncodeToString(b[:])
	yml := strings.Replace(pipelineYAML, "name: "+pipelineName+"\n", "name: "+name+"\n", 1) + "\nstate:\n  schema: " + schema + "\n"
	if err := os.WriteFile(f.path("pipeline.yaml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(psqlPath(t), u, "-XAtqc", "DROP SCHEMA IF EXISTS "+schema+" CASCADE").CombinedOutput(); err != nil {
			t.Logf("drop schema %s: %v\n%s", schema, err, out)
		}
	})
	ms := make([]*machine, n)
	for i := range ms {
		ms[i] = &machine{f: f, state: t.TempDir(), stateURL: u, schema: schema}
	}
	return f, ms
}

// command prepares possync on this machine.
func (m *machine) command(env []string, args ...string) *exec.Cmd {
	return m.f.command(append([]string{"POSSYNC_STATE_DIR=" + m.state, "POSSYNC_STATE_URL=" + m.stateURL, "POSSYNC_FAILPOINT_HELD="}, env...), args...)
}

func (m *machine) run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runCmd(t, m.command(env, args...))
}

// held is holdAt on m.
func (m *machine) held(t *testing.T, point string, args ...string) (*exec.Cmd, <-chan result, string) {
	t.Helper()
	return holdAt(t, m.command, point, args...)
}

// holdAt starts the possync that command prepares, held at failpoint point (POSSYNC_FAILPOINT_RELEASE), and
// waits until it is there. It returns the process, a channel of its result, and the release file to create.
func holdAt(t *testing.T, command func(env []string, args ...string) *exec.Cmd, point string, args ...string) (*exec.Cmd, <-chan result, string) {
	t.Helper()
	return holdAtTee(t, command, nil, point, args...)
}

// holdAtTee is holdAt that also writes the process's stderr to tee, as it comes (tee may be nil).
func holdAtTee(t *testing.T, command func(env []string, args ...string) *exec.Cmd, tee io.Writer, point string, args ...string) (*exec.Cmd, <-chan result, string) {
	t.Helper()
	dir := t.TempDir()
	release, heldFile := filepath.Join(dir, "release"), filepath.Join(dir, "held")
	cmd := command([]string{"POSSYNC_FAILPOINT=" + point, "POSSYNC_FAILPOINT_RELEASE=" + release, "POSSYNC_FAILPOINT_HELD=" + heldFile}, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if tee != nil {
		cmd.Stderr = io.MultiWriter(&errb, tee)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGCONT); _ = cmd.Process.Kill() }) // no-ops once it ended
	done := make(chan result, 1)
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // an exit status is in ProcessState; any other failure shows as code -1
		close(exited)
		r := result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.killed = true
		}
		done <- r // not finish: t.Fatal may not be called from this goroutine
	}()
	// Wait for the held file, or the process's end (a failure), with a generous deadline for a hung process.
	deadline := time.After(2 * time.Minute)
	for {
		if b, err := os.ReadFile(heldFile); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(cmd.Process.Pid) {
			return cmd, done, release
		}
		select {
		case <-exited:
			t.Fatalf("possync %v ended before reaching failpoint %s: %s", args, point, <-done)
		case <-deadline:
			t.Fatalf("possync %v never reached failpoint %s", args, point)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestFleetTwoMachines: two machines, one PostgreSQL state. While A holds the pipeline's lock, a run and a
// plan on B exit 75 naming A (pid, host); after A, B's run finds nothing left to do.
func TestFleetTwoMachines(t *testing.T) {
	rows := genRows(0, 50)
	f, ms := newFleetFixture(t, rows, 2)
	a, b := ms[0], ms[1]
	cmdA, doneA, release := a.held(t, "after-lock", "run", "pipeline.yaml")

	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"run", "pipeline.yaml"}, {"plan", "pipeline.yaml"}} {
		r := b.run(t, nil, args...)
		if r.code != 75 {
			t.Fatalf("%s on B while A holds the lock: want exit 75, got %s", args[0], r)
		}
		for _, w := range []string{fmt.Sprintf("pid %d", cmdA.Process.Pid), "host " + hostname} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s on B: stderr does not name the holder's %q:\n%s", args[0], w, r.stderr)
			}
		}
		if args[0] == "run" {
			if rep := parseReport(t, r); rep.ExitReason != "locked" || rep.Applied.Create != 0 {
				t.Errorf("run on B: report %+v, want exit_reason locked, nothing applied", rep)
			}
		}
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ra := <-doneA
	if ra.code != 0 {
		t.Fatalf("A: %s", ra)
	}
	if rep := parseReport(t, ra); rep.Applied.Create != len(rows) {
		t.Errorf("A applied %d creates, want %d", rep.Applied.Create, len(rows))
	}
	rb := b.run(t, nil, "run", "pipeline.yaml")
	if rep := parseReport(t, rb); rb.code != 0 || rep.ExitReason != "no_changes" {
		t.Errorf("B after A: want exit 0, no_changes (B sees A's state): %s", rb)
	}
	creates := map[string]string{}
	for _, r := range rows {
		creates[r.SKU] = "create"
	}
	checkChanges(t, f.changeLog(t), creates, want(rows))
	f.checkRecords(t, want(rows))
}

// TestFleetKillThenOtherMachine kills a run on machine A (SIGKILL through a failpoint) in the middle of an
// apply of 12,000 creates (batches of 5,000), then runs the pipeline on machine B, which has never run it:
// B settles A's intents from the shared state and the sink, every change reaches the sink exactly once,
// nothing is lost, and a plan on A afterwards has nothing to do. The points: after the sink acknowledged the
// first batch and before its commit (B finds the 5,000 at the sink), and during the export of the records
// file after the last commit (B has nothing to apply and must still bring the records file up to date).
// pgstate_crash_test.go covers after-intents, after-sink:2 and after-commit the same way.
func TestFleetKillThenOtherMachine(t *testing.T) {
	for _, tc := range []struct {
		point     string
		recovered int
	}{
		{"after-sink:1", 5000},
		{"during-export", 0},
	} {
		t.Run(tc.point, func(t *testing.T) {
			t.Parallel()
			rows := genRows(0, 12000)
			f, ms := newFleetFixture(t, rows, 2)
			a, b := ms[0], ms[1]
			if r := a.run(t, []string{"POSSYNC_FAILPOINT=" + tc.point}, "run", "pipeline.yaml"); !r.killed {
				t.Fatalf("A with failpoint %s: want death by SIGKILL, got %s", tc.point, r)
			}
			waitLockReleased(t, a.stateURL, a.schema) // the server ends A's lock session a moment after A died
			r := b.run(t, nil, "run", "pipeline.yaml")
			if r.code != 0 {
				t.Fatalf("B after A was killed at %s: %s", tc.point, r)
			}
			rep := parseReport(t, r)
			if rep.Recovered != tc.recovered {
				t.Errorf("B recovered %d of A's changes, want %d", rep.Recovered, tc.recovered)
			}
			// The journal, read on either machine: A's run interrupted (B took the lock after it died), B's done.
			checkHistory(t, a, map[string]string{rep.RunID: "done"}, 1)
			creates := map[string]string{}
			for _, r := range rows {
				creates[r.SKU] = "create"
			}
			checkChanges(t, f.changeLog(t), creates, want(rows))
			f.checkRecords(t, want(rows))
			if r := a.run(t, nil, "plan", "pipeline.yaml"); r.code != 0 {
				t.Errorf("plan on A after B: want exit 0 (no changes), got %s", r)
			}
		})
	}
}

// TestFleetFencing: A is paused (SIGSTOP) after the sink acknowledged its first batch and before it commits
// it, and loses its lock from outside: either only its lock session is terminated (its other connection
// lives on, so only the fencing check can refuse its commit), or all its sessions are (a network
// partition). B takes the lock, settles A's batch and applies the rest. Resumed (SIGCONT), A's commit is
// refused (exit 75: it lost its lock; docs/state.md), the journal records every change once and nothing
// after A resumed, and the state converges: a run on A afterwards has nothing to do.
func TestFleetFencing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lockOnly bool
	}{{"lock session", true}, {"all sessions", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows := genRows(0, 12000)
			f, ms := newFleetFixture(t, rows, 2)
			a, b := ms[0], ms[1]
			cmdA, doneA, release := a.held(t, "after-sink:1", "run", "pipeline.yaml")

			if err := cmdA.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			if n := terminateSessions(t, a.stateURL, cmdA.Process.Pid, tc.lockOnly); n != 1 && tc.lockOnly || n == 0 {
				t.Fatalf("terminated %d PostgreSQL sessions of A (pid %d), want %s", n, cmdA.Process.Pid,
					map[bool]string{true: "its lock session", false: "at least one"}[tc.lockOnly])
			}
			waitLockReleased(t, a.stateURL, a.schema) // pg_terminate_backend only signals: the session ends after it
			// A sees the release file only once resumed.
			if err := os.WriteFile(release, nil, 0o644); err != nil {
				t.Fatal(err)
			}

			rb := b.run(t, nil, "run", "pipeline.yaml")
			if rb.code != 0 {
				t.Fatalf("B after A lost its lock: %s", rb)
			}
			repB := parseReport(t, rb)
			if repB.Recovered != 5000 || repB.Applied.Create != 7000 {
				t.Errorf("B: recovered %d, created %d; want 5000 (A's acknowledged batch) and 7000", repB.Recovered, repB.Applied.Create)
			}

			// The journal (docs/state.md: one row per commit, with the changes the sink acknowledged) holds every
			// change once after B (A's acknowledged batch is B's recovery commit, under A's run id)...
			name := pipelineNameOf(t, f)
			q := fmt.Sprintf("SELECT count(*) || ' ' || coalesce(sum(acked), 0) || ' ' || coalesce(max(serial), 0) FROM %s.journal WHERE pipeline = '%s'", a.schema, name)
			journal := psql(t, a.stateURL, q)
			if fs := strings.Fields(journal); len(fs) != 3 || fs[1] != "12000" {
				t.Errorf("journal after B: commits, acked total, last serial = %q; want 12000 acked", journal)
			}

			if err := cmdA.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			ra := <-doneA
			if ra.code != 75 {
				t.Errorf("A resumed after losing its lock: want exit 75 (its commit refused, retry later), got %s", ra)
			}
			repA := parseReport(t, ra)
			if repA.ExitReason != "lock_lost" {
				t.Errorf("A resumed: report exit_reason %q, want lock_lost", repA.ExitReason)
			}

			checkHistory(t, b, map[string]string{repA.RunID: "interrupted", repB.RunID: "done"}, 0)

			// ... and nothing more once A has ended: its commit recorded nothing.
			if got := psql(t, a.stateURL, q); got != journal {
				t.Errorf("journal after A resumed: commits, acked total, last serial = %q; want %q as after B", got, journal)
			}
			creates := map[string]string{}
			for _, r := range rows {
				creates[r.SKU] = "create"
			}
			checkChanges(t, f.changeLog(t), creates, want(rows))
			f.checkRecords(t, want(rows))
			r := a.run(t, nil, "run", "pipeline.yaml")
			if rep := parseReport(t, r); r.code != 0 || rep.ExitReason != "no_changes" || rep.Recovered != 0 {
				t.Errorf("run on A after B: want exit 0, no_changes, nothing to recover (the state converged): %s", r)
			}
		})
	}
}

// checkHistory reads `possync state history --json` on m and checks each run's status in want, and that
// interrupted more runs than those of want are interrupted.
func checkHistory(t *testing.T, m *machine, want map[string]string, interrupted int) {
	t.Helper()
	r := m.run(t, nil, "state", "history", "pipeline.yaml", "--json")
	var runs []struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &runs); r.code != 0 || err != nil {
		t.Fatalf("state history: %v\n%s", err, r)
	}
	got := map[string]string{}
	n := 0
	for _, run := range runs {
		got[run.RunID] = run.Status
		if _, ok := want[run.RunID]; !ok && run.Status == "interrupted" {
			n++
		}
	}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("state history: run %s is %q, want %q (%+v)", id, got[id], st, runs)
		}
	}
	if n != interrupted {
		t.Errorf("state history: %d other runs interrupted, want %d (%+v)", n, interrupted, runs)
	}
}

// pipelineNameOf reads the name of the fixture's pipeline file.
func pipelineNameOf(t *testing.T, f *fixture) string {
	t.Helper()
	b, err := os.ReadFile(f.path("pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if n, ok := strings.CutPrefix(l, "name: "); ok {
			return strings.TrimSpace(n)
		}
	}
	t.Fatal("pipeline.yaml has no name")
	return ""
}

// psql runs one query and returns its unaligned output.
func psql(t *testing.T, u, q string) string {
	t.Helper()
	out, err := exec.Command(psqlPath(t), u, "-XAtqc", q).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", q, err, out)
	}
	return strings.TrimSpace(string(out))
}

// terminateSessions terminates, from outside, the PostgreSQL sessions of process pid (found by the local TCP
// ports of its connections to the server, in /proc), with psql: all of them, or with lockOnly those holding
// an advisory lock. It returns how many it terminated.
func terminateSessions(t *testing.T, stateURL string, pid int, lockOnly bool) int {
	t.Helper()
	u, err := url.Parse(stateURL)
	if err != nil {
		t.Fatal(err)
	}
	serverPort := u.Port()
	if serverPort == "" {
		serverPort = "5432"
	}
	sp, _ := strconv.ParseUint(serverPort, 10, 16)
	ports := localPorts(t, pid, uint16(sp))
	if len(ports) == 0 {
		return 0
	}
	var list []string
	for _, p := range ports {
		list = append(list, strconv.Itoa(int(p)))
	}
	q := "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE client_port IN (" + strings.Join(list, ",") + ")"
	if lockOnly {
		q += " AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)"
	}
	out := psql(t, stateURL, q)
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("psql answered %q", out)
	}
	return n
}

// localPorts lists the local ports of process pid's TCP connections to remote port server (Linux /proc).
func localPorts(t *testing.T, pid int, server uint16) []uint16 {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("sockets of pid %d: %v", pid, err)
	}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var ports []uint16
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan() // header
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			local, remote := hexPort(f[1]), hexPort(f[2])
			if remote == server && local != 0 {
				ports = append(ports, local)
			}
		}
	}
	return ports
}

// hexPort is the port of a /proc/net/tcp address ("0100007F:1F90").
func hexPort(addr string) uint16 {
	_, p, _ := strings.Cut(addr, ":")
	n, _ := strconv.ParseUint(p, 16, 16)
	return uint16(n)
}

// psqlPath finds psql on PATH or in Debian's PostgreSQL folders.
func psqlPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("psql"); err == nil {
		return p
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql"); len(m) > 0 {
		return m[len(m)-1]
	}
	t.Fatal("psql not found (Debian's postgresql-client)")
	return ""
}

// TestFleetTerminateSessions checks the fencing test's tool on its own: the PostgreSQL session of a process
// (psql running a long query) is found by its ports and terminated from outside, and the process sees it.
func TestFleetTerminateSessions(t *testing.T) {
	u := pgTestURL(t)
	marker := "fleet_terminate_" + strconv.Itoa(os.Getpid())
	cmd := exec.Command(psqlPath(t), u, "-XAtqc", "SELECT '"+marker+"', pg_sleep(120)")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait until the server runs the query (the session exists and is past its start-up).
	deadline := time.After(time.Minute)
	for {
		q := "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%" + marker + "%' AND pid <> pg_backend_pid()"
		b, err := exec.Command(psqlPath(t), u, "-XAtqc", q).Output()
		if err == nil && strings.TrimSpace(string(b)) == "1" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("psql ended early: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatal("the query never showed in pg_stat_activity")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if n := terminateSessions(t, u, cmd.Process.Pid, false); n != 1 {
		t.Fatalf("terminated %d sessions of psql, want 1", n)
	}
	if err := <-done; err == nil || !strings.Contains(out.String(), "terminat") {
		t.Errorf("psql after its session was terminated: %v, output %q; want a failure saying so", err, out.String())
	}
}
