package charlm

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseBetas(t *testing.T) {
	b, err := ParseBetas("1.4")
	require.NoError(t, err)
	for _, k := range Kinds {
		require.Equal(t, 1.4, b.For(k))
	}

	b, err = ParseBetas("attn_qkv=1.3, mlp_in=1.6")
	require.NoError(t, err)
	require.Equal(t, 1.3, b.For(KindAttnQKV))
	require.Equal(t, 1.6, b.For(KindMLPIn))
	require.Equal(t, 2.0, b.For(KindHead), "kinds not given are Gaussian")

	b, err = ParseBetas("1.4,head=2")
	require.NoError(t, err)
	require.Equal(t, 2.0, b.For(KindHead))
	require.Equal(t, 1.4, b.For(KindEmbed))
	require.Equal(t, "1.4,head=2", b.String())

	for _, bad := range []string{"", "0", "-1", "x", "nope=1.2", "head=1,head=2", "1,2", "head=", "inf"} {
		_, err := ParseBetas(bad)
		require.Error(t, err, "%q", bad)
	}
	// Shapes outside ggx's range: 0.001 underflowed the initializer's scale
	// (a long error chain once training ran), 0.04 diverged.
	for _, bad := range []string{"0.001", "0.04", "50.5", "1.4,attn_qkv=0.01"} {
		_, err := ParseBetas(bad)
		require.ErrorContains(t, err, "is not a shape in [0.05, 50]", "%q", bad)
	}
	for _, good := range []string{"0.05", "50", "head=0.05,embed=50"} {
		_, err := ParseBetas(good)
		require.NoError(t, err, "%q", good)
	}
	_, err = ParseBetas("fit:/some/checkpoint")
	require.ErrorIs(t, err, errBetaFitUnsupported)
	require.ErrorContains(t, err, "resolve -beta fit:DIR")
}

func TestInitByName(t *testing.T) {
	for _, name := range []string{initNameNormal02, initNameHe} {
		fn, err := initByName(name, "")
		require.NoError(t, err)
		require.NotNil(t, fn)
		_, err = initByName(name, "1.4")
		require.Error(t, err, "-beta only goes with gg")
	}
	_, err := initByName("xavier", "")
	require.ErrorContains(t, err, "unknown initialization")
	_, err = initByName(InitNameGG, "")
	require.ErrorContains(t, err, "-beta")
	_, err = initByName(InitNameGG, "fit:/ckpt")
	require.ErrorIs(t, err, errBetaFitUnsupported)
	fn, err := initByName(InitNameGG, "1.4")
	require.NoError(t, err)
	require.NotNil(t, fn)
}

// TestInitHe checks the He strategy's std (math.Sqrt(2/fan_in), fan_in = shape[0])
// on the tiny model, with the tolerance of a sample std (5 standard errors).
func TestInitHe(t *testing.T) {
	cfg := tinyConfig(ArchGPT)
	store := newSeededStore(5)
	m := &Model{Config: cfg, Init: initHe()}
	logitsExec(t, store, m).MustCall(tokensTensor("abcd"))
	w := store.GetVariable("/block_000/mlp/in/weights").MustValue()
	values := flatFloat32(t, w)
	_, std := meanStd(values)
	want := math.Sqrt(2 / float64(cfg.Width))
	require.InDelta(t, want, std, want*5/math.Sqrt(2*float64(len(values)-1)))
}

// TestInitGG checks the GG strategy on the full-size gpt: every weight matrix
// has the baseline std of its kind, and its kurtosis is the GG's,
// Gamma(5/b)Gamma(1/b)/Gamma(3/b)^2 (4.02 for b = 1.4, against 3 for the
// Gaussian; the head is given b = 2). Tolerances: 5 standard errors of the
// sample std, sqrt((kurtosis-1)/(4n)) relative; for the kurtosis 0.45, 5
// standard errors of the sample kurtosis for the smallest matrix (n = 16384; the
// delta-method variance of the sample kurtosis of this GG is 132/n), which still
// leaves 0.57 between the GG's kurtosis and the Gaussian's.
func TestInitGG(t *testing.T) {
	const beta = 1.4
	fn, err := initByName(InitNameGG, "1.4,head=2")
	require.NoError(t, err)
	cfg := DefaultConfig()
	store := newSeededStore(11)
	m := &Model{Config: cfg, Init: fn}
	logitsExec(t, store, m).MustCall(tokensTensor("abcd"))
	kurtosisGG := math.Gamma(5/beta) * math.Gamma(1/beta) / math.Pow(math.Gamma(3/beta), 2)
	for _, c := range []struct {
		path, kind string
		kurtosis   float64
	}{
		{"/token_embed/embeddings", KindEmbed, kurtosisGG},
		{"/block_000/attn/qkv/weights", KindAttnQKV, kurtosisGG},
		{"/block_003/attn/out/weights", KindAttnOut, kurtosisGG},
		{"/block_001/mlp/in/weights", KindMLPIn, kurtosisGG},
		{"/block_002/mlp/out/weights", KindMLPOut, kurtosisGG},
		{"/head/weights", KindHead, 3},
	} {
		values := flatFloat32(t, store.GetVariable(c.path).MustValue())
		mean, std := meanStd(values)
		n := float64(len(values))
		want := baselineStd(c.kind, cfg.Layers)
		require.InDelta(t, want, std, 5*want*math.Sqrt((c.kurtosis-1)/(4*n)), "%s std", c.path)
		m4 := 0.0
		for _, x := range values {
			d := float64(x) - mean
			m4 += d * d * d * d
		}
		kurtosis := m4 / n / math.Pow(std, 4)
		require.InDelta(t, c.kurtosis, kurtosis, 0.45, "%s kurtosis %.3f", c.path, kurtosis)
	}
}
