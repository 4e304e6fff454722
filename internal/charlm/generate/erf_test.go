package generate

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestErf32: erf32 is math.Erf within 4 float32 units in the last place of
// 1 (2^-21) on a grid over [-6, 6] (and exactly ±1 in float32 beyond), and
// gelu is x·Phi(x) within that times max(1, |x|).
func TestErf32(t *testing.T) {
	const tol = 0x1p-21
	for i := -600000; i <= 600000; i++ {
		x := float32(i) / 100000
		want := math.Erf(float64(x))
		require.InDelta(t, want, float64(erf32(x)), tol, "erf(%g)", x)
		phi := 0.5 * (1 + math.Erf(float64(x)/math.Sqrt2))
		require.InDelta(t, float64(x)*phi, float64(gelu(x)), tol*max(1, math.Abs(float64(x))), "gelu(%g)", x)
	}
	require.Equal(t, float32(1), float32(math.Erf(4)))
}

// TestGeluSkip checks the rule that lets the sparse path skip GELU: every
// input in geluSkipFor(tau)'s set has |gelu(x)| < tau, so ACT zeroes it on
// the dense path too. It scans every float32 input within 2^16 ulps of each
// bound of the set (below, keepLo, keepHi), and a grid over [-50, below], for
// thresholds around GELU's minimum (0.169972) and far from it; it also
// checks that the set is not empty where it should skip, so that a rule
// skipping nothing would fail.
func TestGeluSkip(t *testing.T) {
	skipped := func(s geluSkip, x float32) bool { return x < s.below && !(x >= s.keepLo && x <= s.keepHi) }
	check := func(tau float32, s geluSkip, x float32) {
		if skipped(s, x) {
			if g := gelu(x); !(float32(math.Abs(float64(g))) < tau) {
				t.Fatalf("tau %g: x %g is skipped but |gelu(x)| = %g", tau, x, math.Abs(float64(g)))
			}
		}
	}
	for _, tau := range []float32{0.01, 0.02, 0.05, 0.1, 0.15, 0.1698, 0.16987, 0.16995, 0.169971, 0.16998, 0.17, 0.1702, 0.18, 0.25, 0.5, 1, 4, 6, 20} {
		s := geluSkipFor(tau)
		// Positive inputs up to where x·Phi(x) reaches tau are skipped: beyond
		// tau (Phi < 1), and for tau = 0.17 up to about 0.28.
		require.Greater(t, s.below, tau*(1-2e-3), "tau %g: positive inputs below it are skipped", tau)
		if tau == 0.17 {
			require.Greater(t, s.below, float32(0.27))
		}
		for _, bound := range []float32{s.below, s.keepLo, s.keepHi} {
			if math.IsInf(float64(bound), 0) {
				continue
			}
			lo, hi := bound, bound
			for range 1 << 16 {
				lo, hi = math.Nextafter32(lo, float32(math.Inf(-1))), math.Nextafter32(hi, float32(math.Inf(1)))
				check(tau, s, lo)
				check(tau, s, hi)
			}
		}
		n, skip := 0, 0
		for x := float32(-50); x < s.below; x += 1e-4 {
			check(tau, s, x)
			if x > -3 && x < 0 {
				n++
				if skipped(s, x) {
					skip++
				}
			}
		}
		// Near GELU's minimum and above it, negative inputs are mostly skipped
		// (all but a narrow interval around the minimum); at lower thresholds
		// some are (those near 0, and below the interval).
		want := 0.0
		if tau >= 0.1698 {
			want = 0.95
		}
		require.Greater(t, float64(skip)/float64(n), want, "tau %g: negative inputs skipped in [-3, 0]", tau)
	}
	require.Equal(t, noGeluSkip, geluSkipFor(0.009))
	require.Equal(t, noGeluSkip, geluSkipFor(float32(math.NaN())))
	require.Equal(t, noGeluSkip, geluSkipFor(float32(math.Inf(1))))
	require.True(t, skippedAll(geluSkipFor(0.1702)), "above GELU's minimum, every negative input is skipped")
}

// skippedAll reports whether s skips every negative input.
func skippedAll(s geluSkip) bool { return s.below > 0 && s.keepLo > s.keepHi }
