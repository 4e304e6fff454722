package ggrans_test

import (
	"fmt"
	"math"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/optimizers/ggrans"
)

// Quantize a tensor with the step that codes it in about half a bit per value, encode it in a
// frame, and decode it.
func Example() {
	xs := make([]float64, 100_000)
	d := ggx.Dist{Alpha: 0.01, Beta: 0.9}
	for i := range xs {
		xs[i] = d.Rand()
	}
	fit, err := ggx.Fit(xs)
	if err != nil {
		panic(err)
	}
	c, err := ggrans.StepForBits(fit.Beta, 0.5)
	if err != nil {
		panic(err)
	}
	step := float32(c * fit.Alpha)
	qs := make([]int32, len(xs))
	for i, x := range xs {
		qs[i] = int32(math.RoundToEven(x / float64(step)))
	}
	frame, err := ggrans.AppendFrame(nil, qs, float32(fit.Alpha), float32(fit.Beta), step)
	if err != nil {
		panic(err)
	}
	got, h, err := ggrans.DecodeFrame(nil, frame)
	if err != nil {
		panic(err)
	}
	bits := float64(8*len(frame)) / float64(len(qs))
	fmt.Printf("%d values, %.1f bits per value, same values: %v\n", h.Count, math.Round(bits*10)/10, fmt.Sprint(got) == fmt.Sprint(qs))
	// Output: 100000 values, 0.5 bits per value, same values: true
}
