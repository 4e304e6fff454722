// Package tensorkind names the kinds of tensors in the training of a model
// (weights, activations, gradients): the kinds the GG evidence tool
// (internal/distfit) reports on and the reference model's Capturer
// (internal/charlm) sends it. The GG claim is made for each, with different
// typical shapes (weights around 1-1.5, activations lower, gradients lower
// still).
package tensorkind

// The kinds of tensors.
const (
	// Weights are the values of the trainable variables (weights,
	// embeddings, biases, normalization parameters).
	Weights = "weights"
	// Activations are the outputs of a layer in a forward pass.
	Activations = "activations"
	// Gradients are the gradients of the loss with respect to the trainable variables.
	Gradients = "gradients"
)

// All lists the kinds, in the order reports and summaries use and a capture sends them.
var All = []string{Weights, Activations, Gradients}
