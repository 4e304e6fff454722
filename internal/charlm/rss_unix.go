//go:build linux || darwin

package charlm

import (
	"runtime"
	"syscall"
)

// peakRSS returns the peak resident set size of this process, in bytes (0 if unknown).
func peakRSS() int64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(usage.Maxrss) // Bytes on macOS.
	}
	return int64(usage.Maxrss) * 1024 // Kilobytes on Linux.
}
