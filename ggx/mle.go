package ggx

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// FitMLE fits a GG distribution to xs by maximum likelihood.
//
// The location is estimated first, then Alpha and Beta by exact maximum
// likelihood given it:
//
//   - Mu is the sample median or the sample mean, whichever has the smaller
//     asymptotic variance at the pilot shape of the moment fit (see Fit): the
//     median when Gamma(1/b)^3 < b^2 Gamma(3/b), i.e. for b below ~1.4. For
//     b <= 1 the location MLE lies at a data point and the median is the
//     natural estimate (exactly the MLE for the Laplacian); for b = 2 the mean is
//     the MLE. Location and (Alpha, Beta) are asymptotically orthogonal for a
//     symmetric density, so this choice does not affect the efficiency of the
//     shape and scale estimates.
//   - Given Mu and Beta, the MLE of Alpha has the closed form
//     Alpha = (Beta/N * sum |x-Mu|^Beta)^(1/Beta); Beta maximizes the resulting
//     profile log-likelihood. It solves d/dBeta = 0, i.e.
//     1 + psi(1/B)/B + log(B/N sum|d|^B)/B - sum(|d|^B log|d|)/sum(|d|^B) = 0,
//     by Newton's method in log(Beta) using the digamma and trigamma functions,
//     starting from the moment fit. Newton is safeguarded: steps are capped at a
//     factor of e^0.5 in Beta, ascent is enforced where the profile is not concave,
//     and once the root is bracketed a step leaving the bracket is replaced by
//     bisection, so the iteration cannot diverge.
//
// Each iteration is one pass over the data; the logarithms of the absolute
// deviations are computed once, in a slice of len(xs) (plus a copy of xs for the
// median when it is used). It typically converges in 3 to 5 passes.
//
// It returns the same errors as Fit, plus an error when the likelihood is
// maximized at a shape outside the supported range [0.05, 50].
func FitMLE(xs []float64) (Dist, error) {
	pilot, err := Fit(xs)
	if err != nil {
		return Dist{}, err
	}
	return fitMLEFrom(xs, pilot, nil)
}

// medianMoreEfficient reports whether the sample median has a smaller asymptotic
// variance than the sample mean as an estimate of the location of a GG
// distribution with shape beta: Var(median) = 1/(4 f(mu)^2) =
// alpha^2 Gamma(1/b)^2/b^2 against Var(mean) = alpha^2 Gamma(3/b)/Gamma(1/b).
func medianMoreEfficient(beta float64) bool {
	l1, _ := math.Lgamma(1 / beta)
	l3, _ := math.Lgamma(3 / beta)
	return 3*l1 < 2*math.Log(beta)+l3
}

// fitMLEFrom runs FitMLE from the moment fit pilot (which holds the sample mean).
// sorted, if not nil, is a sorted copy of xs, used for the median.
func fitMLEFrom(xs []float64, pilot Dist, sorted []float64) (Dist, error) {
	mu := pilot.Mu
	if medianMoreEfficient(pilot.Beta) {
		if sorted != nil {
			mu = sortedMedian(sorted)
		} else {
			mu = sampleMedian(xs)
		}
	}

	// Deviations on a log scale, relative to the largest, so |d/s|^beta <= 1 never
	// overflows; zero deviations contribute 0 to every sum and are left out.
	var scale float64
	for _, x := range xs {
		if d := math.Abs(x - mu); d > scale {
			scale = d
		}
	}
	logs := make([]float64, 0, len(xs))
	for _, x := range xs {
		if d := math.Abs(x - mu); d > 0 {
			logs = append(logs, math.Log(d/scale))
		}
	}
	p := profile{n: float64(len(xs)), logs: logs}

	// Safeguarded Newton on g(u) = d ell/d beta at beta = e^u, with ell the
	// profile log-likelihood per sample (maximum where g = 0, g decreasing there).
	u := math.Log(pilot.Beta)
	uMin, uMax := math.Log(MinBeta), math.Log(MaxBeta)
	lo, hi := uMin, uMax // bracket; loSet/hiSet: g(lo) > 0, g(hi) < 0 observed.
	loSet, hiSet := false, false
	const maxStep = 0.5
	converged := false
	for range 100 {
		g, h := p.derivs(math.Exp(u))
		if u >= uMax && g > 0 || u <= uMin && g < 0 {
			return Dist{}, fmt.Errorf("ggx: the likelihood is maximized at a shape outside the supported range [%g, %g]",
				MinBeta, MaxBeta)
		}
		if g == 0 {
			converged = true
			break
		}
		if g > 0 {
			lo, loSet = u, true
		} else {
			hi, hiSet = u, true
		}
		// Newton step in u: g(u) as a function of u has derivative beta*h.
		var step float64
		if h < 0 {
			step = -g / (math.Exp(u) * h)
		} else {
			step = math.Copysign(maxStep, g) // not concave here: go uphill.
		}
		step = math.Max(-maxStep, math.Min(maxStep, step))
		next := math.Max(uMin, math.Min(uMax, u+step))
		if loSet && hiSet && !(next >= lo && next <= hi) {
			next = 0.5 * (lo + hi)
		}
		step = next - u
		u = next
		if math.Abs(step) < 1e-10 || loSet && hiSet && hi-lo < 1e-12 {
			converged = true
			break
		}
	}
	if !converged {
		return Dist{}, fmt.Errorf("ggx: the maximum-likelihood shape did not converge (last iterate beta = %g)", math.Exp(u))
	}
	beta := math.Exp(u)
	logS0, _, _ := p.sums(beta)
	alpha := scale * math.Exp((math.Log(beta/p.n)+logS0)/beta)
	return Dist{Mu: mu, Alpha: alpha, Beta: beta}, nil
}

// profile holds the data for the profile log-likelihood of the shape: the
// logarithms l_i of the non-zero absolute deviations from the location (scaled so
// that l_i <= 0), and the total number of values n (zero deviations included).
//
// With S0 = sum e^(b l_i), the profile log-likelihood per value (up to a constant
// of the scale) is
//
//	ell(b) = log b - log 2 - lgamma(1/b) - (1/b) log(b S0/n) - 1/b.
type profile struct {
	n    float64
	logs []float64
}

// sums returns log S0, S1/S0 and S2/S0 where Sk = sum l_i^k e^(b l_i).
func (p profile) sums(b float64) (logS0, m1, m2 float64) {
	var s0, s1, s2 float64
	for _, l := range p.logs {
		w := math.Exp(b * l)
		wl := w * l
		s0 += w
		s1 += wl
		s2 += wl * l
	}
	return math.Log(s0), s1 / s0, s2 / s0
}

// derivs returns the first and second derivatives of ell with respect to b:
//
//	ell'(b)  = 1/b + psi(1/b)/b^2 + log(b S0/n)/b^2 - (S1/S0)/b
//	ell''(b) = -1/b^2 - psi'(1/b)/b^4 - 2 psi(1/b)/b^3 + 1/b^3 - 2 log(b S0/n)/b^3
//	           + 2 (S1/S0)/b^2 - (S2/S0 - (S1/S0)^2)/b
func (p profile) derivs(b float64) (d1, d2 float64) {
	logS0, m1, m2 := p.sums(b)
	lb := math.Log(b) + logS0 - math.Log(p.n)
	psi := mathext.Digamma(1 / b)
	b2, b3 := b*b, b*b*b
	d1 = 1/b + psi/b2 + lb/b2 - m1/b
	d2 = -1/b2 - trigamma(1/b)/(b2*b2) - 2*psi/b3 + 1/b3 - 2*lb/b3 + 2*m1/b2 - (m2-m1*m1)/b
	return d1, d2
}
