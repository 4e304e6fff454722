package main

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestQuickstartRuns runs the demo at a tiny size and checks the table it prints.
func TestQuickstartRuns(t *testing.T) {
	for k, v := range map[string]string{"steps": "30", "every": "10", "width": "16", "depth": "2", "quiet": "true"} {
		require.NoError(t, flag.Set(k, v))
	}
	t.Setenv("GOMLX_BACKEND", "")
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = w
	runErr := run()
	os.Stdout = stdout
	require.NoError(t, w.Close())
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, runErr)
	text := string(out)
	require.Contains(t, text, "final validation loss: default ")
	// Rows at steps 0, 10, 20, 30.
	for _, step := range []string{"\n     0 |", "\n    10 |", "\n    30 |"} {
		require.True(t, strings.Contains(text, step), "missing row %q in:\n%s", step, text)
	}
	require.Error(t, flag.Set("beta", "x"))
	require.NoError(t, flag.Set("beta", "-1"))
	require.ErrorContains(t, run(), "-beta")
	require.NoError(t, flag.Set("beta", "0.001")) // Outside ggx's shapes: refused before training.
	require.ErrorContains(t, run(), "-beta=0.001: want a shape in [0.05, 50]")
}
