package expgolomb

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMapSigned(t *testing.T) {
	for q, want := range map[int32]uint64{
		0: 0, 1: 1, -1: 2, 2: 3, -2: 4, 3: 5, -3: 6,
		math.MaxInt32:     1<<32 - 3,
		math.MinInt32 + 1: 1<<32 - 2,
		math.MinInt32:     1 << 32,
	} {
		require.Equalf(t, want, MapSigned(q), "MapSigned(%d)", q)
		got, ok := UnmapSigned(want)
		require.Truef(t, ok, "UnmapSigned(%d)", want)
		require.Equal(t, q, got)
	}
	for _, u := range []uint64{MaxMapped - 1, MaxMapped + 1, math.MaxUint64} {
		_, ok := UnmapSigned(u)
		require.Falsef(t, ok, "UnmapSigned(%d) should fail", u)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		q := int32(rng.Uint32())
		u := MapSigned(q)
		want := uint64(2 * int64(q))
		if q > 0 {
			want = uint64(2*int64(q) - 1)
		} else {
			want = uint64(-2 * int64(q))
		}
		require.Equal(t, want, u)
		got, ok := UnmapSigned(u)
		require.True(t, ok)
		require.Equal(t, q, got)
	}
}

func TestCodeLen(t *testing.T) {
	// k = 0: 1 bit for zero, 3 bits for ±1, 5 for ±2 and ±3, 7 for ±4..±7, 9 for ±8..±15.
	for q, want := range map[int32]int{0: 1, 1: 3, -1: 3, 2: 5, -2: 5, 3: 5, -3: 5, 4: 7, -4: 7, -7: 7, 7: 7, 8: 9, -8: 9} {
		require.Equalf(t, want, CodeLen(q, 0), "CodeLen(%d, 0)", q)
	}
	require.Equal(t, MaxCodeLen, CodeLen(math.MinInt32, 0))
	require.Equal(t, 63, CodeLen(math.MaxInt32, 0))
	for k := 0; k <= MaxK; k++ {
		require.Equal(t, k+1, CodeLen(0, k))
		require.Equal(t, MaxCodeLen-k, CodeLen(math.MinInt32, k))
		// Formula of the method notes, with floating-point log2 on small values.
		for q := int32(-1000); q <= 1000; q++ {
			u := MapSigned(q)
			want := 2*int(math.Floor(math.Log2(float64(u+1<<k)))) - k + 1
			require.Equal(t, want, CodeLen(q, k))
		}
	}
	require.Panics(t, func() { CodeLen(0, -1) })
	require.Panics(t, func() { CodeLen(0, MaxK+1) })
	require.Panics(t, func() { BitLen(nil, MaxK+1) })
}

func TestBitLen(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	qs := logUniformInts(rng, 1000)
	for k := 0; k <= MaxK; k++ {
		var want int64
		for _, q := range qs {
			want += int64(CodeLen(q, k))
		}
		require.Equal(t, want, BitLen(qs, k))
	}
	require.Zero(t, BitLen(nil, 3))
}

func TestBestK(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	check := func(name string, qs []int32) {
		bestK, bestBits := 0, BitLen(qs, 0)
		for k := 1; k <= MaxK; k++ {
			if b := BitLen(qs, k); b < bestBits {
				bestK, bestBits = k, b
			}
		}
		k, nbits := BestK(qs)
		require.Equalf(t, bestK, k, "%s: k", name)
		require.Equalf(t, bestBits, nbits, "%s: bits", name)

		// The histogram gives the exact BitLen for every k, not just the best.
		var hist [lenBuckets * lenBuckets]int64
		for _, q := range qs {
			u := MapSigned(q)
			m := bitLenU(u)
			bucket := m*lenBuckets + bitLenU(^u&(uint64(1)<<m-1))
			require.Equal(t, int(bucket), lengthBucket(u, lenBuckets))
			hist[bucket]++
		}
		costs := bitLensFromHistogram(hist[:], lenBuckets)
		for k := 0; k <= MaxK; k++ {
			require.Equalf(t, BitLen(qs, k), costs[k], "%s: BitLen(k=%d)", name, k)
		}
	}
	check("empty", nil)
	check("zeros", make([]int32, 100))
	check("short", []int32{3, -1, 200})
	check("small then large", append(make([]int32, 7), 1000, 0, 0, 5, -1<<20, 1, 2, 3))
	check("uniform", uniformInts(rng, 5000))
	check("log-uniform", logUniformInts(rng, 5000))
	for _, beta := range []float64{0.3, 0.5, 1} {
		xs := generalizedGaussian(rng, 5000, beta)
		for _, delta := range []float64{1e-3, 0.01, 0.1, 1, 10} {
			check("gg", quantize(xs, delta))
		}
	}
	// Large values make large k optimal.
	big := make([]int32, 1000)
	for i := range big {
		big[i] = int32(rng.IntN(1<<20)) + 1<<28
	}
	check("big", big)
	k, _ := BestK(big)
	require.Greater(t, k, 20)
}

// bitLenU is bits.Len64 returning a uint.
func bitLenU(u uint64) uint {
	n := uint(0)
	for ; u != 0; u >>= 1 {
		n++
	}
	return n
}
