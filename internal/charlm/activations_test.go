package charlm

import (
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/stretchr/testify/require"
)

// TestActivationsMatchGoMLX checks softmax and gelu (values and gradients)
// against GoMLX's Softmax and activation.Gelu.
func TestActivationsMatchGoMLX(t *testing.T) {
	exec := MustNewExec(backend(t), func(x *Node) []*Node {
		w := Const(x.Graph(), [][]float32{{0.3, -1, 2, 0.5}, {1, 1, -0.25, 3}}) // Weights the outputs: non-trivial gradients.
		var outs []*Node
		for _, fn := range []func(*Node) *Node{
			softmax, func(x *Node) *Node { return Softmax(x, -1) },
			gelu, activation.Gelu,
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
