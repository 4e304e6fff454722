package ggx

import (
	"math"
	"math/rand/v2"
)

// globalSource is a rand.Source drawing from the global generator of
// math/rand/v2, so that Rand can use the same code path (and no allocation) with
// or without a user-provided Src.
type globalSource struct{}

// Uint64 implements rand.Source with the global math/rand/v2 generator.
func (globalSource) Uint64() uint64 { return rand.Uint64() }

// Rand returns a random sample drawn from the distribution, using Src (or the
// global math/rand/v2 source when Src is nil).
//
// It is exact in distribution: with G ~ Gamma(1/Beta, 1) and S = +-1 with equal
// probability, X = Mu + S * Alpha * G^(1/Beta), so that (|X-Mu|/Alpha)^Beta = G.
// G is drawn with the Marsaglia-Tsang method (rejection from a transformed
// normal, exact for shape >= 1). For shape a = 1/Beta < 1 it uses the
// boost G(a) = G(a+1) * U^(1/a) with U uniform on (0, 1), and since a*Beta = 1
// the sample is Alpha * G(a+1)^(1/Beta) * U, which cannot underflow however
// large Beta is.
//
// Each call consumes a variable number of values from the source (the rejection
// loop accepts with probability above 0.95); it does not allocate.
func (d Dist) Rand() float64 {
	src := d.Src
	if src == nil {
		src = globalSource{}
	}
	r := rand.New(src)
	return d.Mu + d.Alpha*stdGGRand(r, d.Beta)
}

// stdGGRand returns a sample of the standard GG distribution (Mu = 0, Alpha = 1)
// with shape beta.
func stdGGRand(r *rand.Rand, beta float64) float64 {
	a := 1 / beta
	var v float64
	if a >= 1 {
		v = math.Pow(marsagliaTsang(r, a), a)
	} else {
		v = math.Pow(marsagliaTsang(r, a+1), a) * openUniform(r)
	}
	if r.Uint64()&1 != 0 {
		return -v
	}
	return v
}

// openUniform returns a uniform sample on the open interval (0, 1): the
// midpoints of the 2^53 cells of width 2^-53.
func openUniform(r *rand.Rand) float64 {
	return (float64(r.Uint64()>>11) + 0.5) * (1.0 / (1 << 53))
}

// marsagliaTsang returns a Gamma(shape, 1) sample for shape >= 1, with the method
// of Marsaglia and Tsang, "A simple method for generating gamma variables", ACM
// TOMS 26(3), 2000: with d = shape - 1/3, c = 1/sqrt(9d), Z standard normal and
// V = (1 + cZ)^3, accept d*V when V > 0 and
// log(U) < Z^2/2 + d - d*V + d*log(V). The method is exact (a rejection sampler).
func marsagliaTsang(r *rand.Rand, shape float64) float64 {
	d := shape - 1.0/3.0
	c := 1 / math.Sqrt(9*d)
	for {
		z := r.NormFloat64()
		v := 1 + c*z
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := openUniform(r)
		z2 := z * z
		// Cheap squeeze (from the paper): accept without the logs most of the time.
		if u < 1-0.0331*z2*z2 {
			return d * v
		}
		if math.Log(u) < 0.5*z2+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
