package charlm

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

// backend returns the backend every test runs on: testbackend.Get, the
// project's configuration of the pure-Go backend (whose worker pool cannot
// deadlock) unless GGPRIOR_TEST_BACKEND names another.
func backend(t testing.TB) compute.Backend {
	t.Helper()
	return testbackend.Get(t)
}

// tinyConfig is a small model for fast tests: 1 layer, width 32, 2 heads, block 16.
func tinyConfig(arch string) Config {
	cfg := DefaultConfig()
	cfg.Arch = arch
	cfg.Layers, cfg.Heads, cfg.Width, cfg.Block = 1, 2, 32, 16
	if arch == ArchLlama {
		cfg.MLPHidden = 64
	}
	return cfg
}

// logitsExec returns an executor of m.Logits on the store.
func logitsExec(t testing.TB, store *model.Store, m *Model) *model.Exec {
	t.Helper()
	exec, err := model.NewExec(backend(t), store, func(scope *model.Scope, tokens *graph.Node) *graph.Node {
		return m.Logits(scope, tokens)
	})
	require.NoError(t, err)
	return exec
}

// newSeededStore returns a Store whose initializers are seeded.
func newSeededStore(seed int64) *model.Store {
	store := model.NewStore()
	setDefaultHyperparameters(store, seed)
	return store
}

// tokensTensor makes an int32 [batch, seq] tensor from rows of bytes.
func tokensTensor(rows ...string) *tensors.Tensor {
	seq := len(rows[0])
	data := make([]int32, 0, len(rows)*seq)
	for _, r := range rows {
		for _, b := range []byte(r) {
			data = append(data, int32(b))
		}
	}
	return tensors.FromFlatDataAndDimensions(data, len(rows), seq)
}

// flatFloat32 copies a tensor's values.
func flatFloat32(t testing.TB, x *tensors.Tensor) []float32 {
	t.Helper()
	values, err := tensors.CopyFlatData[float32](x)
	require.NoError(t, err)
	return values
}

// meanStd returns the sample mean and standard deviation.
func meanStd(xs []float32) (mean, std float64) {
	for _, x := range xs {
		mean += float64(x)
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		d := float64(x) - mean
		std += d * d
	}
	return mean, math.Sqrt(std / float64(len(xs)-1))
}

// tinyCorpusFile writes `repeat` copies of text into a temporary file and returns its path.
func tinyCorpusFile(t testing.TB, text string, repeat int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "corpus.txt")
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat(text, repeat)), 0o644))
	return path
}
