package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/examples/charlm/charlm"
	"github.com/ggprior/ggprior/examples/study"
	"github.com/stretchr/testify/require"
)

// writeRun writes the results of a run named config into dir.
func writeRun(t *testing.T, dir, config string, workers int, compress string, final, bytesSent float64) {
	t.Helper()
	r := &charlm.Results{Params: 1000, ValLoss: map[string]float64{"50": final + 0.5, "100": final}, SecPerStepMedian: 0.3}
	r.Config.Train = charlm.DefaultTrainConfig()
	r.Config.Train.Steps, r.Config.Train.Seed, r.Config.Train.Compress, r.Config.Train.Workers = 100, 1, compress, workers
	if workers > 1 {
		r.ParallelResults = &charlm.ParallelResults{Workers: workers, BytesSentPerWorkerPerStep: bytesSent + 100, CodedBytesPerWorkerPerStep: bytesSent,
			StepTimeSplit: charlm.StepTimeSplit{Compute: 0.2, Encode: 0.01, Exchange: 0.001, Decode: 0.02, Update: 0.05}}
	}
	require.NoError(t, r.WriteJSON(filepath.Join(dir, study.ResultsFileName(config, 1, 100))))
}

func TestTable(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, "w1-none", 1, "none", 2.0, 0)
	writeRun(t, dir, "w2-none", 2, "none", 2.01, 4000)
	writeRun(t, dir, "w4-gct2", 4, "gct:2", 2.02, 250)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "normal02-seed1-steps100.json"), []byte("{}"), 0o644))
	var out bytes.Buffer
	require.NoError(t, run([]string{"-dir", dir, "-out", dir}, &out))
	text := out.String()
	t.Log("\n" + text)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	require.Len(t, lines, 2+3+2, "header, separator, 3 runs, blank, formula")
	require.Contains(t, lines[0], "| run | W | compress | seed | val@50 | val@100 | vs W=1 | bytes sent/worker/step | coded bytes/worker/step |")
	require.True(t, strings.HasPrefix(lines[2], "| w1-none | 1 | none | 1 | 2.5000 | 2.0000 | - | - | - | - |"), lines[2])
	require.Contains(t, lines[3], "| w2-none | 2 | none | 1 | 2.5100 | 2.0100 | +0.50% | 4100 | 4000 | 100.00% |")
	require.Contains(t, lines[4], "| w4-gct2 | 4 | gct:2 | 1 | 2.5200 | 2.0200 | +1.00% | 350 | 250 | 6.25% |")
	require.Contains(t, lines[4], "| 10.7% | 280.0 | 280.0 | 280.0 |", "codec share (0.01+0.02)/0.281; modelled steps")
	// 1 Gbit/s: 0.28 s + 3 * 250 * 8 / 1e9 s = 280.006 ms.
	step := ModelledStep(charlm.StepTimeSplit{Compute: 0.2, Encode: 0.01, Decode: 0.02, Update: 0.05}, 4, 250, 1e9)
	require.InDelta(t, 0.280006, step, 1e-12)
	require.Less(t, math.Abs(step-0.28), 1e-5)
	written, err := os.ReadFile(filepath.Join(dir, markdownFile))
	require.NoError(t, err)
	require.Equal(t, text, string(written))

	// No data-parallel runs: an error.
	require.ErrorContains(t, run([]string{"-dir", t.TempDir()}, &out), "no data-parallel runs")
}
