package layers

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/ggprior/ggprior/layers/sparse"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// The layer after an ACT site at inference: the MLP output projection of
// charlm's reference model on one training batch, [tokens, hidden] x [hidden,
// width], with the activations zeroed by ACT's frozen threshold.
const (
	sparseTokens = 768 // 12 windows of 64 bytes.
	sparseHidden = 512
	sparseWidth  = 128
)

// sparseActivations returns a [tokens, hidden] activation with exactly
// k = ceil((1-s)*hidden) non-zero values per row, at random columns, and a
// [hidden, width] kernel.
func sparseActivations(s float64, seed uint64) (a, w []float32, k int) {
	rng := rand.New(rand.NewPCG(seed, 11))
	k = int(math.Ceil((1 - s) * sparseHidden))
	a = make([]float32, sparseTokens*sparseHidden)
	for r := range sparseTokens {
		for _, c := range rng.Perm(sparseHidden)[:k] {
			a[r*sparseHidden+c] = float32(rng.NormFloat64())
		}
	}
	w = make([]float32, sparseHidden*sparseWidth)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 0.02)
	}
	return a, w, k
}

// gatherMatMul is the sparse-aware product in the graph, with fixed shapes:
// given each row's k non-zero values [tokens, k] and their columns [tokens, k]
// (compacted by the layer that produced them), it gathers the kernel's rows
// [tokens, k, width] and takes a [k] x [k, width] product per row.
func gatherMatMul(values, cols, w *Node) *Node {
	rows := Gather(w, InsertAxes(cols, -1))
	return Einsum("tk,tkw->tw", values, rows)
}

// compactRows returns the non-zeros of a [rows, hidden] activation with
// exactly k per row as [rows, k] values and columns.
func compactRows(a []float32, rows, k int) (values, cols *tensors.Tensor) {
	hidden := len(a) / rows
	vs, cs := make([]float32, 0, rows*k), make([]int32, 0, rows*k)
	for i, v := range a {
		if v != 0 {
			vs, cs = append(vs, v), append(cs, int32(i%hidden))
		}
	}
	return tensors.FromFlatDataAndDimensions(vs, rows, k), tensors.FromFlatDataAndDimensions(cs, rows, k)
}

// TestSparseMatMulPaths: the in-graph gather path and the host kernel
// (sparse.MatMul) compute the dense product (to float32 rounding of sums of
// 52 terms).
func TestSparseMatMulPaths(t *testing.T) {
	a, w, k := sparseActivations(0.9, 1)
	backend := testbackend.Get(t)
	at := tensors.FromFlatDataAndDimensions(a, sparseTokens, sparseHidden)
	wt := tensors.FromFlatDataAndDimensions(w, sparseHidden, sparseWidth)
	dense := tensors.MustCopyFlatData[float32](MustExecOnce(backend, MatMul, at, wt))
	values, cols := compactRows(a, sparseTokens, k)
	gathered := tensors.MustCopyFlatData[float32](MustExecOnce(backend, gatherMatMul, values, cols, wt))
	require.InDeltaSlice(t, dense, gathered, 1e-5)
	host := make([]float32, sparseTokens*sparseWidth)
	sparse.MatMul(host, a, w, nil, sparseTokens, sparseHidden, sparseWidth)
	require.InDeltaSlice(t, dense, host, 1e-5)
}

// BenchmarkSparseMatMul compares, for the MLP output projection after an ACT
// site ([768, 512] x [512, 128], charlm's reference model on one batch) at
// 90% and 95% activation sparsity, the test backend's (testbackend.Get: the
// pure-Go backend unless GGPRIOR_TEST_BACKEND names another) dense MatMul
// against two sparse-aware paths:
//
//   - gatherNN, in the graph with fixed shapes: the product from the rows'
//     non-zeros already compacted to [768, k], k = ceil((1-s)*512) (as a
//     fused ACT could emit them): a Gather of the kernel rows [768, k, 128]
//     and a batched [k] x [k, 128] product. The compaction itself is left
//     out: the pure-Go backend (compute v0.1.0) takes about 3.9 s for TopK
//     and 3.2 s for CumSum on [768, 512] (against 4.6 ms for the dense
//     product), so no in-graph compaction can pay off there yet.
//   - hostNN, sparse.MatMul standing in for a sparse-aware backend kernel: it
//     reads the dense activation and, per non-zero, adds the scaled kernel
//     row to the output row (AVX-512 when built with GOEXPERIMENT=simd on a
//     CPU that has it; plain Go otherwise), split among goroutines.
//
// Each iteration runs every path once; it reports each path's time
// (<path>-us) and the speedups dense/<path> (> 1: faster than dense).
//
//	GOEXPERIMENT=simd go test ./layers -run XXX -bench SparseMatMul -benchtime 200x
func BenchmarkSparseMatMul(b *testing.B) {
	backend := testbackend.Get(b)
	type path struct {
		name string
		run  func()
	}
	var paths []path
	for _, s := range []float64{0.9, 0.95} {
		a, w, k := sparseActivations(s, 2)
		at := tensors.FromFlatDataAndDimensions(a, sparseTokens, sparseHidden)
		wt := tensors.FromFlatDataAndDimensions(w, sparseHidden, sparseWidth)
		values, cols := compactRows(a, sparseTokens, k)
		for _, x := range []*tensors.Tensor{at, wt, values, cols} {
			_, err := x.Buffer(backend, 0) // On the device, as a previous op's output would be.
			require.NoError(b, err)
		}
		suffix := map[float64]string{0.9: "90", 0.95: "95"}[s]
		if s == 0.9 {
			dense := MustNewExec(backend, MatMul)
			paths = append(paths, path{"dense", func() { dense.MustExec(at, wt)[0].MustFinalizeAll() }})
		}
		gathered := MustNewExec(backend, gatherMatMul)
		paths = append(paths, path{"gather" + suffix, func() { gathered.MustExec(values, cols, wt)[0].MustFinalizeAll() }})
		out := make([]float32, sparseTokens*sparseWidth)
		paths = append(paths, path{"host" + suffix, func() { sparse.MatMul(out, a, w, nil, sparseTokens, sparseHidden, sparseWidth) }})
	}
	for _, p := range paths {
		p.run() // Compiles.
	}
	times := make([]time.Duration, len(paths))
	b.ResetTimer()
	for range b.N {
		for i, p := range paths {
			start := time.Now()
			p.run()
			times[i] += time.Since(start)
		}
	}
	b.StopTimer()
	for i, p := range paths {
		b.ReportMetric(float64(times[i].Microseconds())/float64(b.N), p.name+"-us")
		if i > 0 {
			b.ReportMetric(float64(times[0])/float64(times[i]), "dense/"+p.name)
		}
	}
}
