package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/layers"
	"github.com/stretchr/testify/require"
)

// setFlags sets command-line flags for one test, restoring them afterwards.
func setFlags(t *testing.T, kv map[string]string) {
	t.Helper()
	for name, value := range kv {
		f := flag.Lookup(name)
		require.NotNil(t, f, "flag -%s", name)
		old := f.Value.String()
		require.NoError(t, flag.Set(name, value))
		t.Cleanup(func() { _ = flag.Set(name, old) })
	}
}

// TestCommand runs the command for 3 steps of the full-size model on a small text,
// checks the results file, then runs it again on the same checkpoint directory:
// it resumes at the end and reports the same validation losses.
func TestCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "text.txt")
	require.NoError(t, os.WriteFile(data, []byte(strings.Repeat("Light is refracted by a prism. ", 100)), 0o644))
	results := filepath.Join(dir, "r.json")
	setFlags(t, map[string]string{
		"steps": "3", "eval-at": "2", "data": data, "results": results, "quiet": "true",
		"checkpoint": filepath.Join(dir, "ckpt"), "set": "learning_rate=2e-3", "target-loss": "9",
	})
	require.NoError(t, run())
	first := readResults(t, results)
	require.Equal(t, 867_072, first.Params)
	require.Len(t, first.ValLoss, 2)
	require.NotNil(t, first.StepsToTarget)
	require.Equal(t, 2, *first.StepsToTarget)
	require.Equal(t, 2e-3, first.Config.Hyperparameters["learning_rate"])
	require.Contains(t, first.Note, "quick profile")
	require.Greater(t, first.SecPerStepMedian, 0.0)
	require.Greater(t, first.PeakRSSBytes, int64(0))

	require.NoError(t, run()) // Resumes at step 3: nothing to train.
	second := readResults(t, results)
	require.Equal(t, first.ValLoss, second.ValLoss)
	require.Equal(t, first.LossCurve, second.LossCurve)
	require.NotEmpty(t, second.Config.ResumedFrom)

	// -beta fit:DIR: beta per layer kind fitted to a trained checkpoint; a
	// directory without one is a clear error.
	setFlags(t, map[string]string{"init": "gg", "beta": "fit:" + dir, "checkpoint": ""})
	require.ErrorContains(t, run(), "no checkpoints found")
	setFlags(t, map[string]string{"beta": "fit:" + filepath.Join(dir, "ckpt"), "results": filepath.Join(dir, "fit.json")})
	require.NoError(t, run())
	fitted := readResults(t, filepath.Join(dir, "fit.json"))
	require.Contains(t, fitted.Config.Train.Beta, "attn_qkv=")
	setFlags(t, map[string]string{"init": "normal02", "beta": "", "set": "no_such_param=1"})
	require.ErrorContains(t, run(), "unknown parameter")
}

func readResults(t *testing.T, path string) *charlm.Results {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var r charlm.Results
	require.NoError(t, json.Unmarshal(data, &r))
	return &r
}

// tinyModel makes run() build a 1-layer, width-32 model for the test.
func tinyModel(t *testing.T) {
	t.Helper()
	old := newModelConfig
	newModelConfig = func() charlm.Config {
		cfg := charlm.DefaultConfig()
		cfg.Layers, cfg.Heads, cfg.Width, cfg.Block = 1, 2, 32, 16
		return cfg
	}
	t.Cleanup(func() { newModelConfig = old })
}

// TestCommandMethods runs the command with GCT (Exp-Golomb and rANS codes),
// a baseline compressor, ACT and data-parallel workers on a tiny model, and
// checks that the flags reach the run and its results.
func TestCommandMethods(t *testing.T) {
	tinyModel(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "text.txt")
	require.NoError(t, os.WriteFile(data, []byte(strings.Repeat("Light is refracted by a prism. ", 100)), 0o644))
	results := filepath.Join(dir, "r.json")
	setFlags(t, map[string]string{"steps": "4", "eval-at": "2", "data": data, "results": results, "quiet": "true"})

	setFlags(t, map[string]string{"compress": "gct", "gct-bits": "3", "gct-warmup": "1", "gct-lambda": "1e-4"})
	require.NoError(t, run())
	r := readResults(t, results)
	require.NotNil(t, r.GradientResults)
	// charlm's GCT: the auto coder, Adam's geometry, the second moment's correction.
	require.Equal(t, charlm.CompressSettings{Name: "gct-auto:3bits+adam+vcorr", Bits: 3, Lambda: 1e-4, ErrorFeedback: true, Warmup: 1}, r.Compress)
	require.NotNil(t, r.GradBitsPerElement)
	require.Equal(t, "gct", r.Config.Train.Compress)
	require.Equal(t, 3.0, r.Config.Hyperparameters["gct_bits"])

	setFlags(t, map[string]string{"gct-coder": "rans", "gct-bits": "0.5"})
	require.NoError(t, run())
	r = readResults(t, results)
	require.Equal(t, charlm.CompressSettings{Name: "gct-rans:0.5bits+adam+vcorr", Bits: 0.5, Lambda: 1e-4, ErrorFeedback: true, Warmup: 1}, r.Compress)
	require.Equal(t, "rans", r.Config.Hyperparameters["gct_coder"])

	setFlags(t, map[string]string{"compress": "topk:0.1", "gct-bits": "2", "gct-coder": "auto", "gct-warmup": "0", "gct-lambda": "0", "set": "gct_error_feedback=false"})
	require.NoError(t, run())
	r = readResults(t, results)
	require.Equal(t, charlm.CompressSettings{Name: "topk:0.1"}, r.Compress)
	require.Nil(t, r.ACTResults)

	setFlags(t, map[string]string{"compress": "none", "set": "", "act": "true", "act-sites": "mlp_hidden,attn_in",
		"act-sparsity": "0.5,mlp_hidden=0.8", "act-lambda": "0.01", "act-schedule": "linear", "act-start": "1",
		"act-end": "2", "act-threshold": "gg"})
	require.NoError(t, run())
	r = readResults(t, results)
	require.Nil(t, r.GradientResults)
	require.NotNil(t, r.ACTResults)
	require.Equal(t, charlm.ACTSettings{Sites: []string{charlm.SiteAttnIn, charlm.SiteMLPHidden},
		Sparsity: map[string]float64{charlm.SiteAttnIn: 0.5, charlm.SiteMLPHidden: 0.8}, Lambda: 0.01,
		Schedule: layers.ScheduleLinear, Start: 1, End: 2, Threshold: layers.ThresholdGG, SampleSize: r.ACT.SampleSize}, r.ACT)
	require.Len(t, r.ACTSparsityBySite, 2)
	require.Greater(t, r.ACTSparsity, 0.0)

	setFlags(t, map[string]string{"act": "false", "act-sites": "all", "act-sparsity": "", "act-lambda": "0.001",
		"act-schedule": "cosine", "act-start": "", "act-end": "", "act-threshold": "batch",
		"workers": "2", "compress": "gct", "checkpoint": filepath.Join(dir, "ckpt")})
	require.NoError(t, run())
	r = readResults(t, results)
	require.NotNil(t, r.ParallelResults)
	require.Equal(t, 2, r.Workers)
	require.Greater(t, r.BytesSentPerWorkerPerStep, r.CodedBytesPerWorkerPerStep)
	require.Len(t, r.WeightsHash, 64)
	_, err := os.Stat(filepath.Join(dir, "ckpt", "rank-1"))
	require.NoError(t, err, "every worker checkpoints")
	require.NoError(t, run()) // Resumes every worker at the end.
	again := readResults(t, results)
	require.Equal(t, r.WeightsHash, again.WeightsHash)
	require.Equal(t, r.LossCurve, again.LossCurve)
}

// TestCommandBadMethodFlags: bad values of the methods' flags are clear errors.
func TestCommandBadMethodFlags(t *testing.T) {
	tinyModel(t)
	for _, tc := range []struct {
		flags map[string]string
		want  string
	}{
		{map[string]string{"compress": "zip"}, "unknown compressor"},
		{map[string]string{"compress": "topk:2"}, "fraction kept"},
		{map[string]string{"compress": "powersgd:1.5"}, "positive integer"},
		{map[string]string{"gct-bits": "3"}, "-gct-bits is only used with -compress gct"},
		{map[string]string{"compress": "int8", "gct-bits": "3"}, "-gct-bits is only used with -compress gct"},
		{map[string]string{"compress": "gct:3", "gct-bits": "2.5"}, "already gives the bits"},
		{map[string]string{"compress": "gct", "gct-coder": "expgolomb", "gct-bits": "1"}, "must be > 1"},
		{map[string]string{"compress": "gct", "gct-bits": "0"}, "must be finite and > 0"},
		{map[string]string{"compress": "gct", "gct-coder": "rans", "gct-bits": "0"}, "must be finite and > 0"},
		{map[string]string{"compress": "int8", "gct-coder": "rans"}, "-gct-coder is only used with -compress gct"},
		{map[string]string{"gct-warmup": "3"}, "-gct-warmup is only used with -compress"},
		{map[string]string{"compress": "gct", "gct-warmup": "-3"}, "must be >= 0"},
		{map[string]string{"act-sparsity": "0.5"}, "-act-sparsity is only used with -act"},
		{map[string]string{"act": "true", "act-sites": "mlp"}, "unknown site"},
		{map[string]string{"act": "true", "act-sparsity": "1.5"}, "is not a sparsity in [0, 1)"},
		{map[string]string{"act": "true", "act-sparsity": "head=0.5"}, "unknown activation site"},
		{map[string]string{"act": "true", "act-sites": "attn_in", "act-sparsity": "mlp_hidden=0.5"}, "not among the ACT sites"},
		{map[string]string{"act": "true", "act-start": "10", "act-end": "5"}, "ends (step 5) before it starts (step 10)"},
		{map[string]string{"act": "true", "act-lambda": "-1"}, "-act-lambda"},
		{map[string]string{"workers": "5"}, "not divisible by 5 workers"},
		{map[string]string{"workers": "0"}, "must be >= 1"},
		{map[string]string{"init": "gg", "beta": "0.001"}, `-beta "0.001": "0.001" is not a shape in [0.05, 50]`},
	} {
		t.Run(strings.Join(sortedFlags(tc.flags), " "), func(t *testing.T) {
			setFlags(t, map[string]string{"steps": "2", "eval-at": "2", "quiet": "true", "results": ""})
			setFlags(t, tc.flags)
			require.ErrorContains(t, run(), tc.want)
		})
	}
	// ACT's modes are checked by their flags, when the command line is parsed.
	require.ErrorContains(t, flag.Set("act-schedule", "exp"), `schedule "exp": want "cosine", "linear" or "staged"`)
	require.ErrorContains(t, flag.Set("act-threshold", "median"), `threshold source "median": want "batch" or "gg"`)
}

// sortedFlags formats flags as sorted "-name=value" strings.
func sortedFlags(flags map[string]string) []string {
	var out []string
	for name, value := range flags {
		out = append(out, "-"+name+"="+value)
	}
	sort.Strings(out)
	return out
}

// TestCommandOutputsCheckedFirst: a -results or -checkpoint that cannot be
// written is an error before any training (it was found only when the
// results were written, after the whole run, or at the first checkpoint).
func TestCommandOutputsCheckedFirst(t *testing.T) {
	tinyModel(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "text.txt")
	require.NoError(t, os.WriteFile(data, []byte(strings.Repeat("Light is refracted by a prism. ", 100)), 0o644))
	ckpt := filepath.Join(dir, "ckpt")
	setFlags(t, map[string]string{"steps": "3", "eval-at": "2", "data": data, "quiet": "true", "checkpoint": ckpt})
	for results, want := range map[string]string{
		filepath.Join(dir, "missing", "r.json"): "-results: cannot write " + filepath.Join(dir, "missing", "r.json") + ": directory " + filepath.Join(dir, "missing") + " does not exist",
		dir:                                     "-results: cannot write " + dir + ": it is a directory",
		filepath.Join(data, "r.json"):           "-results: cannot write " + filepath.Join(data, "r.json") + ": " + data + " is not a directory",
	} {
		setFlags(t, map[string]string{"results": results})
		require.EqualError(t, run(), want)
		names, err := charlm.ListCheckpoints(ckpt)
		require.NoError(t, err)
		require.Empty(t, names, "nothing trained")
	}
	setFlags(t, map[string]string{"results": filepath.Join(dir, "r.json")})
	if os.Geteuid() != 0 { // As root, a read-only directory is writable.
		readOnly := filepath.Join(dir, "ro")
		require.NoError(t, os.Mkdir(readOnly, 0o555))
		setFlags(t, map[string]string{"checkpoint": filepath.Join(readOnly, "ckpt")})
		require.ErrorContains(t, run(), "-checkpoint: create directory "+filepath.Join(readOnly, "ckpt")+": permission denied")
		_, err := os.Stat(filepath.Join(dir, "r.json"))
		require.ErrorIs(t, err, os.ErrNotExist)
	}
}

// TestCommandResumeChanges: resuming with another -set value is refused,
// with both values; with -allow-changes the results record the change.
func TestCommandResumeChanges(t *testing.T) {
	tinyModel(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "text.txt")
	require.NoError(t, os.WriteFile(data, []byte(strings.Repeat("Light is refracted by a prism. ", 100)), 0o644))
	ckpt, results := filepath.Join(dir, "ckpt"), filepath.Join(dir, "r.json")
	setFlags(t, map[string]string{"steps": "4", "eval-at": "2", "data": data, "quiet": "true", "checkpoint": ckpt, "results": results})
	require.NoError(t, run())
	// Back to the checkpoint of step 2, as if the run had stopped there.
	names, err := charlm.ListCheckpoints(ckpt)
	require.NoError(t, err)
	require.Len(t, names, 2)
	last, err := filepath.Glob(filepath.Join(ckpt, names[1]+".*"))
	require.NoError(t, err)
	for _, f := range last {
		require.NoError(t, os.Remove(f))
	}

	setFlags(t, map[string]string{"set": "learning_rate=0.01"})
	err = run()
	require.ErrorContains(t, err, "was trained with other hyperparameters than this run's:\n  learning_rate: 0.001 in the checkpoint, 0.01 in this run\n")
	require.ErrorContains(t, err, "-allow-changes")

	setFlags(t, map[string]string{"allow-changes": "true"})
	require.NoError(t, run())
	r := readResults(t, results)
	require.Equal(t, []charlm.HyperparameterChange{{Step: 3, Key: "learning_rate", From: 0.001, To: 0.01}}, r.Config.HyperparameterChanges)
	require.True(t, r.Config.Train.AllowChanges)
}
