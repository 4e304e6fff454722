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
