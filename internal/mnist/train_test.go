package mnist

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/stretchr/testify/require"
)

// tinyConfig is a small, quick run on the synthetic data.
func tinyConfig() Config {
	cfg := DefaultConfig()
	cfg.Hidden = []int{32, 32}
	cfg.Steps, cfg.Batch, cfg.LogEvery, cfg.EvalBatch = 60, 32, 10, 64
	cfg.LearningRate = 3e-3
	return cfg
}

// TestRunHeAndGG trains the MLP with both initializations on the synthetic
// data: the loss falls and the test accuracy is far above chance (10%).
func TestRunHeAndGG(t *testing.T) {
	data := Synthetic(200, 100, 1)
	backend := testbackend.Get(t)
	for _, init := range []string{InitHe, InitGG} {
		cfg := tinyConfig()
		cfg.Init = init
		var progress bytes.Buffer
		r, err := Run(backend, data, cfg, &progress)
		require.NoError(t, err, init)
		t.Logf("%s: test accuracy %.3f, loss %.4f, train loss %.4f -> %.4f, %.1f ms/step, coded %.3f bits/weight\n%s",
			r.Label, r.TestAccuracy, r.TestLoss, r.TrainLoss[0].Loss, r.TrainLoss[len(r.TrainLoss)-1].Loss,
			1e3*r.SecondsPerStep, r.CodedSize.BitsPerWeight, progress.String())
		require.Equal(t, map[string]string{InitHe: "he", InitGG: "gg(beta=1.4)"}[init], r.Label)
		require.Len(t, r.TrainLoss, 6)
		require.Equal(t, 60, r.TrainLoss[5].Step)
		require.Less(t, r.TrainLoss[5].Loss, 0.5*r.TrainLoss[0].Loss, "the training loss falls")
		require.Greater(t, r.TestAccuracy, 0.6)
		require.Greater(t, r.TestLoss, 0.0)
		require.Equal(t, 60, r.Steps)
		require.Greater(t, r.SecondsPerStep, 0.0)
		require.Nil(t, r.ACT)
		require.Nil(t, r.GCT)
		require.Equal(t, 784*32+32+32*32+32+32*10+10, r.Params)
		require.Len(t, r.CodedSize.Tensors, 6)
		require.Less(t, r.CodedSize.BitsPerWeight, 8.0)
		require.Contains(t, progress.String(), "mnist "+r.Label+": step 60/60, train loss ")
		require.Contains(t, progress.String(), "test accuracy ")
	}
}

// TestRunACTAndGCT trains with ACT after both hidden layers and GCT around
// Adam: their metrics are reported and the model still learns.
func TestRunACTAndGCT(t *testing.T) {
	data := Synthetic(200, 100, 2)
	cfg := tinyConfig()
	cfg.Init, cfg.Beta, cfg.ACT, cfg.Compress = InitGG, 1.2, 0.8, CompressGCT
	cfg.Steps = 120
	r, err := Run(testbackend.Get(t), data, cfg, nil)
	require.NoError(t, err)
	t.Logf("%s: test accuracy %.3f, ACT %+v, GCT %+v", r.Label, r.TestAccuracy, *r.ACT, *r.GCT)
	require.Equal(t, "gg(beta=1.2)+act(0.8)+gct", r.Label)
	require.Greater(t, r.TestAccuracy, 0.5)
	require.NotNil(t, r.ACT)
	require.Len(t, r.ACT.SparsityBySite, 2)
	for _, site := range []string{"hidden_0", "hidden_1"} {
		require.Greater(t, r.ACT.SparsityBySite[site], 0.6, site)
		require.Greater(t, r.ACT.ThresholdBySite[site], 0.0, site)
	}
	require.InDelta(t, (r.ACT.SparsityBySite["hidden_0"]+r.ACT.SparsityBySite["hidden_1"])/2, r.ACT.Sparsity, 1e-12)
	require.Greater(t, r.ACT.BitsPerActivation, 0.0)
	require.Less(t, r.ACT.BitsPerActivation, 8.0)
	require.NotNil(t, r.GCT)
	require.Greater(t, r.GCT.BitsPerElement, 0.5)
	require.Less(t, r.GCT.BitsPerElement, 8.0)
	require.Greater(t, r.GCT.LastBitsPerElement, 0.0)
	require.Greater(t, r.GCT.ZeroFraction, 0.0)
	// ACT's and GCT's state is not counted among the weights.
	require.Equal(t, 784*32+32+32*32+32+32*10+10, r.Params)

	data2, err := json.Marshal(r)
	require.NoError(t, err)
	var back Results
	require.NoError(t, json.Unmarshal(data2, &back))
	require.Equal(t, r.TestAccuracy, back.TestAccuracy)
	require.Equal(t, *r.GCT, *back.GCT)
	require.Equal(t, r.CodedSize.CodedBytes, back.CodedSize.CodedBytes)
}

func TestConfigErrors(t *testing.T) {
	data := Synthetic(10, 10, 3)
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Hidden = nil }, "no hidden layer"},
		{func(c *Config) { c.Hidden = []int{8, 0} }, "want positive widths"},
		{func(c *Config) { c.Steps = 0 }, "must be > 0"},
		{func(c *Config) { c.LearningRate = -1 }, "learning rate"},
		{func(c *Config) { c.Init = "xavier" }, `init "xavier"`},
		{func(c *Config) { c.Init, c.Beta = InitGG, 0 }, "beta 0"},
		{func(c *Config) { c.Init, c.Beta = InitGG, 0.001 }, "beta 0.001: want a shape in [0.05, 50]"},
		{func(c *Config) { c.Init, c.Beta = InitGG, 60 }, "beta 60: want a shape in [0.05, 50]"},
		{func(c *Config) { c.ACT = 1 }, "ACT target sparsity 1"},
		{func(c *Config) { c.Compress = "int8" }, `compress "int8"`},
		{func(c *Config) { c.GCTBits = -2 }, "GCT bits -2"},
	} {
		cfg := tinyConfig()
		c.edit(&cfg)
		_, err := Run(testbackend.Get(t), data, cfg, nil)
		require.ErrorContains(t, err, c.want)
	}
	_, err := Run(testbackend.Get(t), &Dataset{Rows: 28, Cols: 28}, tinyConfig(), nil)
	require.ErrorContains(t, err, "empty dataset")
	require.True(t, strings.HasPrefix(DefaultConfig().Label(), InitHe))
}
