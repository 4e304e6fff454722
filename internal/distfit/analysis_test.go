package distfit

import (
	"bytes"
	"github.com/ggprior/ggprior/internal/pngtest"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/internal/tensorkind"
	"github.com/stretchr/testify/require"
)

func TestAnalyzeGG(t *testing.T) {
	const n, beta = 20_000, 0.7
	xs := ggSamples(n, 0.1, 0.02, beta, 1)
	r, err := Analyze("h.0.mlp.c_fc.weight", xs, Options{Seed: 1})
	require.NoError(t, err)
	require.Equal(t, tensorkind.Weights, r.Kind)
	require.Equal(t, LayerMLP, r.Layer)
	require.Equal(t, n, r.N)
	require.Equal(t, n, r.Sampled) // Below the default sample size: all values.
	require.Equal(t, ModelGG, r.Best)
	require.Less(t, r.KS[ModelGG], r.KSCritical, "the true model passes the KS test")
	require.Greater(t, r.KS[ModelLaplacian], r.KSCritical, "a Laplacian is rejected at this size")
	require.Greater(t, r.KS[ModelGaussian], r.KSCritical, "a Gaussian is rejected at this size")
	require.Greater(t, r.LogLik[ModelGG], r.LogLik[ModelLaplacian])
	require.Greater(t, r.LogLik[ModelGG], r.LogLik[ModelGaussian])
	require.InDelta(t, beta, r.MLE.Beta, 4*seBetaMLE(beta, n))
	require.InDelta(t, beta, r.Moment.Beta, 4*seBetaMoment(beta, n))
	require.Equal(t, 2.0, r.Gaussian.Beta)
	require.Equal(t, 1.0, r.Laplacian.Beta)
	require.InDelta(t, 1.63/math.Sqrt(n), r.KSCritical, 1e-12)
}

func TestAnalyzeGaussian(t *testing.T) {
	const n = 20_000
	rng := rand.New(rand.NewPCG(2, 3))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = 0.5 + 0.1*rng.NormFloat64()
	}
	r, err := Analyze("encoder.layer.0.attention.self.query.weight", xs, Options{})
	require.NoError(t, err)
	require.Equal(t, LayerAttention, r.Layer)
	require.Contains(t, []string{ModelGG, ModelGaussian}, r.Best)
	require.InDelta(t, 2, r.MLE.Beta, 4*seBetaMLE(2, n))
	require.InDelta(t, 2, r.Moment.Beta, 4*seBetaMoment(2, n))
	require.Less(t, r.KS[ModelGaussian], r.KSCritical)
	require.Greater(t, r.KS[ModelLaplacian], r.KSCritical)
}

func TestAnalyzeErrors(t *testing.T) {
	constant := make([]float64, 1000)
	mask := make([]float64, 1000)
	for i := range mask {
		mask[i] = float64(i % 2)
	}
	withNaN := ggSamples(1000, 0, 1, 1, 5)
	withNaN[17] = math.NaN()
	cases := []struct {
		name   string
		values []float64
		want   string
	}{
		{"constant", constant, `tensor "constant" has only 1 distinct values`},
		{"mask", mask, `tensor "mask" has only 2 distinct values`},
		{"nan", withNaN, `tensor "nan": value 17 of the sample is NaN`},
		{"empty", nil, `tensor "empty" has only 0 distinct values`},
	}
	for _, c := range cases {
		require.NotPanics(t, func() {
			_, err := Analyze(c.name, c.values, Options{})
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestSampleIndices(t *testing.T) {
	for _, c := range []struct{ n, k int }{{10, 3}, {1000, 999}, {100_000, 1000}, {64, 63}, {65, 1}} {
		idx := sampleIndices(c.n, c.k, 42)
		require.Len(t, idx, c.k)
		require.True(t, slices.IsSorted(idx))
		require.Equal(t, c.k, len(slices.Compact(slices.Clone(idx))), "distinct")
		require.GreaterOrEqual(t, idx[0], 0)
		require.Less(t, idx[len(idx)-1], c.n)
		require.Equal(t, idx, sampleIndices(c.n, c.k, 42), "deterministic")
	}
	require.Nil(t, sampleIndices(10, 10, 1))
	require.Nil(t, sampleIndices(10, 11, 1))
	require.Nil(t, sampleIndices(10, 0, 1))
	require.NotEqual(t, sampleIndices(1000, 10, 1), sampleIndices(1000, 10, 2))

	// Uniformity: over many seeds each tenth of [0, n) gets k/10 of the draws on
	// average. Per seed the count in a tenth is hypergeometric with variance
	// k (1/10)(9/10)(n-k)/(n-1); over the seeds the total's standard deviation
	// follows, and 5 of them is the tolerance.
	const n, k, seeds = 1000, 100, 200
	counts := make([]int, 10)
	for s := range seeds {
		for _, i := range sampleIndices(n, k, uint64(s)) {
			counts[i/100]++
		}
	}
	sd := math.Sqrt(seeds * k * 0.1 * 0.9 * float64(n-k) / float64(n-1))
	for tenth, c := range counts {
		require.InDelta(t, seeds*k/10, c, 5*sd, "tenth %d", tenth)
	}
}

func TestSubsamplingDeterministic(t *testing.T) {
	const n, size = 50_000, 5_000
	xs := ggSamples(n, 0, 1, 1.2, 3)
	opts := Options{SampleSize: size, Seed: 7}
	r1, err := Analyze("w", xs, opts)
	require.NoError(t, err)
	require.Equal(t, n, r1.N)
	require.Equal(t, size, r1.Sampled)
	r2, err := Analyze("w", xs, opts)
	require.NoError(t, err)
	require.Equal(t, r1, r2, "same seed, same result")

	// A reader that fetches only the sampled values gets the same report.
	idx := opts.Indices("w", n)
	require.Len(t, idx, size)
	r3, err := AnalyzeSample("w", Gather(xs, idx), n, opts)
	require.NoError(t, err)
	require.Equal(t, r1, r3)

	// Another seed, or another name, draws another sample.
	r4, err := Analyze("w", xs, Options{SampleSize: size, Seed: 8})
	require.NoError(t, err)
	require.NotEqual(t, r1.Moment.Beta, r4.Moment.Beta)
	require.NotEqual(t, idx, opts.Indices("v", n))

	// No subsampling with a negative size.
	r5, err := Analyze("w", xs, Options{SampleSize: -1})
	require.NoError(t, err)
	require.Equal(t, n, r5.Sampled)
}

func TestLayerKind(t *testing.T) {
	for name, want := range map[string]string{
		"wte.weight":                                        LayerEmbedding,
		"transformer.wpe.weight":                            LayerEmbedding,
		"model.embed_tokens.weight":                         LayerEmbedding,
		"/token_embed/embeddings":                           LayerEmbedding,
		"h.0.attn.c_attn.weight":                            LayerAttention,
		"h.11.attn.c_proj.weight":                           LayerAttention,
		"model.layers.3.self_attn.q_proj.weight":            LayerAttention,
		"encoder.layer.0.attention.self.query.weight":       LayerAttention,
		"/block_000/attn/qkv/weights":                       LayerAttention,
		"h.0.mlp.c_fc.weight":                               LayerMLP,
		"model.layers.3.mlp.gate_proj.weight":               LayerMLP,
		"encoder.layer.0.intermediate.dense.weight":         LayerMLP,
		"/block_001/mlp/down/weights":                       LayerMLP,
		"h.0.ln_1.weight":                                   layerNorm,
		"ln_f.bias":                                         layerNorm,
		"model.layers.0.input_layernorm.weight":             layerNorm,
		"encoder.layer.0.attention.output.LayerNorm.weight": layerNorm,
		"/block_000/ln1/gain":                               layerNorm,
		"/final_norm/scale":                                 layerNorm,
		"lm_head.weight":                                    LayerHead,
		"/head/weights":                                     LayerHead,
		"classifier.weight":                                 LayerHead,
		"/hidden/dense/weights":                             layerOther,
	} {
		require.Equal(t, want, layerKind(name), name)
	}
}

// fakeReport returns a report with just what Summarize and the table use.
func fakeReport(name, kind string, best string, betaMLE, betaMoment, ksGG float64) TensorReport {
	return TensorReport{
		Name: name, Kind: kind, Layer: layerKind(name), N: 1000, Sampled: 1000,
		KS:         map[string]float64{ModelGG: ksGG, ModelGaussian: 0.1, ModelLaplacian: 0.05},
		KSCritical: 0.0515, Best: best,
		MLE: distOf(betaMLE), Moment: distOf(betaMoment),
	}
}

func TestSummarize(t *testing.T) {
	reports := []TensorReport{
		fakeReport("h.0.attn.c_attn.weight", tensorkind.Weights, ModelGG, 1.2, 1.25, 0.01),
		fakeReport("h.0.mlp.c_fc.weight", tensorkind.Weights, ModelGG, 1.4, 1.3, 0.06),
		fakeReport("h.1.mlp.c_fc.weight", tensorkind.Weights, ModelGaussian, 1.9, 2.0, 0.02),
		fakeReport("h.0.mlp.act", tensorkind.Activations, ModelGG, 0.9, 0.8, 0.03),
		fakeReport("h.0.mlp.c_fc.weight", tensorkind.Gradients, ModelLaplacian, 0.4, 0.5, 0.2),
	}
	s := Summarize(reports)
	require.Equal(t, 5, s.All.Tensors)
	require.Equal(t, map[string]int{ModelGG: 3, ModelGaussian: 1, ModelLaplacian: 1}, s.All.Best)
	require.Equal(t, 3, s.All.GGNotRejected)
	require.Equal(t, 1.2, s.All.MedianBetaMLE)
	require.Equal(t, 0.4, s.All.MinBetaMLE)
	require.Equal(t, 1.9, s.All.MaxBetaMLE)
	require.Equal(t, 3, s.ByKind[tensorkind.Weights].Tensors)
	require.Equal(t, 1.4, s.ByKind[tensorkind.Weights].MedianBetaMLE)
	require.Equal(t, 1.3, s.ByKind[tensorkind.Weights].MedianBetaMoment)
	require.Equal(t, 2, s.ByKind[tensorkind.Weights].Best[ModelGG])
	require.Equal(t, 0.9, s.ByKind[tensorkind.Activations].MedianBetaMLE)
	require.Equal(t, 0.4, s.ByKind[tensorkind.Gradients].MedianBetaMLE)
	require.Equal(t, 2, s.ByLayer["weights/mlp"].Tensors)
	require.InDelta(t, 1.65, s.ByLayer["weights/mlp"].MedianBetaMLE, 1e-12)
	require.Equal(t, 1, s.ByLayer["weights/attention"].Tensors)

	str := s.String()
	require.Contains(t, str, "GG fits best for 3/5 tensors (gaussian 1, laplacian 1)")
	require.Contains(t, str, "GG not rejected (KS, 1%) for 3/5")
	require.Contains(t, str, "weights 1.40 (3) [attention 1.20 (1), mlp 1.65 (2)]")
	require.Contains(t, str, "activations 0.90 (1)")
	require.Contains(t, str, "gradients 0.40 (1)")
	require.Less(t, strings.Index(str, "weights"), strings.Index(str, "activations"))

	require.Equal(t, "no tensors analyzed", Summarize(nil).String())
}

func TestJSONRoundTrip(t *testing.T) {
	r, err := Analyze("h.0.attn.c_proj.weight", ggSamples(2000, 0, 1, 1.3, 4), Options{Seed: 3})
	require.NoError(t, err)
	r.Shape = []int{40, 50}
	result := Result{
		Source:  "test",
		Options: Options{Seed: 3, SampleSize: 100},
		Reports: []TensorReport{r},
		Skipped: []Skip{{Name: "b", Reason: "too small"}},
		Summary: Summarize([]TensorReport{r}),
	}
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, result))
	js := buf.String()
	require.Contains(t, js, `"mle": {`)
	require.Contains(t, js, `"beta": `)
	require.Contains(t, js, `"ks_critical_99"`)
	require.NotContains(t, js, "Src")
	back, err := ReadJSON(&buf)
	require.NoError(t, err)
	require.Equal(t, result, back)

	// An empty run still writes valid JSON (no NaN).
	buf.Reset()
	require.NoError(t, WriteJSON(&buf, Result{Summary: Summarize(nil)}))
}

func TestTable(t *testing.T) {
	reports := []TensorReport{
		fakeReport("h.0.attn.c_attn.weight", tensorkind.Weights, ModelGG, 1.2, 1.25, 0.01),
		fakeReport("h.0.mlp.c_fc.weight", tensorkind.Weights, ModelGaussian, 1.9, 2.0, 0.06),
	}
	reports[0].Shape = []int{768, 2304}
	var buf bytes.Buffer
	require.NoError(t, writeTable(&buf, reports))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 3)
	require.Regexp(t, `^tensor\s+shape\s+size\s+layer\s+beta_mom\s+beta_mle\s+KS_gg\s+KS_gauss\s+KS_lapl\s+best$`, lines[0])
	require.Regexp(t, `^h\.0\.attn\.c_attn\.weight\s+768x2304\s+1000\s+attention\s+1\.250\s+1\.200\s+0\.0100\s+0\.1000\s+0\.0500\s+gg$`, lines[1])
	require.Contains(t, lines[2], "gaussian (GG rejected at 1%)")
	require.Equal(t, "scalar", formatShape([]int{}))
	require.Equal(t, "?", formatShape(nil))
}

func TestPlots(t *testing.T) {
	dir := t.TempDir()
	xs := ggSamples(5000, 0, 0.05, 0.8, 6)
	r, err := Analyze("h.0.mlp.c_fc.weight", xs, Options{})
	require.NoError(t, err)
	path := filepath.Join(dir, PlotFileName(r.Name, ".png"))
	require.Equal(t, "h.0.mlp.c_fc.weight.png", filepath.Base(path))
	require.NoError(t, PlotTensor(path, xs, r))
	pngtest.Require(t, path)

	betas := filepath.Join(dir, "betas.png")
	r2 := r
	r2.Name, r2.Layer = "/block_000/attn/qkv/weights", LayerAttention
	require.NoError(t, PlotBetas(betas, []TensorReport{r, r2}, "test"))
	pngtest.Require(t, betas)

	require.Equal(t, "block_000_attn_qkv_weights.svg", PlotFileName("/block_000/attn/qkv/weights", ".svg"))
	require.Equal(t, "tensor.png", PlotFileName("//", ".png"))
	require.ErrorContains(t, PlotTensor(filepath.Join(dir, "x.png"), nil, r), "no values")
}

func TestAccumulator(t *testing.T) {
	const steps, perStep, size = 10, 1000, 2000
	run := func() *Accumulator {
		acc := NewAccumulator(Options{SampleSize: size, Seed: 5})
		for step := range steps {
			ranks := make([]float64, perStep)
			for i := range ranks {
				ranks[i] = float64(step*perStep + i)
			}
			require.NoError(t, acc.Observe(tensorkind.Weights, "ranks", ranks))
			require.NoError(t, acc.Observe(tensorkind.Activations, "/block_000/mlp/act", ggSamples(perStep, 0, 1, 0.9, uint64(step))))
			require.NoError(t, acc.Observe(tensorkind.Gradients, "/block_000/mlp/in/weights", ggSamples(100, 0, 1, 0.5, uint64(step))))
		}
		return acc
	}
	acc := run()
	var samples [][]float64
	require.NoError(t, acc.Each(func(kind, name string, total int, sample []float64) error {
		samples = append(samples, sample)
		switch kind {
		case tensorkind.Weights:
			require.Equal(t, steps*perStep, total)
			require.Len(t, sample, size)
			// A uniform sample without replacement of the ranks 0..N-1: its mean
			// has standard deviation sqrt(N^2/12/k (1-k/N)).
			const n = steps * perStep
			mean := 0.0
			for _, x := range sample {
				mean += x / size
			}
			sd := math.Sqrt(n * n / 12.0 / size * (1 - float64(size)/n))
			require.InDelta(t, (n-1)/2.0, mean, 5*sd)
			require.Equal(t, size, len(slices.Compact(slices.Sorted(slices.Values(sample)))), "distinct values")
		case tensorkind.Activations:
			require.Equal(t, steps*perStep, total)
			require.Len(t, sample, size)
		case tensorkind.Gradients:
			require.Equal(t, steps*100, total)
			require.Len(t, sample, steps*100)
		}
		return nil
	}))
	require.Len(t, samples, 3)

	// Deterministic: the same observations give the same samples.
	var again [][]float64
	require.NoError(t, run().Each(func(_, _ string, _ int, sample []float64) error {
		again = append(again, sample)
		return nil
	}))
	require.Equal(t, samples, again)

	// The ranks (a uniform distribution) cannot be fitted by a GG of supported
	// shape: skipped, with the reason.
	reports, skipped := acc.Reports()
	require.Len(t, skipped, 1)
	require.Equal(t, "ranks", skipped[0].Name)
	require.Contains(t, skipped[0].Reason, "outside the supported range")
	require.Len(t, reports, 2)
	require.Equal(t, tensorkind.Activations, reports[0].Kind)
	require.Equal(t, tensorkind.Gradients, reports[1].Kind)
	require.Equal(t, steps*perStep, reports[0].N)
	require.Equal(t, size, reports[0].Sampled)

	require.ErrorContains(t, acc.Observe("biases", "x", nil), "kind must be one of")
}

// TestPreciseTicks: tick labels say the tick's value (gonum's default
// labels a tick at 2.55 "2.6").
func TestPreciseTicks(t *testing.T) {
	labeled := 0
	for _, tk := range (PreciseTicks{}).Ticks(2.5176, 2.9882) {
		if tk.Label == "" {
			continue
		}
		labeled++
		v, err := strconv.ParseFloat(tk.Label, 64)
		require.NoError(t, err)
		require.InDelta(t, tk.Value, v, 1e-9, tk.Label)
	}
	require.Greater(t, labeled, 1)
}
