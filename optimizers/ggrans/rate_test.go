package ggrans

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExpectedBits checks ExpectedBits against the payload of frames of GG samples, escapes
// included: within 1%, plus the sampling error of a mean of n code lengths.
func TestExpectedBits(t *testing.T) {
	const n = 1 << 17
	for _, beta := range []float64{0.3, 0.9, 2} {
		for _, c := range []float64{0.01, 0.3, 1, 3, 10} {
			c := c * math.Pow(10, 1/beta-1) // The same ranges of rates for heavier tails.
			qs := quantize(ggSamples(n, beta, 7), c)
			frame, err := AppendFrame(nil, qs, 1, float32(beta), float32(c))
			require.NoError(t, err)
			got := float64(8*len(frame)-8*FrameOverhead-stateBlockMin) / n
			want := ExpectedBits(beta, c)
			// The per-value cost has a standard deviation below its mean plus 2 bits (the escapes'
			// tails aside): allow 5 standard errors.
			tol := 0.01*want + 5*(want+2)/math.Sqrt(n)
			t.Logf("beta=%g c=%.4g: expected %.4f bits/value, frame payload %.4f (%+.2f%%)", beta, c, want, got, 100*(got/want-1))
			require.InDelta(t, want, got, tol)
		}
	}
}

// TestStepForBits checks that StepForBits inverts ExpectedBits, below 1 bit per value too, that
// the step table interpolates it, and the errors for rates out of reach.
func TestStepForBits(t *testing.T) {
	for _, beta := range []float64{0.05, 0.3, 0.9, 2, 8, 20} {
		for _, bits := range []float64{0.05, 0.3, 0.5, 1, 2, 3, 6} {
			c, err := StepForBits(beta, bits)
			require.NoError(t, err, "beta=%g bits=%g", beta, bits)
			require.InDelta(t, bits, ExpectedBits(beta, c), 1e-3*bits, "beta=%g bits=%g", beta, bits)
		}
	}
	for _, bits := range []float64{0, -1, 0.0001, 200, math.NaN(), math.Inf(1)} {
		_, err := StepForBits(1, bits)
		require.ErrorIs(t, err, ErrParameter, "bits=%g", bits)
	}
	for _, bits := range []float64{0.3, 2} {
		table, err := StepTable(bits)
		require.NoError(t, err)
		again, err := StepTable(bits)
		require.NoError(t, err)
		require.Same(t, table, again)
		// Between the grid points, the interpolated step gives the rate within 1%.
		for _, beta := range []float64{0.07, 0.33, 0.77, 1.3, 2.9, 13} {
			c := math.Exp(table.At(math.Log(beta)))
			require.InDelta(t, bits, ExpectedBits(beta, c), 0.01*bits, "beta=%g bits=%g", beta, bits)
		}
	}
}
