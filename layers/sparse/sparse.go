package sparse

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// MatVec computes dst = x·W + bias, skipping the zeros of x: dst[j] =
// Σ_i x[i]·w[i*n+j] + bias[j], the sum over the i with x[i] != 0 in order, for
// x [k], a row-major w [k, n] and dst [n]. bias is nil (no bias) or has length
// n. It gives the same bits as [DenseMatVec] for a w without infinities or
// NaNs (see the package documentation for the exact sequence of roundings).
func MatVec(dst, x, w, bias []float32, k, n int) {
	check("MatVec", dst, x, w, bias, 1, k, n)
	run(kernels.sparse, true, dst, x, w, bias, 1, k, n)
}

// DenseMatVec computes dst = x·W + bias like [MatVec], without skipping zeros.
func DenseMatVec(dst, x, w, bias []float32, k, n int) {
	check("DenseMatVec", dst, x, w, bias, 1, k, n)
	run(kernels.dense, false, dst, x, w, bias, 1, k, n)
}

// MatMul computes dst = x·W + bias for a batch, skipping the zeros of each row
// of x: dst[r*n+j] = Σ_i x[r*k+i]·w[i*n+j] + bias[j], the sum over the i with
// x[r*k+i] != 0 in order, for a row-major x [m, k], w [k, n] and dst [m, n].
// bias is nil or has length n (one bias for every row). Row r of dst is what
// [MatVec] gives for row r of x, and the same bits as [DenseMatMul] for a w
// without infinities or NaNs (see the package documentation).
func MatMul(dst, x, w, bias []float32, m, k, n int) {
	check("MatMul", dst, x, w, bias, m, k, n)
	run(kernels.sparse, true, dst, x, w, bias, m, k, n)
}

// DenseMatMul computes dst = x·W + bias like [MatMul], without skipping zeros.
func DenseMatMul(dst, x, w, bias []float32, m, k, n int) {
	check("DenseMatMul", dst, x, w, bias, m, k, n)
	run(kernels.dense, false, dst, x, w, bias, m, k, n)
}

// Zeros returns how many elements of x are zeros (+0 or -0).
func Zeros(x []float32) int { return kernels.zeros(x) }

// Threshold applies an ACT site's inference mask to x in place, as the
// graph of layers.ACT in inference mode does: every element whose magnitude
// is below tau becomes +0, and so does every NaN; the others (|x| >= tau,
// ±Inf included) stay as they are. It returns the number of zeros of x
// afterwards (+0 or -0), the count the zero-skipping kernels then skip. tau
// must be >= 0 and not NaN (a threshold ACT freezes in training always is);
// otherwise Threshold panics.
//
// The test runs on the float bits (for non-negative floats, the order of
// the bit patterns is the order of the values), with AVX-512 under
// GOEXPERIMENT=simd where the CPU has it: a mask of a few hundred values
// takes tens of nanoseconds.
func Threshold(x []float32, tau float32) int {
	t := math.Float32bits(tau)
	if t > 0x7f800000 && t != 1<<31 { // Negative (but -0), or NaN.
		panic(fmt.Sprintf("sparse.Threshold: threshold %v, want a value >= 0", tau))
	}
	return kernels.threshold(x, t&^(1<<31))
}

// thresholdGo is Threshold's plain-Go kernel; tau is the threshold's bits.
func thresholdGo(x []float32, tau uint32) int {
	zeros := 0
	for i, v := range x {
		a := math.Float32bits(v) &^ (1 << 31)
		if a < tau || a > 0x7f800000 {
			x[i] = 0
			a = 0
		}
		if a == 0 {
			zeros++
		}
	}
	return zeros
}

// Sparsity returns the fraction of the elements of x that are zeros (+0 or
// -0), 0 for an empty x.
func Sparsity(x []float32) float64 {
	if len(x) == 0 {
		return 0
	}
	return float64(Zeros(x)) / float64(len(x))
}

// check panics unless the dimensions are non-negative and the slices have the
// lengths they give. Integer code only: a caller's 512-bit SIMD code can leave
// scalar float instructions slow (see kernels_avx512.go).
func check(fn string, dst, x, w, bias []float32, m, k, n int) {
	if m < 0 || k < 0 || n < 0 || overflows(m, k) || overflows(k, n) || overflows(m, n) ||
		len(x) != m*k || len(w) != k*n || len(dst) != m*n || (bias != nil && len(bias) != n) {
		panic(lengthsMessage(fn, dst, x, w, bias, m, k, n))
	}
}

// overflows reports whether a*b overflows int, for a, b >= 0.
func overflows(a, b int) bool { return a != 0 && b > math.MaxInt/a }

// lengthsMessage says what check found wrong.
func lengthsMessage(fn string, dst, x, w, bias []float32, m, k, n int) string {
	// MatVec and DenseMatVec have no m: their x is [k], their dst [n].
	mk, mn, dims := "m*k", "m*n", fmt.Sprintf("m = %d, k = %d, n = %d", m, k, n)
	if fn == "MatVec" || fn == "DenseMatVec" {
		mk, mn, dims = "k", "n", fmt.Sprintf("k = %d, n = %d", k, n)
	}
	switch {
	case m < 0 || k < 0 || n < 0:
		return fmt.Sprintf("sparse.%s: negative dimension (%s)", fn, dims)
	case overflows(m, k) || overflows(k, n) || overflows(m, n):
		return fmt.Sprintf("sparse.%s: dimensions overflow int (%s)", fn, dims)
	case len(x) != m*k:
		return fmt.Sprintf("sparse.%s: len(x) = %d, want %s = %d (%s)", fn, len(x), mk, m*k, dims)
	case len(w) != k*n:
		return fmt.Sprintf("sparse.%s: len(w) = %d, want k*n = %d (%s)", fn, len(w), k*n, dims)
	case len(dst) != m*n:
		return fmt.Sprintf("sparse.%s: len(dst) = %d, want %s = %d (%s)", fn, len(dst), mn, m*n, dims)
	default:
		return fmt.Sprintf("sparse.%s: len(bias) = %d, want n = %d, or a nil bias (%s)", fn, len(bias), n, dims)
	}
}

// kernel computes rows [0, m) and columns [c0, c1) of dst = x·W + bias, for x
// [m, k], w [k, n] and dst [m, n] (bias nil or [n]); c0 is a multiple of 16.
type kernel func(dst, x, w, bias []float32, m, k, n, c0, c1 int)

// kernelSet is the set of kernels this build and CPU use.
type kernelSet struct {
	sparse, dense kernel
	zeros         func(x []float32) int
	threshold     func(x []float32, tau uint32) int
	// fused: each step is a fused multiply-add.
	fused bool
}

// kernels are the kernels in use: plain Go unless an init of a SIMD build
// finds its instructions on the CPU.
var kernels = goKernels

var goKernels = kernelSet{sparse: sparseGo, dense: denseGo, zeros: zerosGo, threshold: thresholdGo}

// parallelWork is the number of multiply-adds (for a sparse kernel, the dense
// count times the estimated fraction of non-zeros of x) that a goroutine gets
// at least when a product is split: splitting starts at 2*parallelWork, with
// one more goroutine per further parallelWork, up to GOMAXPROCS. That much
// work takes the kernels several microseconds, against well under one for
// starting a goroutine and waiting for it.
const parallelWork = 1 << 18

// mulSat returns a*b for a, b >= 0, or math.MaxInt where that overflows.
func mulSat(a, b int) int {
	if overflows(a, b) {
		return math.MaxInt
	}
	return a * b
}

// run computes dst with f, split into tiles of rows and 16-column groups
// among goroutines when the work pays for them. Integer code only, as check.
func run(f kernel, sparse bool, dst, x, w, bias []float32, m, k, n int) {
	if m == 0 || n == 0 {
		return
	}
	work := mulSat(m*n, k)
	if work < 2*parallelWork {
		f(dst, x, w, bias, m, k, n, 0, n)
		return
	}
	if sparse {
		// The non-zeros of up to 16 evenly spaced rows of x, scaled to m rows.
		rows, nonzeros := min(m, 16), 0
		for i := range rows {
			r := i * m / rows
			nonzeros += k - kernels.zeros(x[r*k:(r+1)*k])
		}
		work = mulSat(m*n, nonzeros) / rows
	}
	parts := min(runtime.GOMAXPROCS(0), work/parallelWork)
	if parts < 2 {
		f(dst, x, w, bias, m, k, n, 0, n)
		return
	}
	// Rows first; columns (in groups of 16) when there are fewer rows than parts.
	rowParts := min(parts, m)
	groups := (n + 15) / 16
	colParts := max(1, min(parts/rowParts, groups))
	var wg sync.WaitGroup
	for rp := range rowParts {
		r0, r1 := rp*m/rowParts, (rp+1)*m/rowParts
		for cp := range colParts {
			c0, c1 := 16*(cp*groups/colParts), min(n, 16*((cp+1)*groups/colParts))
			tile := func() { f(dst[r0*n:r1*n], x[r0*k:r1*k], w, bias, r1-r0, k, n, c0, c1) }
			if rp == rowParts-1 && cp == colParts-1 {
				tile() // The calling goroutine takes the last tile.
			} else {
				wg.Go(tile)
			}
		}
	}
	wg.Wait()
}

// sparseGo is the plain-Go sparse kernel: per row, each non-zero x[i] scales
// row i of w into the output row; the product and the sum are rounded
// separately (the conversion keeps the compiler from fusing them).
func sparseGo(dst, x, w, bias []float32, m, k, n, c0, c1 int) {
	for r := range m {
		out := dst[r*n+c0 : r*n+c1]
		clear(out)
		for i, v := range x[r*k : (r+1)*k] {
			if v == 0 { // +0 or -0.
				continue
			}
			row := w[i*n+c0 : i*n+c1]
			out := out[:len(row)]
			for j, wv := range row {
				out[j] += float32(v * wv)
			}
		}
		finishGo(out, bias, c0, c1)
	}
}

// denseGo is sparseGo without skipping zeros.
func denseGo(dst, x, w, bias []float32, m, k, n, c0, c1 int) {
	for r := range m {
		out := dst[r*n+c0 : r*n+c1]
		clear(out)
		for i, v := range x[r*k : (r+1)*k] {
			row := w[i*n+c0 : i*n+c1]
			out := out[:len(row)]
			for j, wv := range row {
				out[j] += float32(v * wv)
			}
		}
		finishGo(out, bias, c0, c1)
	}
}

// finishGo computes out = (out + 0) + bias[c0:c1] (out + 0 for a nil bias).
func finishGo(out, bias []float32, c0, c1 int) {
	if bias == nil {
		for j := range out {
			out[j] += 0
		}
		return
	}
	b := bias[c0:c1]
	out = out[:len(b)]
	for j, v := range b {
		out[j] = (out[j] + 0) + v
	}
}

// zerosGo counts the +0 and -0 of x.
func zerosGo(x []float32) int {
	zeros := 0
	for _, v := range x {
		if v == 0 {
			zeros++
		}
	}
	return zeros
}
