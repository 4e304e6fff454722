package ggx

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMomentRatio checks momentRatio against its known values and against the
// moments of Dist: rho = Variance / E|X-mu|^2 with E|X-mu| = alpha
// Gamma(2/b)/Gamma(1/b) (here computed with math.Gamma, not Lgamma), and its
// monotonicity.
func TestMomentRatio(t *testing.T) {
	require.InEpsilon(t, 2, momentRatio(1), 1e-14)
	require.InEpsilon(t, math.Pi/2, momentRatio(2), 1e-14)
	require.InEpsilon(t, 4.0/3, momentRatio(1e6), 1e-5) // uniform limit
	prev := math.Inf(1)
	for _, beta := range []float64{0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 4, 6, 10, 20, 50} {
		rho := momentRatio(beta)
		require.Less(t, rho, prev, "beta=%g: decreasing", beta)
		prev = rho
		if beta >= 0.1 { // math.Gamma(3/beta) overflows below
			m1 := math.Gamma(2/beta) / math.Gamma(1/beta)
			d := Dist{Alpha: 1, Beta: beta}
			require.InEpsilon(t, d.Variance()/(m1*m1), rho, 1e-12, "beta=%g", beta)
		}
		// The analytic derivative used by Newton, against central differences:
		// truncation error ~h^2 (relative), rounding error ~eps * (sum of the
		// |lgamma| terms) / h (absolute).
		h := 1e-5
		fd := (logMomentRatio(beta*math.Exp(h)) - logMomentRatio(beta*math.Exp(-h))) / (2 * h)
		terms := math.Abs(hostLgamma(1/beta)) + math.Abs(hostLgamma(3/beta)) + 2*math.Abs(hostLgamma(2/beta))
		tol := 1e-9*math.Abs(fd) + 4*terms*0x1p-52/h
		require.InDelta(t, fd, dLogMomentRatio(beta), tol, "beta=%g", beta)
	}
}

// TestBetaFromMomentRatio checks the inverse of momentRatio over the supported
// range (to 1e-12 relative: the conditioning d log beta / d log rho is at most
// ~1/0.0012 at beta = 50, times the ~1e-15 rounding of rho) and its errors
// outside it.
func TestBetaFromMomentRatio(t *testing.T) {
	for _, beta := range []float64{0.05, 0.051, 0.07, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.3, 1.5, 2, 2.5, 3, 4, 6, 10, 20, 35, 49, 50} {
		got, err := betaFromMomentRatio(momentRatio(beta))
		require.NoError(t, err, "beta=%g", beta)
		require.InEpsilon(t, beta, got, 1e-12, "beta=%g", beta)
	}
	lo, hi := momentRatio(MaxBeta), momentRatio(MinBeta)
	for _, rho := range []float64{math.NaN(), 0, 1, 4.0 / 3, lo * (1 - 1e-12), hi * (1 + 1e-12), 1e6, math.Inf(1)} {
		_, err := betaFromMomentRatio(rho)
		require.Error(t, err, "rho=%g", rho)
		require.Contains(t, err.Error(), "ggx: moment ratio")
		require.Contains(t, err.Error(), "outside the supported range")
	}
}

// TestAlphaFromStdDev checks the scale that gives a standard deviation, with the
// Gaussian and Laplacian closed forms.
func TestAlphaFromStdDev(t *testing.T) {
	require.InEpsilon(t, 3*math.Sqrt2, alphaFromStdDev(3, 2), 1e-15)
	require.InEpsilon(t, 3/math.Sqrt2, alphaFromStdDev(3, 1), 1e-15)
	for _, beta := range []float64{0.01, 0.05, 0.3, 1.7, 50, 1000} {
		d := Dist{Alpha: alphaFromStdDev(0.1, beta), Beta: beta}
		require.InEpsilon(t, 0.1, d.StdDev(), 1e-13, "beta=%g", beta)
	}
}
