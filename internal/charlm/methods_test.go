package charlm

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/layers"
	"github.com/ggprior/ggprior/optimizers"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

// methodExperiment returns an experiment of the tiny gpt on a repeated
// sentence, with the TrainConfig changed by fn and the given hyperparameters.
func methodExperiment(t *testing.T, data string, steps int, checkpoint string, fn func(tc *TrainConfig), settings string) *Experiment {
	t.Helper()
	tc := DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.Data, tc.Checkpoint, tc.LogEvery, tc.EvalBatch = steps, []int{steps / 2}, data, checkpoint, 1, 8
	if fn != nil {
		fn(&tc)
	}
	exp, err := NewExperiment(backend(t), tinyConfig(ArchGPT), tc)
	require.NoError(t, err)
	_, err = parseSettings(exp.Store, settings)
	require.NoError(t, err)
	return exp
}

// TestActivationSites: both architectures hand every block's three sites to
// Model.Activation, in the sub-layer's scope, with the width ActivationWidth
// says; the consumers' multiply-adds match the kernels that read the sites.
func TestActivationSites(t *testing.T) {
	for _, arch := range []string{ArchGPT, ArchLlama} {
		t.Run(arch, func(t *testing.T) {
			cfg := tinyConfig(arch)
			cfg.Layers = 2
			m := newModel(cfg)
			var seen []string
			m.Activation = func(scope *model.Scope, site string, x *graph.Node) *graph.Node {
				require.Equal(t, []int{1, 5, cfg.ActivationWidth(site)}, x.Shape().Dimensions, site)
				seen = append(seen, model.JoinPath(scope.Scope(), site))
				return x
			}
			store := newSeededStore(1)
			logitsExec(t, store, m).MustCall(tokensTensor("hello"))
			require.Equal(t, []string{
				"/block_000/attn/attn_in", "/block_000/mlp/mlp_in", "/block_000/mlp/mlp_hidden",
				"/block_001/attn/attn_in", "/block_001/mlp/mlp_in", "/block_001/mlp/mlp_hidden",
			}, seen)
			// Consumers: the kernels whose input axis is the site's width.
			kernels := map[string][]string{
				SiteAttnIn: {"/block_000/attn/qkv/weights"}, SiteMLPHidden: {"/block_000/mlp/out/weights"},
				siteMLPIn: {"/block_000/mlp/in/weights"},
			}
			if arch == ArchLlama {
				kernels[SiteMLPHidden] = []string{"/block_000/mlp/down/weights"}
				kernels[siteMLPIn] = []string{"/block_000/mlp/gate/weights", "/block_000/mlp/up/weights"}
			}
			for site, paths := range kernels {
				macs := 0
				for _, p := range paths {
					v := store.GetVariable(p)
					require.NotNil(t, v, p)
					require.Equal(t, cfg.ActivationWidth(site), v.Shape().Dim(0), p)
					macs += v.Shape().Size()
				}
				require.Equal(t, macs, cfg.ConsumerMACs(site), site)
			}
		})
	}
}

func TestParseACTSitesAndSparsity(t *testing.T) {
	sites, err := parseACTSites("mlp_hidden, attn_in,mlp_hidden")
	require.NoError(t, err)
	require.Equal(t, []string{SiteAttnIn, SiteMLPHidden}, sites)
	sites, err = parseACTSites("all")
	require.NoError(t, err)
	require.Equal(t, ActivationSites, sites)
	for _, bad := range []string{"", "mlp", "mlp_hidden,"} {
		_, err := parseACTSites(bad)
		require.ErrorContains(t, err, "unknown site", bad)
	}

	def, perSite, err := parseACTSparsity("0.5,mlp_hidden=0.95")
	require.NoError(t, err)
	require.Equal(t, 0.5, def)
	require.Equal(t, map[string]float64{SiteMLPHidden: 0.95}, perSite)
	def, _, err = parseACTSparsity("attn_in=0.3")
	require.NoError(t, err)
	require.True(t, math.IsNaN(def))
	for _, bad := range []string{"1", "-0.1", "x", "mlp=0.5", "0.5,0.6", "attn_in=0.1,attn_in=0.2"} {
		_, _, err := parseACTSparsity(bad)
		require.Error(t, err, bad)
	}
}

// TestTrainConfigMethodErrors: bad method settings are clear errors.
func TestTrainConfigMethodErrors(t *testing.T) {
	for msg, fn := range map[string]func(tc *TrainConfig){
		"unknown compressor":      func(tc *TrainConfig) { tc.Compress = "zip" },
		"fraction kept":           func(tc *TrainConfig) { tc.Compress = "topk:2" },
		"must be > 0":             func(tc *TrainConfig) { tc.Compress = "gct:0" },
		"unknown ACT site":        func(tc *TrainConfig) { tc.ACTSites = []string{"mlp"} },
		"not among the ACT sites": func(tc *TrainConfig) { tc.ACTSparsity = map[string]float64{siteMLPIn: 0.5} },
		"want a value in [0, 1)": func(tc *TrainConfig) {
			tc.ACTSites, tc.ACTSparsity = []string{siteMLPIn}, map[string]float64{siteMLPIn: 1}
		},
		"not divisible by 5 workers":       func(tc *TrainConfig) { tc.Workers = 5 },
		"workers must be >= 0":             func(tc *TrainConfig) { tc.Workers = -1 },
		"ACT site \"attn_in\" given twice": func(tc *TrainConfig) { tc.ACTSites = []string{SiteAttnIn, SiteAttnIn} },
	} {
		tc := DefaultTrainConfig()
		fn(&tc)
		require.ErrorContains(t, tc.Validate(), msg)
	}
	tc := DefaultTrainConfig()
	tc.Workers = 2
	_, err := NewExperiment(backend(t), tinyConfig(ArchGPT), tc)
	require.ErrorContains(t, err, "NewDataParallel")
	tc.Workers = 1
	_, err = newDataParallel(backend(t), tinyConfig(ArchGPT), tc)
	require.ErrorContains(t, err, "at least 2 workers")
}

// TestCompressors: every compressor trains the tiny gpt through GCT's wrapper,
// and reports its bits per element, after the warm-up and over every step
// (the warm-up's step at 32 bits); the hyperparameters are in the Store.
func TestCompressors(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 20)
	for _, spec := range []string{"fp32", "bf16", "int8", "sign", "topk:0.1", "powersgd:2", "gct:3"} {
		exp := methodExperiment(t, data, 3, "", func(tc *TrainConfig) { tc.Compress = spec }, "gct_warmup_steps=1")
		r, err := exp.Run()
		require.NoError(t, err, spec)
		require.NotNil(t, r.GradientResults, spec)
		require.NotNil(t, r.GradBitsPerElement, spec)
		require.Equal(t, 1, r.Compress.Warmup, spec)
		require.Equal(t, 2, exp.History().Gradient.Steps, "%s: steps after the warm-up", spec)
		require.NotEmpty(t, r.GradBitsByVariable, spec)
		require.Len(t, r.Outputs[outputGradBits], 3, spec)
		// The mean over every step counts the warm-up's uncompressed step (32 bits).
		require.NotNil(t, r.GradBitsPerElementAllSteps, spec)
		require.InDelta(t, (32+2**r.GradBitsPerElement)/3, *r.GradBitsPerElementAllSteps, 1e-4, spec)
		t.Logf("%-10s %-12s %.3f bits per element", spec, r.Compress.Name, *r.GradBitsPerElement)
		switch spec {
		case "fp32":
			require.InDelta(t, 32.0, *r.GradBitsPerElement, 1e-5) // Float32 arithmetic.
		case "bf16":
			require.InDelta(t, 16.0, *r.GradBitsPerElement, 1e-5)
		case "gct:3":
			require.Equal(t, 3.0, r.Compress.Bits)
			require.NotNil(t, r.GradBeta)
			require.NotNil(t, r.GradZeroFraction)
		}
	}
}

// TestGCTBitsNearTarget: -compress gct costs about its target bits per
// gradient element on the tiny gpt. The GG quantizer meets its target in
// expectation under the GG it fits (optimizers' tests check it on GG data);
// the MLP and attention output kernels have gradients close to GG and land
// within 2.5% of the target at 2 bits (5% at 3). The total is lower: the
// token embedding's gradient is exactly zero on the rows of the bytes a batch
// lacks (1 bit each), and each tensor pays 32 bits for its step (1 bit per
// element for the 32-element biases and gains); we allow 0.15 bits.
func TestGCTBitsNearTarget(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 20)
	for _, bits := range []float64{2, 3} {
		settings := "gct_coder=expgolomb;gct_geometry=gradient;gct_moment_correction=false" // GCT's first quantizer.
		if bits != 2 {
			settings += fmt.Sprintf(";gct_bits=%g", bits) // -set changes the default target.
		}
		exp := methodExperiment(t, data, 10, "", func(tc *TrainConfig) { tc.Compress = "gct" }, settings)
		r, err := exp.Run()
		require.NoError(t, err)
		require.Equal(t, CompressSettings{Name: fmt.Sprintf("gct:%gbits", bits), Bits: bits, ErrorFeedback: true}, r.Compress)
		t.Logf("target %g: bits per element %.3f, zero fraction %.3f, beta %.3f", bits, *r.GradBitsPerElement, *r.GradZeroFraction, *r.GradBeta)
		for _, kernel := range []string{"/block_000/mlp/in/weights", "/block_000/mlp/out/weights", "/block_000/attn/out/weights"} {
			require.InDelta(t, bits, r.GradBitsByVariable[kernel], 0.025*bits, kernel)
		}
		if bits == 2 {
			require.InDelta(t, bits, *r.GradBitsPerElement, 0.15)
		}
		numVars := 0
		for v := range exp.Store.IterVariables() {
			if v.Trainable {
				numVars++
			}
		}
		require.Len(t, r.GradBitsByVariable, numVars)
		metrics, err := optimizers.ReadMetrics(exp.Store)
		require.NoError(t, err)
		require.InDelta(t, r.Outputs[outputGradBits][9][1], metrics.BitsPerElement, 1e-6, "the step output is the metric")
	}
}

// TestACTReachesTarget: ACT at the MLP hidden activations of the tiny gpt,
// ramped from step 1 to 10 of 50 to 0.9: at the end the MLP hidden sparsity
// is 0.9. The threshold is a running average (momentum 0.9), so the sparsity
// lags the ramp and then closes the gap by 10% a step (0.9^40 of it, 1.5%,
// is left at the end); the metric is measured on ACT's sample of m = 8,192 of
// the 24,576 activations (sampling standard deviation sqrt(0.9*0.1/m) =
// 0.0033, 5 of them are 0.017); we allow 0.03. The learning rate is low
// (1e-4), because a fast-moving model (this one overfits its one sentence in
// 100 steps at the default rate) makes the running threshold trail the growing
// activations. Validation runs ACT in inference mode: it moves neither the
// step counter nor the threshold.
func TestACTReachesTarget(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 20)
	exp := methodExperiment(t, data, 50, "", func(tc *TrainConfig) { tc.ACTSites = []string{SiteMLPHidden} },
		"act_start=1;act_end=10;learning_rate=1e-4")
	require.NoError(t, exp.TrainTo(49))
	before := actState(t, exp.Store)
	_, err := exp.ValidationLoss()
	require.NoError(t, err)
	require.Equal(t, before, actState(t, exp.Store), "validation must not move ACT's state (inference mode)")

	r, err := exp.Run()
	require.NoError(t, err)
	require.NotNil(t, r.ACTResults)
	t.Logf("sparsity %.4f (threshold %.4g), bits per activation %.3f, skippable MACs %.3f",
		r.ACTSparsity, r.ACTThresholdBySite["block_000/mlp_hidden"], r.ACTBitsPerActivation, r.ACTSkippableMACs)
	require.Equal(t, []string{"block_000/mlp_hidden"}, keys(r.ACTSparsityBySite))
	require.InDelta(t, 0.9, r.ACTSparsityBySite["block_000/mlp_hidden"], 0.03)
	require.Equal(t, r.ACTSparsity, r.ACTSkippableMACs, "one site: its sparsity is its consumer's skippable fraction")
	require.Equal(t, ACTSettings{Sites: []string{SiteMLPHidden}, Sparsity: map[string]float64{SiteMLPHidden: 0.9},
		Lambda: layers.DefaultLambda, Schedule: layers.ScheduleCosine, Start: 1, End: 10, Threshold: layers.ThresholdBatch,
		SampleSize: layers.DefaultSampleSize}, r.ACT)
	require.Greater(t, r.ACTBitsPerActivation, 1.0)
	curve := r.Outputs[outputACTSparsity]
	require.Len(t, curve, 50)
	require.Zero(t, curve[0][1], "nothing is cut at the ramp's start")
}

// TestACTPerSiteTargets: all three sites, with their own targets.
func TestACTPerSiteTargets(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 20)
	exp := methodExperiment(t, data, 12, "", func(tc *TrainConfig) {
		tc.ACTSites = ActivationSites
		tc.ACTSparsity = map[string]float64{SiteMLPHidden: 0.8, SiteAttnIn: 0.3}
	}, "act_sparsity=0.5;act_start=0;act_end=0")
	r, err := exp.Run()
	require.NoError(t, err)
	require.Equal(t, map[string]float64{SiteAttnIn: 0.3, siteMLPIn: 0.5, SiteMLPHidden: 0.8}, r.ACT.Sparsity)
	// A fixed constraint from the first step: each site's sparsity is its target
	// up to the sampling and running-average error (see TestACTReachesTarget).
	for name, want := range map[string]float64{"block_000/attn_in": 0.3, "block_000/mlp_in": 0.5, "block_000/mlp_hidden": 0.8} {
		require.InDelta(t, want, r.ACTSparsityBySite[name], 0.05, name)
	}
	w, h := float64(exp.Config.Width), float64(exp.Config.Hidden())
	s := r.ACTSparsityBySite
	macs := 3*w*w*s["block_000/attn_in"] + w*h*s["block_000/mlp_in"] + h*w*s["block_000/mlp_hidden"]
	require.InDelta(t, macs/(3*w*w+w*h+h*w), r.ACTSkippableMACs, 1e-12)
}

// actState returns the values of ACT's non-trainable variables.
func actState(t *testing.T, store *model.Store) map[string]float64 {
	t.Helper()
	state := map[string]float64{}
	for v := range store.IterVariables() {
		scope, _ := model.SplitPath(v.Path())
		if len(scope) < 4 || scope[len(scope)-4:] != "/act" {
			continue
		}
		value := v.MustValue()
		switch value.DType() {
		case dtypes.Int64:
			state[v.Path()] = float64(tensors.ToScalar[int64](value))
		default:
			state[v.Path()] = float64(tensors.ToScalar[float32](value))
		}
	}
	require.NotEmpty(t, state)
	return state
}

// keys returns the sorted keys of m.
func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestACTPerSiteRamp: a site's own ramp reaches its layers only: with the
// run's ramp starting at step 6, the MLP hidden site with a fixed threshold
// (ramp 0–0) is sparse from the first step, the other sites are not.
func TestACTPerSiteRamp(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 20)
	exp := methodExperiment(t, data, 4, "", func(tc *TrainConfig) {
		tc.ACTSites = ActivationSites
		tc.ACTRamp = map[string][2]int{SiteMLPHidden: {0, 0}}
	}, "act_sparsity=0.5;act_start=6;act_end=8")
	r, err := exp.Run()
	require.NoError(t, err)
	require.Equal(t, map[string][2]int{SiteMLPHidden: {0, 0}}, r.ACT.Ramp)
	require.Equal(t, 6, r.ACT.Start)
	for name, s := range r.ACTSparsityBySite {
		if strings.HasSuffix(name, "/"+SiteMLPHidden) {
			require.InDelta(t, 0.5, s, 0.05, name)
		} else {
			require.Zero(t, s, name)
		}
	}
}

// TestGCTMomentCorrection: with gct_moment_correction, one step of GCT at 1
// bit leaves AdamW's first moment as without it, and its second moment
// divided, per variable, by one factor (GCT's MomentCorrectionFactor: the
// decoded gradient's squares over the gradient's), not 1 everywhere.
func TestGCTMomentCorrection(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 20)
	moments := map[bool]map[string][]float32{}
	for _, on := range []bool{false, true} {
		exp := methodExperiment(t, data, 2, "", func(tc *TrainConfig) { tc.Compress = "gct:1" }, fmt.Sprintf("gct_moment_correction=%v", on))
		require.NoError(t, exp.TrainTo(1))
		moments[on] = map[string][]float32{}
		for v := range exp.Store.IterVariables() {
			if strings.HasPrefix(v.Path(), "/"+adamWDefaultScope+"/") && strings.HasSuffix(v.Path(), "_moment") {
				value, err := v.Value()
				require.NoError(t, err)
				moments[on][v.Path()] = tensors.MustCopyFlatData[float32](value)
			}
		}
	}
	require.NotEmpty(t, moments[false])
	corrected := 0
	for path, plain := range moments[false] {
		got := moments[true][path]
		require.Len(t, got, len(plain), path)
		if strings.HasSuffix(path, "_1st_moment") {
			require.Equal(t, plain, got, path)
			continue
		}
		ratio := math.NaN()
		for i := range plain {
			if plain[i] == 0 {
				require.Zero(t, got[i], path)
				continue
			}
			r := float64(plain[i]) / float64(got[i])
			if math.IsNaN(ratio) {
				ratio = r
			}
			require.InEpsilon(t, ratio, r, 1e-5, "%s[%d]", path, i)
		}
		if !math.IsNaN(ratio) && math.Abs(ratio-1) > 1e-3 {
			corrected++
		}
	}
	require.Positive(t, corrected)
}
