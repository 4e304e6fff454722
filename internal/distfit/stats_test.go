package distfit

import (
	"math"
	"math/rand/v2"

	"github.com/ggprior/ggprior/ggx"
	"gonum.org/v1/gonum/mathext"
)

// Standard errors of the shape estimates, from which the tests derive their
// tolerances (4 standard errors: a false failure about once in 16,000 runs).

// trigamma returns psi'(x) by a central difference of the digamma function
// (accurate to ~1e-8, plenty for a standard error).
func trigamma(x float64) float64 {
	const h = 1e-4
	return (mathext.Digamma(x+h) - mathext.Digamma(x-h)) / (2 * h)
}

// seBetaMLE returns the asymptotic standard error of the maximum-likelihood shape
// of a GG with shape b from n values, from the Fisher information of (alpha,
// beta): with t = (|x-mu|/alpha)^b ~ Gamma(k=1/b, 1), the scores are
// (b t - 1)/alpha and 1/b + psi(k)/b^2 - t log(t)/b, whence
//
//	I_aa = b/alpha^2, I_ab = -k (1 + psi(k+1))/alpha,
//	I_bb = Var(t log t)/b^2 = (k(k+1)(psi(k+2)^2 + psi'(k+2)) - k^2 psi(k+1)^2)/b^2,
//
// and Var(beta) = 1/(n (I_bb - I_ab^2/I_aa)). The location is asymptotically
// orthogonal to both for a symmetric density.
func seBetaMLE(b float64, n int) float64 {
	k := 1 / b
	varTLogT := k*(k+1)*(math.Pow(mathext.Digamma(k+2), 2)+trigamma(k+2)) - k*k*math.Pow(mathext.Digamma(k+1), 2)
	schur := varTLogT/(b*b) - k*k*math.Pow(1+mathext.Digamma(k+1), 2)/b
	return 1 / math.Sqrt(float64(n)*schur)
}

// absMoment returns E|x-mu|^r for a GG of shape b and scale 1.
func absMoment(r, b float64) float64 {
	l1, _ := math.Lgamma((r + 1) / b)
	l0, _ := math.Lgamma(1 / b)
	return math.Exp(l1 - l0)
}

// seBetaMoment returns the asymptotic standard error of the moment-ratio shape by
// the delta method: rho = m2/m1^2 from the sample means of |x| and x^2 (whose
// covariance follows from the absolute moments), divided by |d rho/d beta|.
// Estimating the mean does not change the first-order variance for a symmetric
// density.
func seBetaMoment(b float64, n int) float64 {
	m1, m2, m3, m4 := absMoment(1, b), absMoment(2, b), absMoment(3, b), absMoment(4, b)
	g1, g2 := -2*m2/(m1*m1*m1), 1/(m1*m1)
	varRho := g1*g1*(m2-m1*m1) + g2*g2*(m4-m2*m2) + 2*g1*g2*(m3-m1*m2)
	rho := func(b float64) float64 { return absMoment(2, b) / math.Pow(absMoment(1, b), 2) }
	const h = 1e-5
	dRho := (rho(b+h) - rho(b-h)) / (2 * h)
	return math.Sqrt(varRho/float64(n)) / math.Abs(dRho)
}

// ggSamples returns n draws from the GG with the given parameters, seeded.
func ggSamples(n int, mu, alpha, beta float64, seed uint64) []float64 {
	d := ggx.Dist{Mu: mu, Alpha: alpha, Beta: beta, Src: rand.NewPCG(seed, 99)}
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = d.Rand()
	}
	return xs
}

// distOf returns a standard GG of the given shape.
func distOf(beta float64) ggx.Dist { return ggx.Dist{Alpha: 1, Beta: beta} }
