package paper

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/ggprior/ggprior/internal/charlm/generate"
	"github.com/stretchr/testify/require"
)

// TestSpeedStage runs the speed stage at the tiny profile: the baseline,
// act-0.95-fixed and act-all-hfixed, trained with their checkpoints, each decoded at
// batch 1 and 12 with the dense and the ACT-sparse path. Every row must
// decode the same tokens with both paths and measure both speeds; the
// baseline has no ACT site, act-all-hfixed has all three; the speed claims get a
// verdict (the tiny model's numbers mean nothing).
func TestSpeedStage(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	require.NoError(t, Main([]string{"-profile", "tiny", "-out", out, "-stages", "speed", "-quiet"}, &stdout, &stderr), stderr.String())
	rf, err := readResultsFile(out)
	require.NoError(t, err)
	st := rf.Stages["speed"]
	require.NotNil(t, st)
	require.Equal(t, len(speedConfigs), st.Runs)
	require.Len(t, st.Claims, 3)
	require.Contains(t, []string{Yes, No}, st.Claims[0].Reproduced, "act-0.95-fixed was decoded")
	require.Contains(t, []string{Yes, No}, st.Claims[1].Reproduced, "act-all-hfixed was decoded")
	require.Equal(t, Yes, st.Claims[2].Reproduced, "the sparse path decodes the dense path's tokens")
	require.Len(t, st.Tables, 1)
	require.Len(t, st.Tables[0].Commands, len(speedConfigs)*(1+len(speedBatches)))
	require.Contains(t, st.Tables[0].Commands[len(speedConfigs)].Command, "-bench-decode 10 -bench-batch 1")

	var data struct {
		Tokens int        `json:"decode_tokens"`
		Rows   []SpeedRow `json:"rows"`
	}
	remarshal(t, st.Data, &data)
	require.Equal(t, 10, data.Tokens)
	require.Len(t, data.Rows, len(speedConfigs)*len(speedBatches))
	for i, r := range data.Rows {
		name := fmt.Sprintf("%s batch %d", r.Config, r.Batch)
		require.Equal(t, speedConfigs[i/len(speedBatches)], r.Config, name)
		require.Equal(t, speedBatches[i%len(speedBatches)], r.Batch, name)
		b := r.Bench
		require.NotNil(t, b, name)
		require.Equal(t, r.Batch, b.Batch, name)
		require.Equal(t, 10, b.Tokens, name)
		rounds := 1
		if r.Batch == 1 {
			rounds = speedRounds
		}
		require.Equal(t, rounds*generate.DefaultBenchRepeats, b.Repeats, name)
		require.Len(t, b.SecondsDense, b.Repeats, name)
		require.Len(t, b.SecondsSparse, b.Repeats, name)
		require.True(t, b.SameTokens, name)
		require.Greater(t, b.TokensPerSecDense, 0.0, name)
		require.Greater(t, b.TokensPerSecSparse, 0.0, name)
		require.Greater(t, r.VsBaselineDense, 0.0, name)
		require.Greater(t, b.GraphTokensPerSec, 0.0, name)
		require.Equal(t, 1, r.FinalLoss.N, name)
		require.Greater(t, r.FinalLoss.Mean, 0.0, name)
		require.NotNil(t, r.DiffPct, name)
		switch r.Config {
		case baseline:
			require.Empty(t, b.ACTSites, name)
			require.Zero(t, b.SkippableMACs, name)
		case speedAllSites:
			require.Len(t, b.ACTSites, 3, name)
			require.Len(t, b.SparsityBySite, 3, name) // One block.
		default:
			require.Equal(t, []string{"mlp_hidden"}, b.ACTSites, name)
		}
	}
	require.Contains(t, stdout.String(), "stage speed")
}

// TestSparsityBySite averages each site over the blocks, in the sites' order.
func TestSparsityBySite(t *testing.T) {
	require.Equal(t, "—", sparsityBySite(nil))
	require.Equal(t, "attn_in 60.0%, mlp_hidden 95.0%", sparsityBySite(map[string]float64{
		"block_000/mlp_hidden": 0.9, "block_001/mlp_hidden": 1, "block_000/attn_in": 0.6}))
}
