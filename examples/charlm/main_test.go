package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/examples/charlm/charlm"
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

func TestParseSteps(t *testing.T) {
	steps, err := parseSteps("250, 500,1000,")
	require.NoError(t, err)
	require.Equal(t, []int{250, 500, 1000}, steps)
	for _, bad := range []string{"0", "-5", "abc", "1.5"} {
		_, err := parseSteps(bad)
		require.Error(t, err, bad)
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

	setFlags(t, map[string]string{"init": "gg", "beta": "fit:" + dir, "checkpoint": ""})
	require.ErrorIs(t, run(), charlm.ErrBetaFitUnsupported)
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
