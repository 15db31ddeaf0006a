package runner

import (
	"syscall"
	"testing"
)

// TestTimingsNestedPeak: a stage begun inside another (the run's checkpoint inside the export, beside the
// merge; a streamed apply's waits inside the apply) does not hide from the outer stage the memory peak the
// outer one reached before it began: the outer stage's PeakRSS covers its whole span.
func TestTimingsNestedPeak(t *testing.T) {
	if peakRSS() == 0 {
		t.Skip("no VmHWM on this platform")
	}
	const size = 256 << 20
	tm := newTimings()
	outer := tm.start("outer")
	// Memory resident during the outer stage only, given back before the inner one begins.
	m, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip(err)
	}
	for i := 0; i < size; i += 4096 {
		m[i] = 1
	}
	high := peakRSS()
	if err := syscall.Munmap(m); err != nil {
		t.Fatal(err)
	}
	inner := tm.start("inner")
	inner()
	outer()
	resetPeakRSS()
	if peakRSS() >= high-size/2 {
		t.Skip("the peak cannot be reset here (/proc/self/clear_refs)")
	}
	stages := tm.list()
	for _, s := range stages {
		// Linux updates the counters behind VmHWM per thread, in steps: a few pages' slack.
		if s.Name == "outer" && s.PeakRSS < high-size/8 {
			t.Fatalf("outer stage's peak %d bytes, want at least the %d it reached before the inner stage began (stages %+v)",
				s.PeakRSS, high, stages)
		}
	}
}
