package expgolomb

import (
	"fmt"
	"runtime"
	"testing"
)

// The realistic workloads: quantized generalized Gaussian gradients of shape beta, at about 2
// bits per value (where the best order is k = 0), and a wider quantization at about 10 bits per
// value with k = 0 (where the best order is larger, and the codec works code by code).
var (
	benchSizes = []int{1_000_000, 10_000_000}
	benchBetas = []float64{0.3, 0.5, 1}
)

// The sparse workloads: int8-quantized Laplacian values (like sparse activations) with these
// fractions of zeros, set by a threshold on the magnitude (see sparseInts).
var benchZeroFracs = []float64{0.9, 0.95, 0.99}

// forEachWorkload runs fn as a sub-benchmark per workload, with k = BestK(qs), and reports the
// throughput in millions of values per second (Melem/s) besides MB/s of int32 input.
func forEachWorkload(b *testing.B, fn func(b *testing.B, qs []int32, k int)) {
	run := func(name string, qs []int32) {
		runtime.GC() // Don't let the garbage of generating the data slow the measurement.
		b.Run(name, func(b *testing.B) {
			k, nbits := BestK(qs)
			b.SetBytes(int64(4 * len(qs)))
			fn(b, qs, k)
			reportRate(b, len(qs), nbits)
			b.ReportMetric(float64(k), "k")
		})
	}
	for _, n := range benchSizes {
		for _, beta := range benchBetas {
			run(fmt.Sprintf("n=%d/beta=%g", n, beta), ggInts(n, beta, 2))
		}
	}
	run("n=1000000/beta=0.5/wide", ggInts(1_000_000, 0.5, 10))
}

func BenchmarkEncode(b *testing.B) {
	forEachWorkload(b, func(b *testing.B, qs []int32, k int) {
		buf := AppendEncode(nil, qs, k)
		for b.Loop() {
			buf = AppendEncode(buf[:0], qs, k)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	forEachWorkload(b, func(b *testing.B, qs []int32, k int) {
		enc := AppendEncode(nil, qs, k)
		out := make([]int32, 0, len(qs))
		for b.Loop() {
			var err error
			out, err = Decode(out[:0], enc, len(qs), k)
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFrame measures a whole exchange: AppendFrame, then DecodeFrame with its checks.
func BenchmarkFrame(b *testing.B) {
	forEachWorkload(b, func(b *testing.B, qs []int32, k int) {
		frame := AppendFrame(nil, qs, k, 0.01)
		out := make([]int32, 0, len(qs))
		for b.Loop() {
			frame = AppendFrame(frame[:0], qs, k, 0.01)
			var err error
			out, _, err = DecodeFrame(out[:0], frame)
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkBitLen(b *testing.B) {
	forEachWorkload(b, func(b *testing.B, qs []int32, k int) {
		for b.Loop() {
			BitLen(qs, k)
		}
	})
}

func BenchmarkBestK(b *testing.B) {
	forEachWorkload(b, func(b *testing.B, qs []int32, _ int) {
		for b.Loop() {
			BestK(qs)
		}
	})
}

// reportRate reports the throughput in millions of values per second (Melem/s), and the size.
func reportRate(b *testing.B, n int, nbits int64) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
	b.ReportMetric(float64(nbits)/float64(n), "bits/elem")
}

// forEachSparseWorkload runs fn as sub-benchmarks per sparse workload: in zero-run mode with the
// orders of BestRunK ("runs"), and for comparison with the per-value codes of BestK ("values").
// fn returns the payload size, reported in bits per value with the throughput.
func forEachSparseWorkload(b *testing.B, fn func(b *testing.B, qs []int32, runs bool) (nbits int64)) {
	for _, n := range benchSizes {
		for _, zeroFrac := range benchZeroFracs {
			qs := sparseInts(n, 1, zeroFrac)
			runtime.GC()
			for _, mode := range []string{"runs", "values"} {
				b.Run(fmt.Sprintf("n=%d/zeros=%g/%s", n, zeroFrac, mode), func(b *testing.B) {
					b.SetBytes(int64(4 * len(qs)))
					reportRate(b, len(qs), fn(b, qs, mode == "runs"))
				})
			}
		}
	}
}

func BenchmarkEncodeRuns(b *testing.B) {
	forEachSparseWorkload(b, func(b *testing.B, qs []int32, runs bool) int64 {
		if !runs {
			k, nbits := BestK(qs)
			buf := AppendEncode(nil, qs, k)
			for b.Loop() {
				buf = AppendEncode(buf[:0], qs, k)
			}
			return nbits
		}
		kr, kv, nbits := BestRunK(qs)
		buf := AppendEncodeRuns(nil, qs, kr, kv)
		for b.Loop() {
			buf = AppendEncodeRuns(buf[:0], qs, kr, kv)
		}
		return nbits
	})
}

func BenchmarkDecodeRuns(b *testing.B) {
	forEachSparseWorkload(b, func(b *testing.B, qs []int32, runs bool) int64 {
		out := make([]int32, 0, len(qs))
		var err error
		if !runs {
			k, nbits := BestK(qs)
			enc := AppendEncode(nil, qs, k)
			for b.Loop() {
				out, err = Decode(out[:0], enc, len(qs), k)
			}
			return benchResult(b, nbits, err)
		}
		kr, kv, nbits := BestRunK(qs)
		enc := AppendEncodeRuns(nil, qs, kr, kv)
		for b.Loop() {
			out, err = DecodeRuns(out[:0], enc, len(qs), kr, kv)
		}
		return benchResult(b, nbits, err)
	})
}

// BenchmarkBestRunK measures the choice of the orders, a pass over the values like the encoder's.
func BenchmarkBestRunK(b *testing.B) {
	forEachSparseWorkload(b, func(b *testing.B, qs []int32, runs bool) int64 {
		if !runs {
			_, nbits := BestK(qs)
			for b.Loop() {
				BestK(qs)
			}
			return nbits
		}
		_, _, nbits := BestRunK(qs)
		for b.Loop() {
			BestRunK(qs)
		}
		return nbits
	})
}

// benchResult fails the benchmark on err, and returns nbits.
func benchResult(b *testing.B, nbits int64, err error) int64 {
	if err != nil {
		b.Fatal(err)
	}
	return nbits
}
