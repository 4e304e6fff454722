package sparse

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// sparsities are the fractions of zeros the benchmarks take: ACT's targets
// are 0.95 and above on the reference model's MLP hidden activations.
var sparsities = []float64{0, 0.5, 0.9, 0.95, 0.99}

// benchRows returns rows activation rows [k] with exactly ceil((1-s)·k)
// non-zeros each, at random columns (so the branch predictor cannot learn
// one pattern).
func benchRows(rng *rand.Rand, rows, k int, s float64) []float32 {
	nonzeros := int(math.Ceil((1 - s) * float64(k)))
	x := make([]float32, rows*k)
	for r := range rows {
		for _, i := range rng.Perm(k)[:nonzeros] {
			x[r*k+i] = float32(rng.NormFloat64())
		}
	}
	return x
}

// compare times sparse and dense, each run b.N times in alternating chunks
// of b.N/40 calls, and reports the median over chunks of the time per call:
// the sparse kernel's as sparse-ns/op, the dense one's as dense-ns/op, and
// x_vs_dense = dense / sparse (> 1: the sparse kernel is faster). Medians and
// alternation keep the ratio steady on a machine shared with other work
// (preemptions land in a few chunks; both kernels see the same load).
func compare(b *testing.B, sparse, dense func(i int)) {
	sparse(0)
	dense(0)
	chunk := max(1, b.N/40)
	var tSparse, tDense []float64
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		count := min(chunk, b.N-done)
		start := time.Now()
		for i := range count {
			dense(done + i)
		}
		tDense = append(tDense, float64(time.Since(start).Nanoseconds())/float64(count))
		start = time.Now()
		for i := range count {
			sparse(done + i)
		}
		tSparse = append(tSparse, float64(time.Since(start).Nanoseconds())/float64(count))
	}
	b.StopTimer()
	sp, de := median(tSparse), median(tDense)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(sp, "sparse-ns/op")
	b.ReportMetric(de, "dense-ns/op")
	b.ReportMetric(de/sp, "x_vs_dense")
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

// BenchmarkMatVec: MatVec against DenseMatVec with bias, batch-1 decoding of
// the reference model's MLP: [512] x [512, 128] (hidden -> width, after the
// ACT site) and [128] x [128, 512]; 64 different activation rows in turn.
//
//	GOEXPERIMENT=simd go test ./layers/sparse -run XXX -bench MatVec -benchtime 20000x
func BenchmarkMatVec(b *testing.B) {
	const rows = 64
	for _, shape := range [][2]int{{512, 128}, {128, 512}} {
		k, n := shape[0], shape[1]
		rng := rand.New(rand.NewPCG(1, 2))
		w, bias := normals(rng, k*n, 0.05), normals(rng, n, 1)
		dst := make([]float32, n)
		for _, s := range sparsities {
			x := benchRows(rng, rows, k, s)
			b.Run(fmt.Sprintf("%dx%d/s%02.0f", k, n, 100*s), func(b *testing.B) {
				compare(b, func(i int) {
					r := i % rows
					MatVec(dst, x[r*k:(r+1)*k], w, bias, k, n)
				}, func(i int) {
					r := i % rows
					DenseMatVec(dst, x[r*k:(r+1)*k], w, bias, k, n)
				})
			})
		}
	}
}

// BenchmarkMatMul: MatMul against DenseMatMul with bias, on a batch of the
// reference model's MLP output projection: [12, 512] x [512, 128] (12
// sequences decoding together) and [768, 512] x [512, 128] (one training
// batch: 12 windows of 64 bytes); several activation batches in turn.
//
//	GOEXPERIMENT=simd go test ./layers/sparse -run XXX -bench MatMul -benchtime 2000x
func BenchmarkMatMul(b *testing.B) {
	for _, shape := range [][3]int{{12, 512, 128}, {768, 512, 128}} {
		m, k, n := shape[0], shape[1], shape[2]
		batches := max(1, 64/m)
		rng := rand.New(rand.NewPCG(3, 4))
		w, bias := normals(rng, k*n, 0.05), normals(rng, n, 1)
		dst := make([]float32, m*n)
		for _, s := range sparsities {
			x := benchRows(rng, batches*m, k, s)
			b.Run(fmt.Sprintf("%dx%dx%d/s%02.0f", m, k, n, 100*s), func(b *testing.B) {
				compare(b, func(i int) {
					r := i % batches
					MatMul(dst, x[r*m*k:(r+1)*m*k], w, bias, m, k, n)
				}, func(i int) {
					r := i % batches
					DenseMatMul(dst, x[r*m*k:(r+1)*m*k], w, bias, m, k, n)
				})
			})
		}
	}
}
