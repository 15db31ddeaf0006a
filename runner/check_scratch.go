package runner

import (
	"fmt"
	"os"
)

// checkScratch makes the folder where Check's DuckDB may spill: a fresh temporary folder, removed by the
// returned cleanup once Check is done, so that `possync validate` leaves nothing behind (neither the state
// folder nor its tmp/, which plan and apply use).
func checkScratch() (dir string, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", "possync-validate-*")
	if err != nil {
		return "", nil, fmt.Errorf("temporary folder for validate: %w", err)
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}
