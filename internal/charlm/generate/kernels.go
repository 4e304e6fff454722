package generate

import "math"

// softmax sets p[i] to the softmax of s[i]*scale over i < len(p) (s may be
// longer): exp((s[i] - max s)*scale) / sum. It is softmaxGo (float64) or,
// under GOEXPERIMENT=simd on a CPU with AVX-512, softmaxAVX512 (float32,
// 16 lanes): attention's softmax at every position of every head, a large
// part of a decoding step once the products skip ACT's zeros. Both decoding
// paths call the same one, so they agree to the bit.
var softmax = softmaxGo

// softmaxGo is softmax in float64 (max, exp and sum), rounded once.
func softmaxGo(p, s []float32, scale float32) {
	s = s[:len(p)]
	best := math.Inf(-1)
	for _, v := range s {
		best = max(best, float64(v))
	}
	var sum float64
	for i, v := range s {
		e := math.Exp((float64(v) - best) * float64(scale))
		p[i] = float32(e)
		sum += e
	}
	inv := 1 / sum
	for i := range p {
		p[i] = float32(float64(p[i]) * inv)
	}
}

// normRows is the row normalization of norm: normRowsGo (sums in float64)
// or, under GOEXPERIMENT=simd on a CPU with AVX-512, normRowsAVX512 (float32,
// 16 lanes). Both decoding paths call the same one.
var normRows = normRowsGo

// normRowsGo normalizes the m rows of width W of x into dst, sums in float64.
func normRowsGo(dst, x, gain, bias []float32, m, W int, eps float64) {
	for r := range m {
		row, out := x[r*W:(r+1)*W], dst[r*W:(r+1)*W]
		if bias == nil {
			var ss float64
			for _, v := range row {
				ss += float64(v) * float64(v)
			}
			inv := 1 / math.Sqrt(ss/float64(W)+eps)
			for j, v := range row {
				out[j] = float32(float64(v) * inv * float64(gain[j]))
			}
			continue
		}
		var sum float64
		for _, v := range row {
			sum += float64(v)
		}
		mean := sum / float64(W)
		var ss float64
		for _, v := range row {
			c := float64(v) - mean
			ss += c * c
		}
		inv := 1 / math.Sqrt(ss/float64(W)+eps)
		for j, v := range row {
			out[j] = float32((float64(v)-mean)*inv*float64(gain[j]) + float64(bias[j]))
		}
	}
}

// geluKept zeroes a[i] for the inputs u[i] in the skip set s and writes the
// indices of the others, in order, to idx (len(idx) >= len(u) + 16); it
// returns how many there are: the inputs whose GELU the sparse path
// computes, into a (the others' a[i] may be anything until then). It is
// geluKeptGo or, under GOEXPERIMENT=simd with AVX-512, geluKeptAVX512.
var geluKept = geluKeptGo

// geluKeptGo is geluKept in plain Go.
func geluKeptGo(a, u []float32, s geluSkip, idx []int32) int {
	n := 0
	for i, v := range u {
		if v < s.below && !(v >= s.keepLo && v <= s.keepHi) {
			a[i] = 0
			continue
		}
		idx[n] = int32(i)
		n++
	}
	return n
}
