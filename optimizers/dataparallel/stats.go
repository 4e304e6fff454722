package dataparallel

import (
	"fmt"
	"time"
)

// StepStats describes one data-parallel step of one worker.
type StepStats struct {
	// Step is the step number (1 for the first step), the same on every rank.
	Step int64

	// Loss is this worker's loss on its shard; MeanLoss the mean over all
	// workers of their losses as the payloads carry them (float32), the same
	// on every rank. With equal shard sizes it is the loss of the whole batch.
	Loss, MeanLoss float64

	// GradNorm is the L2 norm of the averaged gradient applied by every worker.
	GradNorm float64

	// BytesSent is the size of this worker's payload: the header
	// (PayloadHeaderSize) plus every variable's section (Variables[i].WireBytes).
	// It is what this worker contributes to the all-gather; every other rank
	// receives it. BytesReceived is the sum of the other ranks' payloads.
	// (The MPI communicator also exchanges an 8-byte size per call, counted
	// by its Traffic, not here.)
	BytesSent, BytesReceived int

	// CodedBits is the sum over variables of the size the compressor claims
	// (Compressed.Bits): the exact Exp-Golomb or int8 size plus 32 bits per
	// step, 32 or 16 bits per element for fp32 and bf16, 1 per element plus a
	// 32-bit scale for sign, (32 + ceil(log2 n)) per kept value for Top-k,
	// 32 (rows + cols) r for PowerSGD's factors. BytesSent exceeds
	// CodedBits/8 (rounded up to a byte per variable) only by the framing:
	// the payload header and, per section, its CRC-32C (plus the Exp-Golomb
	// frame's header, the sparse section's count; see the package
	// documentation).
	CodedBits float64

	// Variables has the per-variable details, in the order of the payload's sections.
	Variables []VariableStats

	// Outputs are the values of the scalars of TrainerConfig.Outputs on this
	// worker's shard, in order (nil without it).
	Outputs []float64

	// Time split of the step: Compute is the first execution (forward,
	// backward, compression), Encode the payload's encoding, Exchange the
	// all-gather, Decode the peers' payloads' decoding, Update the second
	// execution (averaging and the inner optimizer's update).
	Compute, Encode, Exchange, Decode, Update time.Duration
}

// VariableStats describes one variable's section of a payload.
type VariableStats struct {
	// Path is the variable's path in the store.
	Path string
	// Kind is how its gradient travelled this step.
	Kind Kind
	// Size is its number of elements.
	Size int
	// WireBytes is the size of its section in this worker's payload.
	WireBytes int
	// CodedBits is the compressor's claimed size (Compressed.Bits).
	CodedBits float64
}

// CodedBytes returns CodedBits/8.
func (s StepStats) CodedBytes() float64 { return s.CodedBits / 8 }

// Total returns the sum of the time split.
func (s StepStats) Total() time.Duration {
	return s.Compute + s.Encode + s.Exchange + s.Decode + s.Update
}

// String returns a one-line summary.
func (s StepStats) String() string {
	return fmt.Sprintf("step %d: loss=%.6g mean_loss=%.6g grad_norm=%.4g sent=%dB coded=%.0fB "+
		"compute=%s encode=%s exchange=%s decode=%s update=%s",
		s.Step, s.Loss, s.MeanLoss, s.GradNorm, s.BytesSent, s.CodedBytes(),
		s.Compute, s.Encode, s.Exchange, s.Decode, s.Update)
}
