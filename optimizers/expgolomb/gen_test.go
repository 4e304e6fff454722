package expgolomb

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// gammaVariate draws from Gamma(shape, 1) with the Marsaglia–Tsang method, boosting shapes
// below 1 with Gamma(a) = Gamma(a+1) * U^(1/a).
func gammaVariate(rng *rand.Rand, shape float64) float64 {
	boost := 1.0
	if shape < 1 {
		boost = math.Pow(rng.Float64(), 1/shape)
		shape++
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return boost * d * v
		}
	}
}

// generalizedGaussian returns n samples of a zero-mean generalized Gaussian with shape beta
// and unit scale: X = ±G^(1/beta), G ~ Gamma(1/beta).
func generalizedGaussian(rng *rand.Rand, n int, beta float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		x := math.Pow(gammaVariate(rng, 1/beta), 1/beta)
		if rng.IntN(2) == 0 {
			x = -x
		}
		xs[i] = x
	}
	return xs
}

// quantize returns round(x/delta) for every x, saturated to the int32 range.
func quantize(xs []float64, delta float64) []int32 {
	qs := make([]int32, len(xs))
	for i, x := range xs {
		qs[i] = int32(max(math.MinInt32, min(math.MaxInt32, math.RoundToEven(x/delta))))
	}
	return qs
}

// deltaForBits returns the quantization step for which the order-0 code of round(xs/delta)
// takes about bitsPerValue bits per value, by bisection on log(delta) over a subsample.
func deltaForBits(xs []float64, bitsPerValue float64) float64 {
	sample := xs[:min(len(xs), 1<<16)]
	lo, hi := math.Log(1e-6), math.Log(1e6) // Larger delta means fewer bits.
	for range 60 {
		mid := (lo + hi) / 2
		got := float64(BitLen(quantize(sample, math.Exp(mid)), 0)) / float64(len(sample))
		if got > bitsPerValue {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Exp((lo + hi) / 2)
}

// ggInts returns n quantized generalized Gaussian values with shape beta, with the quantization
// step chosen for about bitsPerValue bits per value with k = 0. Results are cached: the
// benchmarks reuse them.
func ggInts(n int, beta, bitsPerValue float64) []int32 {
	return cachedInts(ggKey{n, beta, bitsPerValue}, func() []int32 {
		rng := rand.New(rand.NewPCG(uint64(n), math.Float64bits(beta)))
		xs := generalizedGaussian(rng, n, beta)
		return quantize(xs, deltaForBits(xs, bitsPerValue))
	})
}

type ggKey struct {
	n                  int
	beta, bitsPerValue float64
}

// sparseInts returns n sparse int8-range values, like quantized sparse activations: generalized
// Gaussian samples with shape beta, of which the fraction zeroFrac of smallest magnitudes (the
// threshold is estimated on a subsample) are set to zero, and the others quantized to
// [-127, 127] with the step max|x|/127. Results are cached.
func sparseInts(n int, beta, zeroFrac float64) []int32 {
	return cachedInts(sparseKey{n, beta, zeroFrac}, func() []int32 {
		rng := rand.New(rand.NewPCG(uint64(n)+1, math.Float64bits(beta)))
		xs := generalizedGaussian(rng, n, beta)
		mags := make([]float64, min(n, 1<<16))
		maxAbs := 0.0
		for i, x := range xs {
			if i < len(mags) {
				mags[i] = math.Abs(x)
			}
			maxAbs = max(maxAbs, math.Abs(x))
		}
		slices.Sort(mags)
		threshold := 0.0
		if len(mags) > 0 {
			threshold = mags[min(len(mags)-1, int(zeroFrac*float64(len(mags))))]
		}
		qs := quantize(xs, maxAbs/127)
		for i, x := range xs {
			if math.Abs(x) < threshold {
				qs[i] = 0
			}
		}
		return qs
	})
}

type sparseKey struct {
	n              int
	beta, zeroFrac float64
}

// cachedInts returns the values cached under key, made by gen on first use.
func cachedInts(key any, gen func() []int32) []int32 {
	intsCacheMu.Lock()
	defer intsCacheMu.Unlock()
	if qs, ok := intsCache[key]; ok {
		return qs
	}
	qs := gen()
	intsCache[key] = qs
	return qs
}

var (
	intsCacheMu sync.Mutex
	intsCache   = map[any][]int32{}
)

// uniformInts returns n uniformly distributed int32 values, with the extremes forced in.
func uniformInts(rng *rand.Rand, n int) []int32 {
	qs := make([]int32, n)
	for i := range qs {
		qs[i] = int32(rng.Uint32())
	}
	extremes := []int32{math.MinInt32, math.MaxInt32, math.MinInt32 + 1, math.MaxInt32 - 1, 0, 1, -1}
	for i, e := range extremes {
		if i < n {
			qs[rng.IntN(n)] = e
		}
	}
	return qs
}

// logUniformInts returns n values whose magnitudes are spread over all bit lengths: the most
// stressful mix of short and long codes.
func logUniformInts(rng *rand.Rand, n int) []int32 {
	qs := make([]int32, n)
	for i := range qs {
		qs[i] = int32(rng.Uint32()) >> rng.IntN(32)
	}
	return qs
}
