package main

import (
	"bytes"
	"encoding/json"
	"github.com/ggprior/ggprior/internal/pngtest"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ggprior/ggprior/examples/charlm/charlm"
	"github.com/ggprior/ggprior/examples/study"
	"github.com/stretchr/testify/require"
)

// evalSteps are the study's evaluation steps.
var evalSteps = []int{250, 500, 1000, 1500, 2000}

// writeRun writes a synthetic results file of a run whose validation loss at
// step s is curve(s), with a training loss curve logged every 10 steps
// (curve(s) + 0.05).
func writeRun(t *testing.T, dir, config string, seed int64, steps int, init, beta string, curve func(s float64) float64) {
	t.Helper()
	r := &charlm.Results{ValLoss: map[string]float64{}, SecPerStepMedian: 0.1}
	r.Config.Model = charlm.DefaultConfig()
	r.Config.Train = charlm.DefaultTrainConfig()
	r.Config.Train.Seed, r.Config.Train.Steps, r.Config.Train.Init, r.Config.Train.Beta = seed, steps, init, beta
	for _, s := range evalSteps {
		if s <= steps {
			r.ValLoss[strconv.Itoa(s)] = curve(float64(s))
		}
	}
	r.ValLoss[strconv.Itoa(steps)] = curve(float64(steps))
	for s := 10; s <= steps; s += 10 {
		r.LossCurve = append(r.LossCurve, [2]float64{float64(s), curve(float64(s)) + 0.05})
	}
	require.NoError(t, r.WriteJSON(filepath.Join(dir, study.ResultsFileName(config, seed, steps))))
}

// baseCurve is the synthetic baseline: 1.5 + exp(-s/500), shifted by seed.
func baseCurve(seed int64) func(s float64) float64 {
	return func(s float64) float64 { return 1.5 + math.Exp(-s/500) + 0.01*float64(seed-2) }
}

// syntheticStudy writes a partial study: normal02 and gg-beta1.4 at seeds 1-3
// (gg-beta1.4 converging faster: its curve is the baseline's at 1.25 times
// the steps), he at seeds 1-3 (never reaching the baseline), gg-beta1.0 at seed
// 1 only, gg-beta2.0 in progress; plus a corrupt file, a file whose name
// contradicts its results and a run of another length.
func syntheticStudy(t *testing.T) string {
	dir := t.TempDir()
	for seed := int64(1); seed <= 3; seed++ {
		base := baseCurve(seed)
		writeRun(t, dir, "normal02", seed, 2000, charlm.InitNameNormal02, "", base)
		writeRun(t, dir, "gg-beta1.4", seed, 2000, charlm.InitNameGG, "1.4", func(s float64) float64 { return base(1.25 * s) })
		writeRun(t, dir, "he", seed, 2000, charlm.InitNameHe, "", func(s float64) float64 { return base(s) + 0.1 })
	}
	writeRun(t, dir, "gg-beta1.0", 1, 2000, charlm.InitNameGG, "1.0", func(s float64) float64 { return baseCurve(1)(s) - 0.6 })
	writeRun(t, dir, "normal02", 1, 300, charlm.InitNameNormal02, "", baseCurve(1))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gg-beta2.0-seed1-steps2000.json.tmp"), []byte("{"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "he-seed9-steps2000.json"), []byte("not json"), 0o644))
	writeRun(t, dir, "odd", 5, 2000, charlm.InitNameHe, "", baseCurve(1))
	require.NoError(t, os.Rename(filepath.Join(dir, "odd-seed5-steps2000.json"), filepath.Join(dir, "odd-seed4-steps2000.json")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "normal02-seed1-steps2000.log"), []byte("log"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gg-beta1.0-seed2-steps2000.log"), []byte("log"), 0o644))
	return dir
}

func TestAggregate(t *testing.T) {
	dir := syntheticStudy(t)
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	require.NoError(t, runMain([]string{"-dir", dir, "-out", out}, &stdout, &stderr), stderr.String())
	md := stdout.String()
	t.Logf("table:\n%s", md)

	// The baseline's final loss: mean over seeds 1-3 of 1.5 + exp(-4) + 0.01*(seed-2).
	target := 1.5 + math.Exp(-4)
	require.Contains(t, md, "# GG initialization study: charlm, 2000 steps")
	require.Contains(t, md, "4 configurations, 10 runs")
	require.Contains(t, md, "| config | init | seeds | val@250 | val@500 | val@1000 | val@1500 | val@2000 | steps to normal02 final (1.5183) | final vs normal02 |")
	// 1.5 + exp(-250/500) = 2.1065; seeds 1, 2, 3 shifted by -0.01, 0, 0.01.
	baseRow := "| normal02 | normal02 | 3 (1,2,3) | 2.1065 ± 0.0100 | 1.8679 ± 0.0100 | 1.6353 ± 0.0100 | 1.5498 ± 0.0100 | 1.5183 ± 0.0100 | 2000 | baseline |"
	require.Contains(t, md, baseRow)
	// gg-beta1.4 is the baseline at 1.25x the steps: it reaches 1.5 + exp(-4)
	// at step 1600, found between its evaluations at 1500 and 2000 by linear
	// interpolation of exp(): (L(1500) - target) / (L(1500) - L(2000)) of the way.
	l1500, l2000 := 1.5+math.Exp(-1875.0/500), 1.5+math.Exp(-2500.0/500)
	want := 1500 + 500*(l1500-target)/(l1500-l2000)
	require.Regexp(t, `\| gg-beta1\.4 \| gg β=1\.4 \| 3 \(1,2,3\) \| .* \| `+strconv.Itoa(int(math.Round(want)))+` \| -\d\.\d\d% \|`, md)
	diff := 100 * (l2000 - target) / target
	require.Contains(t, md, "| "+strconv.FormatFloat(diff, 'f', 2, 64)+"% |")
	require.Regexp(t, `\| he \| he \| 3 \(1,2,3\) \| .* \| not reached \| \+6\.59% \|`, md)
	require.Regexp(t, `\| gg-beta1\.0 \| gg β=1\.0 \| 1 \(1\) \| 1\.4965 \| .* \| ≤ 250 \| -40\.18% \|`, md, "one seed: no spread; below the target from the start")
	require.Contains(t, md, "- missing: gg-beta1.0 (seed 2,3), gg-beta2.0 (seed 1,2,3)\n")
	require.Contains(t, md, "- in progress: gg-beta1.0-seed2-steps2000 (log, no results yet: running or stopped), gg-beta2.0-seed1-steps2000 (results being written)")
	require.Contains(t, md, "- ignored: he-seed9-steps2000.json: not a charlm results file")
	require.Contains(t, md, "- ignored: odd-seed4-steps2000.json: its results are of seed 5, 2000 steps")
	require.Contains(t, md, "- ignored: 1 run of 300 steps (aggregate with -steps 300)")

	saved, err := os.ReadFile(filepath.Join(out, markdownFile))
	require.NoError(t, err)
	require.Contains(t, string(saved), baseRow)
	require.Contains(t, string(saved), "![validation loss")
	pngtest.Require(t, filepath.Join(out, plotFile))

	data, err := os.ReadFile(filepath.Join(out, jsonFile))
	require.NoError(t, err)
	var js study.Summary
	require.NoError(t, json.Unmarshal(data, &js))
	require.Equal(t, 2000, js.Steps)
	require.Equal(t, evalSteps, js.EvalSteps)
	require.InDelta(t, target, js.BaselineFinal.Mean, 1e-12)
	require.Equal(t, 3, js.BaselineFinal.N)
	require.Len(t, js.Configs, 4)
	require.Equal(t, "gg-beta1.4", js.Configs[3].Name)
	require.InDelta(t, want, *js.Configs[3].StepsToBaseline, 1e-9)
	require.InDelta(t, diff, *js.Configs[3].FinalDiffPct, 1e-9)
	require.Equal(t, "he", js.Configs[1].Name)
	require.Nil(t, js.Configs[1].StepsToBaseline, "he never reaches it")
	require.True(t, js.Configs[2].AtFirstEval)

	// The other length, with only the baseline: every other configuration is
	// missing, and the quick-profile note is there.
	stdout.Reset()
	require.NoError(t, runMain([]string{"-dir", dir, "-out", out, "-steps", "300", "-seeds", "1", "-configs", "normal02,he"}, &stdout, &stderr))
	md = stdout.String()
	require.Contains(t, md, "Note: quick profile: 300 steps (the full run is 2000)")
	require.Contains(t, md, "| normal02 | normal02 | 1 (1) | 2.0965 | 2.0388 | 300 | baseline |")
	require.Contains(t, md, "- missing: he (seed 1)")
}

func TestAggregateNoBaseline(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, "he", 1, 2000, charlm.InitNameHe, "", baseCurve(1))
	var stdout, stderr bytes.Buffer
	require.NoError(t, runMain([]string{"-dir", dir, "-out", t.TempDir()}, &stdout, &stderr))
	md := stdout.String()
	require.Contains(t, md, "No normal02 runs: nothing to compare with.")
	require.Contains(t, md, "| no baseline | — |")
	require.Contains(t, md, "- missing: normal02 (seed 1,2,3), he (seed 2,3),")
}

func TestErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runMain([]string{"-dir", t.TempDir(), "-out", t.TempDir()}, &stdout, &stderr)
	require.ErrorContains(t, err, "no results file")
	err = runMain([]string{"-dir", filepath.Join(t.TempDir(), "none")}, &stdout, &stderr)
	require.ErrorContains(t, err, "reading the study directory")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-seeds", "1,x"}, `-seeds "1,x": "x" is not an integer`},
		{[]string{"-quick", "-configs", "nope"}, `-quick does not know how to run "nope"`},
		{[]string{"-quick", "-dir", "x"}, "-quick writes its runs into -out"},
		{[]string{"-eval-at", "5"}, "only used with -quick"},
		{[]string{"-quick", "-eval-at", "0"}, "is not an integer >= 1"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		require.ErrorContains(t, runMain(c.args, &stdout, &stderr), c.want, "%q", c.args)
	}
}
