package charlm

import (
	"math"
	"testing"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/stretchr/testify/require"
)

// TestActivationsMatchGoMLX checks softmax, gelu and sigmoid (values and
// gradients) against GoMLX's Softmax, activation.Gelu and Sigmoid.
func TestActivationsMatchGoMLX(t *testing.T) {
	exec := MustNewExec(backend(t), func(x *Node) []*Node {
		w := Const(x.Graph(), [][]float32{{0.3, -1, 2, 0.5}, {1, 1, -0.25, 3}}) // Weights the outputs: non-trivial gradients.
		var outs []*Node
		for _, fn := range []func(*Node) *Node{
			softmax, func(x *Node) *Node { return Softmax(x, -1) },
			gelu, activation.Gelu,
			sigmoid, Sigmoid,
		} {
			y := fn(x)
			outs = append(outs, y, Gradient(ReduceAllSum(Mul(y, w)), x)[0])
		}
		return outs
	})
	x := [][]float32{{-3, -0.5, 0, 2.5}, {4, -1e9, 1, -2}} // -1e9: a masked attention score.
	out := exec.MustCall(x)
	for i := 0; i < len(out); i += 4 {
		require.InDeltaSlice(t, flatFloat32(t, out[i+2]), flatFloat32(t, out[i]), 1e-6, "values, pair %d", i/4)
		require.InDeltaSlice(t, flatFloat32(t, out[i+3]), flatFloat32(t, out[i+1]), 1e-6, "gradients, pair %d", i/4)
	}
}

// TestExpNonPositive compares expNonPositive with math.Exp over [-104, 0]
// (down to float32's underflow), in float32 ulps of the result (absolute
// error below the smallest normal float32 where exp(x) is subnormal).
func TestExpNonPositive(t *testing.T) {
	var xs []float32
	for x := -104.0; x <= 0; x += 0.37 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, 0, -1e-8, -1e-3, -0.5, -87.3, -88.7)
	exec := MustNewExec(backend(t), expNonPositive)
	got := flatFloat32(t, exec.MustCall(xs)[0])
	for i, x := range xs {
		want := math.Exp(float64(x))
		if want < 0x1p-126 { // Below float32's normal range the fused exp may flush to zero.
			require.InDelta(t, want, float64(got[i]), 0x1p-126, "x=%g", x)
			continue
		}
		require.InEpsilon(t, want, float64(got[i]), 4*0x1p-23, "x=%g", x)
	}
}

// TestCrossEntropyMatchesLogSoftmax compares CrossEntropy (values and
// gradients) with the textbook -sum(onehot * LogSoftmax(logits)), on logits
// that include large and very negative values.
func TestCrossEntropyMatchesLogSoftmax(t *testing.T) {
	const batch, seq, vocab = 2, 3, 7
	logits := make([][][]float32, batch)
	targets := make([][]int32, batch)
	for b := range logits {
		logits[b] = make([][]float32, seq)
		targets[b] = make([]int32, seq)
		for s := range logits[b] {
			logits[b][s] = make([]float32, vocab)
			for v := range logits[b][s] {
				logits[b][s][v] = float32(math.Sin(float64(1+b*100+s*10+v)) * 4)
			}
			targets[b][s] = int32((b*seq + s*3) % vocab)
		}
	}
	logits[0][1][2], logits[1][2][5] = 60, -200 // A confident prediction; a hopeless logit.
	targets[1][2] = 5                           // ... which is the target.
	exec := MustNewExec(backend(t), func(x, y *Node) []*Node {
		w := IotaFull(x.Graph(), shapes.Make(x.DType(), batch, seq))
		w = AddScalar(MulScalar(w, 0.25), -0.5) // Weights the losses: non-trivial gradients.
		ours := CrossEntropy(x, y)
		ref := Neg(ReduceSum(Mul(OneHot(y, vocab, x.DType()), LogSoftmax(x, -1)), -1))
		return []*Node{
			ours, Gradient(ReduceAllSum(Mul(ours, w)), x)[0],
			ref, Gradient(ReduceAllSum(Mul(ref, w)), x)[0],
		}
	})
	out := exec.MustCall(logits, targets)
	require.InDeltaSlice(t, flatFloat32(t, out[2]), flatFloat32(t, out[0]), 2e-5, "values")
	require.InDeltaSlice(t, flatFloat32(t, out[3]), flatFloat32(t, out[1]), 1e-6, "gradients")
	require.Greater(t, flatFloat32(t, out[0])[batch*seq-1], float32(200), "the hopeless target costs over 200 nats")
}
