package charlm

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestResumeRefusesChanges: a resume whose hyperparameters differ from the
// checkpoint's (a -set value, GCT's bits, ACT's per-site targets) is
// refused, with both values (it trained the first steps with one value, the
// rest with the other, and reported the second as if used throughout).
func TestResumeRefusesChanges(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 40)
	for name, c := range map[string]struct {
		train         func(tc *TrainConfig)
		before, after string
		resumeTrain   func(tc *TrainConfig)
		want          string
	}{
		"learning_rate": {before: "", after: "learning_rate=0.01",
			want: "learning_rate: 0.001 in the checkpoint, 0.01 in this run"},
		"gct_bits": {train: func(tc *TrainConfig) { tc.Compress = "gct" }, before: "gct_bits=2", after: "gct_bits=3",
			want: "gct_bits: 2 in the checkpoint, 3 in this run"},
		"act_sparsity": {train: func(tc *TrainConfig) {
			tc.ACTSites, tc.ACTSparsity = []string{SiteMLPHidden, SiteAttnIn}, map[string]float64{SiteMLPHidden: 0.5}
		}, resumeTrain: func(tc *TrainConfig) {
			tc.ACTSites, tc.ACTSparsity = []string{SiteMLPHidden, SiteAttnIn}, map[string]float64{SiteMLPHidden: 0.8}
		}, want: "act_sparsity[mlp_hidden]: 0.5 in the checkpoint, 0.8 in this run"},
		"act_ramp": {train: func(tc *TrainConfig) {
			tc.ACTSites, tc.ACTRamp = []string{SiteMLPHidden, SiteAttnIn}, map[string][2]int{SiteMLPHidden: {0, 0}}
		}, resumeTrain: func(tc *TrainConfig) { tc.ACTSites = []string{SiteMLPHidden, SiteAttnIn} },
			want: "act_ramp[mlp_hidden]: [0 0] in the checkpoint, none in this run"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			first := methodExperiment(t, data, 8, dir, c.train, c.before)
			require.NoError(t, first.TrainTo(4))
			resumeTrain := c.resumeTrain
			if resumeTrain == nil {
				resumeTrain = c.train
			}
			resumed := methodExperiment(t, data, 8, dir, resumeTrain, c.after)
			require.Equal(t, 4, resumed.GlobalStep())
			err := resumed.TrainTo(8)
			require.ErrorContains(t, err, "was trained with other hyperparameters")
			require.ErrorContains(t, err, c.want)
			require.Equal(t, 4, resumed.GlobalStep(), "nothing trained")
		})
	}
}

// TestResumeAllowChanges: with AllowChanges a resume takes its own values,
// and the history and results record each change and the first step it
// applies to, through later resumes too.
func TestResumeAllowChanges(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 40)
	dir := t.TempDir()
	newExp := func(settings string, allow bool, fn func(tc *TrainConfig)) *Experiment {
		return methodExperiment(t, data, 12, dir, func(tc *TrainConfig) {
			tc.EvalAt, tc.AllowChanges = []int{4, 8}, allow
			tc.ACTSites = []string{SiteMLPHidden}
			if fn != nil {
				fn(tc)
			}
		}, settings)
	}
	require.NoError(t, newExp("", false, nil).TrainTo(4))

	second := newExp("learning_rate=0.01", true, func(tc *TrainConfig) { tc.ACTSparsity = map[string]float64{SiteMLPHidden: 0.7} })
	require.NoError(t, second.TrainTo(8))
	want := []HyperparameterChange{
		{Step: 5, Key: "learning_rate", From: 1e-3, To: 0.01},
		{Step: 5, Key: "act_sparsity[mlp_hidden]", From: nil, To: 0.7},
	}
	require.Equal(t, want, second.History().Changes)

	// The next resume, with the new values, is no change; the record stays.
	third := newExp("learning_rate=0.01", false, func(tc *TrainConfig) { tc.ACTSparsity = map[string]float64{SiteMLPHidden: 0.7} })
	require.Equal(t, 8, third.GlobalStep())
	require.NoError(t, third.TrainTo(12))
	r := third.Results()
	require.Equal(t, want, r.Config.HyperparameterChanges)
	require.Equal(t, 0.01, r.Config.Hyperparameters["learning_rate"])
	encoded, err := json.Marshal(r)
	require.NoError(t, err)
	require.Contains(t, string(encoded), `"hyperparameter_changes":[{"step":5,"key":"learning_rate","from":0.001,"to":0.01},{"step":5,"key":"act_sparsity[mlp_hidden]","from":null,"to":0.7}]`)

	// A run without changes records none (and its results have no such field).
	plain := methodExperiment(t, data, 2, "", nil, "")
	require.NoError(t, plain.TrainTo(2))
	encoded, err = json.Marshal(plain.Results())
	require.NoError(t, err)
	require.NotContains(t, string(encoded), "hyperparameter_changes")
}
