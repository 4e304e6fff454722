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
// # Raw streams and frames
//
// [AppendEncode] and [Decode] handle bare bitstreams: the reader must know the
// element count and k. [AppendFrame] and [DecodeFrame] wrap a bitstream in a
// self-describing, checksummed frame, which is what data-parallel workers
// exchange. All integers of the frame are little-endian:
//
//	offset  size  field
//	0       2     magic "EG"
//	2       1     format version (1)
//	3       1     k
//	4       8     element count
//	12      4     quantization step delta, IEEE-754 float32 bits (bit-exact)
//	16      8     payload length in bits
//	24      B     payload: the bitstream, B = ceil(bits / 8) bytes
//	24+B    4     CRC-32C (Castagnoli) of bytes [0, 24+B)
//
// Decoding never panics and never reads out of range: truncated input,
// checksum mismatches, malformed headers, impossible codes and fields that
// disagree with the payload are all reported as errors that wrap one of
// [ErrTruncated], [ErrChecksum], [ErrMalformed] or [ErrInvalidCode]. Any single
// flipped bit of a frame is detected, by the checksum or earlier by the header
// checks. An accepted frame is canonical: re-encoding its values with
// its k and delta gives back the same bytes. The element count a header may
// declare is bounded by the payload size (every code takes at least k+1 bits),
// so a corrupt header can't trigger a huge allocation.
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
// # In-graph counting
//
// [CodeLenGraph] and [BitLenGraph] compute, inside a GoMLX computation graph,
// the per-element code lengths and the total payload size. They use exact
// integer arithmetic (count-leading-zeros on int64, no floating-point
// logarithms) and agree exactly with [CodeLen] and [BitLen].
package expgolomb
