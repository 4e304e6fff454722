package stats

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewMeanStd(t *testing.T) {
	require.Equal(t, MeanStd{}, NewMeanStd(nil))
	require.Equal(t, MeanStd{Mean: 2, N: 1}, NewMeanStd([]float64{2}))
	m := NewMeanStd([]float64{1, 2, 3, 4})
	require.Equal(t, 2.5, m.Mean)
	require.InDelta(t, math.Sqrt(5.0/3), m.Std, 1e-12, "sample standard deviation")
	require.Equal(t, 4, m.N)
}

// TestTTest: with 3 values the two-sided 5% critical t is 4.303.
func TestTTest(t *testing.T) {
	for _, c := range []struct {
		m                        MeanStd
		below, significant, test bool
	}{
		{MeanStd{Mean: -0.01, Std: 0.002, N: 3}, true, true, true},    // t -8.7
		{MeanStd{Mean: 0.01, Std: 0.002, N: 3}, false, true, true},    // t +8.7
		{MeanStd{Mean: -0.01, Std: 0.01, N: 3}, false, false, true},   // t -1.7
		{MeanStd{Mean: -0.01, Std: 0.0040, N: 3}, true, true, true},   // t -4.33
		{MeanStd{Mean: -0.01, Std: 0.0041, N: 3}, false, false, true}, // t -4.22
		{MeanStd{Mean: -0.01, N: 1}, true, false, false},              // Untested: the sign only.
	} {
		below, tested := c.m.BelowZero(0.05)
		require.Equal(t, c.below, below, "%+v", c.m)
		require.Equal(t, c.test, tested, "%+v", c.m)
		significant, tested := c.m.Significant(0.05)
		require.Equal(t, c.significant, significant, "%+v", c.m)
		require.Equal(t, c.test, tested, "%+v", c.m)
	}
}

// TestMedian checks odd and even counts, no values, and that the input is
// not reordered.
func TestMedian(t *testing.T) {
	xs := []float64{3, 1, 2}
	require.Equal(t, 2.0, Median(xs))
	require.Equal(t, []float64{3, 1, 2}, xs, "not modified")
	require.Equal(t, 2.5, Median([]float64{4, 1, 3, 2}))
	require.True(t, math.IsNaN(Median(nil)))
}
