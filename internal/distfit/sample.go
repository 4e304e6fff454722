package distfit

import (
	"hash/fnv"
	"math/bits"
	"math/rand/v2"
)

// DefaultSampleSize is the number of values Analyze fits when a tensor is larger
// and Options.SampleSize is 0. At this size the standard error of the fitted
// shape is about 0.3% of beta for beta near 1, well below the differences
// between layers, and the 1% critical value of the KS distance is 0.0036.
const DefaultSampleSize = 200_000

// tensorSeed returns the seed of the subsample of the tensor called name, derived
// from the run's seed and the name (FNV-1a), so that a tensor's subsample does not
// depend on which other tensors are analyzed or in what order.
func tensorSeed(seed uint64, name string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return seed ^ h.Sum64()
}

// sampleIndices returns k distinct indices drawn uniformly without replacement
// from [0, n), in increasing order, with a generator (PCG) seeded by seed: the
// same arguments always give the same indices. It returns nil when k <= 0 or
// k >= n, meaning "all values".
//
// It uses Floyd's algorithm (k random draws) with a bitmap of n bits, so its
// cost is O(k + n/64) time and n/8 bytes of memory, whatever the ratio k/n.
func sampleIndices(n, k int, seed uint64) []int {
	if k <= 0 || k >= n {
		return nil
	}
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	set := make([]uint64, (n+63)/64)
	has := func(i int) bool { return set[i/64]&(1<<(i%64)) != 0 }
	for j := n - k; j < n; j++ {
		t := r.IntN(j + 1)
		if has(t) {
			t = j
		}
		set[t/64] |= 1 << (t % 64)
	}
	out := make([]int, 0, k)
	for w, word := range set {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			out = append(out, 64*w+b)
			word &= word - 1
		}
	}
	return out
}

// Gather returns values[i] for each i in indices (values itself when indices is
// nil).
func Gather(values []float64, indices []int) []float64 {
	if indices == nil {
		return values
	}
	out := make([]float64, len(indices))
	for j, i := range indices {
		out[j] = values[i]
	}
	return out
}
