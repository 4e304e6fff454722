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
