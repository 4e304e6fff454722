package ggrans

import (
	"math"
	"math/rand/v2"
	"sync"

	"github.com/ggprior/ggprior/ggx"
)

// ggSamples returns n samples of the GG of scale 1 and shape beta, from a seeded source.
func ggSamples(n int, beta float64, seed uint64) []float64 {
	d := ggx.Dist{Alpha: 1, Beta: beta, Src: rand.NewPCG(seed, math.Float64bits(beta))}
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = d.Rand()
	}
	return xs
}

// quantize returns round(x/step) for every x (ties to even), saturated to the int32 range.
func quantize(xs []float64, step float64) []int32 {
	qs := make([]int32, len(xs))
	for i, x := range xs {
		qs[i] = int32(max(math.MinInt32, min(math.MaxInt32, math.RoundToEven(x/step))))
	}
	return qs
}

// entropy returns the empirical entropy of qs in bits per value.
func entropy(qs []int32) float64 {
	counts := make(map[int32]int)
	for _, q := range qs {
		counts[q]++
	}
	h := 0.0
	n := float64(len(qs))
	for _, c := range counts {
		p := float64(c) / n
		h -= p * math.Log2(p)
	}
	return h
}

// workload is a quantized GG sample at about a given rate: c = step/alpha from StepForBits.
type workload struct {
	beta, bits, c float64
	qs            []int32
}

type workloadKey struct {
	n          int
	beta, bits float64
}

var workloads sync.Map // workloadKey -> *workload

// ggWorkload returns (cached) n GG(1, beta) samples quantized with the step c that
// StepForBits gives for the target rate.
func ggWorkload(n int, beta, bits float64) *workload {
	key := workloadKey{n, beta, bits}
	if w, ok := workloads.Load(key); ok {
		return w.(*workload)
	}
	c, err := StepForBits(beta, bits)
	if err != nil {
		panic(err)
	}
	w := &workload{beta: beta, bits: bits, c: c, qs: quantize(ggSamples(n, beta, uint64(n)), c)}
	actual, _ := workloads.LoadOrStore(key, w)
	return actual.(*workload)
}

// frameOf encodes w with alpha = 1, failing the test or benchmark on error.
func (w *workload) frame(dst []byte) []byte {
	f, err := AppendFrame(dst, w.qs, 1, float32(w.beta), float32(w.c))
	if err != nil {
		panic(err)
	}
	return f
}
