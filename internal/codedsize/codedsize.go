// Package codedsize measures how small a model's weights become once coded:
// each weight tensor is quantized to int8 with one symmetric scale per tensor,
// and the int8 values are Exp-Golomb coded with the order k that suits the
// tensor best, the same code (package optimizers/expgolomb) that GCT uses for
// gradients and ACT for activations.
//
// Weights shaped like a generalized Gaussian of small shape beta (peaky, heavy
// tailed) have most of their mass near zero relative to their largest value, so
// most int8 values are small and their codes short: the coded size in bits per
// weight falls with beta, below the 8 bits of plain int8 and far below the 32
// of fp32. That is the "smaller models" measurement: the coded size of the
// trained weights of a baseline run and of the GG-initialized and ACT runs.
//
// # Coding
//
// For a tensor w of N values (any shape, flattened in row-major order):
//
//	scale = float32(max|w| / 127)        (0 for an all-zero tensor)
//	q     = round(w / scale)             (in [-127, 127]; 0 where scale is 0)
//	k     = expgolomb.BestK(q)           (the order in [0, expgolomb.MaxK] with the fewest bits)
//	bits  = HeaderBits + expgolomb.BitLen(q, k)
//
// headerBits (40) stores what a decoder needs besides the codes: the scale as
// float32 (32 bits) and k in one byte (8 bits). The tensor's name, shape and
// element count are part of the model's architecture and are not counted, nor
// is the padding of the bitstream to a whole byte (at most 7 bits per tensor,
// but the byte sizes of a Report round each tensor up to whole bytes). The
// code lengths are expgolomb's own (BestK and BitLen), so Bits is exactly the
// length of expgolomb.AppendEncode's bitstream plus the header.
//
// Int8Bits (8N) and FP32Bits (32N) are the raw sizes of the same values as
// plain int8 and fp32, without header.
//
// # Which variables are weights
//
// A Report covers a model's weights only, not its optimizer state, counters or
// the training state that GCT and ACT keep in the Store. From a live Store
// (FromStore) those are the trainable variables. From a checkpoint (Checkpoint),
// which does not record trainability, they are the variables that
// gomlxckpt.Variable.IsWeight accepts (float, and neither optimizer state nor
// the training state of GCT and ACT, as examples/ggstats analyzes them).
package codedsize

import (
	"fmt"
	"math"

	"github.com/ggprior/ggprior/optimizers/expgolomb"
)

// headerBits is the size of the per-tensor header counted in Result.Bits: the
// quantization scale as a float32 (32 bits) and the Exp-Golomb order k in one
// byte (8 bits).
const headerBits = 32 + 8

// maxInt8 is the largest magnitude of the quantized values: symmetric int8
// quantization uses [-127, 127], so that 0 is exact and the range is symmetric.
const maxInt8 = 127

// Result is the coded size of one tensor.
type Result struct {
	// N is the number of values.
	N int `json:"n"`
	// Scale is the quantization step, float32(max|w|/127): value i is
	// reconstructed as Scale*q[i]. It is 0 for an all-zero tensor.
	Scale float32 `json:"scale"`
	// K is the Exp-Golomb order chosen by expgolomb.BestK.
	K int `json:"k"`
	// PayloadBits is the length of the Exp-Golomb bitstream of the quantized
	// values: expgolomb.BitLen(q, K), before padding to a whole byte.
	PayloadBits int64 `json:"payload_bits"`
	// Bits is the coded size: HeaderBits + PayloadBits.
	Bits int64 `json:"bits"`
	// BitsPerWeight is Bits / N.
	BitsPerWeight float64 `json:"bits_per_weight"`
	// Int8Bits is the raw int8 size, 8*N (no header).
	Int8Bits int64 `json:"int8_bits"`
	// FP32Bits is the raw fp32 size, 32*N (no header).
	FP32Bits int64 `json:"fp32_bits"`
	// ZeroFraction is the fraction of the quantized values that are 0.
	ZeroFraction float64 `json:"zero_fraction"`
	// RMSError is the root-mean-square quantization error, sqrt(mean((w - Scale*q)^2)),
	// in the units of the weights.
	RMSError float64 `json:"rms_error"`
}

// Bytes returns the coded size in whole bytes: the header and the bitstream
// padded to a byte boundary, ceil(Bits/8).
func (r Result) Bytes() int64 { return (r.Bits + 7) / 8 }

// quantize returns the symmetric int8 quantization of values with one scale,
// as int32 (the type expgolomb codes): scale = float32(max|w|/127) and
// q[i] = round(values[i]/scale) (half away from zero), clamped to [-127, 127].
// An all-zero input gives scale 0 and all q zero. It returns an error for an
// empty input and for NaN or infinite values.
func quantize(values []float32) (q []int32, scale float32, err error) {
	if err := checkValues(values); err != nil {
		return nil, 0, fmt.Errorf("codedsize: %w", err)
	}
	var maxAbs float64
	for _, w := range values {
		maxAbs = max(maxAbs, math.Abs(float64(w)))
	}
	q = make([]int32, len(values))
	if maxAbs == 0 {
		return q, 0, nil
	}
	scale = float32(maxAbs / maxInt8)
	if scale == 0 { // max|w| below float32's smallest step times 127: code everything as 0.
		return q, 0, nil
	}
	inv := 1 / float64(scale)
	for i, w := range values {
		v := math.Round(float64(w) * inv)
		q[i] = int32(max(-maxInt8, min(maxInt8, v)))
	}
	return q, scale, nil
}

// checkValues returns an error for an empty tensor or a non-finite value.
func checkValues(values []float32) error {
	if len(values) == 0 {
		return fmt.Errorf("empty tensor (no values to code)")
	}
	for i, w := range values {
		if x := float64(w); math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("value %d of %d is %g: weights must be finite", i, len(values), x)
		}
	}
	return nil
}

// tensor returns the coded size of one weight tensor (any shape, flattened):
// its int8 quantization (Quantize) coded with Exp-Golomb at the best order (see
// the package documentation). It returns an error for an empty input and for
// NaN or infinite values.
func tensor(values []float32) (Result, error) {
	q, scale, err := quantize(values)
	if err != nil {
		return Result{}, err
	}
	k, payload := expgolomb.BestK(q)
	n := len(values)
	r := Result{
		N:           n,
		Scale:       scale,
		K:           k,
		PayloadBits: payload,
		Bits:        headerBits + payload,
		Int8Bits:    8 * int64(n),
		FP32Bits:    32 * int64(n),
	}
	r.BitsPerWeight = float64(r.Bits) / float64(n)
	var zeros int
	var sq float64
	for i, w := range values {
		if q[i] == 0 {
			zeros++
		}
		d := float64(w) - float64(scale)*float64(q[i])
		sq += d * d
	}
	r.ZeroFraction = float64(zeros) / float64(n)
	r.RMSError = math.Sqrt(sq / float64(n))
	return r, nil
}
