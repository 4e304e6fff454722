package charlm

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

// toyStep builds an executor running one optimizer step on a toy store with a
// rank-2 variable "w" [2,3], a rank-1 "b" [3] and a scalar "s", minimizing
// lossFn(w, b, s). It returns the executor (whose output is the loss).
func toyStep(t *testing.T, store *model.Store, opt *AdamWOptimizer, lossFn func(w, b, s *Node) *Node) *model.Exec {
	exec, err := model.NewExec(backend(t), store, func(scope *model.Scope, g *Graph) *Node {
		w := scope.VariableWithValue("w", [][]float32{{1, -2, 3}, {0.5, -0.25, 4}}).NodeValue(g)
		b := scope.VariableWithValue("b", []float32{1, 2, -3}).NodeValue(g)
		s := scope.VariableWithValue("s", float32(2)).NodeValue(g)
		loss := lossFn(w, b, s)
		opt.UpdateGraph(scope, g, loss)
		return loss
	})
	require.NoError(t, err)
	return exec
}

// TestAdamWDecaysOnlyRank2 runs a step with zero gradients: Adam's update is
// then exactly 0 (0/(0+eps)), so only the decoupled decay moves the variables:
// the rank-2 one is scaled by 1-lr*wd, the rank-1 and scalar ones must not move.
func TestAdamWDecaysOnlyRank2(t *testing.T) {
	store := model.NewStore()
	opt := adamW().LearningRate(0.1).WeightDecay(0.5).Done()
	exec := toyStep(t, store, opt, func(w, b, s *Node) *Node {
		return MulScalar(Add(Add(ReduceAllSum(w), ReduceAllSum(b)), s), 0)
	})
	exec.MustCall()
	w := flatFloat32(t, store.GetVariable("/w").MustValue())
	wantW := []float32{1, -2, 3, 0.5, -0.25, 4}
	for i := range wantW {
		wantW[i] *= float32(1 - 0.1*0.5)
	}
	require.InDeltaSlice(t, wantW, w, 1e-7)
	require.Equal(t, []float32{1, 2, -3}, flatFloat32(t, store.GetVariable("/b").MustValue()))
	require.Equal(t, float32(2), store.GetVariable("/s").MustValue().Value())
	require.EqualValues(t, 1, store.GetVariable("/global_step").MustValue().Value())
}

// TestAdamWMatchesReference compares three AdamW steps on a quadratic loss
// against a float64 host implementation of torch.optim.AdamW (decay on the rank-2
// variable only), with gradient clipping off and on.
func TestAdamWMatchesReference(t *testing.T) {
	for _, clip := range []float64{0, 1} {
		store := model.NewStore()
		const lr, wd, b1, b2, eps = 0.05, 0.1, 0.9, 0.99, 1e-8
		opt := adamW().LearningRate(lr).WeightDecay(wd).Betas(b1, b2).Epsilon(eps).ClipGlobalNorm(clip).Done()
		target := []float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5}
		exec := toyStep(t, store, opt, func(w, b, s *Node) *Node {
			// 0.5*||w - 0.5||^2 + 0.5*||b||^2 + 0.5*s^2: gradients w-0.5, b, s.
			return MulScalar(Add(Add(ReduceAllSum(Square(AddScalar(w, -0.5))), ReduceAllSum(Square(b))), Square(s)), 0.5)
		})

		// Host reference, all parameters in one vector: w (6, decayed), b (3), s (1).
		p := []float64{1, -2, 3, 0.5, -0.25, 4, 1, 2, -3, 2}
		decayed := func(i int) bool { return i < 6 }
		m := make([]float64, len(p))
		v := make([]float64, len(p))
		for step := 1; step <= 3; step++ {
			g := make([]float64, len(p))
			norm := 0.0
			for i := range p {
				g[i] = p[i]
				if i < 6 {
					g[i] -= target[i]
				}
				norm += g[i] * g[i]
			}
			norm = math.Sqrt(norm)
			if clip > 0 {
				coef := math.Min(1, clip/(norm+1e-6))
				for i := range g {
					g[i] *= coef
				}
			}
			bc1, bc2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
			for i := range p {
				if decayed(i) {
					p[i] *= 1 - lr*wd
				}
				m[i] = b1*m[i] + (1-b1)*g[i]
				v[i] = b2*v[i] + (1-b2)*g[i]*g[i]
				p[i] -= lr / bc1 * m[i] / (math.Sqrt(v[i])/math.Sqrt(bc2) + eps)
			}
			exec.MustCall()
		}
		got := append(flatFloat32(t, store.GetVariable("/w").MustValue()), flatFloat32(t, store.GetVariable("/b").MustValue())...)
		got = append(got, store.GetVariable("/s").MustValue().Value().(float32))
		for i := range p {
			require.InDelta(t, p[i], float64(got[i]), 2e-6, "clip=%g parameter %d", clip, i)
		}
	}
}

// TestClipByGlobalNorm checks the clipping factor, the returned norm, and that
// the norm does not depend on the order of the variables.
func TestClipByGlobalNorm(t *testing.T) {
	store := model.NewStore()
	va := store.VariableWithValue("/a", []float32{0, 0})
	vb := store.VariableWithValue("/b", float32(0))
	for _, c := range []struct {
		maxNorm, wantCoef float64
	}{{1, 1 / (13 + 1e-6)}, {100, 1}, {0, 1}} {
		exec := MustNewExec(backend(t), func(g *Graph) []*Node {
			ga := Const(g, []float32{3, 4})
			gb := Const(g, float32(12))
			clipped, norm := clipByGlobalNorm([]*model.Variable{va, vb}, []*Node{ga, gb}, c.maxNorm)
			_, normReversed := clipByGlobalNorm([]*model.Variable{vb, va}, []*Node{gb, ga}, c.maxNorm)
			return []*Node{clipped[0], clipped[1], norm, normReversed}
		})
		out := exec.MustCall()
		coef := float32(c.wantCoef)
		require.InDeltaSlice(t, []float32{3 * coef, 4 * coef}, flatFloat32(t, out[0]), 1e-7, "maxNorm=%g", c.maxNorm)
		require.InDelta(t, 12*coef, out[1].Value().(float32), 1e-6, "maxNorm=%g", c.maxNorm)
		require.Equal(t, float32(13), out[2].Value().(float32))
		require.Equal(t, out[2].Value(), out[3].Value(), "the norm must not depend on the variables' order")
	}
}
