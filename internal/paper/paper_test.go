package paper

import (
	"bytes"
	"context"
	"fmt"
	"github.com/ggprior/ggprior/internal/stats"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/distfit"
	"github.com/ggprior/ggprior/internal/pngtest"
	"github.com/ggprior/ggprior/internal/study"
	"github.com/ggprior/ggprior/internal/tensorkind"
	"github.com/stretchr/testify/require"
)

// TestMainStages runs the init and gct stages at the tiny profile, then
// again (both skipped), then the gct stage with -force (redone from the
// runs, none trained); and checks what a different profile or bad flags do.
func TestMainStages(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	args := []string{"-profile", "tiny", "-out", out, "-stages", "gct,init", "-quiet"}
	var stdout, stderr bytes.Buffer
	require.NoError(t, Main(args, &stdout, &stderr), stderr.String())
	t.Logf("stdout:\n%s", stdout.String())
	require.Contains(t, stdout.String(), "tiny profile: 6 steps, 1 seed — a smoke test of the claims, not the claims")
	require.Contains(t, stdout.String(), "stage init (GG initialization)")
	require.Contains(t, stdout.String(), "GCT at <= 2 bits per gradient element trains within 1% of uncompressed training — reproduced: ")

	rf, err := readResultsFile(out)
	require.NoError(t, err)
	require.Equal(t, "tiny", rf.Profile)
	require.Len(t, rf.Stages, 2)
	require.Len(t, rf.Stages["init"].Claims, 2)
	require.Len(t, rf.Stages["gct"].Claims, 3+len(gctCompetitors), "the paper's, the two rate targets, one per competitor")
	for _, c := range rf.Stages["gct"].Claims {
		if strings.Contains(c.Claim, "top-k") {
			require.Equal(t, NotMeasured, c.Reproduced, "top-k is not run at the tiny profile")
		}
	}
	for _, name := range []string{"normal02", "gg-beta1.4", "gg-fit", "gct-2bits", "sign"} {
		r, err := study.ReadResults(filepath.Join(out, "runs", name+"-seed1-steps6.json"))
		require.NoError(t, err, name)
		require.Equal(t, 8, r.Config.Train.ValWindows)
		require.Equal(t, 8, r.Config.Corpus.ValWindowsEvaluated)
	}
	require.DirExists(t, filepath.Join(out, "checkpoints", "normal02-seed1-steps6"), "gg-fit's shapes come from it")
	pngtest.Require(t, filepath.Join(out, "figures", "init-loss.png"))
	pngtest.Require(t, filepath.Join(out, "figures", "gct-loss-bits.png"))
	report, err := os.ReadFile(filepath.Join(out, reportFileName))
	require.NoError(t, err)
	require.Contains(t, string(report), "> **tiny profile: 6 steps, 1 seed — a smoke test of the claims, not the claims.**")
	require.Contains(t, string(report), "| normal02 | normal02 | 1 (1) |")
	require.Contains(t, string(report), "- gg-fit: `GOEXPERIMENT=simd go run ./examples/charlm -init gg -beta fit:"+filepath.Join(out, "checkpoints", "normal02-seed1-steps6"))
	require.Contains(t, string(report), "](figures/gct-loss-bits.png)")
	require.Regexp(t, `- \*\*GG initialization converges faster than normal\(0, 0.02\)\*\* — reproduced: \*\*(yes|no)\*\* \(`, string(report))

	stdout.Reset()
	require.NoError(t, Main(args, &stdout, &stderr))
	require.Equal(t, 2, strings.Count(stdout.String(), ": done before"), stdout.String())
	before, trainingBefore := rf.Stages["gct"].Finished, rf.Stages["gct"].TrainingSeconds

	stdout.Reset()
	stderr.Reset()
	require.NoError(t, Main([]string{"-profile", "tiny", "-out", out, "-stages", "gct", "-force"}, &stdout, &stderr))
	require.NotContains(t, stderr.String(), "training ", "finished runs are reused")
	rf, err = readResultsFile(out)
	require.NoError(t, err)
	require.True(t, rf.Stages["gct"].Finished.After(before), "redone")
	// The redone stage trained nothing, yet it accounts for its runs' training.
	gct := rf.Stages["gct"]
	require.Equal(t, len(gctStage{}.Needs(&Plan{Profile: profiles["tiny"], Seeds: rf.Seeds})), gct.Runs)
	require.Greater(t, gct.TrainingSeconds, 0.0)
	require.Equal(t, trainingBefore, gct.TrainingSeconds, "the same runs, the same step times")
	report, err = os.ReadFile(filepath.Join(out, reportFileName))
	require.NoError(t, err)
	require.Contains(t, string(report), fmt.Sprintf("training time of its %d runs (steps × median step time, whenever trained): ", gct.Runs))
	require.Len(t, rf.Stages, 2, "the other stage is kept")

	err = Main([]string{"-profile", "tiny", "-seeds", "1,2", "-out", out, "-stages", "gct"}, &stdout, &stderr)
	require.ErrorContains(t, err, "holds the results of profile tiny")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-profile", "huge"}, `-profile "huge"`},
		{[]string{"-stages", "init,nope"}, `unknown stage "nope"`},
		{[]string{"-seeds", "1,1"}, "distinct"},
		{[]string{"-seeds", "1,-2"}, "distinct non-negative"},
		{[]string{"-seeds", "1,x"}, `-seeds "1,x": "x" is not an integer`},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		require.ErrorContains(t, Main(append(c.args, "-out", t.TempDir()), &stdout, &stderr), c.want, "%q", c.args)
	}
}

// TestInterrupted: a context that ends stops the run in training with
// ErrInterrupted; its checkpoint (if it keeps one) and the finished stages stay.
func TestInterrupted(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	err := MainContext(ctx, []string{"-profile", "tiny", "-out", out, "-stages", "init"}, &stdout, &stderr)
	require.ErrorIs(t, err, ErrInterrupted)
	require.ErrorContains(t, err, "run again to resume")
	require.FileExists(t, filepath.Join(out, reportFileName), "the report of what is finished")
	rf, err := readResultsFile(out)
	require.NoError(t, err)
	require.Empty(t, rf.Stages)
}

func TestEqualBits(t *testing.T) {
	gct := [][2]float64{{1.5, 2.10}, {2, 2.00}, {3, 1.95}}
	v, m, at := equalBits(gct, [2]float64{1.6, 2.2}, "x")
	require.Equal(t, Yes, v, m) // GCT at 1.5 bits has a lower loss.
	require.Equal(t, []gctWeight{{0, 1}}, at)
	v, m, at = equalBits(gct, [2]float64{2.5, 1.90}, "x")
	require.Equal(t, No, v, m) // Interpolated 1.97 > 1.90.
	require.Contains(t, m, "interpolated")
	frac := (math.Log(2.5) - math.Log(2)) / (math.Log(3) - math.Log(2))
	require.Len(t, at, 2)
	require.Equal(t, []int{1, 2}, []int{at[0].I, at[1].I})
	require.InDelta(t, 1-frac, at[0].W, 1e-12)
	require.InDelta(t, frac, at[1].W, 1e-12)
	v, _, _ = equalBits(gct, [2]float64{2.5, 1.99}, "x")
	require.Equal(t, Yes, v)
	v, m, _ = equalBits(gct, [2]float64{1, 2.05}, "x")
	require.Equal(t, No, v, m) // Fewer bits and a lower loss than GCT at 1.5 bits.
	v, m, at = equalBits(gct, [2]float64{1, 2.5}, "x")
	require.Equal(t, NotMeasured, v, m)
	require.Contains(t, m, "below GCT's range", "GCT's runs are all above 1 bit per element")
	require.Contains(t, m, "-gct-coder auto")
	require.Nil(t, at)
	v, m, _ = equalBits(gct, [2]float64{1.2, 2.5}, "x")
	require.Equal(t, NotMeasured, v, m)
	require.Contains(t, m, "run GCT at those bits")
	v, _, _ = equalBits(gct, [2]float64{8, 1.9}, "x")
	require.Equal(t, NotMeasured, v)
}

func TestClaims(t *testing.T) {
	pct := func(x float64) *float64 { return &x }
	act := actClaims([]ACTRow{
		{Config: "normal02"},
		{Config: "act-0.9", Sparsity: stats.MeanStd{Mean: 0.9, N: 1}, Bits: stats.MeanStd{Mean: 2, N: 1}, DiffPct: pct(0.5)},
		{Config: "act-0.95", Sparsity: stats.MeanStd{Mean: 0.96, N: 1}, Bits: stats.MeanStd{Mean: 0.9, N: 1}, DiffPct: pct(1.5)},
	}, true)
	require.Equal(t, Yes, act[0].Reproduced, act[0].Measured)
	require.Equal(t, Yes, act[1].Reproduced, act[1].Measured)
	act = actClaims([]ACTRow{{Config: "act-0.95", Sparsity: stats.MeanStd{Mean: 0.96, N: 1}, Bits: stats.MeanStd{Mean: 1.1, N: 1}, DiffPct: pct(2.5)}}, true)
	require.Equal(t, No, act[0].Reproduced)
	require.Equal(t, No, act[1].Reproduced)
	require.Equal(t, NotMeasured, actClaims([]ACTRow{{Config: "normal02"}}, true)[0].Reproduced)
	require.Equal(t, NotMeasured, act[2].Reproduced, "no run with ACT at every site")

	// ACT at every site: judged on the mean sparsity over the sites.
	sites := charlm.ActivationSites
	every := func(all, diff float64) string {
		return actClaims([]ACTRow{{Config: "act-all", Sites: sites, Sparsity: stats.MeanStd{Mean: 0.95, N: 1},
			AllSites: stats.MeanStd{Mean: all, N: 1}, Bits: stats.MeanStd{Mean: 0.7, N: 1}, DiffPct: pct(diff)}}, true)[2].Reproduced
	}
	require.Equal(t, Yes, every(0.78, 1.9))
	require.Equal(t, No, every(0.69, 1.9))
	require.Equal(t, No, every(0.78, 2.1))
	partial := actClaims([]ACTRow{{Config: "act-0.95", Sites: sites[2:], Sparsity: stats.MeanStd{Mean: 0.95, N: 1},
		AllSites: stats.MeanStd{Mean: 0.95, N: 1}, DiffPct: pct(0)}}, true)[2]
	require.Equal(t, NotMeasured, partial.Reproduced, "ACT at the MLP hidden only: %s", partial.Measured)
	require.Equal(t, "attn_in 0.70, mlp_hidden 0.95", ACTRow{Sites: []string{"mlp_hidden", "attn_in"},
		Targets: map[string]float64{"attn_in": 0.7, "mlp_hidden": 0.95, "mlp_in": 0.7}, Target: 0.95}.targets(),
		"the sites with ACT, in the model's order")
	require.Equal(t, "0.95", ACTRow{Sites: []string{"mlp_hidden"}, Target: 0.95}.targets())

	gct := gctClaims([]GCTRow{
		{Config: "normal02", Bits: stats.MeanStd{Mean: 32, N: 1}, DiffPct: pct(0)},
		{Config: "gct-2bits", TargetBits: 2, Bits: stats.MeanStd{Mean: 2.01, N: 1}, FinalLoss: stats.MeanStd{Mean: 2.0, N: 1}, DiffPct: pct(0.8)},
		{Config: "sign", Bits: stats.MeanStd{Mean: 2.5, N: 1}, FinalLoss: stats.MeanStd{Mean: 2.1, N: 1}, DiffPct: pct(5)},
	})
	claim := func(claims []Claim, prefix string) Claim {
		t.Helper()
		i := slices.IndexFunc(claims, func(c Claim) bool { return strings.HasPrefix(c.Claim, prefix) })
		require.GreaterOrEqual(t, i, 0, prefix)
		return claims[i]
	}
	require.Equal(t, Yes, gct[0].Reproduced)
	require.Equal(t, NotMeasured, claim(gct, "GCT codes gradients in <= 1.5 bits").Reproduced, "no GCT run at <= 1.5 bits")
	require.Equal(t, NotMeasured, claim(gct, "at equal bits, GCT trains to a lower loss than top-k 1%").Reproduced, "top-k not run")
	require.Equal(t, NotMeasured, claim(gct, "at equal bits, GCT trains to a lower loss than top-k 4%").Reproduced, "top-k not run")
	sign := claim(gct, "at equal bits, GCT trains to a lower loss than sign")
	require.Equal(t, Yes, sign.Reproduced, sign.Measured)

	// The targets on the measured coded size: <= 1.5 bits within 1%, <= 1 bit within 2%.
	rates := gctClaims([]GCTRow{
		{Config: "gct-auto-1.5bits", TargetBits: 1.5, Bits: stats.MeanStd{Mean: 1.49, N: 3}, FinalLoss: stats.MeanStd{Mean: 2.0, N: 3}, DiffPct: pct(0.9)},
		{Config: "gct-auto-1bits", TargetBits: 1, Bits: stats.MeanStd{Mean: 1.02, N: 3}, FinalLoss: stats.MeanStd{Mean: 2.02, N: 3}, DiffPct: pct(1.5)},
	})
	require.Equal(t, Yes, claim(rates, "GCT codes gradients in <= 1.5 bits").Reproduced)
	one := claim(rates, "GCT codes gradients in <= 1 bits")
	require.Equal(t, NotMeasured, one.Reproduced, "1.02 bits is above 1: %s", one.Measured)
	rates = gctClaims([]GCTRow{{Config: "gct-auto-1bits", TargetBits: 1, Bits: stats.MeanStd{Mean: 0.99, N: 3},
		FinalLoss: stats.MeanStd{Mean: 2.05, N: 3}, DiffPct: pct(2.5)}})
	require.Equal(t, No, claim(rates, "GCT codes gradients in <= 1 bits").Reproduced)
	require.Equal(t, No, claim(rates, "GCT codes gradients in <= 1.5 bits").Reproduced)

	// With seeds, "lower at equal bits" takes a t-test paired by seed: GCT
	// at 1.5 bits is 0.01 below top-k at 1.9 bits on the mean, but with
	// gaps -0.03, +0.01, -0.01 (t -0.9) that is not significant; with gaps
	// -0.011, -0.01, -0.009 (t -17.3) it is.
	bySeed := func(losses ...float64) map[int64]float64 {
		m := map[int64]float64{}
		for i, l := range losses {
			m[int64(i+1)] = l
		}
		return m
	}
	rows := []GCTRow{
		{Config: "gct-1.5bits", TargetBits: 1.5, Bits: stats.MeanStd{Mean: 1.5, N: 3}, FinalLoss: stats.MeanStd{Mean: 2.0, N: 3},
			DiffPct: pct(3), FinalBySeed: bySeed(1.98, 2.02, 2.0)},
		{Config: "topk-0.04", Bits: stats.MeanStd{Mean: 1.9, N: 3}, FinalLoss: stats.MeanStd{Mean: 2.01, N: 3},
			DiffPct: pct(4), FinalBySeed: bySeed(2.01, 2.01, 2.01)},
	}
	gct = gctClaims(rows)
	require.Equal(t, No, claim(gct, "at equal bits, GCT trains to a lower loss than top-k 4%").Reproduced, claim(gct, "at equal bits, GCT trains to a lower loss than top-k 4%").Measured)
	require.Contains(t, claim(gct, "at equal bits, GCT trains to a lower loss than top-k 4%").Measured, "paired by seed, GCT minus topk-0.04: -0.0100 ± 0.0200 (t -0.9, 3 seeds; not significant at 5%)")
	rows[0].FinalBySeed = bySeed(1.999, 2.0, 2.001)
	gct = gctClaims(rows)
	require.Equal(t, Yes, claim(gct, "at equal bits, GCT trains to a lower loss than top-k 4%").Reproduced, claim(gct, "at equal bits, GCT trains to a lower loss than top-k 4%").Measured)
	require.Contains(t, claim(gct, "at equal bits, GCT trains to a lower loss than top-k 4%").Measured, "(t -17.3, 3 seeds; significant at 5%)")
	rows[0].FinalBySeed = bySeed(2.0) // One seed in common: the means decide, untested.
	gct = gctClaims(rows)
	require.Equal(t, Yes, claim(gct, "at equal bits, GCT trains to a lower loss than top-k 4%").Reproduced, claim(gct, "at equal bits, GCT trains to a lower loss than top-k 4%").Measured)
	require.NotContains(t, claim(gct, "at equal bits, GCT trains to a lower loss than top-k 4%").Measured, "paired")

	s := &study.Summary{Steps: 100, Baseline: "normal02", BaselineFinal: &stats.MeanStd{Mean: 2, N: 1}, Configs: []*study.ConfigSummary{
		{Name: "normal02", FinalDiffPct: pct(0), StepsToBaseline: func() *float64 { x := 100.0; return &x }()},
		{Name: "gg-beta1.4", FinalDiffPct: pct(-1), StepsToBaseline: func() *float64 { x := 80.0; return &x }()},
	}}
	ic := initClaims(s, "gg-", "normal(0, 0.02)")
	require.Equal(t, Yes, ic[0].Reproduced, ic[0].Measured)
	require.Equal(t, Yes, ic[1].Reproduced)
	s.Configs[1].FinalDiffPct, s.Configs[1].StepsToBaseline = pct(0.2), nil
	ic = initClaims(s, "gg-", "normal(0, 0.02)")
	require.Equal(t, No, ic[0].Reproduced)
	require.Equal(t, No, ic[1].Reproduced)

	// With seeds, "lower" takes a paired t-test: a mean 0.01 below with
	// spread 0.01 over 3 seeds (t -1.7) is not; with spread 0.002 (t -8.7) it is.
	s.Configs[1].FinalDiffPct = pct(-0.5)
	s.Configs[1].PairedDiff = &stats.MeanStd{Mean: -0.01, Std: 0.01, N: 3}
	ic = initClaims(s, "gg-", "normal(0, 0.02)")
	require.Equal(t, No, ic[1].Reproduced, ic[1].Measured)
	require.Contains(t, ic[1].Measured, "t -1.7")
	s.Configs[1].PairedDiff.Std = 0.002
	ic = initClaims(s, "gg-", "normal(0, 0.02)")
	require.Equal(t, Yes, ic[1].Reproduced, ic[1].Measured)
}

// TestProgressETA checks the ETA: profile estimates until measured, then
// the measured median step time, with the stages' own work.
func TestProgressETA(t *testing.T) {
	prof := *profiles["quick"]
	var w bytes.Buffer
	p := newProgress(&w, false, &prof)
	p.plan(pendingRun{stage: "init", name: "a", arch: charlm.ArchGPT, steps: 100, evals: 2})
	p.plan(pendingRun{stage: "act", name: "b", arch: charlm.ArchLlama, steps: 100, evals: 2})
	p.plan(pendingRun{stage: "init", name: "a", arch: charlm.ArchGPT, steps: 100, evals: 2}) // Once.
	p.extra["act"] = 7
	val := 20.0 * 128 / defaultValWindows
	require.InDelta(t, 100*0.3+2*val+runOverheadSeconds, p.eta("init"), 1e-9)
	require.InDelta(t, 100*0.6+2*70.0*128/defaultValWindows+runOverheadSeconds+7, p.eta("act"), 1e-9)

	p.startStage("init", "GG initialization", 1, 2)
	require.Contains(t, w.String(), "== stage 1/2: init (GG initialization): 1 run to train")
	exp := &charlm.Experiment{Config: charlm.DefaultConfig(), Train: charlm.DefaultTrainConfig()}
	exp.Train.Steps, exp.Train.EvalAt = 100, []int{50}
	p.startRun("a", exp)
	for step := 1; step <= 50; step++ {
		p.step(charlm.StepInfo{Step: step, Duration: 100 * time.Millisecond})
	}
	require.InDelta(t, 0.1, p.secPerStep(charlm.ArchGPT), 1e-9, "measured")
	require.InDelta(t, 50*0.1+2*val, p.eta("init"), 1e-6, "50 steps and the pending validation, then the final one")
	for step := 51; step <= 60; step++ { // Slower steps: the run's own median counts for the run.
		p.step(charlm.StepInfo{Step: step, Duration: time.Second})
	}
	require.InDelta(t, 0.1, p.secPerStep(charlm.ArchGPT), 1e-9, "the architecture's median")
	require.Len(t, p.valTimes[charlm.ArchGPT], 1, "the validation after step 50, measured")
	require.Less(t, p.valSeconds(charlm.ArchGPT), val)
	require.InDelta(t, 40*0.1+p.valSeconds(charlm.ArchGPT), p.eta("init"), 1e-6, "the run's median: 0.1 s over 60 steps")
	p.endRun("a", nil)
	require.InDelta(t, 0, p.eta("init"), 1e-9)
	require.Contains(t, w.String(), "trained a")

	// A slower method: once measured, its own step time counts for its run.
	p.plan(pendingRun{stage: "init", name: "c", arch: charlm.ArchGPT, steps: 10, evals: 1})
	exp.Train.Steps, exp.Train.EvalAt = 10, nil
	p.startRun("c", exp)
	for step := 1; step <= 5; step++ {
		p.step(charlm.StepInfo{Step: step, Duration: 2 * time.Second})
	}
	require.InDelta(t, 0.1, p.secPerStep(charlm.ArchGPT), 1e-9)
	require.InDelta(t, 5*2+p.valSeconds(charlm.ArchGPT), p.eta("init"), 1e-6)
	p.endRun("c", nil)
	p.endStage("init", time.Second, nil)
	require.Equal(t, "1h02m", formatSeconds(3725))
	require.Equal(t, "3m05s", formatSeconds(185))
	require.Equal(t, "12s", formatSeconds(12.4))
}

// TestEvidenceClaims: weights a few steps from a Gaussian initialization (median
// beta 1.99) do not count as peakier than Gaussian; trained ones (1.4) do; the
// gradients must be peakier than the weights.
func TestEvidenceClaims(t *testing.T) {
	group := func(tensors, ggBest int, beta float64) distfit.Group {
		return distfit.Group{Tensors: tensors, Best: map[string]int{distfit.ModelGG: ggBest}, MedianBetaMLE: beta}
	}
	ev := &Evidence{Summary: distfit.Summary{ByKind: map[string]distfit.Group{
		tensorkind.Weights:     group(10, 8, 1.99),
		tensorkind.Activations: group(4, 3, 1.5),
		tensorkind.Gradients:   group(10, 4, 0.9),
	}}}
	c := ev.claims("m", true)
	require.Len(t, c, 3)
	require.Equal(t, No, c[0].Reproduced, c[0].Measured)
	require.Equal(t, Yes, c[1].Reproduced, c[1].Measured)
	require.Equal(t, No, c[2].Reproduced, "GG best for only 4/10 gradients")
	ev.Summary.ByKind[tensorkind.Weights] = group(10, 8, 1.4)
	ev.Summary.ByKind[tensorkind.Gradients] = group(10, 9, 0.9)
	c = ev.claims("m", true)
	require.Equal(t, Yes, c[0].Reproduced, c[0].Measured)
	require.Equal(t, Yes, c[2].Reproduced, c[2].Measured)
	ev.Summary.ByKind[tensorkind.Gradients] = group(10, 9, 1.5)
	require.Equal(t, No, ev.claims("m", true)[2].Reproduced, "gradients no peakier than the weights")
}
