package charlm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkTrainStep measures one training step (batch 12, AdamW) of the
// full-size gpt on the default corpus; the first step, which compiles the graph,
// is not timed. Besides wall time it reports the process CPU time per step
// (cpu-ms/step), which is steadier than wall time on a shared machine. Run it with:
//
//	GOEXPERIMENT=simd go test ./examples/charlm/... -run XXX -bench TrainStep -benchtime 20x
func BenchmarkTrainStep(b *testing.B) {
	exp, err := NewExperiment(backend(b), DefaultConfig(), DefaultTrainConfig())
	require.NoError(b, err)
	require.NoError(b, exp.TrainTo(1)) // Compiles.
	b.ResetTimer()
	start, startCPU := time.Now(), cpuTime()
	for range b.N {
		if _, err := exp.step(); err != nil {
			b.Fatal(err)
		}
		exp.globalStep++
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/step")
	if cpu := cpuTime() - startCPU; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/step")
	}
}
