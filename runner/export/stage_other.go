//go:build !linux

package export

import (
	"errors"
	"os"
)

// punchHole fails outside Linux: the staging file keeps its blocks until it is closed (Early.release).
func punchHole(*os.File, int64, int64) error { return errors.ErrUnsupported }
