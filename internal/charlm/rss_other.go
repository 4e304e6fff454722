//go:build !linux && !darwin

package charlm

// PeakRSS returns the peak resident set size of this process: unknown (0) on this platform.
func PeakRSS() int64 { return 0 }
