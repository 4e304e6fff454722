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

// TestGeluSkipBelow checks the rule that lets the sparse path skip GELU:
// every input below geluSkipBelow(tau) has |gelu(x)| < tau, so ACT zeroes it
// on the dense path too. Negative inputs are scanned densely (the minimum of
// GELU is near -0.75); positive ones on every float32 just below the skip
// point and on a grid below it.
func TestGeluSkipBelow(t *testing.T) {
	for x := float32(-12); x <= 0; x += 1e-4 {
		if g := gelu(x); !(g > -0.18 && g < 0.18) {
			t.Fatalf("gelu(%g) = %g: |gelu| not below 0.18", x, g)
		}
	}
	require.True(t, math.IsInf(float64(geluSkipBelow(0.18)), -1), "no skipping at or below the negative bound")
	require.True(t, math.IsInf(float64(geluSkipBelow(float32(math.NaN()))), -1))
	for _, tau := range []float32{0.05, 0.1, 0.17, 0.1801, 0.25, 0.5, 0.77, 1, 1.5, 2, 3.9, 4, 4.1, 6, 20} {
		skip := geluSkipBelow(tau)
		if math.IsInf(float64(skip), -1) {
			continue
		}
		for x := float32(-12); x < 0; x += 1e-3 { // Negative inputs are skipped too.
			require.Less(t, float32(math.Abs(float64(gelu(x)))), tau, "tau %g, x %g", tau, x)
		}
		x := skip
		for range 100000 { // The floats just below the skip point.
			x = math.Nextafter32(x, 0)
			require.Less(t, gelu(x), tau, "tau %g, x %g", tau, x)
		}
		for x := float32(0); x < skip; x += skip / 1000 {
			require.Less(t, gelu(x), tau, "tau %g, x %g", tau, x)
		}
	}
}
