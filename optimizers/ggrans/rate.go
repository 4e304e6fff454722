package ggrans

import (
	"fmt"
	"math"
	"math/bits"
	"sync"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/optimizers/expgolomb"
)

// ExpectedBits returns the expected coded size, in bits per element, of q = round(x/step) for x
// drawn from a zero-mean GG of shape beta and scale alpha, with step = c*alpha, under this
// coder's model: the GG mass of each symbol times its cost ProbBits - log2(f) in the rANS stream,
// plus for the escaped values the expected length of their Exp-Golomb code, with the order the
// encoder picks for the model's tail (see escapeOrder). It excludes the fixed part of a frame
// (FrameOverhead bytes and about 144 bits of final rANS states), which is amortized over the
// elements. beta and c are clamped as in [NewModel]; it returns NaN if either is not positive
// and finite.
func ExpectedBits(beta, c float64) float64 {
	m, err := NewModel(beta, c)
	if err != nil {
		return math.NaN()
	}
	total := 0.0
	for s, p := range m.p {
		total += p * (ProbBits - math.Log2(float64(m.freq[s])))
	}
	return total + m.expectedEscapeBits()
}

// expectedEscapeBits returns the expected Exp-Golomb bits per element of the escaped values.
func (m *Model) expectedEscapeBits() float64 {
	pEsc := m.p[len(m.p)-1]
	if pEsc < 1e-15 {
		return 0
	}
	d := ggx.Dist{Alpha: 1, Beta: m.beta}
	z0 := (float64(m.k) + 0.5) * m.c
	// tail(a) = P(|q| - K - 1 >= a) on one side, for a real a >= 0.
	tail := func(a float64) float64 { return d.Survival(z0 + a*m.c) }
	// massU(lo, hi) = P(lo <= u < hi) for u = 2m + s, m = |q|-K-1, s = 1 for negative q: the
	// even u (positive q) have m in [ceil(lo/2), ceil(hi/2)), the odd ones m in
	// [ceil((lo-1)/2), ceil((hi-1)/2)).
	massU := func(lo, hi float64) float64 {
		even := tail(math.Ceil(lo/2)) - tail(math.Ceil(hi/2))
		odd := tail(math.Max(0, math.Ceil((lo-1)/2))) - tail(math.Max(0, math.Ceil((hi-1)/2)))
		return even + odd
	}
	// u is at most uMax, for q = math.MinInt32: larger values saturate to the int32 range, and
	// the mass beyond uMax (rest, below) is counted at uMax.
	const uMax = 1 << 32
	// The mean of u, from the classes [2^i - 1, 2^(i+1) - 1) of order 0, with their
	// geometric midpoints.
	sumU, covered := 0.0, 0.0
	for i := 0; i < 33 && pEsc-covered > 1e-12*pEsc; i++ {
		lo, hi := math.Ldexp(1, i)-1, math.Ldexp(1, i+1)-1
		p := massU(lo, hi)
		sumU += p * math.Sqrt(math.Max(lo, 0.5)*hi)
		covered += p
	}
	sumU += math.Max(0, pEsc-covered) * uMax
	k := min(max(0, bits.Len64(uint64(sumU/pEsc))-1), expgolomb.MaxK)
	// Order k: u in [2^k (2^j - 1), 2^k (2^(j+1) - 1)) takes 2j + k + 1 bits.
	total := 0.0
	covered = 0
	for j := 0; pEsc-covered > 1e-12*pEsc; j++ {
		lo, hi := math.Ldexp(math.Ldexp(1, j)-1, k), math.Ldexp(math.Ldexp(1, j+1)-1, k)
		if hi > uMax {
			// The last class, up to uMax, and the saturated values.
			total += (pEsc - covered) * float64(2*j+k+1)
			break
		}
		p := massU(lo, hi)
		total += p * float64(2*j+k+1)
		covered += p
	}
	return total
}

// StepForBits returns c = step/alpha for which ExpectedBits(beta, c) = bits: the quantization
// step, relative to the GG scale, that codes a GG(beta) tensor in about bits bits per element
// (plus the frame's fixed part). Unlike Exp-Golomb, bits may be below 1. It returns an error if
// beta is not positive and finite, or if bits is outside the range of ExpectedBits over
// [MinC, MaxC]: from 0.0015 bits (nearly every value 0) to about 35 bits per element.
func StepForBits(beta, bits float64) (float64, error) {
	if !(beta > 0) || math.IsInf(beta, 1) {
		return 0, fmt.Errorf("%w: beta must be positive and finite, got %g", ErrParameter, beta)
	}
	lo, hi := math.Log(MinC), math.Log(MaxC)
	if bmax, bmin := ExpectedBits(beta, MinC), ExpectedBits(beta, MaxC); !(bits > bmin && bits < bmax) {
		return 0, fmt.Errorf("%w: %g bits per element is out of reach for beta=%g: the coder takes from %.4g to %.4g",
			ErrParameter, bits, beta, bmin, bmax)
	}
	// ExpectedBits decreases in c (up to the rounding of the table): bisect in log c.
	for range 40 {
		mid := (lo + hi) / 2
		if ExpectedBits(beta, math.Exp(mid)) > bits {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Exp((lo + hi) / 2), nil
}

// stepTableSize is the number of points of a StepTable, over log(beta).
const stepTableSize = 256

var stepTables sync.Map // bits (float64) -> *ggx.Table

// StepTable returns the (cached) table of log(c) = log(step/alpha) over log(beta) in
// [log MinBeta, log MaxBeta], for a target of bits bits per element: in a graph,
// step = alpha * exp(t.Lookup(log(beta))) with beta and alpha from ggx.FitGraph. It is
// StepForBits on a uniform grid of 256 points, interpolated linearly (within 1% of the
// target rate in between). It returns StepForBits' error for a rate out of reach at some beta.
func StepTable(bits float64) (*ggx.Table, error) {
	if t, ok := stepTables.Load(bits); ok {
		return t.(*ggx.Table), nil
	}
	x0, x1 := math.Log(MinBeta), math.Log(MaxBeta)
	t := &ggx.Table{X0: x0, H: (x1 - x0) / (stepTableSize - 1), Y: make([]float64, stepTableSize)}
	for i := range t.Y {
		c, err := StepForBits(math.Exp(x0+float64(i)*t.H), bits)
		if err != nil {
			return nil, err
		}
		t.Y[i] = math.Log(c)
	}
	actual, _ := stepTables.LoadOrStore(bits, t)
	return actual.(*ggx.Table), nil
}
