package generate

import (
	"math"
	"testing"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/stretchr/testify/require"
)

// logitTolerance bounds the difference between the engine's and the GoMLX
// graph's logits of one position, from float32 arithmetic. u = 2^-24 is
// float32's unit roundoff. A logit is the end of a chain of float32 sums;
// n counts the terms along the longest chain, per block: the norm's mean
// and variance (2W), the QKV projection (W), a score (headWidth), the
// softmax's sum and the weighted values (2T for T positions), the attention
// output (W), the second norm (2W), the MLP's two projections (W and H), and
// 16 more for the element-wise steps (scaling, exp, GELU or SwiGLU, residual
// adds); then the final norm (2W), the head (W) and 4 more. In the worst case
// such a chain errs by n·u relative to the magnitudes of its terms (Higham's
// gamma_n); rounding errors are independent and centered, so they add like a
// random walk: Higham and Mary's probabilistic bound, lambda·sqrt(n)·u, holds
// with probability at least 1 - 2n·exp(-lambda^2/2), about 1 - 1e-11 for
// lambda = 8 and n ~ 500. That relative error, carried to the final norm's
// output x, moves logit v by at most that times sum_j (|x_j| +
// rms(x))·|W_head[j][v]| (rms(x): after the norm's centering an error is
// relative to the whole vector, not to each coordinate). The engine and the
// graph err independently (different summation orders; the engine sums
// norms and attention in float64), hence the factor 2. Where ACT thresholds
// a site, a value within rounding of its threshold could be kept by one side
// and zeroed by the other; with a few thousand values per site such a value
// is unlikely (a window about threshold·2^-20 wide), and none occurs here.
// (A GELU in its tanh form instead of erf, off by up to 5e-4, fails it.)
func logitTolerance(cfg charlm.Config, x, head []float32, positions int) float64 {
	const u = 0x1p-24
	W, H, V := cfg.Width, cfg.Hidden(), cfg.Vocab
	n := cfg.Layers*(6*W+cfg.HeadWidth()+2*positions+H+16) + 3*W + 4
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	rms := math.Sqrt(ss / float64(W))
	var worst float64
	for v := range V {
		var s float64
		for j, xj := range x {
			s += (math.Abs(float64(xj)) + rms) * math.Abs(float64(head[j*V+v]))
		}
		worst = max(worst, s)
	}
	const lambda = 8
	return 2 * lambda * math.Sqrt(float64(n)) * u * worst
}

// maxAbsDiff returns max_i |a[i] - b[i]|.
func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// requireSameBits fails unless a and b hold the same float32 bits.
func requireSameBits(t *testing.T, a, b []float32, msgAndArgs ...any) {
	t.Helper()
	require.Len(t, b, len(a), msgAndArgs...)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			require.Failf(t, "different bits", "element %d: %g vs %g %v", i, a[i], b[i], msgAndArgs)
		}
	}
}

// TestLogitsMatchGraph decodes a text byte by byte (past the 16-byte block,
// so the window slides several times) with both architectures, with and without ACT
// at every site, and checks at every step that the engine's logits are the
// GoMLX graph's forward of the same window within logitTolerance; that the
// dense and the sparse path give the same bits; and that encoding the
// window in one batched pass (Start) gives the bits of the byte-by-byte
// KV-cached decoding.
func TestLogitsMatchGraph(t *testing.T) {
	text := []byte("the colours of the rays, refracted twice, are separated.")
	for _, arch := range []string{charlm.ArchGPT, charlm.ArchLlama} {
		for _, act := range []bool{false, true} {
			name := arch
			if act {
				name += "-act"
			}
			t.Run(name, func(t *testing.T) {
				ckpt, e := load(t, arch, act)
				require.Equal(t, act, e.HasACT())
				g, err := NewGraphForward(ckpt, testbackend.Get(t))
				require.NoError(t, err)
				defer g.Close()
				dense, err := e.NewDecoder(1, false)
				require.NoError(t, err)
				sp, err := e.NewDecoder(1, true)
				require.NoError(t, err)
				fresh, err := e.NewDecoder(1, false)
				require.NoError(t, err)
				require.NoError(t, dense.Start([][]byte{text[:1]}))
				require.NoError(t, sp.Start([][]byte{text[:1]}))
				worst, lastTol, slides := 0.0, 0.0, 0
				for i := 1; ; i++ {
					window := dense.Window(0)
					require.Equal(t, window, sp.Window(0))
					want, err := g.Last([][]byte{window})
					require.NoError(t, err)
					got := dense.Logits(0)
					tol := logitTolerance(e.Config, dense.xf[:e.Config.Width], e.head, len(window))
					diff := maxAbsDiff(got, want[0])
					require.LessOrEqualf(t, diff, tol, "byte %d, window %q", i, window)
					worst, lastTol = max(worst, diff/tol), tol
					requireSameBits(t, got, sp.Logits(0), "sparse path, byte", i)
					require.NoError(t, fresh.Start([][]byte{window}))
					requireSameBits(t, got, fresh.Logits(0), "one-pass encoding, byte", i)
					if i == len(text) {
						break
					}
					if len(window) == e.Config.Block {
						slides++
					}
					require.NoError(t, dense.Append(text[i:i+1]))
					require.NoError(t, sp.Append(text[i:i+1]))
				}
				require.GreaterOrEqual(t, slides, 2)
				if act {
					st := sp.Stats()
					require.Len(t, st.SparsityBySite, 3)
					require.Positive(t, st.SkippableMACs)
					t.Logf("ACT sparsity by site %v", st.SparsityBySite)
				}
				t.Logf("largest difference from the graph: %.3g of the tolerance (the last byte's: %.3g)", worst, lastTol)
			})
		}
	}
}
