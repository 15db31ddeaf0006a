// Package failpoint kills (or holds) the process at a named point of an apply, for the crash and lock tests.
//
// It owns the POSSYNC_FAILPOINT, POSSYNC_FAILPOINT_RELEASE and POSSYNC_FAILPOINT_HELD variables and nothing else; it may not touch
// state, DuckDB or any stage's data.
package failpoint

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Hit kills the process at a named point of an apply when POSSYNC_FAILPOINT names it ("name" or "name:N" for
// the Nth time the point is reached). It exists for the crash tests, which kill the real binary at each
// point and check that the next run converges; SIGKILL leaves no chance to clean up, as in a real crash.
// With POSSYNC_FAILPOINT_RELEASE naming a file, the process waits there until the file exists instead (the
// lock tests hold a run at a known point; see hold).
func Hit(name string) {
	fp := os.Getenv("POSSYNC_FAILPOINT")
	if fp == "" {
		return
	}
	want, nth, _ := strings.Cut(fp, ":")
	if want != name {
		return
	}
	n := 1
	if nth != "" {
		n, _ = strconv.Atoi(nth)
	}
	mu.Lock()
	hits[name]++
	hit := hits[name] == n
	mu.Unlock()
	if hit {
		if hold() {
			return
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // wait for the signal
	}
}

// hold holds the process at a failpoint instead of killing it when POSSYNC_FAILPOINT_RELEASE names a file:
// it waits until that file exists (the lock tests create it once they have checked what they wanted while
// the run held its lock), then returns so the run goes on. It gives up waiting after ten minutes so a test
// that died never leaves a process behind forever. It reports whether the failpoint was a hold.
//
// With POSSYNC_FAILPOINT_HELD naming a file too, it first creates that file holding the process id, so a
// test knows the process has reached the point (and holds whatever it holds there, e.g. a lock in a shared
// database) without polling the state.
func hold() bool {
	path := os.Getenv("POSSYNC_FAILPOINT_RELEASE")
	if path == "" {
		return false
	}
	if held := os.Getenv("POSSYNC_FAILPOINT_HELD"); held != "" {
		tmp := held + ".tmp"
		if os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644) == nil {
			_ = os.Rename(tmp, held) // whole or absent for a reader
		}
	}
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

var (
	mu   sync.Mutex
	hits = map[string]int{}
)
