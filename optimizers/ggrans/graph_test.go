package ggrans

import (
	"fmt"
	"math"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// graphFrameBits runs FrameBitsGraph on the test backend (testbackend.Get).
func graphFrameBits(t *testing.T, qs []int32, alpha, beta, step float32) float64 {
	t.Helper()
	exec, err := graph.NewExec(testbackend.Get(t), func(q, b, a, s *graph.Node) *graph.Node {
		return FrameBitsGraph(q, b, a, s)
	})
	require.NoError(t, err)
	defer exec.Finalize()
	var input *tensors.Tensor
	if len(qs) == 0 {
		input = tensors.FromFlatDataAndDimensions([]int32{}, 0)
	} else {
		input = tensors.FromFlatDataAndDimensions(qs, 4, len(qs)/4)
	}
	out, err := exec.Call(input, beta, alpha, step)
	require.NoError(t, err)
	require.Equal(t, dtypes.Float32, out[0].DType())
	return float64(tensors.ToScalar[float32](out[0]))
}

// TestFrameBitsGraph checks the in-graph frame size against the host frame: within 0.5% for
// tensors of 4096 values or more, at rates from 0.3 to 4 bits per value, for several shapes.
func TestFrameBitsGraph(t *testing.T) {
	for _, beta := range []float64{0.5, 0.9, 1.5, 2} {
		for _, rate := range []float64{0.3, 0.5, 1, 2, 3, 4} {
			for _, n := range []int{4096, 1 << 16} {
				w := ggWorkload(n, beta, rate)
				frame := w.frame(nil)
				host := float64(8 * len(frame))
				got := graphFrameBits(t, w.qs, 1, float32(beta), float32(w.c))
				rel := (got - host) / host
				t.Logf("beta=%g rate=%g n=%d: host %.0f bits, graph %.1f (%+.1f, %+.3f%%)", beta, rate, n, host, got, got-host, 100*rel)
				require.Lessf(t, math.Abs(rel), 0.005, "beta=%g rate=%g n=%d", beta, rate, n)
				require.InDeltaf(t, host, got, 8, "beta=%g rate=%g n=%d: more than the expected spread", beta, rate, n)
			}
		}
	}
}

// TestFrameBitsGraphEdges checks escapes (outliers, extreme values), a scale alpha != 1, tiny
// and large steps, and an empty tensor.
func TestFrameBitsGraphEdges(t *testing.T) {
	w := ggWorkload(8192, 0.9, 1)
	outliers := append([]int32(nil), w.qs...)
	for i := 0; i < len(outliers); i += 97 {
		outliers[i] = int32(i*31) - 100000
	}
	outliers[1], outliers[2] = math.MaxInt32, math.MinInt32
	cases := []struct {
		name              string
		qs                []int32
		alpha, beta, step float32
	}{
		{"outliers", outliers, 1, 0.9, float32(w.c)},
		{"scaled", w.qs, 0.001, 0.9, float32(w.c * 0.001)},
		{"tiny-step", quantize(ggSamples(8192, 1.2, 3), 1e-3), 1, 1.2, 1e-3},
		{"huge-step", quantize(ggSamples(8192, 1.2, 3), 30), 1, 1.2, 30},
		{"clamped", quantize(ggSamples(8192, 0.9, 4), 0.5), 1, 0.01, 0.5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frame, err := AppendFrame(nil, tc.qs, tc.alpha, tc.beta, tc.step)
			require.NoError(t, err)
			host := float64(8 * len(frame))
			got := graphFrameBits(t, tc.qs, tc.alpha, tc.beta, tc.step)
			t.Logf("host %.0f bits, graph %.1f (%+.3f%%)", host, got, 100*(got-host)/host)
			require.InDelta(t, host, got, max(16, 0.005*host), fmt.Sprint(tc.name))
		})
	}
	require.Equal(t, float64(8*FrameOverhead), graphFrameBits(t, nil, 1, 1, 1))
}

// TestFrameBitsGraphDTypes checks float values and float64 parameters: the same count as int32
// values and float32 parameters.
func TestFrameBitsGraphDTypes(t *testing.T) {
	w := ggWorkload(4096, 0.9, 1)
	want := graphFrameBits(t, w.qs, 1, 0.9, float32(w.c))
	fs := make([]float32, len(w.qs))
	for i, q := range w.qs {
		fs[i] = float32(q) + 0.25 // Rounded back to q.
	}
	exec, err := graph.NewExec(testbackend.Get(t), func(q, b, a, s *graph.Node) *graph.Node {
		return FrameBitsGraph(q, b, a, s)
	})
	require.NoError(t, err)
	defer exec.Finalize()
	out, err := exec.Call(tensors.FromFlatDataAndDimensions(fs, len(fs)), float64(float32(0.9)), 1.0, float64(float32(w.c)))
	require.NoError(t, err)
	require.InDelta(t, want, float64(tensors.ToScalar[float32](out[0])), 0.01)
}
