package expgolomb

import "math/bits"

const (
	// MaxK is the largest supported Exp-Golomb order k. Orders are in [0, MaxK].
	MaxK = 30

	// MaxMapped is the largest value returned by [MapSigned]: the image of math.MinInt32.
	MaxMapped = uint64(1) << 32

	// MaxCodeLen is the length in bits of the longest code: math.MinInt32 with k = 0.
	// For a given k the longest code is MaxCodeLen - k bits long.
	MaxCodeLen = 65
)

// MapSigned maps a signed value to the unsigned value that is actually Exp-Golomb coded:
//
//	u = 2|q| - 1  for q > 0
//	u = 2|q|      for q <= 0
//
// So 0, 1, -1, 2, -2, ... map to 0, 1, 2, 3, 4, ...
// The result is a uint64 because math.MinInt32 maps to 2^32 ([MaxMapped]), one past the uint32
// range. All results are in [0, MaxMapped] except MaxMapped-1, which no int32 maps to.
//
// [UnmapSigned] is its inverse.
func MapSigned(q int32) uint64 {
	// Zig-zag coding of -q: (2x) ^ (x >> 63) maps 0, -1, 1, -2, 2, ... to 0, 1, 2, 3, 4, ...
	x := -int64(q)
	return uint64(x<<1 ^ x>>63)
}

// UnmapSigned is the inverse of [MapSigned]. It returns ok=false if u is not the image of any
// int32 (u > MaxMapped or u == MaxMapped-1), in which case q is undefined.
func UnmapSigned(u uint64) (q int32, ok bool) {
	if u > MaxMapped || u == MaxMapped-1 {
		return 0, false
	}
	return unmap(u), true
}

// unmap is UnmapSigned without validation: u must be a valid mapped value.
func unmap(u uint64) int32 {
	// -(x ^ m) is -x for even u (m = 0) and x+1 for odd u (m = -1, and -(^x) = x+1).
	x := int64(u >> 1)
	m := -int64(u & 1)
	return int32(-(x ^ m))
}

// CodeLen returns the length in bits of the order-k Exp-Golomb code of q:
// 2*floor(log2(MapSigned(q) + 2^k)) - k + 1.
//
// It panics if k is not in [0, MaxK].
func CodeLen(q int32, k int) int {
	checkK(k)
	return codeLen(MapSigned(q), uint(k))
}

// codeLen returns the code length of the mapped value u, for a valid k.
func codeLen(u uint64, k uint) int {
	return 2*bits.Len64(u+uint64(1)<<k) - int(k) - 1
}

// BitLen returns the total length in bits of the order-k Exp-Golomb codes of all values of qs:
// the sum of CodeLen(q, k), which is also the payload size produced by [AppendEncode] before
// padding to a whole byte: len(AppendEncode(nil, qs, k)) == (BitLen(qs, k)+7)/8.
//
// It panics if k is not in [0, MaxK].
func BitLen(qs []int32, k int) int64 {
	checkK(k)
	kk := uint(k)
	pow := uint64(1) << kk
	// Sum of 2*Len(u + 2^k) over the values, minus (k+1) per value.
	var sum int64
	for _, q := range qs {
		sum += int64(bits.Len64(MapSigned(q) + pow))
	}
	return 2*sum - int64(len(qs))*int64(k+1)
}
