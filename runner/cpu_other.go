//go:build !unix

package runner

// processCPU is unknown on this platform: 0.
func processCPU() float64 { return 0 }
