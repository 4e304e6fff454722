package paper

import (
	"github.com/ggprior/ggprior/internal/stats"
	"testing"

	"github.com/ggprior/ggprior/internal/mnist"
	"github.com/stretchr/testify/require"
)

func TestMNISTConfigs(t *testing.T) {
	// Every GG configuration runs with its He baseline, inserted before it.
	require.Equal(t, []string{"he", "gg-beta1.4", "he-act0.9", "gg-beta1.4-act0.9", "he-gct", "gg-beta1.4-gct"},
		mnistConfigs([]string{"he", "gg-beta1.4", "gg-beta1.4-act0.9", "gg-beta1.4-gct"}))
	require.Equal(t, []string{"he-gct", "gg-beta1.4-gct", "he"}, mnistConfigs([]string{"gg-beta1.4-gct", "he"}))
	require.Equal(t, []string{"he", "gg-beta1.4"}, mnistConfigs([]string{"he", "gg-beta1.4"}))
	for name, base := range mnistBaselines {
		require.Contains(t, MNISTConfigs, name)
		require.Contains(t, MNISTConfigs, base)
		gg, he := mnist.DefaultConfig(), mnist.DefaultConfig()
		MNISTConfigs[name](&gg)
		MNISTConfigs[base](&he)
		require.Equal(t, mnist.InitGG, gg.Init, name)
		require.Equal(t, mnist.InitHe, he.Init, base)
		gg.Init, gg.Beta = he.Init, he.Beta
		require.Equal(t, he, gg, "%s and %s differ only in the initialization", name, base)
	}
	for _, prof := range profiles {
		for _, name := range mnistConfigs(prof.MNISTConfigs) {
			require.Contains(t, MNISTConfigs, name, prof.Name)
		}
	}

	cfg := mnist.DefaultConfig()
	cfg.Steps, cfg.Seed = 300, 2
	MNISTConfigs["gg-beta1.4-act0.9"](&cfg)
	require.Equal(t, "go run ./examples/mnist -steps 300 -seed 2 -init gg -beta 1.4 -act 0.9", mnistCommand(cfg))
	cfg = mnist.DefaultConfig()
	MNISTConfigs["he-gct"](&cfg)
	require.Equal(t, "go run ./examples/mnist -steps 2000 -seed 1 -compress gct", mnistCommand(cfg))
}

func TestMNISTPairsAndClaims(t *testing.T) {
	rows := []MNISTRow{
		{Config: "he", Seeds: []int64{1, 2, 3}, AccuracyPerSeed: []float64{0.970, 0.972, 0.971}},
		{Config: "gg-beta1.4", Seeds: []int64{1, 2, 3}, AccuracyPerSeed: []float64{0.975, 0.978, 0.976}},
		{Config: "he-gct", Seeds: []int64{1, 2}, AccuracyPerSeed: []float64{0.960, 0.965}},
		{Config: "gg-beta1.4-gct", Seeds: []int64{2, 3}, AccuracyPerSeed: []float64{0.955, 0.950}},
	}
	for i := range rows {
		rows[i].Accuracy = stats.NewMeanStd(rows[i].AccuracyPerSeed)
	}
	pairs := mnistPairs(rows)
	require.Len(t, pairs, 2)
	require.Equal(t, "he", pairs[0].Baseline)
	require.Equal(t, []int64{1, 2, 3}, pairs[0].Seeds)
	require.InDelta(t, 0.016/3, pairs[0].AccuracyDiff.Mean, 1e-12)
	require.True(t, pairs[0].Tested)
	require.True(t, pairs[0].Significant, "t = %.1f", pairs[0].AccuracyDiff.T())
	require.Equal(t, []int64{2}, pairs[1].Seeds, "paired at the seeds both ran")
	require.InDelta(t, -0.010, pairs[1].AccuracyDiff.Mean, 1e-12)
	require.False(t, pairs[1].Tested)

	claims := mnistClaims(rows, pairs)
	require.Len(t, claims, 2, "no ACT pair: no ACT claim")
	require.Equal(t, Yes, claims[0].Reproduced)
	require.Contains(t, claims[0].Measured, "GG 97.63 ± 0.15%, He 97.10 ± 0.10%; paired by seed, GG − He +0.53 ± 0.06 pp (t +16.0, 3 seeds; significant at 5%)")
	require.Equal(t, No, claims[1].Reproduced)
	require.Contains(t, claims[1].Claim, "with GCT")
	require.Contains(t, claims[1].Measured, "GG − He -1.00 pp")

	none := mnistClaims(rows[:1], nil)
	require.Len(t, none, 1)
	require.Equal(t, NotMeasured, none[0].Reproduced)
}
