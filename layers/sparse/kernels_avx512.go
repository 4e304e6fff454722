//go:build goexperiment.simd && amd64

package sparse

import (
	"math/bits"
	"simd/archsimd"
	"unsafe"
)

func init() {
	switch {
	case archsimd.X86.AVX512():
		kernels = kernelSet{sparse: sparseAVX512, dense: denseAVX512, zeros: zerosAVX512, threshold: thresholdAVX512, fused: true}
	case archsimd.X86.AVX():
		// The plain-Go kernels, after VZEROUPPER: a caller's AVX code can
		// leave scalar float instructions slow.
		kernels = kernelSet{
			sparse: func(dst, x, w, bias []float32, m, k, n, c0, c1 int) {
				archsimd.ClearAVXUpperBits()
				sparseGo(dst, x, w, bias, m, k, n, c0, c1)
			},
			dense: func(dst, x, w, bias []float32, m, k, n, c0, c1 int) {
				archsimd.ClearAVXUpperBits()
				denseGo(dst, x, w, bias, m, k, n, c0, c1)
			},
			zeros: func(x []float32) int {
				archsimd.ClearAVXUpperBits()
				return zerosGo(x)
			},
			threshold: func(x []float32, tau uint32) int {
				archsimd.ClearAVXUpperBits()
				return thresholdGo(x, tau)
			},
		}
	}
}

// The AVX-512 kernels keep a block of up to 64 columns of an output row (4
// vectors of 16 float32; two rows of them in the dense MatMul) in vector
// registers and add w's row i times x[i] to it by fused multiply-adds, i in
// order: over every i < k (dense) or over the indices of the non-zeros of x,
// compacted first (sparse). (With more columns per block the compiler, which
// gives these operations 15 vector registers, spills in the loop.) They read
// x as bits and use no scalar float instruction: after 512-bit instructions
// those can cost about 100x. Each kernel ends with VZEROUPPER for its
// caller's scalar code.

// chunk is the number of elements of x whose non-zeros' indices are compacted
// at a time (on the stack).
const chunk = 256

// iota16 is 0, 1, ..., 15.
var iota16 = [16]uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

func sparseAVX512(dst, x, w, bias []float32, m, k, n, c0, c1 int) {
	if k == 0 || c0 == c1 { // No multiply; and no pointer past w.
		sparseGo(dst, x, w, bias, m, k, n, c0, c1)
		return
	}
	archsimd.ClearAVXUpperBits() // For the scalar code that zeroes idx.
	var idx [chunk + 16]uint32
	ldw := uintptr(4 * n)
	xbits := unsafe.Slice((*uint32)(unsafe.Pointer(&x[0])), len(x))
	for r := range m {
		xp := unsafe.Pointer(&x[r*k])
		for k0 := 0; k0 < k; k0 += chunk {
			k1 := min(k0+chunk, k)
			nz := compact(xbits[r*k+k0:r*k+k1], k0, &idx)
			if nz > denseFrom*(k1-k0)/16 {
				// Adding the zeros' terms too gives the same bits, faster.
				denseRow(dst[r*n:(r+1)*n], unsafe.Pointer(&x[r*k+k0]), w[k0*n:], k1-k0, ldw, c0, c1, k0 == 0)
				continue
			}
			first := k0 == 0
			c := c0
			for ; c1-c >= 64; c += 64 {
				sparse4(unsafe.Pointer(&dst[r*n+c]), xp, unsafe.Pointer(&w[c]), idx[:nz], ldw, first)
			}
			if c1-c >= 32 {
				sparse2(unsafe.Pointer(&dst[r*n+c]), xp, unsafe.Pointer(&w[c]), idx[:nz], ldw, first)
				c += 32
			}
			for ; c < c1; c += 16 {
				sparse1(unsafe.Pointer(&dst[r*n+c]), xp, unsafe.Pointer(&w[c]), idx[:nz], ldw, first, lanes(c1-c))
			}
		}
		finish(dst[r*n:(r+1)*n], bias, c0, c1)
	}
	archsimd.ClearAVXUpperBits()
}

// denseFrom is the number of non-zeros in 16 elements of x from which the
// sparse kernel adds every term of a chunk of x instead.
const denseFrom = 13

func denseAVX512(dst, x, w, bias []float32, m, k, n, c0, c1 int) {
	if k == 0 || c0 == c1 {
		denseGo(dst, x, w, bias, m, k, n, c0, c1)
		return
	}
	ldw := uintptr(4 * n)
	r := 0
	for ; r+2 <= m; r += 2 {
		xp, yp := unsafe.Pointer(&x[r*k]), unsafe.Pointer(&x[(r+1)*k])
		c := c0
		for ; c1-c >= 64; c += 64 {
			dense4x2(unsafe.Pointer(&dst[r*n+c]), unsafe.Pointer(&dst[(r+1)*n+c]), xp, yp, unsafe.Pointer(&w[c]), k, ldw)
		}
		if c1-c >= 32 {
			dense2x2(unsafe.Pointer(&dst[r*n+c]), unsafe.Pointer(&dst[(r+1)*n+c]), xp, yp, unsafe.Pointer(&w[c]), k, ldw)
			c += 32
		}
		for ; c < c1; c += 16 {
			dense1x2(unsafe.Pointer(&dst[r*n+c]), unsafe.Pointer(&dst[(r+1)*n+c]), xp, yp, unsafe.Pointer(&w[c]), k, ldw, lanes(c1-c))
		}
		finish(dst[r*n:(r+1)*n], bias, c0, c1)
		finish(dst[(r+1)*n:(r+2)*n], bias, c0, c1)
	}
	if r < m {
		denseRow(dst[r*n:(r+1)*n], unsafe.Pointer(&x[r*k]), w, k, ldw, c0, c1, true)
		finish(dst[r*n:(r+1)*n], bias, c0, c1)
	}
	archsimd.ClearAVXUpperBits()
}

// denseRow adds to columns [c0, c1) of an output row (from +0 if first) the
// terms of k elements of x (x points at the first) and the rows of w that
// they scale (w's row 0 first), without the bias.
func denseRow(out []float32, x unsafe.Pointer, w []float32, k int, ldw uintptr, c0, c1 int, first bool) {
	c := c0
	for ; c1-c >= 64; c += 64 {
		dense4(unsafe.Pointer(&out[c]), x, unsafe.Pointer(&w[c]), k, ldw, first)
	}
	if c1-c >= 32 {
		dense2(unsafe.Pointer(&out[c]), x, unsafe.Pointer(&w[c]), k, ldw, first)
		c += 32
	}
	for ; c < c1; c += 16 {
		dense1(unsafe.Pointer(&out[c]), x, unsafe.Pointer(&w[c]), k, ldw, first, lanes(c1-c))
	}
}

// lanes returns the mask of the first min(cols, 16) lanes.
func lanes(cols int) archsimd.Mask32x16 {
	return archsimd.Mask32x16FromBits(uint16(1<<min(cols, 16) - 1))
}

// The functions marked go:nocheckptr load and store the last, partial vector
// of a row with masks (or archsimd's Load...SlicePart, which does the same):
// they touch only the lanes inside the slice, but they convert a pointer into
// it to a pointer to 16 elements, which can reach past the allocation and
// which checkptr (on with -race) would reject.

// compact writes the indices (plus k0) of the non-zeros of x, read as bits
// (x & 0x7fffffff != 0: not +0 nor -0), to idx in order and returns how many
// there are; len(x) <= chunk.
//
//go:nocheckptr
func compact(x []uint32, k0 int, idx *[chunk + 16]uint32) int {
	abs := archsimd.BroadcastUint32x16(0x7fff_ffff)
	iota := archsimd.LoadUint32x16(&iota16).Add(archsimd.BroadcastUint32x16(uint32(k0)))
	sixteen := archsimd.BroadcastUint32x16(16)
	nz := 0
	for i := 0; i < len(x); i += 16 {
		mask := archsimd.LoadUint32x16SlicePart(x[i:]).And(abs).NotEqual(archsimd.Uint32x16{})
		iota.Compress(mask).Store((*[16]uint32)(idx[nz:]))
		nz += bits.OnesCount16(mask.ToBits())
		iota = iota.Add(sixteen)
	}
	return nz
}

// finish computes row[c] = (row[c] + 0) + bias[c] (row[c] + 0 for a nil bias)
// for c0 <= c < c1.
//
//go:nocheckptr
func finish(row, bias []float32, c0, c1 int) {
	var zero archsimd.Float32x16
	for c := c0; c < c1; c += 16 {
		out := row[c:min(c+16, c1)]
		a := archsimd.LoadFloat32x16SlicePart(out).Add(zero)
		if bias != nil {
			a = a.Add(archsimd.LoadFloat32x16SlicePart(bias[c:min(c+16, c1)]))
		}
		a.StoreSlicePart(out)
	}
}

// broadcast returns x[i] in every lane.
func broadcast(x unsafe.Pointer, i uintptr) archsimd.Float32x16 {
	return archsimd.BroadcastUint32x16(*(*uint32)(unsafe.Add(x, 4*i))).AsFloat32x16()
}

// vec returns the j-th vector of 16 float32 from p.
func vec(p unsafe.Pointer, j int) *[16]float32 { return (*[16]float32)(unsafe.Add(p, 64*j)) }

// load returns the j-th vector of 16 float32 from p.
func load(p unsafe.Pointer, j int) archsimd.Float32x16 { return archsimd.LoadFloat32x16(vec(p, j)) }

// zerosAVX512 counts the +0 and -0 of x.
//
//go:nocheckptr
func zerosAVX512(x []float32) int {
	if len(x) == 0 {
		return 0
	}
	xbits := unsafe.Slice((*uint32)(unsafe.Pointer(&x[0])), len(x))
	abs := archsimd.BroadcastUint32x16(0x7fff_ffff)
	nonzeros := 0
	for i := 0; i < len(x); i += 16 {
		v := archsimd.LoadUint32x16SlicePart(xbits[i:])
		nonzeros += bits.OnesCount16(v.And(abs).NotEqual(archsimd.Uint32x16{}).ToBits())
	}
	archsimd.ClearAVXUpperBits()
	return len(x) - nonzeros
}

// thresholdAVX512 is Threshold's kernel: 16 values at a time, on their bits.
//
//go:nocheckptr
func thresholdAVX512(x []float32, tau uint32) int {
	if len(x) == 0 {
		return 0
	}
	xbits := unsafe.Slice((*uint32)(unsafe.Pointer(&x[0])), len(x))
	abs := archsimd.BroadcastUint32x16(0x7fff_ffff)
	lo := archsimd.BroadcastUint32x16(tau)
	inf := archsimd.BroadcastUint32x16(0x7f80_0000)
	nonzeros := 0
	for i := 0; i < len(x); i += 16 {
		v := archsimd.LoadUint32x16SlicePart(xbits[i:])
		a := v.And(abs)
		keep := a.GreaterEqual(lo).And(a.LessEqual(inf))
		v.Masked(keep).StoreSlicePart(xbits[i:])
		nonzeros += bits.OnesCount16(keep.And(a.NotEqual(archsimd.Uint32x16{})).ToBits())
	}
	archsimd.ClearAVXUpperBits()
	return len(x) - nonzeros
}

// sparse4 adds to 64 columns of an output row, in order, w's row i times x[i]
// for the i in idx (the non-zeros of x), by fused multiply-adds, starting from
// +0 (first) or from out. out points at the block's first output, x at the
// row of x, w at the block's column of w's row 0, ldw is w's row stride in
// bytes.
func sparse4(out, x, w unsafe.Pointer, idx []uint32, ldw uintptr, first bool) {
	var a0, a1, a2, a3 archsimd.Float32x16
	if !first {
		a0 = load(out, 0)
		a1 = load(out, 1)
		a2 = load(out, 2)
		a3 = load(out, 3)
	}
	for _, i := range idx {
		v := broadcast(x, uintptr(i))
		r := unsafe.Add(w, uintptr(i)*ldw)
		a0 = load(r, 0).MulAdd(v, a0)
		a1 = load(r, 1).MulAdd(v, a1)
		a2 = load(r, 2).MulAdd(v, a2)
		a3 = load(r, 3).MulAdd(v, a3)
	}
	a0.Store(vec(out, 0))
	a1.Store(vec(out, 1))
	a2.Store(vec(out, 2))
	a3.Store(vec(out, 3))
}

// sparse2 is sparse4 for 32 columns.
func sparse2(out, x, w unsafe.Pointer, idx []uint32, ldw uintptr, first bool) {
	var a0, a1 archsimd.Float32x16
	if !first {
		a0 = load(out, 0)
		a1 = load(out, 1)
	}
	for _, i := range idx {
		v := broadcast(x, uintptr(i))
		r := unsafe.Add(w, uintptr(i)*ldw)
		a0 = load(r, 0).MulAdd(v, a0)
		a1 = load(r, 1).MulAdd(v, a1)
	}
	a0.Store(vec(out, 0))
	a1.Store(vec(out, 1))
}

// sparse1 is sparse4 for the lanes of mask of 16 columns.
//
//go:nocheckptr
func sparse1(out, x, w unsafe.Pointer, idx []uint32, ldw uintptr, first bool, mask archsimd.Mask32x16) {
	var a0 archsimd.Float32x16
	if !first {
		a0 = archsimd.LoadMaskedFloat32x16((*[16]float32)(out), mask)
	}
	for _, i := range idx {
		v := broadcast(x, uintptr(i))
		r := unsafe.Add(w, uintptr(i)*ldw)
		a0 = archsimd.LoadMaskedFloat32x16((*[16]float32)(r), mask).MulAdd(v, a0)
	}
	a0.StoreMasked((*[16]float32)(out), mask)
}

// dense4 is sparse4 over every i < k.
func dense4(out, x, w unsafe.Pointer, k int, ldw uintptr, first bool) {
	var a0, a1, a2, a3 archsimd.Float32x16
	if !first {
		a0 = load(out, 0)
		a1 = load(out, 1)
		a2 = load(out, 2)
		a3 = load(out, 3)
	}
	for i := range uintptr(k) {
		v := broadcast(x, i)
		r := unsafe.Add(w, i*ldw)
		a0 = load(r, 0).MulAdd(v, a0)
		a1 = load(r, 1).MulAdd(v, a1)
		a2 = load(r, 2).MulAdd(v, a2)
		a3 = load(r, 3).MulAdd(v, a3)
	}
	a0.Store(vec(out, 0))
	a1.Store(vec(out, 1))
	a2.Store(vec(out, 2))
	a3.Store(vec(out, 3))
}

// dense2 is dense4 for 32 columns.
func dense2(out, x, w unsafe.Pointer, k int, ldw uintptr, first bool) {
	var a0, a1 archsimd.Float32x16
	if !first {
		a0 = load(out, 0)
		a1 = load(out, 1)
	}
	for i := range uintptr(k) {
		v := broadcast(x, i)
		r := unsafe.Add(w, i*ldw)
		a0 = load(r, 0).MulAdd(v, a0)
		a1 = load(r, 1).MulAdd(v, a1)
	}
	a0.Store(vec(out, 0))
	a1.Store(vec(out, 1))
}

// dense1 is dense4 for the lanes of mask of 16 columns.
//
//go:nocheckptr
func dense1(out, x, w unsafe.Pointer, k int, ldw uintptr, first bool, mask archsimd.Mask32x16) {
	var a0 archsimd.Float32x16
	if !first {
		a0 = archsimd.LoadMaskedFloat32x16((*[16]float32)(out), mask)
	}
	for i := range uintptr(k) {
		v := broadcast(x, i)
		r := unsafe.Add(w, i*ldw)
		a0 = archsimd.LoadMaskedFloat32x16((*[16]float32)(r), mask).MulAdd(v, a0)
	}
	a0.StoreMasked((*[16]float32)(out), mask)
}

// dense4x2 is dense4 for two rows of x (x, y) and of the output (out,
// out2), loading each vector of w once for both.
func dense4x2(out, out2, x, y, w unsafe.Pointer, k int, ldw uintptr) {
	var a0, a1, a2, a3, b0, b1, b2, b3 archsimd.Float32x16
	for i := range uintptr(k) {
		v := broadcast(x, i)
		u := broadcast(y, i)
		r := unsafe.Add(w, i*ldw)
		w0 := load(r, 0)
		w1 := load(r, 1)
		w2 := load(r, 2)
		w3 := load(r, 3)
		a0 = w0.MulAdd(v, a0)
		a1 = w1.MulAdd(v, a1)
		a2 = w2.MulAdd(v, a2)
		a3 = w3.MulAdd(v, a3)
		b0 = w0.MulAdd(u, b0)
		b1 = w1.MulAdd(u, b1)
		b2 = w2.MulAdd(u, b2)
		b3 = w3.MulAdd(u, b3)
	}
	a0.Store(vec(out, 0))
	a1.Store(vec(out, 1))
	a2.Store(vec(out, 2))
	a3.Store(vec(out, 3))
	b0.Store(vec(out2, 0))
	b1.Store(vec(out2, 1))
	b2.Store(vec(out2, 2))
	b3.Store(vec(out2, 3))
}

// dense2x2 is dense4x2 for 32 columns.
func dense2x2(out, out2, x, y, w unsafe.Pointer, k int, ldw uintptr) {
	var a0, a1, b0, b1 archsimd.Float32x16
	for i := range uintptr(k) {
		v := broadcast(x, i)
		u := broadcast(y, i)
		r := unsafe.Add(w, i*ldw)
		w0 := load(r, 0)
		w1 := load(r, 1)
		a0 = w0.MulAdd(v, a0)
		a1 = w1.MulAdd(v, a1)
		b0 = w0.MulAdd(u, b0)
		b1 = w1.MulAdd(u, b1)
	}
	a0.Store(vec(out, 0))
	a1.Store(vec(out, 1))
	b0.Store(vec(out2, 0))
	b1.Store(vec(out2, 1))
}

// dense1x2 is dense4x2 for the lanes of mask of 16 columns.
//
//go:nocheckptr
func dense1x2(out, out2, x, y, w unsafe.Pointer, k int, ldw uintptr, mask archsimd.Mask32x16) {
	var a0, b0 archsimd.Float32x16
	for i := range uintptr(k) {
		v := broadcast(x, i)
		u := broadcast(y, i)
		r := unsafe.Add(w, i*ldw)
		w0 := archsimd.LoadMaskedFloat32x16((*[16]float32)(r), mask)
		a0 = w0.MulAdd(v, a0)
		b0 = w0.MulAdd(u, b0)
	}
	a0.StoreMasked((*[16]float32)(out), mask)
	b0.StoreMasked((*[16]float32)(out2), mask)
}
