package charlm

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	bad := DefaultConfig()
	bad.Heads = 3
	require.ErrorContains(t, bad.Validate(), "divisible")
	bad = DefaultConfig()
	bad.Arch = "rnn"
	require.ErrorContains(t, bad.Validate(), "unknown architecture")
	require.Equal(t, 512, DefaultConfig().Hidden())
	llama := DefaultConfig()
	llama.Arch = ArchLlama
	require.Equal(t, defaultLlamaMLPHidden, llama.Hidden())
}

// TestParamCount checks the closed-form count against the variables the model
// really creates (for the full-size gpt and llama), and the gpt count against
// the 867,072 of the benchmark specification. It also checks the baseline initialization: the
// sample std of every weight matrix matches its kind's target, biases are zeros
// and gains ones.
func TestParamCount(t *testing.T) {
	require.Equal(t, 867_072, DefaultConfig().NumParams())
	for _, arch := range []string{ArchGPT, ArchLlama} {
		t.Run(arch, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Arch = arch
			store := newSeededStore(7)
			m := newModel(cfg)
			out := logitsExec(t, store, m).MustCall(tokensTensor("abcd"))[0]
			require.Equal(t, []int{1, 4, 256}, out.Shape().Dimensions)

			count := 0
			for v := range store.IterVariables() {
				if !v.Trainable || v.Shape().DType != dtypes.Float32 {
					continue
				}
				count += v.Shape().Size()
				values := flatFloat32(t, v.MustValue())
				mean, std := meanStd(values)
				name := v.Path()
				switch {
				case strings.HasSuffix(name, "/biases") || strings.HasSuffix(name, "/offset"):
					require.Equal(t, 0.0, std, name)
					require.Equal(t, 0.0, mean, name)
				case strings.HasSuffix(name, "/gain"):
					require.Equal(t, 0.0, std, name)
					require.Equal(t, 1.0, mean, name)
				default:
					require.Equal(t, 2, v.Shape().Rank(), name)
					want := baselineStdDev
					if strings.Contains(name, "/out/") || strings.Contains(name, "/down/") {
						want = baselineStd(KindAttnOut, cfg.Layers)
					}
					// The sample std of n normal values has relative standard error 1/sqrt(2(n-1)):
					// allow 5 of them (n >= 8192 here, so < 4%).
					tol := 5 / math.Sqrt(2*float64(len(values)-1))
					require.InDelta(t, want, std, want*tol, "%s: std %g, want %g", name, std, want)
					require.InDelta(t, 0, mean, 5*want/math.Sqrt(float64(len(values))), name)
				}
			}
			require.Equal(t, cfg.NumParams(), count, "closed form vs. variables created")
		})
	}
	llama := DefaultConfig()
	llama.Arch = ArchLlama
	require.Equal(t, 869_504, llama.NumParams())
}
