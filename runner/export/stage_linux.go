//go:build linux

package export

import (
	"os"
	"syscall"
)

// fallocate(2)'s modes: the hole is punched without changing the file's size.
const (
	fallocKeepSize  = 0x1 // FALLOC_FL_KEEP_SIZE
	fallocPunchHole = 0x2 // FALLOC_FL_PUNCH_HOLE
)

// punchHole frees the disk blocks of f's n bytes at off, which then read as zeros (Early.release).
func punchHole(f *os.File, off, n int64) error {
	return syscall.Fallocate(int(f.Fd()), fallocPunchHole|fallocKeepSize, off, n)
}
