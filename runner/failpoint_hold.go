package runner

import (
	"os"
	"time"
)

// failpointHold holds the process at a failpoint instead of killing it when POSSYNC_FAILPOINT_RELEASE names a
// file: it waits until that file exists (the lock tests create it once they have checked what they wanted
// while the run held its lock), then returns so the run goes on. It gives up waiting after ten minutes so a
// test that died never leaves a process behind forever. It reports whether the failpoint was a hold.
func failpointHold() bool {
	path := os.Getenv("POSSYNC_FAILPOINT_RELEASE")
	if path == "" {
		return false
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
