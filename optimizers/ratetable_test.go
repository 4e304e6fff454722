package optimizers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/optimizers/expgolomb"
	"github.com/stretchr/testify/require"
)

// TestExpectedBitsMatchesCoding: the expected code length agrees with the
// actual Exp-Golomb length of quantized GG samples, within 5 standard errors.
func TestExpectedBitsMatchesCoding(t *testing.T) {
	const n = 200_000
	for i, beta := range []float64{0.3, 0.7, 1, 2} {
		for _, c := range []float64{0.05, 0.5, 2} {
			for _, k := range []int{0, 1} {
				d := ggx.Dist{Alpha: 1.7, Beta: beta, Src: rand.NewPCG(uint64(i), uint64(k))}
				qs := make([]int32, n)
				var sum, sum2 float64
				for j := range qs {
					qs[j] = int32(math.RoundToEven(d.Rand() / (c * d.Alpha)))
					l := float64(expgolomb.CodeLen(qs[j], k))
					sum += l
					sum2 += l * l
				}
				mean := sum / n
				se := math.Sqrt((sum2/n - mean*mean) / n)
				want := ExpectedBits(beta, c, k)
				require.InDelta(t, want, mean, 5*se+1e-9, "beta=%g c=%g k=%d", beta, c, k)
				require.Equal(t, sum, float64(expgolomb.BitLen(qs, k)))
			}
		}
	}
}

func TestStepForBits(t *testing.T) {
	for _, beta := range []float64{0.1, 0.5, 1, 2, 8} {
		for _, bits := range []float64{1.2, 2, 4, 8} {
			c, err := stepForBits(beta, bits, 0)
			require.NoError(t, err)
			require.InDelta(t, bits, ExpectedBits(beta, c, 0), 1e-6, "beta=%g bits=%g", beta, bits)
		}
	}
	_, err := stepForBits(1, 1, 0)
	require.ErrorContains(t, err, "not reachable")
	_, err = stepForBits(1, 2.5, 2)
	require.ErrorContains(t, err, "not reachable")
}
