package fitbetas

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/stretchr/testify/require"
)

// knownBetas are the shapes the test model is initialized with.
const knownBetas = "embed=1,pos=1.5,attn_qkv=0.8,attn_out=1.2,mlp_in=1.6,mlp_out=2,head=1.3"

// trainedCheckpoint trains a small gpt initialized with GG weights of known
// shapes (knownBetas) for one step (learning rate 1e-5 in warmup: the weights
// barely move) and returns its checkpoint directory.
func trainedCheckpoint(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "corpus.txt")
	require.NoError(t, os.WriteFile(data, []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 20)), 0o644))
	cfg := charlm.DefaultConfig()
	cfg.Layers, cfg.Heads, cfg.Width, cfg.Block = 2, 2, 64, 32
	tc := charlm.DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.EvalBatch, tc.Data = 1, nil, 8, data
	tc.Init, tc.Beta, tc.Checkpoint = charlm.InitNameGG, knownBetas, filepath.Join(dir, "ckpt")
	exp, err := charlm.NewExperiment(testbackend.Get(t), cfg, tc)
	require.NoError(t, err)
	_, err = exp.Run()
	require.NoError(t, err)
	return tc.Checkpoint
}

// TestFromCheckpoint checks that the fitted shapes recover the initialization's
// (the smallest matrix, pos, holds 2048 values: standard error about 0.05).
func TestFromCheckpoint(t *testing.T) {
	dir := trainedCheckpoint(t)
	r, err := FromCheckpoint(dir)
	require.NoError(t, err)
	t.Logf("fits:\n%s", r)
	want, err := charlm.ParseBetas(knownBetas)
	require.NoError(t, err)
	require.Len(t, r.Tensors, 2+2*4+1) // embed, pos, 4 per block, head.
	var kinds []string
	for _, k := range r.Kinds {
		kinds = append(kinds, k.Kind)
		require.InDelta(t, want.For(k.Kind), k.Beta, 0.15, k.Kind)
		require.LessOrEqual(t, k.MinBeta, k.Beta)
		require.GreaterOrEqual(t, k.MaxBeta, k.Beta)
	}
	require.Equal(t, []string{charlm.KindEmbed, charlm.KindPos, charlm.KindAttnQKV, charlm.KindAttnOut,
		charlm.KindMLPIn, charlm.KindMLPOut, charlm.KindHead}, kinds, "charlm.Kinds order, no mlp_gate in gpt")

	// The specification parses back to the rounded shapes.
	spec := r.Spec()
	t.Logf("spec: %s", spec)
	require.Regexp(t, `^embed=\d\.\d\d,pos=\d\.\d\d,attn_qkv=\d\.\d\d,attn_out=\d\.\d\d,mlp_in=\d\.\d\d,mlp_out=\d\.\d\d,head=\d\.\d\d$`, spec)
	parsed, err := charlm.ParseBetas(spec)
	require.NoError(t, err)
	require.Equal(t, r.Betas(), parsed)

	resolved, err := Resolve(charlm.BetaFitPrefix + dir)
	require.NoError(t, err)
	require.Equal(t, spec, resolved)
	same, err := Resolve("1.4,head=2")
	require.NoError(t, err)
	require.Equal(t, "1.4,head=2", same)
}

func TestErrors(t *testing.T) {
	_, err := FromCheckpoint(filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, err, "checkpoint directory")
	_, err = Resolve(charlm.BetaFitPrefix)
	require.ErrorContains(t, err, "missing checkpoint directory")
	_, err = Resolve(charlm.BetaFitPrefix + t.TempDir())
	require.ErrorContains(t, err, "fitbetas")
}
