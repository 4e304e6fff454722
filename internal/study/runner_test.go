package study

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/stretchr/testify/require"
)

// tinyModel is a 1-layer, width-32 charlm for fast tests.
func tinyModel() charlm.Config {
	cfg := charlm.DefaultConfig()
	cfg.Layers, cfg.Heads, cfg.Width, cfg.Block = 1, 2, 32, 16
	return cfg
}

// tinyCorpus writes a small text for -data.
func tinyCorpus(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "corpus.txt")
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 40)), 0o644))
	return path
}

func TestRunSpec(t *testing.T) {
	spec, err := NewRunSpec("gg-beta1.4", []string{"-init", "gg", "-beta", "1.4", "-steps", "300", "-seed", "2", "-set", "a=1;b=2"}, true)
	require.NoError(t, err)
	require.Equal(t, "gg-beta1.4-seed2-steps300", spec.Name())
	require.Equal(t, int64(2), spec.Seed)
	require.Equal(t, 300, spec.Steps)
	require.Equal(t, "GOEXPERIMENT=simd go run ./examples/charlm -init gg -beta 1.4 -steps 300 -seed 2 -set 'a=1;b=2' -results 'my dir/r.json'",
		spec.Command("my dir/r.json", ""))
	require.Equal(t, `'it'\''s'`, shellQuote("it's"))
	require.Equal(t, `''`, shellQuote(""))

	for _, c := range []struct {
		config string
		args   []string
		want   string
	}{
		{"a b", nil, "without spaces"},
		{"x", []string{"-nope"}, "not defined"},
		{"x", []string{"-results", "r.json"}, "set by the runner"},
		{"x", []string{"-gct-bits", "3"}, "only used with -compress gct"},
	} {
		_, err := NewRunSpec(c.config, c.args, false)
		require.ErrorContains(t, err, c.want, "%q", c.args)
	}
}

// TestRunner trains a tiny run with checkpoints, finds it done the second
// time, refuses results of another run under its name, and trains a run
// again when its weights are needed and its checkpoint is gone.
func TestRunner(t *testing.T) {
	dir := t.TempDir()
	data := tinyCorpus(t)
	var prepared []string
	r := &Runner{Dir: filepath.Join(dir, "runs"), CheckpointDir: filepath.Join(dir, "ckpt"), Model: tinyModel,
		Prepare: func(spec RunSpec, exp *charlm.Experiment) { prepared = append(prepared, spec.Name()) }}
	args := []string{"-steps", "4", "-eval-at", "2", "-data", data, "-act", "-act-sites", "mlp_hidden", "-act-start", "0", "-act-end", "0"}
	spec, err := NewRunSpec("act", args, true)
	require.NoError(t, err)

	results, trained, err := r.Run(spec, true)
	require.NoError(t, err)
	require.True(t, trained)
	require.Len(t, results.ValLoss, 2)
	require.Equal(t, 0, results.ACT.End, "-act-end reached the run")
	require.FileExists(t, r.ResultsPath(spec))
	require.NoFileExists(t, r.ResultsPath(spec)+".tmp")
	require.True(t, r.HasWeights(spec))
	names, err := charlm.ListCheckpoints(r.CheckpointPath(spec))
	require.NoError(t, err)
	require.Len(t, names, 1, "only the latest checkpoint is kept")
	require.NoError(t, spec.Check(results, tinyModel()))

	again, trained, err := r.Run(spec, true)
	require.NoError(t, err)
	require.False(t, trained)
	require.Equal(t, results.ValLoss, again.ValLoss)
	require.Equal(t, []string{spec.Name()}, prepared)

	// Another run under the same name: its results are refused, with the differences.
	other, err := NewRunSpec("act", append(args[:len(args):len(args)], "-act-lambda", "0"), true)
	require.NoError(t, err)
	_, _, err = r.Run(other, false)
	require.ErrorContains(t, err, "holds the results of another run")
	require.ErrorContains(t, err, "act_lambda=")
	require.ErrorContains(t, spec.Check(results, charlm.DefaultConfig()), "model")

	// Without the checkpoint, the results do but the weights do not exist.
	require.NoError(t, os.RemoveAll(r.CheckpointPath(spec)))
	_, trained, err = r.Run(spec, false)
	require.NoError(t, err)
	require.False(t, trained)
	_, trained, err = r.Run(spec, true)
	require.NoError(t, err)
	require.True(t, trained)

	require.NoError(t, r.Remove(spec))
	require.NoFileExists(t, r.ResultsPath(spec))
	require.NoDirExists(t, r.CheckpointPath(spec))
	noCkpt, err := NewRunSpec("plain", args[:6], false)
	require.NoError(t, err)
	_, _, err = r.Run(noCkpt, true)
	require.ErrorContains(t, err, "keeps no checkpoint")
}

// TestRunnerResumesRunsWithoutCheckpoint: a run that keeps no checkpoint
// still checkpoints into CheckpointDir while it trains, so that an
// interrupted run resumes from its last evaluation step, to the results of
// an uninterrupted run; its checkpoints are removed once it finishes.
func TestRunnerResumesRunsWithoutCheckpoint(t *testing.T) {
	dir := t.TempDir()
	data := tinyCorpus(t)
	args := []string{"-steps", "4", "-eval-at", "2", "-data", data}
	spec, err := NewRunSpec("plain", args, false)
	require.NoError(t, err)

	errStop := errors.New("stop")
	firstStep, stopAt := 0, 3
	r := &Runner{Dir: filepath.Join(dir, "runs"), CheckpointDir: filepath.Join(dir, "ckpt"), Model: tinyModel}
	r.Prepare = func(_ RunSpec, exp *charlm.Experiment) {
		firstStep = 0
		exp.OnStep = append(exp.OnStep, func(_ *charlm.Experiment, info charlm.StepInfo) error {
			if firstStep == 0 {
				firstStep = info.Step
			}
			if info.Step == stopAt {
				return errStop
			}
			return nil
		})
	}
	_, _, err = r.Run(spec, false)
	require.ErrorIs(t, err, errStop)
	require.NoFileExists(t, r.ResultsPath(spec))
	names, err := charlm.ListCheckpoints(filepath.Join(r.CheckpointDir, spec.Name()))
	require.NoError(t, err)
	require.Len(t, names, 1, "the checkpoint of step 2")

	stopAt = 0
	resumed, trained, err := r.Run(spec, false)
	require.NoError(t, err)
	require.True(t, trained)
	require.Equal(t, 3, firstStep, "resumed after step 2")
	require.NoDirExists(t, filepath.Join(r.CheckpointDir, spec.Name()), "removed once finished")

	fresh := &Runner{Dir: filepath.Join(dir, "fresh"), CheckpointDir: filepath.Join(dir, "ckpt-fresh"), Model: tinyModel}
	want, _, err := fresh.Run(spec, false)
	require.NoError(t, err)
	require.Equal(t, want.ValLoss, resumed.ValLoss)
	require.Equal(t, want.WeightsHash, resumed.WeightsHash)
}

// signalWriter sends every write on a channel.
type signalWriter chan string

func (w signalWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}

// TestRunnerWaitsForAnotherProcess: a run whose lock is held elsewhere (as
// by another process training it) is waited for, and its results are then
// reused instead of trained again.
func TestRunnerWaitsForAnotherProcess(t *testing.T) {
	if !runLocks {
		t.Skip("no run locks without flock")
	}
	dir := t.TempDir()
	args := []string{"-steps", "2", "-eval-at", "2", "-data", tinyCorpus(t)}
	spec, err := NewRunSpec("plain", args, false)
	require.NoError(t, err)
	first := &Runner{Dir: dir, Model: tinyModel}
	held, err := first.lock(spec, true) // The "other process", about to train the run.
	require.NoError(t, err)
	_, trained, err := (&Runner{Dir: dir, Model: tinyModel}).TryRun(spec, false)
	require.ErrorIs(t, err, ErrRunBusy)
	require.False(t, trained)

	progress := make(signalWriter, 10)
	var trainedHere []string
	second := &Runner{Dir: dir, Model: tinyModel, Progress: progress,
		Prepare: func(spec RunSpec, _ *charlm.Experiment) { trainedHere = append(trainedHere, spec.Name()) }}
	type ran struct {
		results *charlm.Results
		trained bool
		err     error
	}
	done := make(chan ran, 1)
	go func() {
		results, trained, err := second.Run(spec, false)
		done <- ran{results, trained, err}
	}()
	require.Equal(t, "run "+spec.Name()+": another process is training it; waiting for it\n", <-progress)
	want, err := first.train(spec)
	require.NoError(t, err)
	select {
	case r := <-done:
		t.Fatalf("Run returned while the lock was held: %+v", r)
	default:
	}
	held.unlock()
	r := <-done
	require.NoError(t, r.err)
	require.False(t, r.trained, "the other process's results are reused")
	require.Equal(t, want.ValLoss, r.results.ValLoss)
	require.Empty(t, trainedHere)
	require.NoFileExists(t, filepath.Join(dir, "."+spec.Name()+".lock"), "the lock file goes with the lock")
}
