package charlm

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/stretchr/testify/require"
)

// TestSchedule checks the learning rate of the benchmark specification at key steps of a 2000-step
// run, on the host and in the graph.
func TestSchedule(t *testing.T) {
	s := defaultSchedule(2000)
	cases := []struct {
		it   int
		want float64
	}{
		{0, 1e-5},      // 1e-3 * 1/100
		{49, 5e-4},     // 1e-3 * 50/100
		{99, 1e-3},     // end of warmup
		{100, 1e-3},    // cosine starts at the peak
		{1050, 5.5e-4}, // half way: 1e-4 + 0.5*(1e-3-1e-4)
		{1999, 1e-4 + 0.5*(1+math.Cos(math.Pi*1899/1900))*9e-4},
		{2000, 1e-4}, // the end (and beyond) is the minimum
		{2500, 1e-4},
	}
	exec := graph.MustNewExec(backend(t), func(it *graph.Node) *graph.Node { return s.Graph(it) })
	for _, c := range cases {
		require.InDelta(t, c.want, s.At(c.it), 1e-15, "host lr at step %d", c.it)
		got := exec.MustCall(float32(c.it))[0].Value().(float32)
		require.InDelta(t, float32(c.want), got, 1e-6*c.want, "graph lr at step %d", c.it)
	}
	require.Less(t, s.At(1999)-1e-4, 1e-9)
	require.Greater(t, s.At(1999), 1e-4)
}
