package ggx

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat/distuv"
)

// Dist implements gonum's distuv interfaces.
var (
	_ distuv.LogProber     = Dist{}
	_ distuv.Quantiler     = Dist{}
	_ distuv.Rander        = Dist{}
	_ distuv.RandLogProber = Dist{}
)

// hostUnivariate is the method set shared by gonum's full univariate
// distributions (e.g. distuv.Laplace): Dist offers all of it.
type hostUnivariate interface {
	distuv.RandLogProber
	distuv.Quantiler
	Prob(x float64) float64
	CDF(x float64) float64
	Survival(x float64) float64
	Mean() float64
	Median() float64
	Mode() float64
	Variance() float64
	StdDev() float64
	Skewness() float64
	ExKurtosis() float64
	Entropy() float64
	NumParameters() int
}

var (
	_ hostUnivariate = Dist{}
	_ hostUnivariate = distuv.Laplace{}
)

// hostAccuracyBetas is the grid of shapes of the accuracy tests.
var hostAccuracyBetas = []float64{0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 4, 6, 10}

// hostTailArgs are values of t = (|x-mu|/alpha)^beta: from the center to the far
// tails, where the tail mass Q(1/beta, t)/2 reaches ~1e-300.
var hostTailArgs = []float64{1e-12, 1e-6, 1e-3, 0.01, 0.1, 0.3, 0.7, 1, 1.5, 2, 3, 5, 8, 12, 20, 30, 50, 80, 120, 200, 300, 450, 600, 680}

// hostReferenceCDF returns the CDF and the survival function of d at x from
// gonum's mathext incomplete gamma functions.
func hostReferenceCDF(d Dist, x float64) (cdf, survival float64) {
	a := 1 / d.Beta
	t := math.Pow(math.Abs(x-d.Mu)/d.Alpha, d.Beta)
	p, q := mathext.GammaIncReg(a, t), mathext.GammaIncRegComp(a, t)
	if x < d.Mu {
		return 0.5 * q, 0.5 + 0.5*p
	}
	return 0.5 + 0.5*p, 0.5 * q
}

// TestCDFAccuracy compares CDF and Survival with the reference built from gonum's
// mathext.GammaIncReg/GammaIncRegComp, in the bulk and in both far tails: to 1e-10
// absolute everywhere, and to 1e-10 relative for the small tail probabilities
// (lower tail of the CDF down to ~1e-300, upper tail of Survival likewise), where
// the two implementations agree to ~1e-13 (the conditioning of exp(-t) for t up
// to 680).
func TestCDFAccuracy(t *testing.T) {
	for _, beta := range hostAccuracyBetas {
		d := Dist{Mu: 0.25, Alpha: 1.7, Beta: beta}
		minTail := 1.0
		for _, tt := range hostTailArgs {
			z := d.Alpha * math.Pow(tt, 1/beta)
			for _, x := range []float64{d.Mu - z, d.Mu + z} {
				refCDF, refSurv := hostReferenceCDF(d, x)
				cdf, surv := d.CDF(x), d.Survival(x)
				msg := fmt.Sprintf("beta=%g x=%g (t=%g)", beta, x, tt)
				require.InDelta(t, refCDF, cdf, 1e-10, "CDF "+msg)
				require.InDelta(t, refSurv, surv, 1e-10, "Survival "+msg)
				require.InDelta(t, 1, cdf+surv, 2e-16, "CDF+Survival "+msg)
				small, refSmall := cdf, refCDF // the tail that is small
				if x > d.Mu {
					small, refSmall = surv, refSurv
				}
				if refSmall > 1e-300 {
					require.InEpsilon(t, refSmall, small, 1e-10, "tail "+msg)
				}
				minTail = math.Min(minTail, refSmall)
			}
		}
		require.Less(t, minTail, 1e-250, "beta=%g: the grid reaches the far tails", beta)
		require.Equal(t, 0.5, d.CDF(d.Mu))
		require.Equal(t, 0.0, d.CDF(math.Inf(-1)))
		require.Equal(t, 1.0, d.CDF(math.Inf(1)))
		require.Equal(t, 0.0, d.Survival(math.Inf(1)))
		require.True(t, math.IsNaN(d.CDF(math.NaN())))
	}
}

// hostProbGrid are the probabilities of the quantile tests.
var hostProbGrid = []float64{1e-300, 1e-200, 1e-100, 1e-50, 1e-20, 1e-10, 1e-5, 1e-3, 0.01, 0.1, 0.25, 0.4, 0.49, 0.5, 0.51, 0.6, 0.75, 0.9, 0.99, 0.999, 1 - 1e-5, 1 - 1e-10}

// TestQuantileAccuracy compares Quantile with the reference built from gonum's
// mathext.GammaIncRegCompInv: x = mu -+ alpha * Qinv(1/beta, 2 min(p, 1-p))^(1/beta).
// The tolerance is 1e-10 in units of the scale in the bulk and 1e-10 relative in
// the tails, |dx| <= 1e-10 * max(alpha, |x-mu|): the two inverses agree to ~2e-13
// in t, amplified by 1/beta in x.
func TestQuantileAccuracy(t *testing.T) {
	for _, beta := range hostAccuracyBetas {
		d := Dist{Mu: 0.25, Alpha: 1.7, Beta: beta}
		a := 1 / beta
		for _, p := range hostProbGrid {
			var ref float64
			if p < 0.5 {
				ref = d.Mu - d.Alpha*math.Pow(mathext.GammaIncRegCompInv(a, 2*p), a)
			} else {
				ref = d.Mu + d.Alpha*math.Pow(mathext.GammaIncRegCompInv(a, 2*(1-p)), a)
			}
			x := d.Quantile(p)
			tol := 1e-10 * math.Max(d.Alpha, math.Abs(ref-d.Mu))
			require.InDelta(t, ref, x, tol, "beta=%g p=%g", beta, p)
		}
		require.True(t, math.IsInf(d.Quantile(0), -1))
		require.True(t, math.IsInf(d.Quantile(1), 1))
		require.Equal(t, d.Mu, d.Quantile(0.5))
	}
}

// TestQuantileRoundTrip checks Quantile(CDF(x)) == x to 1e-9 relative where
// CDF(x) is not saturated.
//
// The round trip is limited by the conditioning of the probability, not by the
// algorithms: CDF(x) carries a rounding error of up to ulp(CDF(x)), which moves
// the solved x by about that divided by the density f(x). The check is made where
// that bound, relative to x, is below 1e-10 (see hostQuantileCond). In the lower
// tail (x < mu) CDF(x) is small and its ulp is relative, so every point down to
// CDF ~ 1e-300 qualifies; near the center CDF(x) ~ 1/2 has absolute precision
// 1.1e-16, which for small beta (tiny mass near mu) saturates a few points; in
// the upper tail CDF(x) = 1 - S(x) saturates once S(x) < ~1e-7. Beyond, the upper
// tail is checked through Survival and symmetry: for x > mu,
// 2*mu - Quantile(Survival(x)) == x, which holds down to S ~ 1e-300.
func TestQuantileRoundTrip(t *testing.T) {
	for _, beta := range hostAccuracyBetas {
		d := Dist{Mu: 0.25, Alpha: 1.7, Beta: beta}
		checkedLower, checkedUpper, viaSurvival := 0, 0, 0
		for _, tt := range hostTailArgs {
			z := d.Alpha * math.Pow(tt, 1/beta)
			lower, upper := d.Mu-z, d.Mu+z
			p := d.CDF(lower)
			if hostQuantileCond(d, lower, p) < 1e-10 {
				require.InEpsilon(t, lower, d.Quantile(p), 1e-9, "beta=%g x=%g CDF=%g", beta, lower, p)
				checkedLower++
			}
			p = d.CDF(upper)
			if hostQuantileCond(d, upper, p) < 1e-10 {
				require.InEpsilon(t, upper, d.Quantile(p), 1e-9, "beta=%g x=%g CDF=%g", beta, upper, p)
				checkedUpper++
			}
			if s := d.Survival(upper); s > 1e-300 && hostQuantileCond(d, upper, s) < 1e-10 {
				require.InEpsilon(t, upper, 2*d.Mu-d.Quantile(s), 1e-9, "beta=%g x=%g Survival=%g", beta, upper, s)
				viaSurvival++
			}
		}
		require.Greater(t, checkedLower, 15, "beta=%g", beta)
		require.Greater(t, checkedUpper, 5, "beta=%g", beta)
		require.Greater(t, viaSurvival, 15, "beta=%g", beta)
	}
}

// hostQuantileCond returns the relative error of x that the rounding of p =
// CDF(x) alone implies: ulp(p) / (f(x) |x|).
func hostQuantileCond(d Dist, x, p float64) float64 {
	return (math.Nextafter(p, 2) - p) / (d.Prob(x) * math.Abs(x))
}

// TestLargeShapeCenter checks the center of flat, large-beta distributions,
// where t = (|x-mu|/alpha)^beta underflows (beta = 1000 is far outside the fits'
// range but a valid Dist): the CDF follows the closed form
// 1/2 + z/(2 Gamma(1+1/beta)) for t < 1e-17 (z = |x-mu|/alpha; relative error
// O(t)), mathext's P elsewhere, and Quantile inverts it.
func TestLargeShapeCenter(t *testing.T) {
	for _, beta := range []float64{20, 50, 200, 1000} {
		d := Dist{Mu: 3, Alpha: 0.5, Beta: beta}
		a := 1 / beta
		for _, z := range []float64{1e-12, 1e-6, 1e-3, 0.1, 0.5, 0.9, 0.97} {
			x := d.Mu + d.Alpha*z
			tt := math.Pow(z, beta)
			ref := 0.5 * math.Exp(math.Log(z)-hostLgamma(1+a))
			if tt > 1e-17 {
				ref = 0.5 * mathext.GammaIncReg(a, tt)
			}
			// CDF ~ 1/2 holds absolute precision ulp(1/2) = 2^-53.
			tol := 1e-9*ref + 0x1p-53
			require.InDelta(t, ref, d.CDF(x)-0.5, tol, "beta=%g z=%g", beta, z)
			require.InDelta(t, ref, 0.5-d.CDF(2*d.Mu-x), tol, "beta=%g z=%g", beta, z)
			require.InDelta(t, ref, d.Survival(2*d.Mu-x)-0.5, tol, "beta=%g z=%g", beta, z)
			if z >= 1e-3 { // below, CDF-1/2 holds too few bits
				require.InEpsilon(t, z, (d.Quantile(d.CDF(x))-d.Mu)/d.Alpha, 1e-9, "beta=%g z=%g", beta, z)
			}
		}
	}
}

// TestQuantilePanics checks that Quantile panics outside [0, 1], like distuv.
func TestQuantilePanics(t *testing.T) {
	d := Dist{Mu: 0, Alpha: 1, Beta: 1.5}
	for _, p := range []float64{-0.1, 1.1, math.NaN(), math.Inf(1)} {
		require.Panics(t, func() { d.Quantile(p) }, "p=%g", p)
	}
}

// TestMatchesGonumNormalAndLaplace checks beta = 2 against distuv.Normal (sigma =
// alpha/sqrt 2) and beta = 1 against distuv.Laplace (scale alpha): Prob, LogProb,
// CDF, Survival, Quantile and the moments, to 1e-12 relative (both sides are
// closed forms or erf-based, accurate to a few ulps; Quantile to 1e-12 in units
// of the scale). Where gonum's own formula cancels (Normal.Survival = 1 - erf,
// Laplace.Quantile = log(1 + 2(p - 1/2))) the reference is the symmetric or
// closed form instead.
func TestMatchesGonumNormalAndLaplace(t *testing.T) {
	const mu, alpha = -0.4, 2.3
	type pair struct {
		gg  Dist
		ref interface {
			Prob(float64) float64
			LogProb(float64) float64
			CDF(float64) float64
			Survival(float64) float64
			Quantile(float64) float64
			Variance() float64
			Entropy() float64
		}
		exKurt float64
	}
	for _, c := range []pair{
		{Dist{Mu: mu, Alpha: alpha, Beta: 2}, distuv.Normal{Mu: mu, Sigma: alpha / math.Sqrt2}, 0},
		{Dist{Mu: mu, Alpha: alpha, Beta: 1}, distuv.Laplace{Mu: mu, Scale: alpha}, 3},
	} {
		for _, z := range []float64{-30, -10, -5, -2, -1, -0.3, -1e-3, 0, 1e-3, 0.3, 1, 2, 5, 10} {
			x := mu + alpha*z
			msg := fmt.Sprintf("beta=%g x=%g", c.gg.Beta, x)
			hostRequireClose(t, c.ref.Prob(x), c.gg.Prob(x), 1e-12, "Prob "+msg)
			require.InDelta(t, c.ref.LogProb(x), c.gg.LogProb(x), 1e-12*math.Max(1, math.Abs(c.ref.LogProb(x))), "LogProb "+msg)
			hostRequireClose(t, c.ref.CDF(x), c.gg.CDF(x), 1e-12, "CDF "+msg)
			// Survival by symmetry from the reference CDF: distuv.Normal.Survival is
			// computed as 1 - erf and loses relative accuracy in the upper tail
			// (1.5e-5 relative at 7 sigma).
			hostRequireClose(t, c.ref.CDF(2*mu-x), c.gg.Survival(x), 1e-12, "Survival "+msg)
		}
		for _, p := range []float64{1e-300, 1e-100, 1e-10, 1e-3, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999, 1 - 1e-10} {
			ref := c.ref.Quantile(p)
			if c.gg.Beta == 1 {
				ref = mu + alpha*math.Log(2*p)
				if p > 0.5 {
					ref = mu - alpha*math.Log(2*(1-p))
				}
			}
			require.InDelta(t, ref, c.gg.Quantile(p), 1e-12*math.Max(alpha, math.Abs(ref-mu)), "beta=%g p=%g", c.gg.Beta, p)
		}
		require.InEpsilon(t, c.ref.Variance(), c.gg.Variance(), 1e-14)
		require.InEpsilon(t, c.ref.Entropy(), c.gg.Entropy(), 1e-14)
		require.InDelta(t, c.exKurt, c.gg.ExKurtosis(), 1e-13)
	}
}

// hostRequireClose requires actual to be within rel relative of expected, or
// both to be below 1e-300 (underflow of either side).
func hostRequireClose(t *testing.T, expected, actual, rel float64, msg string) {
	t.Helper()
	if math.Abs(expected) < 1e-300 && math.Abs(actual) < 1e-300 {
		return
	}
	require.InEpsilon(t, expected, actual, rel, msg)
}

// hostHalfLineIntegral integrates g over z in (from, inf), for g with the decay of
// a GG density of scale alpha and shape beta: 20-point Gauss-Legendre panels, each
// spanning at most a factor 2 in z and at most an increase of 2 in
// t = (z/alpha)^beta (a factor e^-2 in the density), until t has grown by 800
// (the density fell by e^-800). On such panels exp(-t) is analytic and tame even for beta < 1 (the cusp
// at z = 0 is left to a first panel [0, alpha*1e-14] of negligible mass when
// from = 0) and steep beta, so the rule converges to ~1e-15 relative.
func hostHalfLineIntegral(g func(z float64) float64, alpha, beta, from float64) float64 {
	var sum float64
	lo := from
	if lo == 0 {
		lo = alpha * 1e-14
		sum = quad.Fixed(g, 0, lo, 20, quad.Legendre{}, 0)
	}
	tEnd := math.Pow(lo/alpha, beta) + 800
	for {
		tt := math.Pow(lo/alpha, beta)
		if tt >= tEnd {
			return sum
		}
		hi := math.Min(2*lo, alpha*math.Pow(tt+2, 1/beta))
		sum += quad.Fixed(g, lo, hi, 20, quad.Legendre{}, 0)
		lo = hi
	}
}

// TestMomentsByQuadrature checks Prob, Variance, ExKurtosis, Entropy and CDF
// against numerical quadrature of the density: the density integrates to 1, and
// its second and fourth central moments, its entropy -int f log f and its
// integral up to x match the closed forms to 1e-11 relative (quadrature error
// ~1e-15, plus rounding of the sums over ~150 panels).
func TestMomentsByQuadrature(t *testing.T) {
	for _, beta := range []float64{0.1, 0.3, 0.5, 1, 1.5, 2, 3, 4, 10} {
		d := Dist{Mu: 0.25, Alpha: 1.7, Beta: beta}
		half := func(g func(z float64) float64) float64 { return hostHalfLineIntegral(g, d.Alpha, d.Beta, 0) }
		mass := 2 * half(func(z float64) float64 { return d.Prob(d.Mu + z) })
		m2 := 2 * half(func(z float64) float64 { return z * z * d.Prob(d.Mu+z) })
		m4 := 2 * half(func(z float64) float64 { return z * z * z * z * d.Prob(d.Mu+z) })
		ent := 2 * half(func(z float64) float64 { return -d.Prob(d.Mu+z) * d.LogProb(d.Mu+z) })
		require.InDelta(t, 1, mass, 1e-11, "beta=%g: total mass", beta)
		require.InEpsilon(t, d.Variance(), m2, 1e-11, "beta=%g: variance", beta)
		require.InDelta(t, d.ExKurtosis(), m4/(m2*m2)-3, 1e-11*(d.ExKurtosis()+3), "beta=%g: excess kurtosis", beta)
		require.InDelta(t, d.Entropy(), ent, 1e-11*math.Max(1, math.Abs(d.Entropy())), "beta=%g: entropy", beta)
		require.InEpsilon(t, math.Sqrt(d.Variance()), d.StdDev(), 1e-15)
		// Mass between mu and mu+z against the CDF (absolute: CDF-1/2 saturates at
		// ulp(1/2) near the center), and mass beyond mu+z against Survival.
		for _, tt := range []float64{0.01, 0.5, 1, 3, 10, 100} {
			z := d.Alpha * math.Pow(tt, 1/beta)
			// In y = log(z'), from z*e^-60 (the mass below is ~e^-60 of the total).
			part := quad.Fixed(func(y float64) float64 { return d.Prob(d.Mu+math.Exp(y)) * math.Exp(y) },
				math.Log(z)-60, math.Log(z), 400, quad.Legendre{}, 0)
			require.InDelta(t, d.CDF(d.Mu+z)-0.5, part, 1e-10*part+2e-16, "beta=%g: mass up to t=%g", beta, tt)
			beyond := hostHalfLineIntegral(func(x float64) float64 { return d.Prob(d.Mu + x) }, d.Alpha, d.Beta, z)
			require.InEpsilon(t, d.Survival(d.Mu+z), beyond, 1e-10, "beta=%g: mass beyond t=%g", beta, tt)
		}
		require.Equal(t, d.Mu, d.Mean())
		require.Equal(t, d.Mu, d.Median())
		require.Equal(t, d.Mu, d.Mode())
		require.Equal(t, 0.0, d.Skewness())
		require.Equal(t, 3, d.NumParameters())
	}
}

// TestNew checks New's validation and the errors' wording.
func TestNew(t *testing.T) {
	d, err := New(1, 2, 3)
	require.NoError(t, err)
	require.Equal(t, Dist{Mu: 1, Alpha: 2, Beta: 3}, d)
	nan, inf := math.NaN(), math.Inf(1)
	for _, c := range []struct {
		mu, alpha, beta float64
		want            string
	}{
		{nan, 1, 1, "mu"}, {inf, 1, 1, "mu"}, {-inf, 1, 1, "mu"},
		{0, 0, 1, "alpha"}, {0, -1, 1, "alpha"}, {0, nan, 1, "alpha"}, {0, inf, 1, "alpha"},
		{0, 1, 0, "beta"}, {0, 1, -2, "beta"}, {0, 1, nan, "beta"}, {0, 1, inf, "beta"},
	} {
		_, err := New(c.mu, c.alpha, c.beta)
		require.Error(t, err, "New(%g, %g, %g)", c.mu, c.alpha, c.beta)
		require.Contains(t, err.Error(), c.want)
		require.Contains(t, err.Error(), "ggx:")
	}
}

// TestFromStdDev checks that FromStdDev sets the standard deviation, the known
// Gaussian and Laplacian scales, and that it panics on invalid input,
// including shapes so small that the scale underflows to 0 (beta = 1e-6
// gave a Dist with Alpha = 0, whose every method returns NaN).
func TestFromStdDev(t *testing.T) {
	for _, beta := range []float64{0.05, 0.3, 1, 2, 7, 50} {
		d := FromStdDev(-1, 0.02, beta)
		require.Equal(t, -1.0, d.Mu)
		require.Equal(t, beta, d.Beta)
		require.InEpsilon(t, 0.02, d.StdDev(), 1e-14, "beta=%g", beta)
	}
	require.InEpsilon(t, 0.5*math.Sqrt2, FromStdDev(0, 0.5, 2).Alpha, 1e-15)
	require.InEpsilon(t, 0.5/math.Sqrt2, FromStdDev(0, 0.5, 1).Alpha, 1e-15)
	for _, bad := range [][3]float64{{math.NaN(), 1, 1}, {0, 0, 1}, {0, -1, 1}, {0, math.Inf(1), 1}, {0, 1, 0}, {0, 1, math.NaN()}, {0, 1, 1e-6}, {0, 1, 0.001}, {0, 1e-300, 0.05}} {
		require.Panics(t, func() { FromStdDev(bad[0], bad[1], bad[2]) }, "FromStdDev(%v)", bad)
	}
}
