package generate

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSoftmax: the softmax in use (AVX-512 float32 where available) against
// float64 arithmetic, for lengths that cover the 16-lane tail, scores far
// apart and equal, a scale like attention's; each weight within 1e-6
// relative (float32 exp and sum over <= 100 terms: a few ulps) plus the
// rounding of its float32 exponent x = (s - max)*scale, |x|*2^-22 relative;
// exponents below -87.3 count as -87.3 (a weight under 2e-38); the
// weights summing to 1, and positions past len(p) never read or written.
func TestSoftmax(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 1; n <= 100; n++ {
		for _, spread := range []float64{0, 1, 10, 100} {
			s := make([]float32, n+5)
			for i := range s {
				s[i] = float32(rng.NormFloat64() * spread)
			}
			s[n] = float32(math.Inf(1)) // Past the end: must not count.
			scale := float32(1 / math.Sqrt(32))
			p := make([]float32, n+3)
			p[n] = 42
			softmax(p[:n], s, scale)
			require.Equal(t, float32(42), p[n], "wrote past the end")
			want := make([]float64, n)
			best := math.Inf(-1)
			for _, v := range s[:n] {
				best = max(best, float64(v))
			}
			var sum, total float64
			for i, v := range s[:n] {
				want[i] = math.Exp((float64(v) - best) * float64(scale))
				sum += want[i]
			}
			for i := range want {
				want[i] /= sum
				x := math.Abs((float64(s[i]) - best) * float64(scale))
				require.InDelta(t, want[i], float64(p[i]), (1e-6+x*0x1p-22)*want[i]+2e-38, "n %d spread %g: p[%d]", n, spread, i)
				total += float64(p[i])
			}
			require.InDelta(t, 1, total, 1e-5, "n %d", n)
		}
	}
}

// TestNormRows: the row normalization in use (AVX-512 float32 where
// available) against the float64 one, LayerNorm (with bias) and RMSNorm
// (without), for widths that cover the 16-lane tail and rows whose mean is
// far from 0; each output within the float32 rounding of its sums: (W/16 +
// 8) units of 2^-23 of max|x|/rms, times the gain, plus the bias's rounding.
func TestNormRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, W := range []int{1, 15, 16, 17, 31, 128, 130} {
		for _, mu := range []float64{0, 3, 10} {
			for _, withBias := range []bool{true, false} {
				const m = 3
				x, gain := make([]float32, m*W), make([]float32, W)
				var bias []float32
				for i := range x {
					x[i] = float32(mu + rng.NormFloat64())
				}
				for i := range gain {
					gain[i] = float32(1 + 0.1*rng.NormFloat64())
				}
				if withBias {
					bias = make([]float32, W)
					for i := range bias {
						bias[i] = float32(0.1 * rng.NormFloat64())
					}
				}
				got, want := make([]float32, m*W), make([]float32, m*W)
				normRows(got, x, gain, bias, m, W, 1e-5)
				normRowsGo(want, x, gain, bias, m, W, 1e-5)
				for r := range m {
					var maxAbs, ss, mean float64
					for _, v := range x[r*W : (r+1)*W] {
						maxAbs = max(maxAbs, math.Abs(float64(v)))
						mean += float64(v) / float64(W)
					}
					for _, v := range x[r*W : (r+1)*W] {
						c := float64(v)
						if withBias {
							c -= mean
						}
						ss += c * c / float64(W)
					}
					scale := maxAbs / math.Sqrt(ss+1e-5)
					for j := range W {
						i := r*W + j
						tol := float64(W/16+8)*0x1p-23*scale*math.Abs(float64(gain[j])) + 0x1p-22
						require.InDelta(t, want[i], got[i], tol, "W %d mu %g bias %v: row %d col %d", W, mu, withBias, r, j)
					}
				}
				// In place, as the decoder calls it for the final rows.
				normRows(x, x, gain, bias, m, W, 1e-5)
				require.Equal(t, got, x)
			}
		}
	}
}

// TestGeluKept: the skip test in use (AVX-512 where available) against the
// scalar rule, on inputs at and around every bound of the set, NaN and
// ±Inf, over lengths that cover the 16-lane tail: the same kept indices,
// and zeros for the skipped inputs.
func TestGeluKept(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tau := range []float32{0.05, 0.1699, 0.17, 0.5} {
		s := geluSkipFor(tau)
		specials := []float32{s.below, math.Nextafter32(s.below, -1), s.keepLo, math.Nextafter32(s.keepLo, -1), s.keepHi,
			math.Nextafter32(s.keepHi, 1), 0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
		for n := range 70 {
			u := make([]float32, n)
			for i := range u {
				u[i] = float32(rng.NormFloat64())
				if rng.IntN(3) == 0 {
					u[i] = specials[rng.IntN(len(specials))]
				}
			}
			a := make([]float32, n)
			for i := range a {
				a[i] = 7
			}
			idx := make([]int32, n+16)
			got := idx[:geluKept(a, u, s, idx)]
			var want []int32
			for i, v := range u {
				if !(v < s.below && !(v >= s.keepLo && v <= s.keepHi)) {
					want = append(want, int32(i))
				} else {
					require.Zero(t, a[i], "tau %g: u[%d] = %g is skipped: a zero", tau, i, v)
				}
			}
			require.Equal(t, len(want), len(got), "tau %g, n %d", tau, n)
			if len(want) > 0 {
				require.Equal(t, want, got, "tau %g, n %d", tau, n)
			}
		}
	}
}
