//go:build !linux

package engine

// physicalMemory is 0 (unknown) outside Linux: the default limit is then DefaultMemoryCap.
func physicalMemory() int64 { return 0 }
