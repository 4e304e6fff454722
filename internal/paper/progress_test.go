package paper

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/stretchr/testify/require"
)

// TestProgressLog: to a writer that is not a terminal, a stage writes a line
// per stage event (its start and end, a run's start and end) and per
// evaluation, not per step; quiet, it writes nothing.
func TestProgressLog(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		prof := *profiles["quick"]
		var w bytes.Buffer
		p := newProgress(&w, quiet, &prof)
		p.plan(pendingRun{stage: "init", name: "a", arch: charlm.ArchGPT, steps: 1000, evals: 3})
		p.startStage("init", "GG initialization", 1, 1)
		exp := &charlm.Experiment{Config: charlm.DefaultConfig(), Train: charlm.DefaultTrainConfig()}
		exp.Train.Steps, exp.Train.EvalAt = 1000, []int{250, 500}
		p.startRun("a", exp)
		for step := 1; step <= 1000; step++ {
			p.step(charlm.StepInfo{Step: step, MainLoss: 2, Duration: time.Millisecond})
		}
		p.endRun("a", nil)
		p.endStage("init", time.Second, nil)
		out := w.String()
		if quiet {
			require.Empty(t, out)
			continue
		}
		require.NotContains(t, out, "\r")
		require.NotContains(t, out, "\x1b")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		require.Len(t, lines, 7, "stage start, run start, 3 evaluations, run end, stage end:\n%s", out)
		require.Contains(t, lines[2], "a step 250/1000 loss 2.0000, evaluating")
		require.Contains(t, lines[4], "a step 1000/1000 loss 2.0000, evaluating")
		require.Contains(t, lines[5], "trained a")
		require.Contains(t, lines[6], "== stage init done in 1s")
	}
}
