package generate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/stretchr/testify/require"
)

// checkpointsRoot holds the checkpoints the tests train, shared by the
// tests of one run (see trained).
var checkpointsRoot string

func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "generate-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	checkpointsRoot = root
	code := m.Run()
	_ = os.RemoveAll(root)
	os.Exit(code)
}

// tinyConfig is a 1-layer, width-32 model with 2 heads and a block of 16 bytes.
func tinyConfig(arch string) charlm.Config {
	cfg := charlm.DefaultConfig()
	cfg.Arch = arch
	cfg.Layers, cfg.Heads, cfg.Width, cfg.Block = 1, 2, 32, 16
	if arch == charlm.ArchLlama {
		cfg.MLPHidden = 64
	}
	return cfg
}

// corpusText is the tests' training text.
const corpusText = "Light is refracted by a prism, and the colours of the rays are separated. "

var (
	trainedMu   sync.Mutex
	trainedDirs = map[string]string{}
)

// trained returns the directory of a checkpoint of the tiny model of arch,
// trained for 8 steps (with ACT at every site if act), training it on the
// first call. The learning rate (1e-2, no warmup) and He initialization move
// the weights well away from a near-uniform model in these few steps, and
// ACT's ramp (steps 0 to 5 of 8) reaches its 0.9 target.
func trained(t *testing.T, arch string, act bool) string {
	t.Helper()
	key := fmt.Sprintf("%s-act%v", arch, act)
	trainedMu.Lock()
	defer trainedMu.Unlock()
	if dir, ok := trainedDirs[key]; ok {
		return dir
	}
	dir := filepath.Join(checkpointsRoot, key)
	data := filepath.Join(checkpointsRoot, "corpus.txt")
	require.NoError(t, os.WriteFile(data, []byte(strings.Repeat(corpusText, 60)), 0o644))
	tc := charlm.DefaultTrainConfig()
	tc.Steps, tc.Batch, tc.EvalAt, tc.ValWindows = 8, 4, nil, 2
	tc.Init, tc.Data, tc.Checkpoint = "he", data, dir
	if act {
		tc.ACTSites = charlm.ActivationSites
	}
	job, err := charlm.NewJob(testbackend.Get(t), tinyConfig(arch), tc, nil, "learning_rate=1e-2;warmup_steps=1")
	require.NoError(t, err)
	_, err = job.Run()
	require.NoError(t, err)
	trainedDirs[key] = dir
	return dir
}

// load returns the checkpoint and the engine of trained(arch, act).
func load(t *testing.T, arch string, act bool) (*charlm.InferenceCheckpoint, *Engine) {
	t.Helper()
	ckpt, err := charlm.LoadInferenceCheckpoint(trained(t, arch, act))
	require.NoError(t, err)
	e, err := New(ckpt)
	require.NoError(t, err)
	return ckpt, e
}
