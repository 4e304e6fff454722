//go:build goexperiment.simd

package layers

import (
	"simd/archsimd"
	"unsafe"
)

func init() {
	if archsimd.X86.AVX512() {
		skipZerosRow = simdSkipZerosRow
	}
}

// simdSkipZerosRow is skipZerosRow with the output row in AVX-512 registers,
// for widths that are multiples of 128 (8 vectors of 16 float32); other
// widths take the scalar kernel.
func simdSkipZerosRow(a, w, out []float32) {
	width := len(out)
	if width%128 != 0 {
		skipZerosRowScalar(a, w, out)
		return
	}
	// The activations are read as bits: scalar float instructions between
	// AVX-512 ones pay a state-transition penalty (about 100x here).
	bits := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(a))), len(a))
	for block := 0; block < width; block += 128 {
		var acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7 archsimd.Float32x16
		for c, v := range bits {
			if v&0x7fff_ffff == 0 { // +0 or -0.
				continue
			}
			row := w[c*width+block : c*width+block+128]
			x := archsimd.BroadcastUint32x16(v).AsFloat32x16()
			acc0 = archsimd.LoadFloat32x16Slice(row[0:16]).MulAdd(x, acc0)
			acc1 = archsimd.LoadFloat32x16Slice(row[16:32]).MulAdd(x, acc1)
			acc2 = archsimd.LoadFloat32x16Slice(row[32:48]).MulAdd(x, acc2)
			acc3 = archsimd.LoadFloat32x16Slice(row[48:64]).MulAdd(x, acc3)
			acc4 = archsimd.LoadFloat32x16Slice(row[64:80]).MulAdd(x, acc4)
			acc5 = archsimd.LoadFloat32x16Slice(row[80:96]).MulAdd(x, acc5)
			acc6 = archsimd.LoadFloat32x16Slice(row[96:112]).MulAdd(x, acc6)
			acc7 = archsimd.LoadFloat32x16Slice(row[112:128]).MulAdd(x, acc7)
		}
		o := out[block : block+128]
		acc0.StoreSlice(o[0:16])
		acc1.StoreSlice(o[16:32])
		acc2.StoreSlice(o[32:48])
		acc3.StoreSlice(o[48:64])
		acc4.StoreSlice(o[64:80])
		acc5.StoreSlice(o[80:96])
		acc6.StoreSlice(o[96:112])
		acc7.StoreSlice(o[112:128])
	}
}
