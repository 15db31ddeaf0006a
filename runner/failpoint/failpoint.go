// Package failpoint kills (or holds) the process at a named point of an apply, for the crash and lock tests.
//
// It owns the POSSYNC_FAILPOINT and POSSYNC_FAILPOINT_SLEEP variables and nothing else; it may not touch
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
// With POSSYNC_FAILPOINT_SLEEP set to a duration, the process sleeps there instead (the lock tests hold a
// run at a known point).
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
		if d, err := time.ParseDuration(os.Getenv("POSSYNC_FAILPOINT_SLEEP")); err == nil {
			time.Sleep(d)
			return
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // wait for the signal
	}
}

var (
	mu   sync.Mutex
	hits = map[string]int{}
)
