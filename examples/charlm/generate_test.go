package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/stretchr/testify/require"
)

// trainTiny trains the tiny gpt (1 layer, width 32, block 16) for 6 steps,
// with ACT at every site if act, and returns its checkpoint directory.
func trainTiny(t *testing.T, act bool) string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "text.txt")
	require.NoError(t, os.WriteFile(data, []byte(strings.Repeat("Light is refracted by a prism. ", 100)), 0o644))
	cfg := charlm.DefaultConfig()
	cfg.Layers, cfg.Heads, cfg.Width, cfg.Block = 1, 2, 32, 16
	tc := charlm.DefaultTrainConfig()
	tc.Steps, tc.Batch, tc.EvalAt, tc.ValWindows = 6, 4, nil, 2
	tc.Init, tc.Data, tc.Checkpoint = "he", data, filepath.Join(dir, "ckpt")
	if act {
		tc.ACTSites = charlm.ActivationSites
	}
	job, err := charlm.NewJob(testbackend.Get(t), cfg, tc, nil, "learning_rate=1e-2;warmup_steps=1")
	require.NoError(t, err)
	_, err = job.Run()
	require.NoError(t, err)
	return tc.Checkpoint
}

// inferenceDefaults are the default values of the flags these tests set.
var inferenceDefaults = map[string]string{"generate": "", "bench-decode": "", "bench-batch": "", "prompt": "",
	"temperature": "0", "top-k": "0", "sparse": "false", "seed": "1", "results": "", "arch": "gpt", "steps": "2000", "checkpoint": ""}

// setInferenceFlags sets the given flags, and those of inferenceDefaults
// that it does not give to their defaults, for the rest of the test.
func setInferenceFlags(t *testing.T, flags map[string]string) {
	t.Helper()
	all := maps.Clone(inferenceDefaults)
	maps.Copy(all, flags)
	setFlags(t, all)
}

// inferenceOutput runs the command with the given flags (see
// setInferenceFlags) and returns what it printed on stdout.
func inferenceOutput(t *testing.T, flags map[string]string) (string, error) {
	t.Helper()
	setInferenceFlags(t, flags)
	var stdout, stderr bytes.Buffer
	handled, err := runInference(&stdout, &stderr)
	require.True(t, handled)
	return stdout.String(), err
}

// TestGenerateCommand: -generate prints N bytes and a newline, the same
// with -sparse; sampling with a seed repeats; -bench-decode writes the
// JSON with both paths' speeds, their agreement and the ACT sparsity by site.
func TestGenerateCommand(t *testing.T) {
	act := trainTiny(t, true)
	greedy := map[string]string{"checkpoint": act, "generate": "30", "prompt": "Light is"}
	dense, err := inferenceOutput(t, greedy)
	require.NoError(t, err)
	require.Len(t, dense, 31)
	greedy["sparse"] = "true"
	sparse, err := inferenceOutput(t, greedy)
	require.NoError(t, err)
	require.Equal(t, dense, sparse)
	sampled := map[string]string{"checkpoint": act, "generate": "30", "prompt": "Light is", "temperature": "0.9", "top-k": "8", "seed": "5"}
	first, err := inferenceOutput(t, sampled)
	require.NoError(t, err)
	sampled["sparse"] = "true"
	again, err := inferenceOutput(t, sampled)
	require.NoError(t, err)
	require.Equal(t, first, again)

	results := filepath.Join(t.TempDir(), "bench.json")
	out, err := inferenceOutput(t, map[string]string{"checkpoint": act, "bench-decode": "20", "bench-batch": "2", "results": results})
	require.NoError(t, err)
	require.Contains(t, out, "speedup")
	data, err := os.ReadFile(results)
	require.NoError(t, err)
	var r map[string]any
	require.NoError(t, json.Unmarshal(data, &r))
	require.Equal(t, true, r["decode_same_tokens"])
	require.Equal(t, 2.0, r["decode_batch"])
	require.Equal(t, 20.0, r["decode_tokens"])
	for _, key := range []string{"decode_tokens_per_sec_dense", "decode_tokens_per_sec_sparse", "decode_speedup", "decode_dense_vs_graph"} {
		require.Positive(t, r[key], key)
	}
	require.Len(t, r["decode_sparsity_by_site"], 3)
}

// TestGenerateCommandErrors: bad flags and checkpoints are errors that
// name the problem, and a failed benchmark writes no results file.
func TestGenerateCommandErrors(t *testing.T) {
	base := trainTiny(t, false)
	results := filepath.Join(t.TempDir(), "r.json")
	for _, c := range []struct {
		flags map[string]string
		want  string
	}{
		{map[string]string{"checkpoint": base, "generate": "0", "prompt": "a"}, "-generate 0: the number of bytes to decode must be > 0"},
		{map[string]string{"checkpoint": base, "bench-decode": "-2"}, "-bench-decode -2"},
		{map[string]string{"checkpoint": base, "generate": "5"}, "-generate needs -prompt"},
		{map[string]string{"checkpoint": base, "generate": "5", "prompt": "a", "sparse": "true"}, "has no ACT state"},
		{map[string]string{"checkpoint": base, "generate": "5", "prompt": "a", "arch": "llama"}, "-arch llama, but checkpoint"},
		{map[string]string{"checkpoint": base, "generate": "5", "prompt": "a", "steps": "10"}, "-steps describes a training run"},
		{map[string]string{"checkpoint": base, "generate": "5", "prompt": "a", "top-k": "3"}, "give a temperature > 0"},
		{map[string]string{"checkpoint": base, "generate": "5", "prompt": "a", "temperature": "-1"}, "temperature -1"},
		{map[string]string{"checkpoint": base, "generate": "5", "prompt": "a", "bench-batch": "2"}, "-bench-batch is only used with -bench-decode"},
		{map[string]string{"checkpoint": base, "generate": "5", "prompt": "a", "results": results}, "-results is -bench-decode's"},
		{map[string]string{"checkpoint": base, "generate": "5", "bench-decode": "5"}, "separate runs"},
		{map[string]string{"checkpoint": base, "bench-decode": "5", "sparse": "true", "results": results}, "-bench-decode decodes greedily with both paths"},
		{map[string]string{"checkpoint": base, "bench-decode": "5", "bench-batch": "0", "results": results}, "-bench-batch 0"},
		{map[string]string{"bench-decode": "5", "results": results}, "needs -checkpoint DIR"},
		{map[string]string{"checkpoint": t.TempDir(), "bench-decode": "5", "results": results}, "no checkpoint in"},
		{map[string]string{"checkpoint": base, "bench-decode": "5", "results": filepath.Join(t.TempDir(), "no", "r.json")}, "does not exist"},
	} {
		_, err := inferenceOutput(t, c.flags)
		require.ErrorContains(t, err, c.want, "flags %v", c.flags)
		require.NoFileExists(t, results)
	}
	// Without -generate or -bench-decode their flags are errors, and no
	// flag of theirs is a training run.
	setInferenceFlags(t, map[string]string{"prompt": "a"})
	handled, err := runInference(nil, nil)
	require.True(t, handled)
	require.ErrorContains(t, err, "-prompt is only used with -generate or -bench-decode")
	setInferenceFlags(t, nil)
	handled, err = runInference(nil, nil)
	require.False(t, handled)
	require.NoError(t, err)
}
