// Package layers holds ACT, the progressive activation-constraint layer: a GoMLX
// layer that makes activations sparse and low-rate during training (a rate term
// derived from a generalized Gaussian fit, plus a progressively rising
// magnitude threshold), so the trained network stores, sends and multiplies less.
package layers
