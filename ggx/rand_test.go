package ggx

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// hostRandBetas are the shapes of the sampling and fitting tests.
var hostRandBetas = []float64{0.3, 0.5, 1, 1.5, 2, 3, 4}

// hostKS99 is the 99% critical value of the Kolmogorov-Smirnov distance for n
// values, from the asymptotic Kolmogorov distribution: P(sqrt(n) D > 1.628) = 1%.
func hostKS99(n int) float64 { return 1.628 / math.Sqrt(float64(n)) }

// hostDraw returns n values drawn with d.Rand from a PCG source seeded with seed.
func hostDraw(d Dist, seed uint64, n int) []float64 {
	d.Src = rand.NewPCG(seed, 0x6767)
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = d.Rand()
	}
	return xs
}

// hostAbsMoment returns E|X-mu|^k = alpha^k Gamma((k+1)/beta) / Gamma(1/beta).
func hostAbsMoment(d Dist, k int) float64 {
	return math.Pow(d.Alpha, float64(k)) * math.Exp(hostLgamma(float64(k+1)/d.Beta)-hostLgamma(1/d.Beta))
}

// hostMeanVar returns the sample mean and the (1/n) sample variance.
func hostMeanVar(xs []float64) (mean, variance float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		variance += (x - mean) * (x - mean)
	}
	return mean, variance / float64(len(xs))
}

// TestRandKS draws 1e5 values for each shape and checks them against the CDF: the
// Kolmogorov-Smirnov distance is below the 99% critical value 1.63/sqrt(n), and
// the sample mean and variance are within 5 standard errors of Mu and Variance
// (SE of the mean sqrt(Var/n), of the variance sqrt((mu4 - Var^2)/n)).
func TestRandKS(t *testing.T) {
	const n = 100000
	for i, beta := range hostRandBetas {
		d := Dist{Mu: 0.7, Alpha: 1.3, Beta: beta}
		xs := hostDraw(d, uint64(100+i), n)
		ks := KS(xs, d)
		require.Less(t, ks, hostKS99(n), "beta=%g: KS distance", beta)

		mean, variance := hostMeanVar(xs)
		v := d.Variance()
		seMean := math.Sqrt(v / n)
		seVar := math.Sqrt((hostAbsMoment(d, 4) - v*v) / n)
		require.InDelta(t, d.Mu, mean, 5*seMean, "beta=%g: mean", beta)
		require.InDelta(t, v, variance, 5*seVar, "beta=%g: variance", beta)
	}
}

// TestRandExtremeShapes checks sampling at the ends of the supported range and
// beyond (beta = 0.05: G^20 with G ~ Gamma(20); beta = 50 and 1000: the shape<1
// boost written as G(a+1)^(1/beta) * U, which cannot underflow): all values are
// finite, and the KS distance on 2e4 values is below the 99% critical value.
func TestRandExtremeShapes(t *testing.T) {
	const n = 20000
	for i, beta := range []float64{0.05, 0.1, 10, 50, 1000} {
		d := Dist{Mu: -2, Alpha: 0.5, Beta: beta}
		xs := hostDraw(d, uint64(200+i), n)
		for _, x := range xs {
			require.False(t, math.IsNaN(x) || math.IsInf(x, 0), "beta=%g", beta)
		}
		require.Less(t, KS(xs, d), hostKS99(n), "beta=%g: KS distance", beta)
	}
}

// TestRandSource checks that a seeded Src makes Rand reproducible, that it does
// not allocate, and that a nil Src uses the global source (a plausibility check
// of the mean within 6 standard errors: not seedable, so the bound is chosen to
// fail with probability ~2e-9).
func TestRandSource(t *testing.T) {
	d := Dist{Mu: 1, Alpha: 2, Beta: 0.7}
	require.Equal(t, hostDraw(d, 5, 100), hostDraw(d, 5, 100))
	require.NotEqual(t, hostDraw(d, 5, 100), hostDraw(d, 6, 100))

	d.Src = rand.NewPCG(1, 2)
	require.Zero(t, testing.AllocsPerRun(1000, func() { d.Rand() }), "Rand with Src allocates")
	d.Src = nil
	require.Zero(t, testing.AllocsPerRun(1000, func() { d.Rand() }), "Rand with the global source allocates")

	const n = 20000
	var sum float64
	for range n {
		sum += d.Rand()
	}
	require.InDelta(t, d.Mu, sum/n, 6*math.Sqrt(d.Variance()/n))
}

// BenchmarkRand measures one draw (beta = 1.4, seeded PCG source).
func BenchmarkRand(b *testing.B) {
	d := Dist{Mu: 0, Alpha: 1, Beta: 1.4, Src: rand.NewPCG(1, 2)}
	var s float64
	for b.Loop() {
		s += d.Rand()
	}
	_ = s
}
