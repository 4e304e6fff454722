package main

import (
	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/distfit"
	"github.com/ggprior/ggprior/internal/fitbetas"
)

// Capture points of the charlm reference model (see charlm.Capturer):
//
//   - weights: every trainable variable (weight matrices, embeddings, biases,
//     normalization gains and offsets), named by its path, e.g.
//     "/block_000/attn/qkv/weights";
//   - activations: every site of the model's activation hook (the input of
//     each block's attention and MLP, after their LayerNorm, "attn/attn_in"
//     and "mlp/mlp_in", and the MLP hidden activation after GELU,
//     "mlp/mlp_hidden"), e.g. "/block_000/mlp/mlp_hidden", from a forward
//     pass on a batch of the capture's own data stream;
//   - gradients: the gradient of the mean cross-entropy of that batch with
//     respect to every trainable variable, before clipping, named by the
//     variable's path.
//
// They are taken with the weights after the last step (and after every -every
// steps); the training itself is the same as without capture.
func init() { liveCapture = captureCharlm }

// charlmModel returns the architecture -capture trains (tests make it smaller).
var charlmModel = charlm.DefaultConfig

// charlmData is the text -capture trains on ("": charlm's default corpus).
var charlmData = ""

// captureCharlm is the distfit.CaptureFunc of the charlm reference model.
func captureCharlm(opts distfit.CaptureOptions, sink distfit.Sink) (string, error) {
	cfg := charlm.CaptureConfig{Kinds: opts.Kinds, Every: opts.Every, FromCheckpoint: opts.Checkpoint, Progress: opts.Progress}
	if opts.Checkpoint == "" || opts.Arch != "" { // Otherwise the checkpoint's.
		cfg.Model = charlmModel()
		if opts.Arch != "" {
			cfg.Model.Arch = opts.Arch
		}
	}
	cfg.Train = charlm.DefaultTrainConfig()
	cfg.Train.Steps, cfg.Train.Seed, cfg.Train.Data = opts.Steps, opts.Seed, charlmData
	if opts.Init != "" {
		cfg.Train.Init = opts.Init
	}
	beta, err := fitbetas.Resolve(opts.Beta)
	if err != nil {
		return "", err
	}
	cfg.Train.Beta = beta
	summary, err := charlm.Capture(cfg, sink)
	if err != nil {
		return "", err
	}
	return "live capture of charlm " + summary.String(), nil
}
