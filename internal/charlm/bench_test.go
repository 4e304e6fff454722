package charlm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchVariant is one configuration of a training-step benchmark.
type benchVariant struct {
	name     string
	train    func(tc *TrainConfig) // Changes the benchmark's default run; nil for none.
	settings string                // Hyperparameters to set (see parseSettings).
}

// benchTrainSteps measures one training step (batch 12) of the full-size gpt on
// the default corpus for each variant: the first step, which compiles the
// graph, is not timed, and the variants' steps are interleaved (one of each per
// iteration), so that a load that changes during the run affects them alike.
// For each variant it reports the wall time (<name>-ms/step) and the process
// CPU time (<name>-cpu-ms/step, steadier than wall time on a shared machine);
// for each variant after the first, the ratios of its times to the first's
// (<name>/<first>, <name>/<first>-cpu).
func benchTrainSteps(b *testing.B, variants ...benchVariant) {
	exps := make([]*Experiment, len(variants))
	for i, v := range variants {
		tc := DefaultTrainConfig()
		if v.train != nil {
			v.train(&tc)
		}
		exp, err := NewExperiment(backend(b), DefaultConfig(), tc)
		require.NoError(b, err)
		_, err = parseSettings(exp.Store, v.settings)
		require.NoError(b, err)
		require.NoError(b, exp.TrainTo(1)) // Compiles.
		exps[i] = exp
	}
	wall := make([]time.Duration, len(variants))
	cpu := make([]time.Duration, len(variants))
	b.ResetTimer()
	for range b.N {
		for i, exp := range exps {
			start, startCPU := time.Now(), cpuTime()
			if _, err := exp.step(); err != nil {
				b.Fatal(err)
			}
			wall[i] += time.Since(start)
			cpu[i] += cpuTime() - startCPU
			exp.globalStep++
		}
	}
	b.StopTimer()
	perStep := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	for i, v := range variants {
		b.ReportMetric(perStep(wall[i]), v.name+"-ms/step")
		if cpu[i] > 0 {
			b.ReportMetric(perStep(cpu[i]), v.name+"-cpu-ms/step")
		}
		if i > 0 {
			b.ReportMetric(float64(wall[i])/float64(wall[0]), v.name+"/"+variants[0].name)
			if cpu[0] > 0 {
				b.ReportMetric(float64(cpu[i])/float64(cpu[0]), v.name+"/"+variants[0].name+"-cpu")
			}
		}
	}
}

// BenchmarkTrainStep measures one training step (batch 12, AdamW) of the
// full-size gpt on the default corpus (see benchTrainSteps). Run it with:
//
//	GOEXPERIMENT=simd go test ./examples/charlm/... -run XXX -bench TrainStep -benchtime 20x
func BenchmarkTrainStep(b *testing.B) {
	benchTrainSteps(b, benchVariant{name: "adamw"})
}

// BenchmarkTrainStepGCT compares the training step with GCT at 2 bits per
// gradient element (GG quantizer, error feedback) against plain AdamW; the
// ratio "gct/adamw" is GCT's overhead (target: at most 1.15).
//
//	GOEXPERIMENT=simd go test ./internal/charlm -run XXX -bench TrainStepGCT -benchtime 10x
func BenchmarkTrainStepGCT(b *testing.B) {
	benchTrainSteps(b, benchVariant{name: "adamw"},
		benchVariant{name: "gct", train: func(tc *TrainConfig) { tc.Compress = "gct:2" }})
}

// BenchmarkTrainStepACT compares the training step with ACT at the MLP hidden
// activations (default settings; the same graph runs before and during the
// ramp, so the cost does not depend on the step) against
// none; the ratio "act/none" is ACT's overhead (target: at most 1.10).
//
//	GOEXPERIMENT=simd go test ./internal/charlm -run XXX -bench TrainStepACT -benchtime 10x
func BenchmarkTrainStepACT(b *testing.B) {
	benchTrainSteps(b, benchVariant{name: "none"},
		benchVariant{name: "act", train: func(tc *TrainConfig) { tc.ACTSites = []string{SiteMLPHidden} }})
}

// BenchmarkTrainStepGCTCoders compares the training step with GCT against
// plain AdamW: GCT's first quantizer (Exp-Golomb codes at 2 bits per gradient
// element in the gradient's geometry, "gct-eg2"), the auto coder at 1 bit in
// the gradient's geometry ("gct-auto1-plain": rANS frames for the large
// tensors), and charlm's default at 1 bit ("gct1": the auto coder, Adam's
// geometry, the second moment's correction); the ratios "<name>/adamw" are
// their overheads (target: at most 1.15).
//
//	GOEXPERIMENT=simd go test ./internal/charlm -run XXX -bench TrainStepGCTCoders -benchtime 20x
func BenchmarkTrainStepGCTCoders(b *testing.B) {
	benchTrainSteps(b, benchVariant{name: "adamw"},
		benchVariant{name: "gct-eg2", train: func(tc *TrainConfig) { tc.Compress = "gct:2" },
			settings: "gct_coder=expgolomb;gct_geometry=gradient;gct_moment_correction=false"},
		benchVariant{name: "gct-auto1-plain", train: func(tc *TrainConfig) { tc.Compress = "gct:1" },
			settings: "gct_geometry=gradient;gct_moment_correction=false"},
		benchVariant{name: "gct1", train: func(tc *TrainConfig) { tc.Compress = "gct:1" }})
}
