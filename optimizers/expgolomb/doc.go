// Package expgolomb is the wire codec for integer-quantized gradients and
// activations: a bit-exact signed Exp-Golomb encoder and decoder for int32
// slices, a checksummed frame around it for the network, and in-graph code
// length counters that agree exactly with the host-side counts.
//
// # Code
//
// A signed integer q is first mapped to an unsigned u (see [MapSigned]):
//
//	u = 2|q| - 1  for q > 0
//	u = 2|q|      for q <= 0
//
// so 0, 1, -1, 2, -2, ... become 0, 1, 2, 3, 4, ...; math.MinInt32 maps to
// 2^32, which is why mapped values are uint64.
//
// The Exp-Golomb code of order k (0 <= k <= [MaxK]) of u writes v = u + 2^k in
// binary with N = floor(log2(v)) + 1 bits, preceded by N - k - 1 zero bits, so
// a code is 2N - k - 1 = 2*floor(log2(v)) - k + 1 bits long (see [CodeLen]).
// For k = 0 a zero costs 1 bit ("1"), ±1 cost 3 bits ("010" and "011"), ±2 cost
// 5 bits, and so on; a larger k makes small values more expensive and large
// values cheaper ([BestK] picks the cheapest k for a slice). Codes are
// written most significant bit first, one after the other with no alignment,
// and the last byte of a stream is padded with zero bits. The longest code,
// math.MinInt32 with k = 0, is 65 bits long.
//
// # Zero-run mode
//
// Per-value codes spend at least one bit per zero, so they can't shrink sparse data, such as
// activations that are 95% exact zeros after int8 quantization, below a bit per value. The
// zero-run code spends bits only on the nonzero values. For each nonzero q, in order, it writes
// the order-kr Exp-Golomb code of the number r of zeros since the previous nonzero value (or
// the start), then the order-kv code of MapSigned(q)-1 (q != 0, so ±1 cost kv+1 bits). Last,
// it always writes the order-kr code of the number of trailing zeros, which may be 0. So the
// stream is (run, value)* then a final run, an empty or all-zero slice is a single run code,
// and a decoder that knows the element count n knows where it ends: it reads a run (which must
// not pass n), stops if it reached n, and otherwise reads a value. Runs and values don't
// interact, so [BestRunK] picks kr and kv independently, each exactly. A stream of n values
// takes at least the code of a single run of n zeros (2*floor(log2(n + 2^kr)) - kr + 1 bits):
// splitting a run with a value never saves bits. [AppendEncodeRuns], [DecodeRuns] and
// [RunBitLen] are the raw-stream functions; on int8-quantized Laplacian data with 95% zeros
// (set by a threshold), the zero-run code takes about 0.67 bits per value, against 1.53 for the
// best per-value code.
//
// # Raw streams and frames
//
// [AppendEncode] and [Decode] handle bare bitstreams: the reader must know the element count and
// k. [AppendFrame] and [DecodeFrame] wrap a bitstream in a self-describing, checksummed frame,
// which is what data-parallel workers exchange; [AppendRunFrame] writes the same frame around a
// zero-run stream, with format version 2 (version 1, which AppendFrame still writes, is
// unchanged), and DecodeFrame reads both. All integers of the frame are little-endian:
//
//	offset  size  version 1                 version 2 (zero-run)
//	0       2     magic "EG"                magic "EG"
//	2       1     format version: 1         format version: 2
//	3       1     k                         kr, the order of the run codes
//	4       8     element count             element count (7 bytes, at offsets 4 to 10)
//	11      -     (top byte of the count)   kv, the order of the value codes (1 byte)
//	12      4     quantization step delta, IEEE-754 float32 bits (bit-exact)
//	16      8     payload length in bits
//	24      B     payload: the bitstream, B = ceil(bits / 8) bytes
//	24+B    4     CRC-32C (Castagnoli) of bytes [0, 24+B)
//
// Both headers are [FrameHeaderSize] = 24 bytes long, so a receiver can always read 24 bytes and
// call [ParseFrameHeader] to learn the frame's size; [FrameHeader] says which mode (Runs) and
// orders (K, KV) a frame uses.
//
// Decoding never panics and never reads out of range: truncated input,
// checksum mismatches, malformed headers, impossible codes and fields that
// disagree with the payload are all reported as errors that wrap one of
// [ErrTruncated], [ErrChecksum], [ErrMalformed] or [ErrInvalidCode]. Any single
// flipped bit of a frame is detected, by the checksum or earlier by the header
// checks. An accepted frame is canonical: re-encoding its values with
// its orders and delta gives back the same bytes. In version 1 the element count a header may
// declare is bounded by the payload size (every code takes at least k+1 bits). In version 2
// zeros take so few bits that a frame of a few bytes may declare billions of values: the count
// is capped at [MaxRunCount] (2^32), must be consistent with the payload length (which is at
// least the code of one run of count zeros), and is only allocated after the checksum was
// verified and, when it exceeds 8 values per payload bit, after a first pass has validated the
// whole stream; a corrupt frame can't trigger a huge allocation, but a valid one can
// legitimately decode to 16 GiB, so check [FrameHeader.Count] before decoding untrusted frames.
//
// # Speed
//
// The encoder gathers codes in a 64-bit accumulator and stores whole 64-bit
// words. For k <= 3, pairs of small values (both in [-16, 16)) are coded with
// a single table look-up; other values use a per-k table or a few integer
// operations. The decoder reads 64-bit windows: for k <= 3 a table indexed by
// the next 10 bits decodes up to 4 codes per look-up, otherwise one
// count-leading-zeros instruction finds each code's zero prefix. Neither
// allocates per value, and on quantized gradients at about 2 bits per value
// both process several hundred million values per second on one core (see the
// package benchmarks). The tables (about 160 KiB) are built on first use.
//
// In zero-run mode most of the time goes to skipping zeros, 8 values at a time; a run and a
// value are usually written with a single store to the accumulator, and read from one 64-bit
// window with two count-leading-zeros instructions. On sparse int8 data with 95% zeros, the
// encoder processes about 450 and the decoder about 650 million values per second on one
// (shared) core, faster than the per-value codes on the same data (about 350 and 400); with 99%
// zeros, over 1 and 2 billion.
//
// # In-graph counting
//
// [CodeLenGraph] and [BitLenGraph] compute, inside a GoMLX computation graph,
// the per-element code lengths and the total payload size. They use exact
// integer arithmetic (count-leading-zeros on int64, no floating-point
// logarithms) and agree exactly with [CodeLen] and [BitLen]. [RunBitLenGraph] and
// [BestRunBitLenGraph] do the same for the zero-run mode, agreeing exactly with [RunBitLen] and
// (for orders in their range) [BestRunK]: the run lengths come from a prefix maximum of the
// nonzero positions, computed with shifts and element-wise maxima in log2(n) steps, which the
// pure Go backend runs too.
package expgolomb
