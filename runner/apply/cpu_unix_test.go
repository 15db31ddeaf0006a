//go:build unix

package apply

import (
	"syscall"
	"time"
)

// processCPU is the processor time the process used so far (user plus system); 0 when unknown.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
