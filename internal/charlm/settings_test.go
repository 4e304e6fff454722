package charlm

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

func TestParseSettings(t *testing.T) {
	store := model.NewStore()
	setDefaultHyperparameters(store, 1)
	store.RootScope().SetParam("names", []string{"a"})
	modified, err := parseSettings(store, "learning_rate=2e-3; warmup_steps=1_000;names=x,y;block_000/clip_grad_norm=0.5")
	require.NoError(t, err)
	require.Equal(t, []string{"/learning_rate", "/warmup_steps", "/names", "/block_000/clip_grad_norm"}, modified)
	root := store.RootScope()
	require.Equal(t, 2e-3, model.GetParamOr(root, paramLearningRate, 0.0))
	require.Equal(t, 1000, model.GetParamOr(root, paramWarmupSteps, 0))
	require.Equal(t, []string{"x", "y"}, model.GetParamOr(root, "names", []string(nil)))
	require.Equal(t, 1.0, model.GetParamOr(root, paramClipGradNorm, 0.0), "the root value is unchanged")
	require.Equal(t, 0.5, model.GetParamOr(store.Scope("/block_000"), paramClipGradNorm, 0.0))

	path := filepath.Join(t.TempDir(), "settings.txt")
	require.NoError(t, os.WriteFile(path, []byte("# comment\nadam_beta2=0.95\n\nseed_unused_line_is_not_here=1\n"), 0o644))
	_, err = parseSettings(store, "file:"+path)
	require.ErrorContains(t, err, "unknown parameter")
	require.NoError(t, os.WriteFile(path, []byte("# comment\nadam_beta2=0.95\n"), 0o644))
	_, err = parseSettings(store, "file:"+path)
	require.NoError(t, err)
	require.Equal(t, 0.95, model.GetParamOr(root, paramAdamBeta2, 0.0))

	for _, bad := range []string{"nope=1", "learning_rate", "learning_rate=abc", "warmup_steps=1.5", paramRunState + "=x"} {
		_, err := parseSettings(store, bad)
		require.Error(t, err, "%q", bad)
	}
}
