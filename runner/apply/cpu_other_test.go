//go:build !unix

package apply

import "time"

// processCPU is unknown on this platform: 0.
func processCPU() time.Duration { return 0 }
