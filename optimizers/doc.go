// Package optimizers holds GCT, the gradient-constrained optimizer wrapper: it
// wraps any GoMLX optimizer and turns every gradient into an integer-coded,
// generalized-Gaussian-quantized gradient that costs few bits to send between
// data-parallel workers, plus the baseline gradient compressors it is compared
// against (fp32, bf16, int8, Top-k, sign, PowerSGD).
//
// GCT's GG quantizer codes its integers with one of two entropy coders (Coder,
// the hyperparameter ParamCoder): Exp-Golomb codes (package expgolomb, the
// default), which take at least 1 bit per element, or the rANS coder of
// package ggrans, whose probability model is the fitted GG itself and which
// reaches any rate above 0 bits per element (GGQuantizerRANS, "gct-rans:B").
package optimizers
