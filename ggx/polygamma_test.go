package ggx

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTrigamma checks trigamma against closed forms: psi'(1/4) = pi^2 + 8G and
// psi'(3/4) = pi^2 - 8G (G Catalan's constant), psi'(1/2) = pi^2/2 and, at the
// integers (which exercise the asymptotic series directly for n >= 10),
// psi'(n) = pi^2/6 - sum_{k<n} 1/k^2; and the recurrence at non-integers.
func TestTrigamma(t *testing.T) {
	const catalan = 0.915965594177219015054603514932384110774
	pi2 := math.Pi * math.Pi
	require.InEpsilon(t, pi2+8*catalan, trigamma(0.25), 1e-14)
	require.InEpsilon(t, pi2-8*catalan, trigamma(0.75), 1e-14)
	require.InEpsilon(t, pi2/2, trigamma(0.5), 1e-14)
	want := pi2 / 6
	for n := 1; n <= 40; n++ {
		require.InEpsilon(t, want, trigamma(float64(n)), 1e-13, "n=%d", n)
		want -= 1 / float64(n*n)
	}
	for _, x := range []float64{0.02, 0.1, 0.7, 3.3, 9.9, 10.5, 25.1, 400.3} {
		require.InEpsilon(t, trigamma(x+1)+1/(x*x), trigamma(x), 1e-14, "x=%g", x)
	}
}
