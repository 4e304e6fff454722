//go:build goexperiment.simd && amd64

package generate

import (
	"math"
	"math/bits"
	"simd/archsimd"
)

func init() {
	if archsimd.X86.AVX512() {
		softmax = softmaxAVX512
	}
}

// rotations[j] rotates 16 lanes by 8, 4, 2 and 1 (j = 0..3): four Max (or
// Add) steps with them leave the reduction of all lanes in every lane.
var rotations = func() (r [4][16]uint32) {
	for j, k := range []uint32{8, 4, 2, 1} {
		for i := range uint32(16) {
			r[j][i] = (i + k) % 16
		}
	}
	return r
}()

// splat returns f in every lane, from its bits (no scalar float instruction:
// after 512-bit ones those can be slow, see layers/sparse).
func splat(f float32) archsimd.Float32x16 {
	return archsimd.BroadcastUint32x16(math.Float32bits(f)).AsFloat32x16()
}

// Constants of expAVX512: Cephes' expf (range reduction by ln 2 in two
// parts, a degree-5 polynomial, relative error about 1 ulp).
var (
	expLog2e = splat(1.44269504088896341)
	expLn2Hi = splat(-0.693359375)
	expLn2Lo = splat(2.12194440e-4)
	expP     = [6]archsimd.Float32x16{splat(1.9875691500e-4), splat(1.3981999507e-3), splat(8.3334519073e-3),
		splat(4.1665795894e-2), splat(1.6666665459e-1), splat(5.0000001201e-1)}
	expMin = splat(-87.3)
	one    = splat(1)
)

// expAVX512 is exp(x) for x <= 0 in 16 lanes (x below -87.3 gives about
// exp(-87.3), a float32 normal far below any softmax term that counts).
func expAVX512(x archsimd.Float32x16) archsimd.Float32x16 {
	x = x.Max(expMin)
	n := x.Mul(expLog2e).RoundToEvenScaled(0)
	r := n.MulAdd(expLn2Hi, x)
	r = n.MulAdd(expLn2Lo, r)
	p := expP[0]
	for _, c := range expP[1:] {
		p = p.MulAdd(r, c)
	}
	y := p.Mul(r).MulAdd(r, r).Add(one) // p r^2 + r + 1.
	return y.Scale(n)
}

// softmaxAVX512 is softmax in float32, 16 lanes at a time.
//
//go:nocheckptr
func softmaxAVX512(p, s []float32, scale float32) {
	n := len(p)
	if n == 0 {
		return
	}
	s = s[:n]
	var rot [4]archsimd.Uint32x16
	for j := range rot {
		rot[j] = archsimd.LoadUint32x16(&rotations[j])
	}
	negInf := archsimd.BroadcastUint32x16(0xff80_0000).AsFloat32x16()
	best := negInf
	for i := 0; i < n; i += 16 {
		v := archsimd.LoadFloat32x16SlicePart(s[i:])
		best = best.Max(v.Merge(negInf, lanes(n-i)))
	}
	for _, r := range rot {
		best = best.Max(best.Permute(r))
	}
	sc := splat(scale)
	sum := archsimd.Float32x16{}
	for i := 0; i < n; i += 16 {
		e := expAVX512(archsimd.LoadFloat32x16SlicePart(s[i:]).Sub(best).Mul(sc)).Masked(lanes(n - i))
		e.StoreSlicePart(p[i:])
		sum = sum.Add(e)
	}
	for _, r := range rot {
		sum = sum.Add(sum.Permute(r))
	}
	inv := one.Div(sum)
	for i := 0; i < n; i += 16 {
		archsimd.LoadFloat32x16SlicePart(p[i:]).Mul(inv).StoreSlicePart(p[i:])
	}
	archsimd.ClearAVXUpperBits()
}

// lanes returns the mask of the first min(k, 16) lanes.
func lanes(k int) archsimd.Mask32x16 {
	return archsimd.Mask32x16FromBits(uint16(1<<min(k, 16) - 1))
}

func init() {
	if archsimd.X86.AVX512() {
		normRows = normRowsAVX512
		geluKept = geluKeptAVX512
	}
}

// normRowsAVX512 is normRows in float32, 16 lanes at a time: the mean and
// the mean square by lane-wise sums reduced across lanes, then one pass
// that scales (and shifts) the row.
//
//go:nocheckptr
func normRowsAVX512(dst, x, gain, bias []float32, m, W int, eps float64) {
	if W == 0 {
		return
	}
	var rot [4]archsimd.Uint32x16
	for j := range rot {
		rot[j] = archsimd.LoadUint32x16(&rotations[j])
	}
	reduce := func(v archsimd.Float32x16) archsimd.Float32x16 {
		for _, r := range rot {
			v = v.Add(v.Permute(r))
		}
		return v
	}
	invW, e := splat(float32(1/float64(W))), splat(float32(eps))
	for r := range m {
		row, out := x[r*W:(r+1)*W], dst[r*W:(r+1)*W]
		mean := archsimd.Float32x16{}
		if bias != nil {
			sum := archsimd.Float32x16{}
			for i := 0; i < W; i += 16 {
				sum = sum.Add(archsimd.LoadFloat32x16SlicePart(row[i:]))
			}
			mean = reduce(sum).Mul(invW)
		}
		ss := archsimd.Float32x16{}
		for i := 0; i < W; i += 16 {
			c := archsimd.LoadFloat32x16SlicePart(row[i:]).Sub(mean).Masked(lanes(W - i))
			ss = c.MulAdd(c, ss)
		}
		inv := reduce(ss).MulAdd(invW, e).Sqrt()
		inv = one.Div(inv)
		for i := 0; i < W; i += 16 {
			c := archsimd.LoadFloat32x16SlicePart(row[i:]).Sub(mean).Mul(inv).Mul(archsimd.LoadFloat32x16SlicePart(gain[i:]))
			if bias != nil {
				c = c.Add(archsimd.LoadFloat32x16SlicePart(bias[i:]))
			}
			c.StoreSlicePart(out[i:])
		}
	}
	archsimd.ClearAVXUpperBits()
}

// iota16 is 0, 1, ..., 15.
var iota16 = [16]int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// geluKeptAVX512 is geluKept 16 inputs at a time: the skip test as masks,
// zeros stored in every lane (the caller then writes the kept ones), the
// kept lanes' indices compressed to idx, which needs 16 elements of room
// past len(u).
//
//go:nocheckptr
func geluKeptAVX512(a, u []float32, s geluSkip, idx []int32) int {
	if len(u) == 0 {
		return 0
	}
	a = a[:len(u)]
	below, lo, hi := splat(s.below), splat(s.keepLo), splat(s.keepHi)
	iota := archsimd.LoadInt32x16(&iota16)
	sixteen := archsimd.BroadcastInt32x16(16)
	var zero archsimd.Float32x16
	n := 0
	for i := 0; i < len(u); i += 16 {
		v := archsimd.LoadFloat32x16SlicePart(u[i:])
		// Skipped: below and outside [lo, hi]; NaN compares false: kept.
		skipped := v.Less(below).And(v.Less(lo).Or(v.Greater(hi))).ToBits()
		keep := archsimd.Mask32x16FromBits(^skipped & uint16(1<<min(len(u)-i, 16)-1))
		zero.StoreSlicePart(a[i:]) // The kept lanes are written after, by the caller.
		iota.Compress(keep).StoreSlicePart(idx[n:])
		n += bits.OnesCount16(keep.ToBits())
		iota = iota.Add(sixteen)
	}
	archsimd.ClearAVXUpperBits()
	return n
}
