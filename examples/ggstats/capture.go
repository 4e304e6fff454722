package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/ggprior/ggprior/internal/distfit"
)

// errCaptureNotWired is returned by -capture while no live model is wired.
var errCaptureNotWired = errors.New("capture needs the charlm model: not wired yet")

// liveCapture is the live training run that -capture uses: nil until a model is
// wired, which a file of this package does from an init function; for the
// charlm reference model, capture_charlm.go:
//
//	func init() { liveCapture = captureCharlm }
//
// The function trains the model as the options say (-steps, -every, -seed,
// -checkpoint, -arch, -init, -beta) and, after the chosen steps, calls
// sink.Observe(kind, name, values) with host copies of the requested tensors
// (weights, activations, gradients), named by their scope. The command pools
// each tensor's values over the steps (distfit.Accumulator: a seeded
// reservoir sample of -sample values) and analyzes them as it does tensors
// read from files.
var liveCapture distfit.CaptureFunc

// captureItems runs the live capture for cfg and returns the pooled tensors as
// items, in the order first observed, and the description of the run.
func captureItems(cfg config, progress io.Writer) ([]item, string, error) {
	if liveCapture == nil {
		return nil, "", errCaptureNotWired
	}
	acc := distfit.NewAccumulator(cfg.options())
	opts := distfit.CaptureOptions{
		Kinds: cfg.capture, Steps: cfg.steps, Every: cfg.every, Seed: int64(cfg.seed),
		Checkpoint: cfg.checkpoint, Arch: cfg.arch, Init: cfg.init, Beta: cfg.beta, Progress: progress,
	}
	description, err := liveCapture(opts, acc)
	if err != nil {
		return nil, "", fmt.Errorf("capture: %w", err)
	}
	var items []item
	_ = acc.Each(func(kind, name string, total int, sample []float64) error {
		items = append(items, item{
			kind: kind, name: name, size: total, sampled: true,
			fetch: func([]int) ([]float64, error) { return sample, nil },
		})
		return nil
	})
	return items, description, nil
}
