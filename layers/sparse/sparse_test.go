package sparse

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// implementations returns the kernel sets this build can run: plain Go always,
// and the SIMD set where the build and the CPU have it (the one in use then).
func implementations() map[string]kernelSet {
	impls := map[string]kernelSet{"go": goKernels}
	if kernels.fused {
		impls["avx512"] = kernels
	}
	return impls
}

// using runs f with the kernel set ks in use.
func using(ks kernelSet, f func()) {
	saved := kernels
	kernels = ks
	defer func() { kernels = saved }()
	f()
}

// fma32 returns a·b + c rounded once to float32: a·b is exact in float64, the
// sum is rounded to odd in float64 (TwoSum's error decides the last bit), and
// rounding that to float32 is then correct (53 >= 24 + 2 bits).
func fma32(a, b, c float32) float32 {
	p, q := float64(a)*float64(b), float64(c)
	s := p + q
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	v := s - p
	e := (p - (s - v)) + (q - v)
	if bits := math.Float64bits(s); e != 0 && bits&1 == 0 {
		if (e > 0) == (s > 0) {
			s = math.Float64frombits(bits + 1)
		} else {
			s = math.Float64frombits(bits - 1)
		}
	}
	return float32(s)
}

// reference computes x·W + bias one term at a time, k in order, as the package
// documents: with fused multiply-adds or with separate roundings, over every
// term (dense) or only those with x != 0 (sparse).
func reference(x, w, bias []float32, m, k, n int, fused, sparse bool) []float32 {
	y := make([]float32, m*n)
	for r := range m {
		for j := range n {
			var acc float32
			for i := range k {
				v := x[r*k+i]
				if sparse && v == 0 {
					continue
				}
				if fused {
					acc = fma32(v, w[i*n+j], acc)
				} else {
					acc += float32(v * w[i*n+j])
				}
			}
			acc += 0
			if bias != nil {
				acc += bias[j]
			}
			y[r*n+j] = acc
		}
	}
	return y
}

// bound returns, for output (r, j), the bound on the error of any order of
// float32 roundings against the exact x·W + b, and the float64 result. With
// unit roundoff u = 2^-24 and γ_n = n·u/(1 - n·u): each of the k products and
// k + 1 sums (the bias's included) is rounded at most once, and a term that
// enters the sum at step i is rounded by at most k + 1 - i + 1 factors (1 + δ),
// |δ| <= u; so the sum of k + 1 terms t_i (the bias is t_k) is off by at most
// γ_{k+1}·Σ|t_i| (Higham, Accuracy and Stability of Numerical Algorithms,
// (3.5)), plus 2^-150 per rounding that lands among the subnormals (there the
// error is absolute). The float64 result is off by far less (u = 2^-53).
func bound(x, w, bias []float32, k, n, r, j int) (tol, want float64) {
	const u = 0x1p-24
	sumAbs := 0.0
	for i := range k {
		t := float64(x[r*k+i]) * float64(w[i*n+j])
		want += t
		sumAbs += math.Abs(t)
	}
	if bias != nil {
		want += float64(bias[j])
		sumAbs += math.Abs(float64(bias[j]))
	}
	terms := float64(k + 1)
	return terms*u/(1-terms*u)*sumAbs + 2*terms*0x1p-150, want
}

// sameBits reports whether a and b have the same bits, or are both NaN.
func sameBits(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

func requireSameBits(t *testing.T, want, got []float32, format string, args ...any) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		if !sameBits(want[i], got[i]) {
			require.FailNowf(t, "bits differ", "%s: element %d: want %g (%#08x), got %g (%#08x)",
				fmt.Sprintf(format, args...), i, want[i], math.Float32bits(want[i]), got[i], math.Float32bits(got[i]))
		}
	}
}

// activation returns m·k normal values with a fraction s of zeros, each +0 or
// -0 at random, and a few subnormals among the non-zeros (which are not zeros).
func activation(rng *rand.Rand, m, k int, s float64) []float32 {
	x := make([]float32, m*k)
	for i := range x {
		switch {
		case rng.Float64() < s:
			x[i] = float32(math.Copysign(0, rng.NormFloat64()))
		case rng.IntN(50) == 0:
			x[i] = math.Float32frombits(uint32(1 + rng.IntN(1000)))
		default:
			x[i] = float32(rng.NormFloat64())
		}
	}
	return x
}

func normals(rng *rand.Rand, size int, scale float64) []float32 {
	v := make([]float32, size)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
	}
	return v
}

// shapes are [m, k] x [k, n] products with k and n not multiples of 16, n
// covering every block width of the SIMD kernels (128, 64, 32, 16, a part of
// 16) and the reference model's MLP shapes; and empty ones.
var shapes = [][3]int{
	{1, 1, 1}, {1, 7, 3}, {2, 16, 16}, {1, 17, 17}, {3, 33, 129}, {4, 31, 47},
	{1, 40, 143}, {2, 20, 241}, {3, 65, 255}, {1, 512, 128}, {2, 128, 512}, {5, 100, 200},
	{1, 0, 5}, {2, 0, 0}, {0, 4, 3}, {1, 3, 0},
}

// TestMatchesReference: for every shape, sparsity (0, 50, 95, 100%) and bias
// (none, random, with -0s), MatMul and DenseMatMul give the bits of the
// documented sequence of roundings over their terms (so the sparse result is
// the dense one bit for bit), MatVec and DenseMatVec those of each row, and
// all are within the float32 error bound of the float64 product. Both the
// plain-Go kernels and, where built and available, the AVX-512 ones.
func TestMatchesReference(t *testing.T) {
	for name, ks := range implementations() {
		using(ks, func() {
			rng := rand.New(rand.NewPCG(1, 2))
			for _, shape := range shapes {
				m, k, n := shape[0], shape[1], shape[2]
				for _, s := range []float64{0, 0.5, 0.95, 1} {
					for biasKind := range 3 {
						where := fmt.Sprintf("%s [%d,%d]x[%d,%d] sparsity %g bias %d", name, m, k, k, n, s, biasKind)
						x, w := activation(rng, m, k, s), normals(rng, k*n, 0.05)
						var bias []float32
						if biasKind > 0 {
							bias = normals(rng, n, 1)
						}
						if biasKind == 2 {
							for j := range bias {
								if j%2 == 0 {
									bias[j] = float32(math.Copysign(0, -1))
								}
							}
						}
						want := reference(x, w, bias, m, k, n, ks.fused, false)
						requireSameBits(t, want, reference(x, w, bias, m, k, n, ks.fused, true), "%s: reference skipping zeros", where)
						got, dense := make([]float32, m*n), make([]float32, m*n)
						MatMul(got, x, w, bias, m, k, n)
						DenseMatMul(dense, x, w, bias, m, k, n)
						requireSameBits(t, want, got, "%s: MatMul", where)
						requireSameBits(t, want, dense, "%s: DenseMatMul", where)
						for r := range m {
							row, denseRow := make([]float32, n), make([]float32, n)
							MatVec(row, x[r*k:(r+1)*k], w, bias, k, n)
							DenseMatVec(denseRow, x[r*k:(r+1)*k], w, bias, k, n)
							requireSameBits(t, want[r*n:(r+1)*n], row, "%s: MatVec of row %d", where, r)
							requireSameBits(t, want[r*n:(r+1)*n], denseRow, "%s: DenseMatVec of row %d", where, r)
							for j := range n {
								tol, exact := bound(x, w, bias, k, n, r, j)
								require.InDelta(t, exact, float64(got[r*n+j]), tol, "%s: (%d, %d)", where, r, j)
								require.False(t, got[r*n+j] == 0 && math.Signbit(float64(got[r*n+j])), "%s: (%d, %d) is -0", where, r, j)
							}
						}
					}
				}
			}
		})
	}
}

// TestMixedDensity: an activation whose chunks differ (one with no zeros,
// for which the AVX-512 sparse kernel adds every term, then sparse ones, then
// a short one), against the documented sequence of roundings.
func TestMixedDensity(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const k, n = 1100, 77
	x := activation(rng, 1, k, 0.95)
	copy(x[256:512], activation(rng, 1, 256, 0))
	copy(x[1030:], activation(rng, 1, k-1030, 0))
	w, bias := normals(rng, k*n, 0.05), normals(rng, n, 1)
	for name, ks := range implementations() {
		using(ks, func() {
			want := reference(x, w, bias, 1, k, n, ks.fused, false)
			got, dense := make([]float32, n), make([]float32, n)
			MatVec(got, x, w, bias, k, n)
			DenseMatVec(dense, x, w, bias, k, n)
			requireSameBits(t, want, got, "%s: MatVec", name)
			requireSameBits(t, want, dense, "%s: DenseMatVec", name)
		})
	}
}

// TestSignedZeros: zero terms leave the result's bits alone, and a zero result
// is +0: all-zero rows (with +0 and -0), a -0 bias, and a product that
// underflows to -0 (with a fused multiply-add) before terms with zero x.
func TestSignedZeros(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	for name, ks := range implementations() {
		using(ks, func() {
			for _, tc := range []struct {
				x, w, bias, want []float32
			}{
				{x: []float32{negZero, 0, negZero}, w: []float32{1, -1, 2, -2, 3, -3}, want: []float32{0, 0}},
				{x: []float32{negZero, 0, negZero}, w: []float32{1, -1, 2, -2, 3, -3}, bias: []float32{negZero, 5}, want: []float32{0, 5}},
				{x: []float32{negZero}, w: []float32{-1, 1}, bias: []float32{negZero, negZero}, want: []float32{0, 0}},
				// -2^-100·2^-100 rounds to -0; the zero terms then add +0 and -0.
				{x: []float32{-0x1p-100, 0, negZero}, w: []float32{0x1p-100, 0x1p-100, 1, -1, 1, -1}, want: []float32{0, 0}},
				{x: []float32{-0x1p-100, 0, negZero}, w: []float32{0x1p-100, 0x1p-100, 1, -1, 1, -1}, bias: []float32{negZero, 0}, want: []float32{0, 0}},
			} {
				k, n := len(tc.x), len(tc.w)/len(tc.x)
				for _, f := range []func(dst, x, w, bias []float32, k, n int){MatVec, DenseMatVec} {
					got := make([]float32, n)
					f(got, tc.x, tc.w, tc.bias, k, n)
					requireSameBits(t, tc.want, got, "%s: x %v, bias %v", name, tc.x, tc.bias)
				}
			}
		})
	}
}

// TestNaNAndInf: NaN and ±Inf in x are not zeros: they propagate as in the
// dense product (Inf times a zero of w is NaN), in sparse and dense alike.
func TestNaNAndInf(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for name, ks := range implementations() {
		using(ks, func() {
			rng := rand.New(rand.NewPCG(3, 4))
			const k, n = 40, 150
			w := normals(rng, k*n, 1)
			w[9*n+3] = 0 // Inf · 0 = NaN in column 3.
			for _, tc := range []struct {
				v    float32
				want func(j int, y float32) bool
			}{
				{nan, func(_ int, y float32) bool { return y != y }},
				{inf, func(j int, y float32) bool {
					if j == 3 {
						return y != y
					}
					return math.IsInf(float64(y), int(math.Copysign(1, float64(w[9*n+j]))))
				}},
			} {
				x := activation(rng, 1, k, 0.9)
				x[9] = tc.v
				got, dense := make([]float32, n), make([]float32, n)
				MatVec(got, x, w, nil, k, n)
				DenseMatVec(dense, x, w, nil, k, n)
				requireSameBits(t, dense, got, "%s: x[9] = %g", name, tc.v)
				for j, y := range got {
					require.True(t, tc.want(j, y), "%s: x[9] = %g: y[%d] = %g", name, tc.v, j, y)
				}
			}
			// An Inf of w that meets a zero of x: NaN in the dense product,
			// skipped by the sparse one.
			x := make([]float32, k)
			x[0] = 1
			w[5*n+7] = inf
			got, dense := make([]float32, n), make([]float32, n)
			MatVec(got, x, w, nil, k, n)
			DenseMatVec(dense, x, w, nil, k, n)
			require.Equal(t, w[7], got[7], name)
			require.True(t, dense[7] != dense[7], name)
		})
	}
}

// TestParallel: products split among goroutines (by rows, by columns, or
// both) give the bits of one call of the kernel over the whole product.
func TestParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for name, ks := range implementations() {
		using(ks, func() {
			rng := rand.New(rand.NewPCG(5, 6))
			for _, shape := range [][3]int{{64, 512, 128}, {3, 4000, 260}, {2, 6000, 300}, {1, 8192, 333}} {
				m, k, n := shape[0], shape[1], shape[2]
				x, w, bias := activation(rng, m, k, 0.5), normals(rng, k*n, 0.05), normals(rng, n, 1)
				require.GreaterOrEqual(t, float64(m*k*n)*0.4, float64(4*parallelWork), "too small to split")
				for _, f := range []struct {
					product func(dst, x, w, bias []float32, m, k, n int)
					kernel  kernel
				}{{MatMul, ks.sparse}, {DenseMatMul, ks.dense}} {
					want, got := make([]float32, m*n), make([]float32, m*n)
					f.kernel(want, x, w, bias, m, k, n, 0, n)
					f.product(got, x, w, bias, m, k, n)
					requireSameBits(t, want, got, "%s [%d,%d]x[%d,%d]", name, m, k, k, n)
				}
			}
		})
	}
}

// TestZeros counts +0 and -0, not NaN nor subnormals, over lengths that
// cover the SIMD kernel's tail.
func TestZeros(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for name, ks := range implementations() {
		using(ks, func() {
			for size := range 50 {
				x := activation(rng, 1, size, 0.6)
				if size > 3 {
					x[1], x[2] = float32(math.NaN()), math.Float32frombits(1)
				}
				want := 0
				for _, v := range x {
					if math.Float32bits(v)&0x7fff_ffff == 0 {
						want++
					}
				}
				require.Equal(t, want, Zeros(x), "%s: size %d", name, size)
				if size > 0 {
					require.Equal(t, float64(want)/float64(size), Sparsity(x), "%s: size %d", name, size)
				}
			}
			require.Zero(t, Sparsity(nil))
		})
	}
}

// TestThreshold: ACT's inference mask, against the float comparison
// |x| < tau (and NaN) it stands for, on values at the threshold and next to
// it, signed zeros, subnormals, NaN and ±Inf, over lengths that cover the
// SIMD kernel's tail; a negative or NaN threshold panics.
func TestThreshold(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for name, ks := range implementations() {
		using(ks, func() {
			for _, tau := range []float32{0, 0.25, math.Float32frombits(3), inf} {
				for size := range 70 {
					x := make([]float32, size)
					for i := range x {
						x[i] = float32(rng.NormFloat64()) * 0.3
						switch rng.IntN(12) {
						case 0:
							x[i] = tau
						case 1:
							x[i] = -math.Nextafter32(tau, 0)
						case 2:
							x[i] = nan
						case 3:
							x[i] = -inf
						case 4:
							x[i] = float32(math.Copysign(0, -1))
						case 5:
							x[i] = -math.Float32frombits(uint32(rng.IntN(8)))
						}
					}
					want := slices.Clone(x)
					zeros := 0
					for i, v := range want {
						if v != v || float32(math.Abs(float64(v))) < tau {
							want[i] = 0
						}
						if want[i] == 0 {
							zeros++
						}
					}
					got := Threshold(x, tau)
					require.Equal(t, zeros, got, "%s: tau %v, size %d", name, tau, size)
					for i := range x {
						require.Equal(t, math.Float32bits(want[i]), math.Float32bits(x[i]), "%s: tau %v, element %d of %d", name, tau, i, size)
					}
				}
			}
			require.Zero(t, Threshold(nil, 1))
			require.Panics(t, func() { Threshold(make([]float32, 3), -1) })
			require.Panics(t, func() { Threshold(make([]float32, 3), nan) })
			require.NotPanics(t, func() { Threshold(make([]float32, 3), float32(math.Copysign(0, -1))) })
		})
	}
}

// TestLengthsPanic: wrong lengths and negative dimensions panic with a
// message that names the argument and the dimensions.
func TestLengthsPanic(t *testing.T) {
	buf := func(size int) []float32 { return make([]float32, size) }
	for _, tc := range []struct {
		f    func()
		want string
	}{
		{func() { MatVec(buf(3), buf(4), buf(11), nil, 4, 3) }, "sparse.MatVec: len(w) = 11, want k*n = 12 (k = 4, n = 3)"},
		{func() { MatVec(buf(3), buf(5), buf(12), nil, 4, 3) }, "sparse.MatVec: len(x) = 5, want k = 4 (k = 4, n = 3)"},
		{func() { DenseMatVec(buf(4), buf(4), buf(12), nil, 4, 3) }, "sparse.DenseMatVec: len(dst) = 4, want n = 3 (k = 4, n = 3)"},
		{func() { MatVec(buf(3), buf(4), buf(12), buf(4), 4, 3) }, "sparse.MatVec: len(bias) = 4, want n = 3, or a nil bias (k = 4, n = 3)"},
		{func() { MatMul(buf(6), buf(8), buf(12), nil, 2, 4, 3) }, ""},
		{func() { MatMul(buf(6), buf(7), buf(12), nil, 2, 4, 3) }, "sparse.MatMul: len(x) = 7, want m*k = 8 (m = 2, k = 4, n = 3)"},
		{func() { DenseMatMul(buf(5), buf(8), buf(12), nil, 2, 4, 3) }, "sparse.DenseMatMul: len(dst) = 5, want m*n = 6 (m = 2, k = 4, n = 3)"},
		{func() { MatMul(buf(6), buf(8), buf(12), buf(0), 2, 4, 3) }, "sparse.MatMul: len(bias) = 0, want n = 3, or a nil bias (m = 2, k = 4, n = 3)"},
		{func() { MatMul(nil, nil, nil, nil, -1, 4, 3) }, "sparse.MatMul: negative dimension (m = -1, k = 4, n = 3)"},
		{func() { MatMul(nil, nil, nil, nil, math.MaxInt/2, 3, 1) }, fmt.Sprintf("sparse.MatMul: dimensions overflow int (m = %d, k = 3, n = 1)", math.MaxInt/2)},
	} {
		if tc.want == "" {
			require.NotPanics(t, tc.f)
		} else {
			require.PanicsWithValue(t, tc.want, tc.f)
		}
	}
}
