//go:build !linux && !darwin

package charlm

import "time"

// cpuTime is unknown (0) on this platform.
func cpuTime() time.Duration { return 0 }
