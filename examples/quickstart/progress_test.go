package main

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProgressLog runs the demo at a tiny size with its progress on, stderr
// going to a pipe (as in `quickstart 2>&1 | tee log`): the log gets plain
// lines, one per evaluation of each run, and no bar.
func TestProgressLog(t *testing.T) {
	for k, v := range map[string]string{"steps": "40", "every": "10", "width": "16", "depth": "2", "quiet": "false", "beta": "1.4"} {
		require.NoError(t, flag.Set(k, v))
	}
	defer func() { require.NoError(t, flag.Set("quiet", "true")) }()
	t.Setenv("GOMLX_BACKEND", "")
	r, w, err := os.Pipe()
	require.NoError(t, err)
	read := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		read <- string(b)
	}()
	stderr, stdout := os.Stderr, os.Stdout
	os.Stderr = w
	os.Stdout, err = os.Open(os.DevNull)
	require.NoError(t, err)
	runErr := run()
	_ = os.Stdout.Close()
	os.Stderr, os.Stdout = stderr, stdout
	require.NoError(t, w.Close())
	log := <-read
	require.NoError(t, r.Close())
	require.NoError(t, runErr)

	require.NotContains(t, log, "\r")
	require.NotContains(t, log, "\x1b")
	var evals []string
	for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		if strings.Contains(line, " step ") {
			evals = append(evals, line)
		}
	}
	require.Len(t, evals, 2*5, "steps 0, 10, 20, 30 and 40 of each run:\n%s", log)
	require.True(t, strings.HasPrefix(evals[0], "default  step 0/40: val loss "), evals[0])
	require.True(t, strings.HasPrefix(evals[9], "gg       step 40/40: val loss "), evals[9])
	require.Less(t, len(log), 2048, "a short log:\n%s", log)
}
