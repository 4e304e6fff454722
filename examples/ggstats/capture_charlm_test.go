package main

import (
	"bytes"
	"github.com/ggprior/ggprior/internal/pngtest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/distfit"
	"github.com/ggprior/ggprior/internal/tensorkind"
	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/stretchr/testify/require"
)

// tinyCharlm makes -capture train a tiny charlm (1 layer, width 32, block 16)
// on a repeated sentence for the duration of the test.
func tinyCharlm(t *testing.T) {
	savedModel, savedData := charlmModel, charlmData
	t.Cleanup(func() { charlmModel, charlmData = savedModel, savedData })
	charlmModel = func() charlm.Config {
		cfg := charlm.DefaultConfig()
		cfg.Layers, cfg.Heads, cfg.Width, cfg.Block = 1, 2, 32, 16
		return cfg
	}
	charlmData = filepath.Join(t.TempDir(), "corpus.txt")
	require.NoError(t, os.WriteFile(charlmData, []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 40)), 0o644))
}

// TestCaptureCharlm runs the command end to end on a live capture of the
// tiny charlm: every kind, after steps 2 and 4.
func TestCaptureCharlm(t *testing.T) {
	tinyCharlm(t)
	dir := t.TempDir()
	jsonPath, plots := filepath.Join(dir, "capture.json"), filepath.Join(dir, "plots")
	var stdout, stderr bytes.Buffer
	require.NoError(t, runMain([]string{"-capture", "weights,activations,gradients", "-steps", "4", "-every", "2",
		"-json", jsonPath, "-plots", plots}, &stdout, &stderr), stderr.String())
	out := stdout.String()
	t.Logf("output:\n%s", out)
	require.Regexp(t, `^live capture of charlm gpt L1 H2 d32 T16 mlp128 \(29,664 params\), init normal02, seed 1, 4 steps, `+
		`captured after steps 2, 4: weights 17, activations \d+, gradients 17 tensors; last training loss \d\.\d{4}: \d+ tensors, analyzing \d+`, out)
	require.Regexp(t, `(?m)^\[weights\]\n/token_embed/embeddings\s+\?\s+16384\s+embedding\s`, out, "two captures of 256x32")
	require.Regexp(t, `(?m)^\[activations\]$`, out)
	require.Regexp(t, `(?m)^/block_000/mlp/mlp_hidden\s+\?\s+49152\s+mlp\s`, out, "two batches of 12x16x128")
	require.Regexp(t, `(?m)^\[gradients\]\n`, out)
	require.Regexp(t, `(?m)^/head/weights\s+\?\s+16384\s+head\s`, out)

	f, err := os.Open(jsonPath)
	require.NoError(t, err)
	result, err := distfit.ReadJSON(f)
	require.NoError(t, f.Close())
	require.NoError(t, err)
	for _, kind := range tensorkind.All {
		require.Greater(t, result.Summary.ByKind[kind].Tensors, 0, kind)
	}
	pngtest.Require(t, filepath.Join(plots, "activations_block_000_mlp_mlp_hidden.png"))
	pngtest.Require(t, filepath.Join(plots, "gradients_head_weights.png"))
	pngtest.Require(t, filepath.Join(plots, "block_000_attn_qkv_weights.png"))
}

// TestFitBetasAndCaptureFromCheckpoint trains the tiny charlm with a
// checkpoint, prints its fitted shapes (-fit-betas), captures from its weights
// (-checkpoint with -capture) and from a GG initialization fitted to it
// (-init gg -beta fit:DIR).
func TestFitBetasAndCaptureFromCheckpoint(t *testing.T) {
	tinyCharlm(t)
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	tc := charlm.DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.EvalBatch, tc.Data, tc.Checkpoint = 2, nil, 8, charlmData, ckpt
	exp, err := charlm.NewExperiment(testbackend.Get(t), charlmModel(), tc)
	require.NoError(t, err)
	_, err = exp.Run()
	require.NoError(t, err)

	var stdout, stderr bytes.Buffer
	require.NoError(t, runMain([]string{"-fit-betas", ckpt}, &stdout, &stderr))
	spec := stdout.String()
	t.Logf("-fit-betas: %s%s", spec, stderr.String())
	require.Regexp(t, `^embed=\d\.\d\d,pos=\d\.\d\d,attn_qkv=\d\.\d\d,attn_out=\d\.\d\d,mlp_in=\d\.\d\d,mlp_out=\d\.\d\d,head=\d\.\d\d\n$`, spec)
	require.Contains(t, stderr.String(), "per charlm layer kind")

	stdout.Reset()
	require.NoError(t, runMain([]string{"-capture", "gradients", "-steps", "1", "-checkpoint", ckpt}, &stdout, &stderr), stderr.String())
	require.Contains(t, stdout.String(), "live capture of charlm gpt L1 H2 d32 T16 mlp128 (29,664 params), weights from "+ckpt)

	stdout.Reset()
	require.NoError(t, runMain([]string{"-capture", "weights", "-steps", "1", "-init", "gg", "-beta", "fit:" + ckpt}, &stdout, &stderr), stderr.String())
	require.Contains(t, stdout.String(), "init gg beta="+strings.TrimSpace(spec)+", seed 1")

	err = runMain([]string{"-fit-betas", filepath.Join(t.TempDir(), "none")}, &stdout, &stderr)
	require.ErrorContains(t, err, "checkpoint directory")
}
