//go:build !linux && !darwin

package charlm

// peakRSS returns the peak resident set size of this process: unknown (0) on this platform.
func peakRSS() int64 { return 0 }
