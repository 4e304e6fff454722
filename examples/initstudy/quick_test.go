package main

import (
	"bytes"
	"github.com/ggprior/ggprior/internal/pngtest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/examples/charlm/charlm"
	"github.com/stretchr/testify/require"
)

// tinyQuick makes -quick train a tiny charlm (1 layer, width 32, block 16) on
// a repeated sentence for the duration of the test.
func tinyQuick(t *testing.T) {
	savedModel, savedData := quickModel, quickData
	t.Cleanup(func() { quickModel, quickData = savedModel, savedData })
	quickModel = func() charlm.Config {
		cfg := charlm.DefaultConfig()
		cfg.Layers, cfg.Heads, cfg.Width, cfg.Block = 1, 2, 32, 16
		return cfg
	}
	quickData = filepath.Join(t.TempDir(), "corpus.txt")
	require.NoError(t, os.WriteFile(quickData, []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 40)), 0o644))
}

// TestQuick runs the quick profile of two configurations and gg-fit (shapes
// fitted to a checkpoint of the tiny model) for 6 steps, then again (it
// resumes: nothing left to run).
func TestQuick(t *testing.T) {
	tinyQuick(t)
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	tc := charlm.DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.EvalBatch, tc.Data, tc.Checkpoint = 2, nil, 8, quickData, ckpt
	exp, err := charlm.NewExperiment(backends.Go(), quickModel(), tc)
	require.NoError(t, err)
	_, err = exp.Run()
	require.NoError(t, err)

	out := filepath.Join(t.TempDir(), "quick")
	args := []string{"-quick", "-steps", "6", "-configs", "normal02,gg-beta1.4", "-fit-betas", ckpt, "-out", out, "-quiet"}
	var stdout, stderr bytes.Buffer
	require.NoError(t, runMain(args, &stdout, &stderr), stderr.String())
	md := stdout.String()
	t.Logf("table:\n%s\nstderr:\n%s", md, stderr.String())
	require.Contains(t, stderr.String(), "quick profile: 3 configurations x 1 seeds, 6 steps each, evaluated at [2 4 6]")
	require.Contains(t, md, "3 configurations, 3 runs")
	require.Contains(t, md, "Note: quick profile: 6 steps (the full run is 2000)")
	require.Contains(t, md, "| config | init | seeds | val@2 | val@4 | val@6 | steps to normal02 final (")
	require.Regexp(t, `\| normal02 \| normal02 \| 1 \(1\) \| \d\.\d{4} \| \d\.\d{4} \| \d\.\d{4} \| (≤ )?\d+ \| baseline \|`, md)
	require.Regexp(t, `\| gg-beta1\.4 \| gg β=1\.4 \| 1 \(1\) \|`, md)
	require.Regexp(t, `\| gg-fit \| gg β=embed=\d\.\d\d,pos=\d\.\d\d,.*,head=\d\.\d\d \| 1 \(1\) \|`, md)
	require.NotContains(t, md, "missing")
	for _, name := range []string{"normal02-seed1-steps6.json", "gg-beta1.4-seed1-steps6.json", "gg-fit-seed1-steps6.json", markdownFile, plotFile, jsonFile} {
		require.FileExists(t, filepath.Join(out, name))
	}
	pngtest.Require(t, filepath.Join(out, plotFile))

	stdout.Reset()
	stderr.Reset()
	require.NoError(t, runMain(args, &stdout, &stderr))
	require.Equal(t, 3, strings.Count(stderr.String(), ": done before ("), stderr.String())
	require.Equal(t, md, stdout.String(), "the same results, aggregated again")
}
