// Package optimizers holds GCT, the gradient-constrained optimizer wrapper: it
// wraps any GoMLX optimizer and turns every gradient into an integer-coded,
// generalized-Gaussian-quantized gradient that costs few bits to send between
// data-parallel workers, plus the baseline gradient compressors it is compared
// against (fp32, bf16, int8, Top-k, sign, PowerSGD).
package optimizers
