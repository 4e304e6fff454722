//go:build linux || darwin

package charlm

import (
	"syscall"
	"time"
)

// cpuTime returns the user+system CPU time of the process (0 if unknown).
func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
