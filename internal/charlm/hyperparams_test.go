package charlm

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHyperparameterRanges: a hyperparameter value out of its range is an
// error before training (-set learning_rate=-1 trained to a loss of 33).
func TestHyperparameterRanges(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 40)
	for _, c := range []struct {
		compress string
		act      bool
		settings string
		want     string
	}{
		{settings: "learning_rate=-1", want: "learning_rate=-1: want a finite value > 0"},
		{settings: "learning_rate=0", want: "learning_rate=0: want a finite value > 0"},
		{settings: "min_learning_rate=-1e-4", want: "min_learning_rate=-0.0001: want a finite value >= 0"},
		{settings: "min_learning_rate=0.01", want: "min_learning_rate=0.01 is above learning_rate=0.001: the learning rate decays to min_learning_rate"},
		{settings: "warmup_steps=-5", want: "warmup_steps=-5: want a value >= 0"},
		{settings: "adam_beta1=1", want: "adam_beta1=1: want a value in [0, 1)"},
		{settings: "adam_beta2=-0.5", want: "adam_beta2=-0.5: want a value in [0, 1)"},
		{settings: "adam_epsilon=0", want: "adam_epsilon=0: want a finite value > 0"},
		{settings: "adam_weight_decay=-0.1", want: "adam_weight_decay=-0.1: want a finite value >= 0"},
		{settings: "clip_grad_norm=-1", want: "clip_grad_norm=-1: want a finite value >= 0 (0: no clipping)"},
		{settings: "block_000/learning_rate=-1", want: "/block_000/learning_rate=-1: want a finite value > 0"},
		{compress: "gct", settings: "gct_coder=expgolomb;gct_bits=1", want: "gct_bits=1: want a finite value > 1 with gct_coder=expgolomb (Exp-Golomb codes take at least 1 bit per element; gct_coder=rans goes below)"},
		{compress: "gct", settings: "gct_bits=0;gct_coder=rans", want: "gct_bits=0: want a finite value > 0"},
		{compress: "gct-rans", settings: "gct_bits=0.5;gct_coder=expgolomb", want: "gct_bits=0.5: want a finite value > 1 with gct_coder=expgolomb (Exp-Golomb codes take at least 1 bit per element; gct_coder=rans goes below)"},
		{compress: "gct", settings: "gct_coder=huffman", want: `gct_coder=huffman: coder "huffman": want "expgolomb", "rans" or "auto"`},
		{compress: "gct", settings: "gct_lambda=-1", want: "gct_lambda=-1: want a finite value >= 0"},
		{compress: "gct", settings: "gct_warmup_steps=-1", want: "gct_warmup_steps=-1: want a value >= 0"},
		{compress: "gct", settings: "gct_coder=auto;gct_rate_gain=-0.1", want: "gct_rate_gain=-0.1: want a finite value >= 0"},
		{act: true, settings: "act_sparsity=1", want: "act_sparsity=1: want a value in [0, 1)"},
		{act: true, settings: "act_lambda=-1", want: "act_lambda=-1: want a finite value >= 0"},
		{act: true, settings: "act_start=5;act_end=3", want: "act_end=3 is before act_start=5: ACT's ramp ends after it starts"},
		{act: true, settings: "act_sample_size=-1", want: "act_sample_size=-1: want a value >= 0 (0: all values)"},
	} {
		tc := DefaultTrainConfig()
		tc.Steps, tc.EvalAt, tc.Data, tc.EvalBatch = 4, nil, data, 8
		tc.Compress = c.compress
		if c.act {
			tc.ACTSites = []string{SiteMLPHidden}
		}
		_, err := NewJob(backend(t), tinyConfig(ArchGPT), tc, nil, c.settings)
		require.EqualError(t, err, "hyperparameter "+c.want, c.settings)
	}
	tc := DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.Data, tc.EvalBatch = 4, nil, data, 8
	_, err := NewJob(backend(t), tinyConfig(ArchGPT), tc, nil, "learning_rate=0.01;min_learning_rate=0;warmup_steps=0;adam_beta1=0;clip_grad_norm=0;adam_weight_decay=0")
	require.NoError(t, err)
	// GCT below 1 bit per element with the rANS coder.
	tc.Compress = "gct"
	_, err = NewJob(backend(t), tinyConfig(ArchGPT), tc, nil, "gct_coder=rans;gct_bits=0.5")
	require.NoError(t, err)
	tc.Compress = "gct-rans:0.5"
	_, err = NewJob(backend(t), tinyConfig(ArchGPT), tc, nil, "")
	require.NoError(t, err)
}
