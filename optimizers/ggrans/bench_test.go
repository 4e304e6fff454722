package ggrans

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/ggprior/ggprior/optimizers/expgolomb"
)

// The benchmark workloads: GG samples of shape benchBeta, quantized at the steps StepForBits
// gives for these rates, so both coders run on the same values in the same run.
var (
	benchN     = 1 << 20
	benchBeta  = 0.9
	benchRates = []float64{0.5, 1, 1.5, 2, 3}
)

// forEachRate runs the encode and decode sub-benchmarks of ggrans and of expgolomb's frame codec
// (order BestK) on each workload, reporting Melem/s and bits/elem (the whole frame).
func forEachRate(b *testing.B, op string) {
	for _, rate := range benchRates {
		w := ggWorkload(benchN, benchBeta, rate)
		qs := w.qs
		runtime.GC()
		b.Run(fmt.Sprintf("bits=%g/ggrans", rate), func(b *testing.B) {
			frame := w.frame(nil)
			out := make([]int32, 0, len(qs))
			b.SetBytes(int64(4 * len(qs)))
			for b.Loop() {
				if op == "encode" {
					frame = w.frame(frame[:0])
				} else {
					var err error
					if out, _, err = DecodeFrame(out[:0], frame); err != nil {
						b.Fatal(err)
					}
				}
			}
			reportRate(b, len(qs), 8*len(frame))
		})
		b.Run(fmt.Sprintf("bits=%g/expgolomb", rate), func(b *testing.B) {
			k, _ := expgolomb.BestK(qs)
			frame := expgolomb.AppendFrame(nil, qs, k, float32(w.c))
			out := make([]int32, 0, len(qs))
			b.SetBytes(int64(4 * len(qs)))
			for b.Loop() {
				if op == "encode" {
					k, _ = expgolomb.BestK(qs)
					frame = expgolomb.AppendFrame(frame[:0], qs, k, float32(w.c))
				} else {
					var err error
					if out, _, err = expgolomb.DecodeFrame(out[:0], frame); err != nil {
						b.Fatal(err)
					}
				}
			}
			reportRate(b, len(qs), 8*len(frame))
		})
	}
}

// BenchmarkEncode measures AppendFrame (model from the cache), against expgolomb's BestK and
// AppendFrame.
func BenchmarkEncode(b *testing.B) { forEachRate(b, "encode") }

// BenchmarkDecode measures DecodeFrame with all its checks, against expgolomb's DecodeFrame.
func BenchmarkDecode(b *testing.B) { forEachRate(b, "decode") }

// BenchmarkModel measures building a model (a frame with new parameters): the GG masses and the
// coding tables.
func BenchmarkModel(b *testing.B) {
	for _, rate := range benchRates {
		c, err := StepForBits(benchBeta, rate)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("bits=%g", rate), func(b *testing.B) {
			for b.Loop() {
				buildModel(benchBeta, c)
			}
		})
	}
}

// reportRate reports the throughput in millions of values per second (Melem/s), and the size.
func reportRate(b *testing.B, n, nbits int) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
	b.ReportMetric(float64(nbits)/float64(n), "bits/elem")
}
