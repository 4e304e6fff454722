// Package expgolomb is the wire codec for integer-quantized gradients and
// activations: bit-exact signed Exp-Golomb codes for int32 slices, a zero-run
// mode for sparse data, a checksummed frame around either for the network,
// and in-graph code-length counts that agree exactly with the host's.
//
// A value q is mapped to u = 2|q|-1 for q > 0 and 2|q| for q <= 0
// ([MapSigned]), and u is written as its Exp-Golomb code of order k, 0 <= k
// <= [MaxK] ([CodeLen] bits; for k = 0 a zero takes 1 bit, ±1 take 3), most
// significant bit first, one code after the other ([AppendEncode], [Decode];
// [BestK] picks the cheapest order). The zero-run mode writes, for each
// nonzero value, the number of zeros before it and then the value, so zeros
// cost no bits of their own ([AppendEncodeRuns], [DecodeRuns], [BestRunK]).
//
// A frame ([AppendFrame], [AppendRunFrame], [DecodeFrame]) wraps a stream in
// a self-describing header and a CRC-32C checksum; see [FrameHeader] for its
// layout. Decoding never panics and never reads out of range: every error it
// reports wraps [ErrTruncated], [ErrChecksum], [ErrMalformed] or
// [ErrInvalidCode], and an accepted frame is canonical (re-encoding its values
// gives back its bytes).
//
// [CodeLenGraph], [BitLenGraph], [RunBitLenGraph] and [BestRunBitLenGraph]
// count code lengths inside a GoMLX graph, in exact integer arithmetic, as
// [CodeLen], [BitLen], [RunBitLen] and [BestRunK] do on the host.
package expgolomb
