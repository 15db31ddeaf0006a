//go:build unix

// Package proctime reads the processor time this process has used, the measure the runner's stage timings
// and the benchmarks compare (on a shared machine it moves far less than wall time).
package proctime

import "syscall"

// Seconds is the processor time the process used so far (user plus system, every thread's, DuckDB's
// included), in seconds; 0 when unknown.
func Seconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
