// Package ggrans is an entropy coder for quantized gradients whose probability model is the
// generalized Gaussian (GG): a rANS (range asymmetric numeral systems) coder of int32 slices,
// in a checksummed frame, with the rate functions that pick a quantization step for a target
// bit rate and an in-graph count of the coded size. Unlike Exp-Golomb codes
// ([github.com/ggprior/ggprior/optimizers/expgolomb]), which take at least 1 bit per value
// (a zero costs 1 bit), it codes close to the values' entropy, well below 1 bit per value.
//
// # The model
//
// The values are q = round(x/step) of a tensor x whose fitted GG has scale alpha and shape beta.
// The probability of q is the GG(alpha=1, beta) mass of its cell [(q-1/2)c, (q+1/2)c], with
// c = step/alpha, computed in float64 from ggx.Dist's survival function. The alphabet holds
// the values of [-K, K], K being the largest |q| <= [MaxMagnitude] whose cell mass reaches
// 2^-16, plus an escape symbol for the others, whose excess magnitude is coded in a side stream
// with Exp-Golomb codes ([expgolomb.AppendEncode], of an order set by their mean). The masses
// are quantized to frequencies summing to 2^[ProbBits] = 65536 (see [Model]); the rounding costs
// less than 0.03% over the model's ideal length at every rate from 0.1 to 5 bits per value. The
// table is a function of the three float32 parameters the frame carries bit-exactly, built the
// same way by the encoder and the decoder (cached, 30 to 90 µs to build), and the frame also
// carries its checksum: a decoder that builds a different table (a float64 math library that
// rounds differently) reports [ErrModelMismatch] instead of wrong values.
//
// # The coder
//
// Four interleaved rANS states of 64 bits, renormalized 32 bits at a time (ryg's rans64
// design): the encoder divides by reciprocal multiplication, the decoder looks the symbol up in
// a table of the 65536 slots; the renormalizations are branch-free and the inner loops free of
// bounds checks. The final states are stored bit-exactly (5 bits of length, then their bits),
// so a frame is its values' information content plus about 18 bytes, plus the 56 bytes of
// header and checksum ([FrameOverhead]). See [FrameHeader] for the layout.
// [DecodeFrame] checks everything: the checksum, the header's fields against each other, the
// table's checksum, the rANS stream ending exactly in its initial states with every word read,
// the escapes and the padding. It never panics, bounds the count by the frame's size before
// allocating (see [ParseFrameHeader]), and accepted frames are canonical.
//
// # Size and speed
//
// Measured on 2^20 GG(beta=0.9) values quantized at the steps [StepForBits] gives, both codecs
// in the same benchmark runs (bench_test.go, one core of a 2-core AMD EPYC shared with a
// training job, load average 2.9 to 4.5; the ranges are over three runs):
//
//	target rate (bits/value)          0.5       1         1.5       2         3
//	ggrans frame (bits/value)         0.502     1.001     1.501     2.002     3.002
//	expgolomb frame, best k           1.167     1.430     1.779     2.209     3.280
//	ggrans encode (Mvalues/s)         440-500   440-520   430-490   260-500   300-500
//	expgolomb encode                  410-530   500-540   500-530   340-500   290-480
//	ggrans decode                     320-460   280-420   260-390   260-370   220-340
//	expgolomb decode                  1280-1430 1140-1390 1340-1380 1140-1300 770-850
//
// On 2^18 GG samples of shapes 0.5 to 2 at 0.3 to 3 bits per value, the frames are the values'
// empirical entropy within 0.03%, plus the fixed part of about 600 bits (TestCompression); the
// in-graph count is within 4 bits of the frames' size (TestFrameBitsGraph). The gain over
// Exp-Golomb is 57% of the size at 0.5 bits, 30% at 1 bit, 16% at 1.5, 9% at 2, 8% at 3. Encoding runs at Exp-Golomb's
// speed; decoding is 2.5 to 4.5 times slower than Exp-Golomb's table decoder, above 200 million
// values per second. A frame with new parameters also builds its table, 30 to 90 µs.
//
// # Rates and graphs
//
// [ExpectedBits] is the expected coded size per value under the model, for a GG of shape beta
// quantized at step c*alpha; [StepForBits] inverts it, for any rate from 0.0015 to 35 bits per
// value, and [StepTable] tabulates log(c) over log(beta) as a ggx.Table for use in a graph
// (like the Exp-Golomb rate table of package optimizers). [FrameBitsGraph] computes inside a
// GoMLX graph the size of the frame [AppendFrame] writes, within a few bits: the table is
// rebuilt in float32 in the graph (Gauss-Legendre quadrature of the cells, a series for the
// central cell), the rANS stream counted as its information content.
package ggrans
