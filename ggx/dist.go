package ggx

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Dist is the generalized Gaussian (GG) distribution, also known as the
// exponential power distribution, with density
//
//	f(x) = Beta / (2 * Alpha * Gamma(1/Beta)) * exp(-(|x - Mu| / Alpha)^Beta)
//
// Mu is the location (mean, median and mode), Alpha > 0 the scale and Beta > 0
// the shape: Beta = 2 is a Gaussian with standard deviation Alpha/sqrt(2),
// Beta = 1 a Laplacian with scale Alpha, Beta < 2 is peakier and heavier-tailed
// than a Gaussian and Beta > 2 flatter, tending to the uniform distribution on
// [Mu-Alpha, Mu+Alpha] as Beta grows.
//
// Dist follows the conventions of gonum's stat/distuv: it is a plain value whose
// fields may be set directly (New validates them, FromStdDev sets the scale from a
// standard deviation), it implements distuv.LogProber, distuv.Quantiler,
// distuv.Rander and distuv.RandLogProber, and Src is the source of randomness
// for Rand (nil: the global source of math/rand/v2). Methods on a Dist with
// invalid parameters return meaningless values (typically NaN).
//
// The CDF is computed through the regularized incomplete gamma function: with
// t = (|x-Mu|/Alpha)^Beta, the mass between Mu and x is P(1/Beta, t)/2 and the
// mass beyond x is Q(1/Beta, t)/2, each evaluated directly so both tails keep
// their relative accuracy down to the underflow threshold (~1e-308).
type Dist struct {
	// Mu is the location: mean, median and mode.
	Mu float64
	// Alpha is the scale, > 0.
	Alpha float64
	// Beta is the shape, > 0.
	Beta float64
	// Src is the source of randomness for Rand; nil uses the global source of
	// math/rand/v2.
	Src rand.Source
}

// New returns the GG distribution with location mu, scale alpha and shape beta,
// or an error naming the problem if mu is not finite or alpha or beta is not
// positive and finite. The returned Dist uses the global random source; set its
// Src field to use another.
func New(mu, alpha, beta float64) (Dist, error) {
	switch {
	case math.IsNaN(mu) || math.IsInf(mu, 0):
		return Dist{}, fmt.Errorf("ggx: location mu must be finite, got %g", mu)
	case !(alpha > 0) || math.IsInf(alpha, 1):
		return Dist{}, fmt.Errorf("ggx: scale alpha must be positive and finite, got %g", alpha)
	case !(beta > 0) || math.IsInf(beta, 1):
		return Dist{}, fmt.Errorf("ggx: shape beta must be positive and finite, got %g", beta)
	}
	return Dist{Mu: mu, Alpha: alpha, Beta: beta}, nil
}

// FromStdDev returns the GG distribution with location mu, shape beta and the scale
// alpha that gives it standard deviation std (see alphaFromStdDev):
//
//	alpha = std * sqrt(Gamma(1/beta) / Gamma(3/beta))
//
// For beta = 2 this is alpha = std*sqrt(2), for beta = 1 alpha = std/sqrt(2).
//
// Like gonum's distribution constructors it does not return an error: it panics,
// with a message naming the problem, if mu is not finite, if std or beta is not
// positive and finite, or if the scale they give is not a positive finite
// float64 (for std = 1 the scale underflows to 0 below beta ~ 0.006). Use New
// for validated construction from (mu, alpha, beta).
func FromStdDev(mu, std, beta float64) Dist {
	switch {
	case math.IsNaN(mu) || math.IsInf(mu, 0):
		panic(fmt.Sprintf("ggx: FromStdDev: location mu must be finite, got %g", mu))
	case !(std > 0) || math.IsInf(std, 1):
		panic(fmt.Sprintf("ggx: FromStdDev: standard deviation std must be positive and finite, got %g", std))
	case !(beta > 0) || math.IsInf(beta, 1):
		panic(fmt.Sprintf("ggx: FromStdDev: shape beta must be positive and finite, got %g", beta))
	}
	alpha := alphaFromStdDev(std, beta)
	if !(alpha > 0) || math.IsInf(alpha, 1) {
		panic(fmt.Sprintf("ggx: FromStdDev: the scale of shape beta=%g and standard deviation %g is %g, outside float64's range", beta, std, alpha))
	}
	return Dist{Mu: mu, Alpha: alpha, Beta: beta}
}

// alphaFromStdDev returns the scale alpha of a GG distribution with shape beta and
// standard deviation std: alpha = std * sqrt(Gamma(1/beta)/Gamma(3/beta)),
// computed with math.Lgamma so it neither overflows nor underflows for any shape
// (Gamma(1/beta) alone overflows for beta < ~0.0058).
func alphaFromStdDev(std, beta float64) float64 {
	l1, _ := math.Lgamma(1 / beta)
	l3, _ := math.Lgamma(3 / beta)
	return std * math.Exp(0.5*(l1-l3))
}

// logNorm returns log(beta / (2 alpha Gamma(1/beta))), the log of the density at
// the mode.
func (d Dist) logNorm() float64 {
	lg, _ := math.Lgamma(1 / d.Beta)
	return math.Log(d.Beta/(2*d.Alpha)) - lg
}

// LogProb returns the natural logarithm of the density at x:
//
//	log(Beta / (2 Alpha Gamma(1/Beta))) - (|x - Mu| / Alpha)^Beta
func (d Dist) LogProb(x float64) float64 {
	return d.logNorm() - math.Pow(math.Abs(x-d.Mu)/d.Alpha, d.Beta)
}

// Prob returns the density at x (see Dist for the formula).
func (d Dist) Prob(x float64) float64 {
	return math.Exp(d.LogProb(x))
}

// centralMass returns P(1/Beta, t) and Q(1/Beta, t) for t = (|x-Mu|/Alpha)^Beta:
// twice the probability mass between Mu and x, and twice the mass beyond x. Only
// the one asked for (upper: Q, else P) is computed.
//
// For t < incGammaSmallX (which includes t underflowing to 0 for large Beta,
// e.g. |x-Mu|/Alpha < 1e-6 at Beta = 50) it uses the closed form
// P = t^(1/Beta)/Gamma(1+1/Beta) = (|x-Mu|/Alpha)/Gamma(1+1/Beta), exact to double
// precision there, instead of the incomplete gamma function of a rounded t.
func (d Dist) centralMass(x float64, upper bool) float64 {
	a := 1 / d.Beta
	z := math.Abs(x-d.Mu) / d.Alpha
	t := math.Pow(z, d.Beta)
	if t < incGammaSmallX && z > 0 {
		lg1, _ := math.Lgamma(1 + a)
		p := math.Exp(math.Log(z) - lg1)
		if upper {
			return 1 - p
		}
		return p
	}
	if upper {
		return regIncGammaQ(a, t)
	}
	return regIncGammaP(a, t)
}

// CDF returns the cumulative distribution function at x, P(X <= x):
//
//	CDF(x) = 1/2 + sign(x-Mu)/2 * P(1/Beta, (|x-Mu|/Alpha)^Beta)
//
// with P the regularized lower incomplete gamma function. For x < Mu it is
// computed as Q(1/Beta, t)/2, so the lower tail keeps full relative accuracy
// down to ~1e-308; for x > Mu it is 1 - Q/2 and saturates at 1 once the
// survival probability falls below 2^-54 (use Survival there).
func (d Dist) CDF(x float64) float64 {
	if math.IsNaN(x) {
		return math.NaN()
	}
	if x < d.Mu {
		return 0.5 * d.centralMass(x, true)
	}
	return 0.5 + 0.5*d.centralMass(x, false)
}

// Survival returns the survival function at x, P(X > x) = 1 - CDF(x), computed
// by symmetry as Q(1/Beta, t)/2 for x > Mu (not as 1 - CDF), so the upper tail
// keeps full relative accuracy down to ~1e-308.
func (d Dist) Survival(x float64) float64 {
	if math.IsNaN(x) {
		return math.NaN()
	}
	if x > d.Mu {
		return 0.5 * d.centralMass(x, true)
	}
	return 0.5 + 0.5*d.centralMass(x, false)
}

// Quantile returns the inverse of the CDF: the x with CDF(x) = p. It panics if p
// is outside [0, 1] (or NaN), like gonum's distuv distributions; Quantile(0) is
// -Inf and Quantile(1) is +Inf.
//
// For p < 1/2 it solves Q(1/Beta, t) = 2p (see invRegIncGammaQ), so tiny lower-tail
// probabilities (down to the smallest subnormal) map to the correct x with full
// relative accuracy. For p > 1/2 the input 1-p is exact but p itself carries only
// absolute precision 2^-53: upper-tail quantiles are therefore resolved only down
// to survival probabilities of ~1e-16 (p saturates at 1 beyond). For the far upper
// tail use the symmetry Quantile_upper(s) = 2*Mu - Quantile(s). Near the center
// (p ~ 1/2) the result is accurate to about 1e-16/f(x) in absolute terms, the
// conditioning of the CDF there. The solve is carried in log t, so large shapes
// (where t = (|x-Mu|/Alpha)^Beta underflows near the center) lose nothing.
func (d Dist) Quantile(p float64) float64 {
	if !(p >= 0 && p <= 1) {
		panic("ggx: percentile out of bounds")
	}
	a := 1 / d.Beta
	if p < 0.5 {
		return d.Mu - d.Alpha*math.Exp(a*logInvRegIncGammaQ(a, 2*p))
	}
	return d.Mu + d.Alpha*math.Exp(a*logInvRegIncGammaQ(a, 2*(1-p)))
}

// Mean returns the mean of the distribution, Mu.
func (d Dist) Mean() float64 { return d.Mu }

// Median returns the median of the distribution, Mu.
func (d Dist) Median() float64 { return d.Mu }

// Mode returns the mode of the distribution, Mu.
func (d Dist) Mode() float64 { return d.Mu }

// NumParameters returns the number of parameters of the distribution: 3 (Mu,
// Alpha and Beta).
func (Dist) NumParameters() int { return 3 }

// Skewness returns the skewness of the distribution: 0, it is symmetric.
func (Dist) Skewness() float64 { return 0 }

// Variance returns the variance of the distribution:
//
//	Alpha^2 * Gamma(3/Beta) / Gamma(1/Beta)
func (d Dist) Variance() float64 {
	s := d.StdDev()
	return s * s
}

// StdDev returns the standard deviation of the distribution, the square root of
// Variance: Alpha * sqrt(Gamma(3/Beta) / Gamma(1/Beta)).
func (d Dist) StdDev() float64 {
	l1, _ := math.Lgamma(1 / d.Beta)
	l3, _ := math.Lgamma(3 / d.Beta)
	return d.Alpha * math.Exp(0.5*(l3-l1))
}

// ExKurtosis returns the excess kurtosis of the distribution:
//
//	Gamma(5/Beta) Gamma(1/Beta) / Gamma(3/Beta)^2 - 3
//
// 0 for the Gaussian (Beta = 2), 3 for the Laplacian (Beta = 1), -1.2 in the
// uniform limit (Beta -> Inf) and growing without bound as Beta -> 0.
func (d Dist) ExKurtosis() float64 {
	l1, _ := math.Lgamma(1 / d.Beta)
	l3, _ := math.Lgamma(3 / d.Beta)
	l5, _ := math.Lgamma(5 / d.Beta)
	return math.Exp(l5+l1-2*l3) - 3
}

// Entropy returns the differential entropy of the distribution, in nats:
//
//	1/Beta - log(Beta / (2 Alpha Gamma(1/Beta)))
func (d Dist) Entropy() float64 {
	return 1/d.Beta - d.logNorm()
}
