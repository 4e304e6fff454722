package optimizers

import (
	"fmt"
	"math"
	"sync"

	"github.com/ggprior/ggprior/ggx"
)

// ExpectedBits returns the expected order-k Exp-Golomb code length, in bits per
// element, of q = round(x/delta) for x drawn from a zero-mean GG of shape beta
// and scale alpha, with delta = c*alpha. It is exact (the GG mass of every
// quantization bin, summed by code length), up to a tail mass below 1e-15; q is
// saturated to the int32 range, as the codec does.
func ExpectedBits(beta, c float64, k int) float64 {
	d := ggx.Dist{Alpha: 1, Beta: beta}
	// P(q in [a, b]) for integers a <= b.
	mass := func(a, b float64) float64 {
		lo, hi := (a-0.5)*c, (b+0.5)*c
		if lo >= 0 {
			return d.Survival(lo) - d.Survival(hi)
		}
		return d.CDF(hi) - d.CDF(lo)
	}
	// u = MapSigned(q) in [2^k (2^m - 1), 2^k (2^(m+1) - 1) - 1] has length 2m + k + 1.
	// Positive q = (u+1)/2 for odd u, non-positive q = -u/2 for even u.
	var bits, covered float64
	maxLen := 0.0
	for m := 0; math.Ldexp(1, k)*(math.Ldexp(1, m)-1) <= math.MaxUint32; m++ {
		uLo := math.Ldexp(1, k) * (math.Ldexp(1, m) - 1)
		uHi := math.Ldexp(1, k)*(math.Ldexp(1, m+1)-1) - 1
		p := 0.0
		// Non-positive q: even u in [uLo, uHi] -> q in [-floor(uHi/2), -ceil(uLo/2)].
		p += mass(-math.Floor(uHi/2), -math.Ceil(uLo/2))
		// Positive q: odd u -> q = (u+1)/2 in [ceil((uLo+1)/2), floor((uHi+1)/2)].
		if qLo, qHi := math.Ceil((uLo+1)/2), math.Floor((uHi+1)/2); qLo <= qHi {
			p += mass(qLo, qHi)
		}
		bits += p * float64(2*m+k+1)
		maxLen = float64(2*m + k + 1)
		covered += p
		if 1-covered < 1e-15 {
			break
		}
	}
	// Values beyond the int32 range saturate to it (the longest code).
	return bits + math.Max(0, 1-covered)*maxLen
}

// stepForBits returns c = delta/alpha such that ExpectedBits(beta, c, k) = bits.
func stepForBits(beta, bits float64, k int) (float64, error) {
	minBits := float64(k + 1)
	if !(bits > minBits) {
		return 0, fmt.Errorf("optimizers: %g bits per element is not reachable with Exp-Golomb order %d (its minimum is %g, when every value is 0; "+
			"the rANS coder, CoderRANS or %s=%s, goes below)", bits, k, minBits, ParamCoder, CoderRANS)
	}
	// ExpectedBits decreases in c: bisect in log c.
	lo, hi := math.Log(1e-30), math.Log(1e30)
	for range 100 {
		mid := (lo + hi) / 2
		if ExpectedBits(beta, math.Exp(mid), k) > bits {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Exp((lo + hi) / 2), nil
}

const stepTableSize = 128

var stepTables sync.Map // "bits/k" -> *stepTable

// stepTableFor returns the (cached) table of log(c) = log(delta/alpha) over log(beta) in
// [log ggx.GraphBetaMin, log ggx.GraphBetaMax] for the target bits and order k.
func stepTableFor(bits float64, k int) (*ggx.Table, error) {
	key := fmt.Sprintf("%v/%d", bits, k)
	if t, ok := stepTables.Load(key); ok {
		return t.(*ggx.Table), nil
	}
	x0, x1 := math.Log(ggx.GraphBetaMin), math.Log(ggx.GraphBetaMax)
	t := &ggx.Table{X0: x0, H: (x1 - x0) / (stepTableSize - 1), Y: make([]float64, stepTableSize)}
	for i := range t.Y {
		c, err := stepForBits(math.Exp(x0+float64(i)*t.H), bits, k)
		if err != nil {
			return nil, err
		}
		t.Y[i] = math.Log(c)
	}
	actual, _ := stepTables.LoadOrStore(key, t)
	return actual.(*ggx.Table), nil
}
