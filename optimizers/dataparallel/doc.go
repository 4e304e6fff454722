// Package dataparallel runs a data-parallel training step: each worker computes
// gradients on its shard, compresses them, exchanges the coded payloads through a
// Communicator (in-process, or MPI under the "mpi" build tag), and applies the
// averaged update identically on every worker.
//
// # The step
//
// Each of the W workers (ranks) runs the same program with its own model.Store
// and calls Trainer.Step with its shard of the batch, in lockstep with the
// others. GoMLX graphs can't call out to the host mid-execution, so a step is
// two executions around a host-side exchange:
//
//  1. compute: forward and backward on the shard, then GCT's compression
//     (optimizers.Wrapper.CompressGradients: rate constraint, error feedback,
//     quantization). The graph outputs each trainable variable's wire form:
//     the integers and the step for Exp-Golomb and int8 codings (and the GG
//     model's alpha and beta for the rANS coder, ggrans), the kept
//     elements' mask and values for Top-k, the signs and the scale for sign,
//     the factors P and Q for PowerSGD, or the decoded gradient for dense
//     codings (fp32, bf16).
//  2. exchange: the host encodes all variables into one payload (Exp-Golomb
//     frames from the expgolomb package, rANS frames from the ggrans
//     package, raw int8 bytes, bit-packed indices
//     and values, bit-packed signs, the factors, or raw floats), all ranks
//     all-gather their payloads, and each checks and decodes its peers'
//     payloads straight into tensors (sparse and sign sections into the dense
//     gradient). Corruption (any CRC-32C mismatch, a malformed header, sizes
//     or indices that disagree with the model) is an error naming the sender
//     and the variable, and nothing of that step is applied.
//  3. update: a second graph averages the W gradients, sum_w Ints_w*Step_w / W
//     (or the dense ones, or sum_w P_w Q_w^T / W for PowerSGD, computed by
//     optimizers.LowRankDecode as the sender computed its own), and applies
//     the inner optimizer (the one GCT wraps) with UpdateGraphWithGradients.
//
// Every rank feeds the update graph the same tensors in the same order (its own
// wire tensors are bit-identical to what the peers decode from its payload, and
// the Decoded that GCT keeps for its error feedback is exactly what they
// rebuild), so the weights and the inner optimizer's state stay bit-identical
// on every rank:
// WeightsHash, printed as weights_hash=<hex> at the end of a run, checks it, and
// TrainerConfig.VerifyEvery checks it during training. GCT's error-feedback
// residuals are local to each worker, as they should be. Rank 0's initial
// weights are broadcast before the first step. Non-trainable state that the
// forward pass updates (e.g. batch-normalization averages) stays local.
//
// # Wire format
//
// One payload per worker and step: a header (PayloadHeaderSize(n) = 28 + 16n
// bytes for n variables: magic, version, step number, the worker's loss, a
// table of the n sections' kinds, dtypes and lengths, and a CRC-32C), then the
// n sections (see AppendPayload):
//
//	Exp-Golomb   one expgolomb frame: expgolomb.FrameOverhead (28) + ceil(bits/8) bytes
//	ggrans       one ggrans frame: ggrans.FrameOverhead (56) bytes of header
//	             (count, float32 alpha, beta, step) and CRC-32C, the rANS
//	             words, the escapes and final states
//	int8         n + 8 bytes (the float32 step, the values, a CRC-32C)
//	dense        n*4 + 4 bytes (float32 values and a CRC-32C); bf16: n*2 + 4
//	sparse       Top-k: the count c (4 bytes), c indices of ceil(log2 n) bits
//	             packed, c float32 values, a CRC-32C: 8 + ceil(c*b/8) + 4c bytes
//	sign         the float32 scale, n bits packed, a CRC-32C: 8 + ceil(n/8) bytes
//	lowrank      PowerSGD: P [rows, r] and Q [cols, r] (float32), a CRC-32C:
//	             4 (rows+cols) r + 4 bytes
//
// # Byte accounting
//
// StepStats.BytesSent is the exact size of the worker's payload (header plus
// sections, each section's size in StepStats.Variables); the communicators'
// Traffic counts the same bytes (plus, for MPI, the 8-byte size announcement of
// each all-gather, and the one-off weights broadcast). StepStats.CodedBits is
// what the compressors claim (optimizers.Compressed.Bits). For Exp-Golomb, a
// variable's section is its coded size minus the 4-byte step, plus the 28-byte
// frame (the frame carries the step): per variable the wire carries 24 bytes
// more than Bits/8 (rounded up to a byte), plus the payload header. For
// ggrans, the section is the frame and Bits counts all of it (header and
// CRC-32C included), but the rANS stream as its information content under
// the model (ggrans.FrameBitsGraph): the section is Bits/8 bytes within a
// few bytes (at most 0.5% for tensors of 4096 values or more). The
// other sections carry, besides Bits/8 rounded up to a byte, only their
// framing: the 4-byte CRC-32C for int8, dense (fp32: 32 bits per element;
// bf16: 16, whose values are exactly bfloat16), sign (n + 32 bits) and lowrank
// (32 (rows+cols) r bits); the CRC-32C and the 4-byte count for sparse ((32 +
// ceil(log2 n)) bits per kept value): SparseSectionOverhead and the like.
// PowerSGD sends vectors, and matrices whose factors would not be smaller,
// dense (and claims 32 bits per element for them), Top-k the tensors where it
// keeps every element. In GCT's warmup steps, which send the uncompressed
// gradient and claim 32 bits per element, a variable travels dense, unless
// its wire form happens to decode exactly to the gradient (e.g. the sign of
// a one-element tensor): then it travels in that (smaller) form.
//
// These are logical bytes: what a worker contributes, each contribution
// reaching every other rank. On the links, a ring all-gather sends each
// contribution over W-1 hops, so the time on links of B bit/s is about
// (W-1) * BytesSent * 8 / B seconds (with equal payloads).
//
// # Communicators and failures
//
// NewInProcess creates W communicators that share memory, one per goroutine:
// for tests and for simulating W workers on one machine. NewMPI (build tag
// "mpi"; OpenMPI through cgo) gives one rank per process of an mpirun job:
// AllGather is MPI_Allgather of the sizes, then MPI_Allgatherv of the bytes.
//
// Every collective has a timeout. In-process, a rank that stops calling makes
// the others' AllGather fail with ErrTimeout, naming the missing ranks, after
// the timeout; a rank that closes its communicator makes the others fail at
// once with ErrClosed. Over MPI, when a rank's process dies (exits or is
// killed), mpirun ends the whole job within about a second: the survivors'
// MPI library prints that a peer disconnected, mpirun prints which rank
// exited and how, and every process is terminated. When a rank hangs (alive,
// but no longer calling), the others' collectives time out: AllGather
// returns ErrTimeout, and since MPI can't cancel a stuck collective, the
// communicator aborts the job (MPI_Abort, after printing the cause) when the
// program calls Close, or by itself 5 s after the timeout. Either way no rank
// hangs. After any error a Trainer refuses further steps: the ranks may no
// longer agree.
//
// # Benchmark
//
// BenchmarkExchange and the exchangebench command (cmd/exchangebench, which
// also runs over MPI) measure the host side of the exchange (encode,
// all-gather, decode) for GCT against raw fp32 on model-sized gradients.
package dataparallel
