package main

import (
	"bytes"
	"github.com/ggprior/ggprior/internal/pngtest"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/internal/distfit"
	"github.com/ggprior/ggprior/internal/safetensors"
	"github.com/ggprior/ggprior/internal/tensorkind"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/stretchr/testify/require"
)

// ggValues returns n seeded draws from a zero-mean GG of the given scale and shape.
func ggValues(n int, alpha, beta float64, seed uint64) []float64 {
	d := ggx.Dist{Alpha: alpha, Beta: beta, Src: rand.NewPCG(seed, 11)}
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = d.Rand()
	}
	return xs
}

// writeTestModel writes a small safetensors "model": three weight matrices of
// different shapes and dtypes, a 0/1 mask, a norm gain below -min-size and an
// integer tensor.
func writeTestModel(t *testing.T, path string) {
	mask := make([]float64, 64*64)
	for i := range mask {
		if i%64 <= i/64 {
			mask[i] = 1
		}
	}
	ones := make([]float64, 64)
	for i := range ones {
		ones[i] = 1
	}
	ids := make([]float64, 2048)
	require.NoError(t, safetensors.WriteFile(path, []safetensors.WriteTensor{
		{Name: "wte.weight", DType: safetensors.F16, Shape: []int{100, 64}, Values: ggValues(6400, 0.05, 2, 1)},
		{Name: "h.0.ln_1.weight", DType: safetensors.F32, Shape: []int{64}, Values: ones},
		{Name: "h.0.attn.bias", DType: safetensors.F32, Shape: []int{1, 1, 64, 64}, Values: mask},
		{Name: "h.0.attn.c_attn.weight", DType: safetensors.F32, Shape: []int{64, 96}, Values: ggValues(6144, 0.02, 1.3, 2)},
		{Name: "h.0.mlp.c_fc.weight", DType: safetensors.BF16, Shape: []int{64, 128}, Values: ggValues(8192, 0.02, 0.7, 3)},
		{Name: "ids", DType: safetensors.I64, Shape: []int{2048}, Values: ids},
	}, map[string]string{"format": "pt"}))
}

func TestSafetensorsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model.safetensors")
	writeTestModel(t, model)
	jsonPath := filepath.Join(dir, "out", "report.json")
	plotsDir := filepath.Join(dir, "out", "plots")
	require.NoError(t, os.MkdirAll(filepath.Dir(jsonPath), 0o755))

	var stdout, stderr bytes.Buffer
	err := runMain([]string{"-safetensors", model, "-json", jsonPath, "-plots", plotsDir, "-sample", "5000", "-seed", "3"}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	out := stdout.String()
	t.Logf("output:\n%s", out)
	require.Contains(t, out, "6 tensors, analyzing 4 (up to 5000 values each, seed 3)")
	require.Regexp(t, `(?m)^tensor\s+shape\s+size\s+layer\s+beta_mom\s+beta_mle\s+KS_gg\s+KS_gauss\s+KS_lapl\s+best$`, out)
	require.Regexp(t, `(?m)^wte\.weight\s+100x64\s+6400\s+embedding\s`, out)
	require.Regexp(t, `(?m)^h\.0\.mlp\.c_fc\.weight\s+64x128\s+8192\s+mlp\s.*\sgg$`, out)
	require.Regexp(t, `(?m)^h\.0\.attn\.bias\s+skipped: .*only 2 distinct values`, out)
	require.Contains(t, out, "GG fits best for ")
	require.Contains(t, out, "/3 tensors")
	require.Contains(t, out, "median beta (MLE): weights ")
	require.Contains(t, out, "skipped 3 tensors: ")
	require.Contains(t, out, "below -min-size (1)")
	require.Contains(t, out, "dtype I64 is not a floating-point type (1)")
	require.Contains(t, out, "not fittable (1)")

	// JSON: the reports, the skipped tensors and the summary.
	f, err := os.Open(jsonPath)
	require.NoError(t, err)
	result, err := distfit.ReadJSON(f)
	require.NoError(t, f.Close())
	require.NoError(t, err)
	require.Equal(t, "safetensors "+model, result.Source)
	require.Equal(t, distfit.Options{SampleSize: 5000, Seed: 3}, result.Options)
	require.Len(t, result.Reports, 3)
	require.Len(t, result.Skipped, 3)
	require.Equal(t, 3, result.Summary.All.Tensors)
	byName := map[string]distfit.TensorReport{}
	for _, r := range result.Reports {
		byName[r.Name] = r
	}
	mlp := byName["h.0.mlp.c_fc.weight"]
	require.Equal(t, []int{64, 128}, mlp.Shape)
	require.Equal(t, 8192, mlp.N)
	require.Equal(t, 5000, mlp.Sampled)
	require.Equal(t, distfit.ModelGG, mlp.Best)
	require.Equal(t, 6400, byName["wte.weight"].N)
	require.Equal(t, 5000, byName["wte.weight"].Sampled)

	// The file reader's sparse reads give the same report as analyzing the
	// whole tensor in memory.
	st, err := safetensors.Open(model)
	require.NoError(t, err)
	all, err := st.Values("h.0.mlp.c_fc.weight")
	require.NoError(t, err)
	require.NoError(t, st.Close())
	inMemory, err := distfit.Analyze("h.0.mlp.c_fc.weight", all, result.Options)
	require.NoError(t, err)
	inMemory.Shape = mlp.Shape
	require.Equal(t, inMemory, mlp)

	// Plots: one per analyzed tensor and the beta overview, all valid PNG.
	for _, name := range []string{"wte.weight.png", "h.0.attn.c_attn.weight.png", "h.0.mlp.c_fc.weight.png", "betas.png"} {
		pngtest.Require(t, filepath.Join(plotsDir, name))
	}
	entries, err := os.ReadDir(plotsDir)
	require.NoError(t, err)
	require.Len(t, entries, 4)

	// A second run gives the same table: subsampling is seeded.
	var again bytes.Buffer
	require.NoError(t, runMain([]string{"-safetensors", model, "-sample", "5000", "-seed", "3"}, &again, &stderr))
	require.Equal(t, out, again.String())
}

func TestMatchAndMinSize(t *testing.T) {
	model := filepath.Join(t.TempDir(), "model.safetensors")
	writeTestModel(t, model)
	var stdout, stderr bytes.Buffer
	require.NoError(t, runMain([]string{"-safetensors", model, "-match", `mlp|ln_1`, "-min-size", "10"}, &stdout, &stderr))
	out := stdout.String()
	require.Contains(t, out, "analyzing 2 (")
	require.Contains(t, out, "h.0.mlp.c_fc.weight")
	require.Regexp(t, `(?m)^h\.0\.ln_1\.weight\s+skipped: .*only 1 distinct values`, out)
	require.NotContains(t, out, "wte.weight")
	require.Contains(t, out, "GG fits best for 1/1 tensors")
}

// TestNothingAnalyzed: a run in which no tensor could be analyzed (none
// matches, all are too small or not fittable) is an error, after the table of
// what was skipped (it exited with status 0, as if all was well).
func TestNothingAnalyzed(t *testing.T) {
	model := filepath.Join(t.TempDir(), "model.safetensors")
	writeTestModel(t, model)
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-match", "no_such_tensor"}, `nothing analyzed: no tensor of the 6 matches -match "no_such_tensor"`},
		{[]string{"-min-size", "100000"}, "nothing analyzed: all 6 tensors were skipped (below -min-size (5), dtype I64 is not a floating-point type (1))"},
		{[]string{"-match", "ln_1", "-min-size", "1", "-json", jsonPath}, "nothing analyzed: all 1 tensors were skipped (not fittable (1))"},
	} {
		var stdout, stderr bytes.Buffer
		err := runMain(append([]string{"-safetensors", model}, c.args...), &stdout, &stderr)
		require.EqualError(t, err, c.want, "%q", c.args)
	}
	_, err := os.Stat(jsonPath)
	require.NoError(t, err, "the JSON (with the skipped tensors) is written")
}

// saveCheckpoint saves a tiny GoMLX store with two weight matrices, optimizer
// moments, a bias and the global step into dir.
func saveCheckpoint(t *testing.T, dir string) {
	store := model.NewStore()
	matrix := func(rows, cols int, beta float64, seed uint64) [][]float32 {
		xs := ggValues(rows*cols, 0.05, beta, seed)
		m := make([][]float32, rows)
		for i := range m {
			m[i] = make([]float32, cols)
			for j := range m[i] {
				m[i][j] = float32(xs[i*cols+j])
			}
		}
		return m
	}
	store.Scope("/block_000/attn/qkv").VariableWithValue("weights", matrix(48, 96, 0.8, 4))
	store.Scope("/block_000/mlp/in").VariableWithValue("weights", matrix(48, 64, 1.5, 5))
	store.Scope("/block_000/mlp/in").VariableWithValue("biases", make([]float32, 64))
	store.Scope("/AdamOptimizer/block_000/attn/qkv").VariableWithValue("weights_2nd_moment", matrix(48, 96, 1, 6)).SetTrainable(false)
	optimizer.GetGlobalStepVar(store).MustSetValue(tensors.FromValue(int64(100)))
	h, err := checkpoint.Build(store).Dir(dir).Done()
	require.NoError(t, err)
	require.NoError(t, h.Save())
}

func TestCheckpointEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "ckpt")
	saveCheckpoint(t, ckpt)
	jsonPath := filepath.Join(dir, "report.json")
	var stdout, stderr bytes.Buffer
	require.NoError(t, runMain([]string{"-checkpoint", ckpt, "-json", jsonPath}, &stdout, &stderr), stderr.String())
	out := stdout.String()
	t.Logf("output:\n%s", out)
	require.Contains(t, out, "GoMLX checkpoint "+ckpt+": 5 tensors, analyzing 2 (")
	require.Regexp(t, `(?m)^/block_000/attn/qkv/weights\s+48x96\s+4608\s+attention\s.*\sgg$`, out)
	require.Regexp(t, `(?m)^/block_000/mlp/in/weights\s+48x64\s+3072\s+mlp\s`, out)
	require.Contains(t, out, "optimizer state (-all-vars to include) (1)")
	require.Contains(t, out, "dtype Int64 is not a floating-point type (1)")
	require.Contains(t, out, "below -min-size (1)")

	f, err := os.Open(jsonPath)
	require.NoError(t, err)
	result, err := distfit.ReadJSON(f)
	require.NoError(t, f.Close())
	require.NoError(t, err)
	require.Len(t, result.Reports, 2)
	require.Equal(t, 2, result.Summary.ByKind[tensorkind.Weights].Tensors)
	require.InDelta(t, 0.8, result.Reports[0].MLE.Beta, 0.15) // 4608 values: se ~0.015.

	// -all-vars includes the optimizer's moments.
	stdout.Reset()
	require.NoError(t, runMain([]string{"-checkpoint", ckpt, "-all-vars"}, &stdout, &stderr))
	require.Contains(t, stdout.String(), "analyzing 3 (")
	require.Contains(t, stdout.String(), "/AdamOptimizer/block_000/attn/qkv/weights_2nd_moment")
}

func TestSourceErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.safetensors")
	require.NoError(t, os.WriteFile(bad, []byte("not a safetensors file at all"), 0o644))
	var stdout, stderr bytes.Buffer
	err := runMain([]string{"-safetensors", bad}, &stdout, &stderr)
	require.ErrorContains(t, err, "safetensors: header length")
	err = runMain([]string{"-checkpoint", filepath.Join(dir, "missing")}, &stdout, &stderr)
	require.ErrorContains(t, err, "checkpoint directory")
}

func TestFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "give exactly one of"},
		{[]string{"-safetensors", "a", "-checkpoint", "b"}, "give exactly one of"},
		{[]string{"-safetensors", "a", "-match", "("}, "-match: error parsing regexp"},
		{[]string{"-safetensors", "a", "-sample", "-1"}, "must be non-negative"},
		{[]string{"-safetensors", "a", "extra"}, "unexpected arguments"},
		{[]string{"-safetensors", "a", "-steps", "3"}, "-steps is only used with -capture"},
		{[]string{"-checkpoint", "a", "-init", "gg"}, "-init is only used with -capture"},
		{[]string{"-capture", "weights", "-steps", "3", "-every", "-1"}, "-every must be non-negative"},
		{[]string{"-fit-betas", "a", "-json", "b"}, "-fit-betas DIR takes no other flag"},
		{[]string{"-fit-betas", "a", "-capture", "weights"}, "-fit-betas DIR takes no other flag"},
		{[]string{"-capture", "activations,biases", "-steps", "3"}, `unknown kind "biases"`},
		{[]string{"-capture", "activations"}, "-capture needs -steps"},
		{[]string{"-no-such-flag"}, "flag provided but not defined"},
	} {
		var stdout, stderr bytes.Buffer
		err := runMain(c.args, &stdout, &stderr)
		require.ErrorContains(t, err, c.want, "args %q", c.args)
	}
}

func TestCaptureNotWired(t *testing.T) {
	saved := liveCapture
	defer func() { liveCapture = saved }()
	liveCapture = nil
	var stdout, stderr bytes.Buffer
	err := runMain([]string{"-capture", "activations,gradients", "-steps", "10"}, &stdout, &stderr)
	require.ErrorIs(t, err, errCaptureNotWired)
	require.EqualError(t, err, "capture needs the charlm model: not wired yet")
}

// TestCaptureWired wires a fake live run, to show what a model has to provide.
func TestCaptureWired(t *testing.T) {
	saved := liveCapture
	defer func() { liveCapture = saved }()
	liveCapture = func(opts distfit.CaptureOptions, sink distfit.Sink) (string, error) {
		require.Equal(t, []string{tensorkind.Activations, tensorkind.Gradients}, opts.Kinds)
		require.Equal(t, distfit.CaptureOptions{Kinds: opts.Kinds, Steps: 4, Every: 1, Seed: 7, Arch: "x", Init: "y", Beta: "z", Progress: opts.Progress}, opts)
		for step := range opts.Steps {
			seed := uint64(step)
			if err := sink.Observe(tensorkind.Gradients, "/block_000/mlp/in/weights", ggValues(3000, 1e-3, 0.4, seed+100)); err != nil {
				return "", err
			}
			if err := sink.Observe(tensorkind.Activations, "/block_000/mlp/act", ggValues(2000, 1, 0.9, seed)); err != nil {
				return "", err
			}
		}
		return "fake run of 4 steps", nil
	}
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	require.NoError(t, runMain([]string{"-capture", "activations,gradients", "-steps", "4", "-every", "1", "-seed", "7",
		"-arch", "x", "-init", "y", "-beta", "z", "-sample", "5000", "-plots", dir}, &stdout, &stderr))
	out := stdout.String()
	t.Logf("output:\n%s", out)
	require.Contains(t, out, "fake run of 4 steps: 2 tensors, analyzing 2")
	require.Regexp(t, `(?m)^\[activations\]\n/block_000/mlp/act\s+\?\s+8000\s+mlp\s.*\n\[gradients\]\n/block_000/mlp/in/weights\s+\?\s+12000\s+mlp\s`, out)
	require.Contains(t, out, "activations ")
	require.Contains(t, out, "gradients ")
	pngtest.Require(t, filepath.Join(dir, "activations_block_000_mlp_act.png"))
	pngtest.Require(t, filepath.Join(dir, "gradients_block_000_mlp_in_weights.png"))
	require.True(t, strings.Contains(out, "GG fits best for 2/2 tensors"), out)
}

// TestOutputsCheckedFirst: a -json or -plots that cannot be written is an
// error before the live run (it was found only after the run and the fits).
func TestOutputsCheckedFirst(t *testing.T) {
	saved := liveCapture
	defer func() { liveCapture = saved }()
	ran := false
	liveCapture = func(opts distfit.CaptureOptions, sink distfit.Sink) (string, error) {
		ran = true
		return "fake run", sink.Observe(tensorkind.Activations, "/block_000/mlp/act", ggValues(2000, 1, 0.9, 1))
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-json", filepath.Join(dir, "missing", "r.json")},
			"-json: cannot write " + filepath.Join(dir, "missing", "r.json") + ": directory " + filepath.Join(dir, "missing") + " does not exist"},
		{[]string{"-json", dir}, "-json: cannot write " + dir + ": it is a directory"},
		{[]string{"-plots", filepath.Join(file, "plots")},
			"-plots: cannot create directory " + filepath.Join(file, "plots") + ": " + file + " is not a directory"},
	} {
		var stdout, stderr bytes.Buffer
		err := runMain(append([]string{"-capture", "activations", "-steps", "1"}, c.args...), &stdout, &stderr)
		require.EqualError(t, err, c.want)
		require.False(t, ran, "the run must not start: %q", c.args)
		require.Empty(t, stdout.String())
	}
	var stdout, stderr bytes.Buffer
	err := runMain([]string{"-coded-size", dir, "-json", filepath.Join(dir, "missing", "r.json")}, &stdout, &stderr)
	require.ErrorContains(t, err, "-json: cannot write")
}
