package study

import (
	"github.com/ggprior/ggprior/internal/stats"
	"math"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/stretchr/testify/require"
)

func TestCrossing(t *testing.T) {
	curve := []EvalLoss{{250, stats.MeanStd{Mean: 3}}, {500, stats.MeanStd{Mean: 2}}, {1000, stats.MeanStd{Mean: 1.5}}}
	step, first, ok := crossing(curve, 1.75)
	require.True(t, ok)
	require.False(t, first)
	require.InDelta(t, 750, step, 1e-9)
	step, first, ok = crossing(curve, 2)
	require.True(t, ok && !first)
	require.Equal(t, 500.0, step, "reached exactly at an evaluation")
	step, first, ok = crossing(curve, 3.5)
	require.True(t, ok && first)
	require.Equal(t, 250.0, step)
	_, _, ok = crossing(curve, 1)
	require.False(t, ok)
}

// writeResults writes a results file of config at seed whose final
// validation loss is loss, with an ACT sparsity of sparsity.
func writeResults(t *testing.T, dir, config string, seed int64, loss, sparsity float64) {
	t.Helper()
	r := &charlm.Results{ValLoss: map[string]float64{"50": loss + 0.5, "100": loss}}
	r.Config.Model = charlm.DefaultConfig()
	r.Config.Train = charlm.DefaultTrainConfig()
	r.Config.Train.Seed, r.Config.Train.Steps = seed, 100
	if sparsity > 0 {
		r.ACTResults = &charlm.ACTResults{ACTSparsity: sparsity}
	}
	require.NoError(t, r.WriteJSON(filepath.Join(dir, ResultsFileName(config, seed, 100))))
}

// TestAggregateOnlyExpected aggregates a directory holding more
// configurations than asked for, and measures a configuration over its runs.
func TestAggregateOnlyExpected(t *testing.T) {
	dir := t.TempDir()
	for seed := int64(1); seed <= 2; seed++ {
		writeResults(t, dir, "base", seed, 2+0.1*float64(seed), 0)
		writeResults(t, dir, "act", seed, 2.2, 0.9+0.02*float64(seed))
		writeResults(t, dir, "other", seed, 1, 0)
	}
	writeResults(t, dir, "base", 3, 5, 0) // A seed not asked for.
	ld, err := LoadDir(dir)
	require.NoError(t, err)
	s, err := Aggregate(dir, ld, AggregateOptions{Expected: []string{"base", "act", "gone"}, Seeds: []int64{1, 2},
		OnlyExpected: true, Baseline: "base"})
	require.NoError(t, err)
	require.Len(t, s.Configs, 2)
	require.Nil(t, s.Config("other"))
	require.Equal(t, []MissingRuns{{Config: "gone", Seeds: []int64{1, 2}}}, s.Missing)
	require.Equal(t, 100, s.Steps)
	require.Equal(t, []int{50, 100}, s.EvalSteps)
	require.InDelta(t, 2.15, s.BaselineFinal.Mean, 1e-12)
	act := s.Config("act")
	require.InDelta(t, 100*(2.2-2.15)/2.15, *act.FinalDiffPct, 1e-9)
	sparsity := act.Over(func(r *charlm.Results) (float64, bool) {
		if r.ACTResults == nil {
			return 0, false
		}
		return r.ACTSparsity, true
	})
	require.InDelta(t, 0.93, sparsity.Mean, 1e-12)
	require.Equal(t, 2, sparsity.N)
	require.Equal(t, 0, s.Config("base").Over(func(r *charlm.Results) (float64, bool) { return 0, r.ACTResults != nil }).N)

	table := LossTable(s).String()
	require.Contains(t, table, "| config | init | seeds | val@50 | val@100 | steps to base final (2.1500) | final vs base | paired Δ final (t) |\n| --- | --- | --: |")
	require.Contains(t, table, "| base | normal02 | 2 (1,2) | 2.6500 ± 0.0707 | 2.1500 ± 0.0707 | 100 | baseline | — |")
	require.Contains(t, table, "| act | normal02 | 2 (1,2) | 2.7000 ± 0.0000 | 2.2000 ± 0.0000 | not reached | +"+strconv.FormatFloat(*act.FinalDiffPct, 'f', 2, 64)+"% | +0.0500 ± 0.0707 (t +1.0) |")

	// Paired by seed: the baseline's finals are 2.1 (seed 1) and 2.2 (seed 2), act's 2.2 and 2.2.
	require.Nil(t, s.Config("base").PairedDiff)
	require.Equal(t, 2, act.PairedDiff.N)
	require.InDelta(t, 0.05, act.PairedDiff.Mean, 1e-12)
	require.InDelta(t, math.Sqrt(0.005), act.PairedDiff.Std, 1e-12)
	require.InDelta(t, 1.0, act.PairedDiff.T(), 1e-9)
	loss, ok := s.Config("base").FinalAt(2)
	require.True(t, ok)
	require.InDelta(t, 2.2, loss, 1e-12)
	_, ok = act.FinalAt(3)
	require.False(t, ok, "no run with seed 3")
	require.Equal(t, []string{"missing: gone (seed 1,2)"}, Notes(s))
}

func TestFormat(t *testing.T) {
	require.Equal(t, "—", FormatMeanStd(stats.MeanStd{}, 2))
	require.Equal(t, "1.50", FormatMeanStd(stats.MeanStd{Mean: 1.5, N: 1}, 2))
	require.Equal(t, "1.500 ± 0.250", FormatMeanStd(stats.MeanStd{Mean: 1.5, Std: 0.25, N: 3}, 3))
	require.Equal(t, "1 run", Plural(1, "run"))
	require.Equal(t, "0 runs", Plural(0, "run"))
	tab := &Table{Header: []string{"a", "b"}, LeftColumns: 1}
	tab.AddRow("x", "1")
	require.Equal(t, "| a | b |\n| --- | --: |\n| x | 1 |\n", tab.String())
}
