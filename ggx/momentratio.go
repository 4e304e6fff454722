package ggx

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// Range of shapes that the fits and the initializer support: Fit and FitMLE
// return an error for data whose shape estimate falls outside it, and Init
// refuses a shape outside it. At the low end the kurtosis is ~6e12 (the
// moment ratio ~4.1e4) and no realistic sample resolves the shape; at the
// high end the moment ratio is within 0.07% of the uniform distribution's
// 4/3. A Dist itself takes any shape > 0.
const (
	MinBeta = 0.05
	MaxBeta = 50.0
)

// momentRatio returns the ratio of the second moment to the squared first
// absolute moment of a GG distribution with shape beta,
//
//	rho(beta) = E[(X-mu)^2] / E[|X-mu|]^2 = Gamma(1/beta) Gamma(3/beta) / Gamma(2/beta)^2,
//
// computed with math.Lgamma so it does not overflow for small beta. It does not
// depend on mu or alpha, decreases strictly with beta, and equals pi/2 at beta = 2
// (Gaussian), 2 at beta = 1 (Laplacian) and tends to 4/3 (uniform) as beta grows.
func momentRatio(beta float64) float64 {
	return math.Exp(logMomentRatio(beta))
}

// logMomentRatio returns log(momentRatio(beta)).
func logMomentRatio(beta float64) float64 {
	l1, _ := math.Lgamma(1 / beta)
	l2, _ := math.Lgamma(2 / beta)
	l3, _ := math.Lgamma(3 / beta)
	return l1 + l3 - 2*l2
}

// dLogMomentRatio returns d log(rho) / d log(beta), which is negative:
//
//	-(1/beta) * (psi(1/beta) + 3 psi(3/beta) - 4 psi(2/beta))
func dLogMomentRatio(beta float64) float64 {
	b := 1 / beta
	return -b * (mathext.Digamma(b) + 3*mathext.Digamma(3*b) - 4*mathext.Digamma(2*b))
}

// betaFromMomentRatio returns the shape beta whose moment ratio (see momentRatio)
// is rho. The supported shapes are beta in [0.05, 50], i.e. rho in
// [momentRatio(50), momentRatio(0.05)] ~ [1.33416, 40546]; outside that it returns
// an error (rho < 4/3 is not reachable by any GG distribution, and rho <= 1 by no
// distribution at all).
//
// It solves log rho(beta) = log rho by Newton's method in log(beta), safeguarded
// by the bracket [log 0.05, log 50] (a step leaving the current bracket is
// replaced by bisection); log rho is smooth and monotone in log beta, so it
// converges in a handful of steps to ~1e-15 relative.
func betaFromMomentRatio(rho float64) (float64, error) {
	rhoLo, rhoHi := momentRatio(MaxBeta), momentRatio(MinBeta)
	if math.IsNaN(rho) || rho < rhoLo || rho > rhoHi {
		return math.NaN(), fmt.Errorf("ggx: moment ratio E[(x-m)^2]/E[|x-m|]^2 = %g is outside the supported range [%.6g, %.6g] (shape beta in [%g, %g]; 4/3 is the uniform limit, pi/2 a Gaussian, 2 a Laplacian)",
			rho, rhoLo, rhoHi, MinBeta, MaxBeta)
	}
	switch rho {
	case rhoLo:
		return MaxBeta, nil
	case rhoHi:
		return MinBeta, nil
	}
	target := math.Log(rho)
	lo, hi := math.Log(MinBeta), math.Log(MaxBeta)
	// Start from the Gaussian (u = log 2) or, for heavy tails, from the small-beta
	// asymptotics log rho ~ (3 log 3 - 4 log 2)/beta.
	u := math.Log(2)
	if rho > 4 {
		u = -math.Log(target / (3*math.Log(3) - 4*math.Log(2)))
		u = math.Min(math.Max(u, lo), hi)
	}
	for range 100 {
		beta := math.Exp(u)
		r := logMomentRatio(beta) - target
		if r == 0 {
			return beta, nil
		}
		if r > 0 { // rho(beta) too large: beta too small.
			lo = u
		} else {
			hi = u
		}
		next := u - r/dLogMomentRatio(beta)
		if !(next >= lo && next <= hi) {
			next = 0.5 * (lo + hi)
		}
		step := next - u
		u = next
		if math.Abs(step) < 1e-12 || hi-lo < 1e-15 {
			break
		}
	}
	return math.Exp(u), nil
}
