package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ggprior/ggprior/internal/codedsize"
	"github.com/stretchr/testify/require"
)

// TestCodedSize runs -coded-size on a small checkpoint: the weights (two
// matrices and a bias, not the optimizer's moments nor the step counter) are
// printed and written as JSON, the same report as codedsize.Checkpoint's.
func TestCodedSize(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "ckpt")
	saveCheckpoint(t, ckpt)
	jsonPath := filepath.Join(dir, "coded.json")
	var stdout, stderr bytes.Buffer
	require.NoError(t, runMain([]string{"-coded-size", ckpt, "-json", jsonPath}, &stdout, &stderr), stderr.String())
	out := stdout.String()
	t.Logf("output:\n%s", out)
	require.Contains(t, out, "GoMLX checkpoint "+ckpt+": 3 weight tensors, 7744 weights\n")
	require.Regexp(t, `(?m)^/block_000/attn/qkv/weights\s+4608\s`, out)
	require.Regexp(t, `(?m)^/block_000/mlp/in/biases\s+64\s`, out)
	require.NotContains(t, out, "moment")
	require.Regexp(t, `(?m)^total\s+7744\s`, out)
	require.Contains(t, stderr.String(), "JSON written to "+jsonPath)

	want, err := codedsize.Checkpoint(ckpt)
	require.NoError(t, err)
	data, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var got codedsize.Report
	require.NoError(t, json.Unmarshal(data, &got))
	require.Equal(t, want, got)
	require.Less(t, got.BitsPerWeight, 8.0)

	// Without -json, the table only.
	stdout.Reset()
	require.NoError(t, runMain([]string{"-coded-size", ckpt}, &stdout, &stderr))
	require.Contains(t, stdout.String(), "smaller than fp32")

	for _, args := range [][]string{{"-coded-size", ckpt, "-min-size", "3"}, {"-coded-size", ckpt, "-checkpoint", ckpt}} {
		require.ErrorContains(t, runMain(args, &stdout, &stderr), "-coded-size DIR takes no other flag than -json", "%q", args)
	}
	require.ErrorContains(t, runMain([]string{"-coded-size", filepath.Join(dir, "none")}, &stdout, &stderr), "checkpoint directory")
}
