package paper

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDPStage runs the dp stage at the tiny profile: the single-process
// baseline and 2 workers exchanging GCT-coded gradients, at the profile's
// length. The data-parallel row must record 2 workers, coded bytes far below
// fp32's (GCT targets about 2 bits of 32) and a modelled step time per link
// speed that grows as the link slows.
func TestDPStage(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	require.NoError(t, Main([]string{"-profile", "tiny", "-out", out, "-stages", "dp", "-quiet"}, &stdout, &stderr), stderr.String())
	rf, err := readResultsFile(out)
	require.NoError(t, err)
	st := rf.Stages["dp"]
	require.NotNil(t, st)
	require.Len(t, st.Claims, 1)
	require.Contains(t, []string{Yes, No}, st.Claims[0].Reproduced, "a GCT run was measured")
	require.Len(t, st.Tables, 1)
	require.Len(t, st.Tables[0].Commands, 2)
	require.Contains(t, st.Tables[0].Commands[1].Command, "-workers 2 -compress gct:2")

	var rows []DPRow
	remarshal(t, st.Data, &rows)
	require.Len(t, rows, 2)
	require.Equal(t, baseline, rows[0].Config)
	require.Equal(t, 1, rows[0].Workers)
	require.Nil(t, rows[0].Parallel)
	r := rows[1]
	require.Equal(t, "w2-gct2", r.Config)
	require.Equal(t, 2, r.Workers)
	require.NotNil(t, r.Parallel)
	require.Greater(t, r.CodedVsFP32, 0.0)
	require.Less(t, r.CodedVsFP32, 0.2, "GCT at 2 bits codes well below fp32's 32")
	require.Len(t, r.ModelledStepSeconds, len(linkSpeeds))
	for i := 1; i < len(linkSpeeds); i++ {
		require.Greater(t, r.ModelledStepSeconds[i-1], r.ModelledStepSeconds[i], "a slower link takes longer")
	}
	require.FileExists(t, filepath.Join(out, "runs", "w2-gct2-seed1-steps6.json"))
}

// remarshal decodes the JSON of v (a stage's Data as read back from
// results.json) into out.
func remarshal(t *testing.T, v any, out any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, out))
}
