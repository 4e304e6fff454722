package charlm

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

// TestInitLoss checks the loss of the freshly initialized full-size gpt on a real
// training batch. With normal02 the logits are tiny: the final LayerNorm output
// has unit variance per feature, so each logit is a sum of 128 terms of std 0.02,
// std sigma = 0.02*sqrt(128) = 0.226. For small independent logits
// E[logsumexp] ~ ln(256) + sigma^2/2 and the target logit has mean 0, so the
// expected loss is ln(256) + 0.0256 = 5.571. Its spread over the 768 targets of
// a batch is about sigma/sqrt(768) = 0.008 (less, since the logsumexp term is
// nearly constant): we allow 0.02 around 5.571, which is also within 0.05 of ln(256).
func TestInitLoss(t *testing.T) {
	corpus, err := loadCorpus("")
	require.NoError(t, err)
	cfg := DefaultConfig()
	batches, err := newBatches(corpus.Train, 12, cfg.Block, 1)
	require.NoError(t, err)
	tokens, targets := batches.Next()

	m := newModel(cfg)
	store := newSeededStore(1)
	exec, err := model.NewExec(backend(t), store, func(scope *model.Scope, tokens, targets *graph.Node) *graph.Node {
		return graph.ReduceAllMean(crossEntropy(m.Logits(scope, tokens), targets))
	})
	require.NoError(t, err)
	loss := exec.MustCall(tokens, targets)[0].Value().(float32)

	sigma2 := baselineStdDev * baselineStdDev * float64(cfg.Width)
	want := math.Log(256) + sigma2/2
	t.Logf("loss at init %.4f, ln(256) = %.4f, expected %.4f", loss, math.Log(256), want)
	require.InDelta(t, want, float64(loss), 0.02)
	require.InDelta(t, math.Log(256), float64(loss), 0.05)
}

// TestCausal checks that a position's logits do not depend on later tokens, for
// both architectures: two sequences that differ only in their last token give
// the same logits everywhere before it. "The same" up to float32 rounding: the
// backend may sum in a different order for different rows (about 1e-6 on logits
// of magnitude ~5 seen); a leak through the mask would move them by O(0.1) here
// (the init std 0.3 makes attention strongly input-dependent), as it moves the
// last position's logits, which are checked to change by more than 1e-2.
func TestCausal(t *testing.T) {
	for _, arch := range []string{ArchGPT, ArchLlama} {
		t.Run(arch, func(t *testing.T) {
			cfg := tinyConfig(arch)
			store := newSeededStore(3)
			m := &Model{Config: cfg, Init: func(scope *model.Scope, kind string, std float64) model.VariableInitializer {
				return initNormal02()(scope, kind, 0.3)
			}}
			exec := logitsExec(t, store, m)
			a := "the quick brown!"
			b := "the quick brown?"
			logits := flatFloat32(t, exec.MustCall(tokensTensor(a, b))[0])
			per := len(a) * cfg.Vocab
			seqA, seqB := logits[:per], logits[per:]
			last := (len(a) - 1) * cfg.Vocab
			maxDiff := func(from, to int) float64 {
				d := 0.0
				for i := from; i < to; i++ {
					d = max(d, math.Abs(float64(seqA[i]-seqB[i])))
				}
				return d
			}
			require.Less(t, maxDiff(0, last), 1e-4, "positions before the changed token must not change")
			require.Greater(t, maxDiff(last, per), 1e-2, "the changed token must change its own position's logits")
		})
	}
}
