package charlm

import (
	"testing"

	"github.com/ggprior/ggprior/backends"
	"github.com/stretchr/testify/require"
)

// TestSizes: every named size builds a valid configuration with the
// parameter count its documentation gives (gpt and llama), the reference
// size is DefaultConfig, and an unknown name lists the known ones.
func TestSizes(t *testing.T) {
	documented := map[string][2]int{ // gpt, llama: as in the doc of Sizes.
		SizeTiny:      {136_960, 139_584},
		SizeReference: {867_072, 869_504},
		SizeSmall:     {10_942_464, 10_818_432},
		SizeMedium:    {25_744_384, 25_567_744},
		SizeGPT2Small: {86_235_648, 85_347_072},
	}
	require.Len(t, Sizes, len(documented))
	require.Equal(t, []string{SizeTiny, SizeReference, SizeSmall, SizeMedium, SizeGPT2Small}, SizeNames())
	prev := 0
	for _, s := range Sizes {
		for i, arch := range []string{ArchGPT, ArchLlama} {
			cfg, err := ConfigForSize(s.Name, arch)
			require.NoError(t, err)
			require.NoError(t, cfg.Validate(), "%s %s", s.Name, arch)
			require.Equal(t, documented[s.Name][i], cfg.NumParams(), "%s %s: %s", s.Name, arch, cfg)
		}
		cfg, _ := ConfigForSize(s.Name, ArchGPT)
		require.Greater(t, cfg.NumParams(), prev, "the ladder grows")
		prev = cfg.NumParams()
	}
	ref, err := ConfigForSize(SizeReference, ArchGPT)
	require.NoError(t, err)
	require.Equal(t, DefaultConfig(), ref)
	gpt2, _ := ConfigForSize(SizeGPT2Small, ArchGPT)
	require.Equal(t, [4]int{12, 12, 768, 1024}, [4]int{gpt2.Layers, gpt2.Heads, gpt2.Width, gpt2.Block})
	_, err = ConfigForSize("huge", ArchGPT)
	require.ErrorContains(t, err, "gpt2-small")
	require.Contains(t, sizesHelp(), "reference (L4 H4 d128 T64, 867,072 params)")
}

// TestSizeTinyTrains trains the tiny size 3 steps on the default corpus.
func TestSizeTinyTrains(t *testing.T) {
	cfg, err := ConfigForSize(SizeTiny, ArchGPT)
	require.NoError(t, err)
	tc := DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.LogEvery, tc.ValWindows, tc.EvalBatch = 3, nil, 1, 32, 32
	exp, err := NewExperiment(backend(t), cfg, tc)
	require.NoError(t, err)
	results, err := exp.Run()
	require.NoError(t, err)
	require.Equal(t, 136_960, results.Params)
	require.Len(t, results.LossCurve, 3)
	require.InDelta(t, 5.55, results.LossCurve[0][1], 0.1, "ln 256 at the start")
}

// TestSizeFlags: -size picks the size, -layers/-heads/-width/-block change
// it, the model given to RunConfig is used without -size, and bad values are
// errors.
func TestSizeFlags(t *testing.T) {
	runConfig := func(args ...string) (Config, error) {
		f, err := ParseFlags(args)
		require.NoError(t, err)
		cfg, _, _, err := f.RunConfig(DefaultConfig())
		return cfg, err
	}
	cfg, err := runConfig()
	require.NoError(t, err)
	require.Equal(t, DefaultConfig(), cfg)
	cfg, err = runConfig("-size", "small", "-arch", "llama")
	require.NoError(t, err)
	want, _ := ConfigForSize(SizeSmall, ArchLlama)
	require.Equal(t, want, cfg)
	cfg, err = runConfig("-size", "gpt2-small", "-block", "256")
	require.NoError(t, err)
	require.Equal(t, [4]int{12, 12, 768, 256}, [4]int{cfg.Layers, cfg.Heads, cfg.Width, cfg.Block})
	cfg, err = runConfig("-layers", "2", "-heads", "2", "-width", "64") // On the model given.
	require.NoError(t, err)
	require.Equal(t, [4]int{2, 2, 64, 64}, [4]int{cfg.Layers, cfg.Heads, cfg.Width, cfg.Block})
	_, err = runConfig("-size", "huge")
	require.ErrorContains(t, err, "-size")
	_, err = runConfig("-width", "-1")
	require.ErrorContains(t, err, "-width")

	f, err := ParseFlags([]string{"-size", "tiny", "-block", "32"})
	require.NoError(t, err)
	require.Equal(t, []string{"-block=32", "-size=tiny"}, f.Args())
}

// TestDeterminismFlags: -deterministic, $GGPRIOR_DETERMINISTIC and the
// default (on for data-parallel runs) give TrainConfig.Deterministic;
// -verify-every gives TrainConfig.VerifyEvery (default DefaultVerifyEvery).
func TestDeterminismFlags(t *testing.T) {
	trainConfig := func(args ...string) (TrainConfig, error) {
		f, err := ParseFlags(args)
		require.NoError(t, err)
		_, tc, _, err := f.RunConfig(DefaultConfig())
		return tc, err
	}
	t.Setenv(backends.DeterministicEnvVar, "")
	for _, c := range []struct {
		env  string
		args []string
		want bool
	}{
		{"", nil, false},
		{"", []string{"-workers", "2"}, true},
		{"", []string{"-workers", "2", "-deterministic=false"}, false},
		{"", []string{"-deterministic"}, true},
		{"1", nil, true},
		{"0", []string{"-workers", "2"}, false},
		{"1", []string{"-deterministic=false"}, false},
		{"0", []string{"-deterministic=true"}, true},
	} {
		t.Setenv(backends.DeterministicEnvVar, c.env)
		tc, err := trainConfig(c.args...)
		require.NoError(t, err)
		require.Equal(t, c.want, tc.Deterministic, "%s=%q %q", backends.DeterministicEnvVar, c.env, c.args)
	}
	t.Setenv(backends.DeterministicEnvVar, "often")
	_, err := trainConfig()
	require.ErrorContains(t, err, backends.DeterministicEnvVar)
	t.Setenv(backends.DeterministicEnvVar, "")

	tc, err := trainConfig()
	require.NoError(t, err)
	require.Equal(t, DefaultVerifyEvery, tc.VerifyEvery)
	tc, err = trainConfig("-verify-every", "0", "-workers", "2")
	require.NoError(t, err)
	require.Equal(t, 0, tc.VerifyEvery)
	_, err = trainConfig("-verify-every", "-1")
	require.ErrorContains(t, err, "-verify-every")
	_, err = ParseFlags([]string{"-deterministic=sometimes"})
	require.Error(t, err)
}
