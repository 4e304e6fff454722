package expgolomb

import "math/bits"

const (
	// lenBuckets is the number of possible bit lengths of a mapped value: 0 to 33.
	lenBuckets = 34

	// runLenBuckets is the number of possible bit lengths of a run of zeros (or any uint64): 0 to 64.
	runLenBuckets = 65

	// bestKSmall: mapped values below it are counted individually, in bestKLanes interleaved
	// histograms so that repeated values (zeros, mostly) don't serialize the increments.
	bestKSmall = 64
	bestKLanes = 4

	// bestKBlock is the number of values counted before the small histograms are folded into
	// the main one, which keeps their uint32 counters from overflowing.
	bestKBlock = 1 << 30
)

// BestK returns the order k in [0, MaxK] that minimises BitLen(qs, k), and that minimum. Ties
// go to the smallest k; an empty qs gives k = 0 and 0 bits.
//
// It makes a single pass over qs, building a small histogram that gives every code length
// exactly. With u = MapSigned(q), m = bits.Len64(u) and t = bits.Len64(^u & (2^m - 1)) (one
// plus the position of the highest zero bit of u below its leading one, or 0 if there is
// none), the order-k code of u takes k+1 bits if u < 2^k (that is k >= m), and otherwise
// 2*(m + [k >= t]) - k - 1 bits: adding 2^k to u carries into bit m exactly when the bits of u
// from k to m-1 are all ones, that is when k >= t.
func BestK(qs []int32) (k int, nbits int64) {
	var hist [lenBuckets * lenBuckets]int64
	var small [bestKLanes][bestKSmall]uint32
	for start := 0; start < len(qs); start += bestKBlock {
		block := qs[start:min(start+bestKBlock, len(qs))]
		i := 0
		for ; i+bestKLanes <= len(block); i += bestKLanes {
			u0, u1, u2, u3 := MapSigned(block[i]), MapSigned(block[i+1]), MapSigned(block[i+2]), MapSigned(block[i+3])
			if u0|u1|u2|u3 < bestKSmall {
				small[0][u0]++
				small[1][u1]++
				small[2][u2]++
				small[3][u3]++
				continue
			}
			for _, u := range [bestKLanes]uint64{u0, u1, u2, u3} {
				hist[lengthBucket(u, lenBuckets)]++
			}
		}
		for _, q := range block[i:] {
			hist[lengthBucket(MapSigned(q), lenBuckets)]++
		}
		for u := range uint64(bestKSmall) {
			var count int64
			for lane := range small {
				count += int64(small[lane][u])
				small[lane][u] = 0
			}
			hist[lengthBucket(u, lenBuckets)] += count
		}
	}
	return cheapestK(bitLensFromHistogram(hist[:], lenBuckets))
}

// cheapestK returns the order with the smallest cost, the smallest on ties, and that cost.
func cheapestK(costs [MaxK + 1]int64) (k int, nbits int64) {
	k, nbits = 0, costs[0]
	for kk := 1; kk <= MaxK; kk++ {
		if costs[kk] < nbits {
			k, nbits = kk, costs[kk]
		}
	}
	return k, nbits
}

// lengthBucket returns the histogram bucket m*stride + t of the coded value u (see BestK), for
// a histogram of stride*stride buckets: bits.Len64(u) must be below stride.
func lengthBucket(u uint64, stride int) int {
	m := bits.Len64(u)
	t := bits.Len64(^u & (uint64(1)<<m - 1))
	return m*stride + t
}

// bitLensFromHistogram returns the total code length for every k, given an (m, t) histogram of
// stride*stride buckets built with lengthBucket (see BestK).
func bitLensFromHistogram(hist []int64, stride int) (costs [MaxK + 1]int64) {
	for m := range stride {
		for t := 0; t <= m; t++ {
			count := hist[m*stride+t]
			if count == 0 {
				continue
			}
			for k := 0; k <= MaxK; k++ {
				var l int
				switch {
				case k >= m:
					l = k + 1
				case k >= t:
					l = 2*(m+1) - k - 1
				default:
					l = 2*m - k - 1
				}
				costs[k] += count * int64(l)
			}
		}
	}
	return costs
}
