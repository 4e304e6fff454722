package codedsize

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/optimizers/expgolomb"
	"github.com/stretchr/testify/require"
)

// ggWeights returns n seeded draws from a zero-mean GG of shape beta and scale alpha.
func ggWeights(n int, alpha, beta float64, seed uint64) []float32 {
	d := ggx.Dist{Alpha: alpha, Beta: beta, Src: rand.NewPCG(seed, 5)}
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(d.Rand())
	}
	return w
}

// TestShapeLowersBits checks that peakier weights (smaller beta) code in fewer
// bits per weight, all below int8's 8 bits, and that the scale does not matter.
func TestShapeLowersBits(t *testing.T) {
	const n = 1 << 16
	prev := 0.0
	for i, beta := range []float64{2, 1.5, 1, 0.5} {
		w := ggWeights(n, 0.02, beta, uint64(i+1))
		r, err := tensor(w)
		require.NoError(t, err)
		t.Logf("beta=%.1f: k=%d, %.3f bits/weight, %.1f%% zeros", beta, r.K, r.BitsPerWeight, 100*r.ZeroFraction)
		require.Less(t, r.BitsPerWeight, 8.0, "beta=%g", beta)
		if i > 0 {
			require.Less(t, r.BitsPerWeight, prev, "beta=%g should code smaller than the previous, larger beta", beta)
		}
		prev = r.BitsPerWeight
		require.Equal(t, int64(8*n), r.Int8Bits)
		require.Equal(t, int64(32*n), r.FP32Bits)

		// Scaling all weights by a power of two changes only the scale.
		scaled := make([]float32, n)
		for j, x := range w {
			scaled[j] = 8 * x
		}
		r8, err := tensor(scaled)
		require.NoError(t, err)
		require.Equal(t, r.Bits, r8.Bits)
		require.InDelta(t, 8*float64(r.Scale), float64(r8.Scale), 1e-6*float64(r8.Scale))
	}
}

// TestExactAgreement checks Bits against expgolomb's encoder: the bitstream of
// the quantized values at order K has exactly PayloadBits (padded to bytes),
// decodes back, no other order is shorter, and the values are reconstructed
// to within half a step.
func TestExactAgreement(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    []float32
	}{
		{"laplacian", ggWeights(10007, 0.1, 1, 7)},
		{"gg0.7", ggWeights(4096, 3, 0.7, 8)},
		{"gaussian", ggWeights(333, 1e-3, 2, 9)},
		{"one", []float32{-0.25}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tensor(tc.w)
			require.NoError(t, err)
			q, scale, err := quantize(tc.w)
			require.NoError(t, err)
			require.Equal(t, r.Scale, scale)
			require.Equal(t, headerBits+r.PayloadBits, r.Bits)
			require.Equal(t, float64(r.Bits)/float64(len(tc.w)), r.BitsPerWeight)

			stream := expgolomb.AppendEncode(nil, q, r.K)
			require.Len(t, stream, int((r.PayloadBits+7)/8))
			require.Equal(t, expgolomb.BitLen(q, r.K), r.PayloadBits)
			for k := 0; k <= expgolomb.MaxK; k++ {
				require.GreaterOrEqual(t, expgolomb.BitLen(q, k), r.PayloadBits, "k=%d", k)
			}
			decoded, err := expgolomb.Decode(nil, stream, len(q), r.K)
			require.NoError(t, err)
			require.Equal(t, q, decoded)

			var maxAbs float64
			for _, x := range tc.w {
				maxAbs = max(maxAbs, math.Abs(float64(x)))
			}
			require.InDelta(t, maxAbs/127, float64(scale), 1e-6*maxAbs)
			zeros := 0
			for i, x := range tc.w {
				require.LessOrEqual(t, q[i], int32(127))
				require.GreaterOrEqual(t, q[i], int32(-127))
				require.InDelta(t, float64(x), float64(scale)*float64(q[i]), 0.5001*float64(scale), "value %d", i)
				if q[i] == 0 {
					zeros++
				}
			}
			require.Equal(t, float64(zeros)/float64(len(q)), r.ZeroFraction)
			require.LessOrEqual(t, r.RMSError, 0.5*float64(scale))
		})
	}
}

// TestConstantAndZero checks the degenerate tensors: a constant tensor codes
// every value as +-127 (whose cheapest code, at k=8, takes 9 bits), an
// all-zero one as 0 with scale 0 (1 bit each at k=0).
func TestConstantAndZero(t *testing.T) {
	const n = 1000
	for _, c := range []float32{0.37, -2} {
		w := make([]float32, n)
		for i := range w {
			w[i] = c
		}
		r, err := tensor(w)
		require.NoError(t, err)
		q := int32(127)
		if c < 0 {
			q = -127
		}
		wantK, wantBits := 0, math.MaxInt
		for k := 0; k <= expgolomb.MaxK; k++ {
			if l := expgolomb.CodeLen(q, k); l < wantBits {
				wantK, wantBits = k, l
			}
		}
		require.Equal(t, 8, wantK)
		require.Equal(t, wantK, r.K)
		require.Equal(t, int64(headerBits+n*wantBits), r.Bits)
		require.Equal(t, 0.0, r.ZeroFraction)
		require.InDelta(t, 0, r.RMSError, 1e-6*math.Abs(float64(c)))
	}
	r, err := tensor(make([]float32, n))
	require.NoError(t, err)
	require.Equal(t, float32(0), r.Scale)
	require.Equal(t, 0, r.K)
	require.Equal(t, int64(headerBits+n), r.Bits)
	require.Equal(t, 1.0, r.ZeroFraction)
	require.Equal(t, int64((headerBits+n+7)/8), r.Bytes())
}

// TestErrors checks empty and non-finite inputs.
func TestErrors(t *testing.T) {
	_, err := tensor(nil)
	require.ErrorContains(t, err, "empty tensor")
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, err := tensor([]float32{1, 2, float32(bad), 3})
		require.ErrorContains(t, err, "value 2 of 4")
		require.ErrorContains(t, err, "must be finite")
	}
	_, err = fromTensors(map[string][]float32{"/a/weights": {1, 2}, "/b/weights": {float32(math.NaN())}})
	require.ErrorContains(t, err, `tensor "/b/weights": value 0 of 1 is NaN`)
	_, err = fromTensors(map[string][]float32{"/a/weights": {}})
	require.ErrorContains(t, err, `tensor "/a/weights": empty tensor`)
	_, err = fromTensors(nil)
	require.ErrorContains(t, err, "no weight tensors")
}

// TestFromTensors checks the totals of a report.
func TestFromTensors(t *testing.T) {
	tensors := map[string][]float32{
		"/b/weights": ggWeights(5000, 0.05, 0.8, 1),
		"/a/weights": ggWeights(3001, 0.05, 1.6, 2),
		"/a/biases":  ggWeights(17, 0.01, 2, 3),
	}
	r, err := fromTensors(tensors)
	require.NoError(t, err)
	require.Len(t, r.Tensors, 3)
	require.Equal(t, []string{"/a/biases", "/a/weights", "/b/weights"}, []string{r.Tensors[0].Name, r.Tensors[1].Name, r.Tensors[2].Name})
	var coded int64
	for _, tr := range r.Tensors {
		one, err := tensor(tensors[tr.Name])
		require.NoError(t, err)
		require.Equal(t, one, tr.Result)
		coded += (one.Bits + 7) / 8
	}
	require.Equal(t, 8018, r.Params)
	require.Equal(t, int64(4*8018), r.FP32Bytes)
	require.Equal(t, int64(8018), r.Int8Bytes)
	require.Equal(t, coded, r.CodedBytes)
	require.InDelta(t, 8*float64(coded)/8018, r.BitsPerWeight, 1e-12)
	require.InDelta(t, float64(4*8018)/float64(coded), r.RatioVsFP32, 1e-12)
	require.Less(t, r.BitsPerWeight, 8.0)
	require.Greater(t, r.RatioVsFP32, 4.0)
}
