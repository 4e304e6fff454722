package main

import (
	"errors"
	"fmt"

	"github.com/ggprior/ggprior/examples/ggstats/analysis"
)

// errCaptureNotWired is returned by -capture while no live model is wired.
var errCaptureNotWired = errors.New("capture needs the charlm model: not wired yet")

// liveCapture is the live training run that -capture uses: nil until a model is
// wired. To wire one, set it from an init function in a file of this package,
// e.g. for the charlm reference model:
//
//	func init() { liveCapture = charlm.Capture }
//
// where charlm.Capture(kinds []string, steps int, sink analysis.Sink) error
// trains the model for steps steps and, at every step, calls
// sink.Observe(kind, name, values) with host copies of the requested tensors
// (activations after each layer's forward pass, gradients of each variable,
// weights), named by their scope. The command pools each tensor's values over
// the steps (analysis.Accumulator: a seeded reservoir sample of -sample values)
// and analyzes them as it does tensors read from files.
var liveCapture analysis.CaptureFunc

// captureItems runs the live capture for cfg and returns the pooled tensors as
// items, in the order first observed.
func captureItems(cfg config) ([]item, error) {
	if liveCapture == nil {
		return nil, errCaptureNotWired
	}
	acc := analysis.NewAccumulator(cfg.options())
	if err := liveCapture(cfg.capture, cfg.steps, acc); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	var items []item
	_ = acc.Each(func(kind, name string, total int, sample []float64) error {
		items = append(items, item{
			kind: kind, name: name, size: total, sampled: true,
			fetch: func([]int) ([]float64, error) { return sample, nil },
		})
		return nil
	})
	return items, nil
}
