//go:build !unix

// Package proctime reads the processor time this process has used, the measure the runner's stage timings
// and the benchmarks compare (on a shared machine it moves far less than wall time).
package proctime

// Seconds is unknown on this platform: 0.
func Seconds() float64 { return 0 }
