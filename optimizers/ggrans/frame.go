package ggrans

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"slices"
	"sync"

	"github.com/ggprior/ggprior/optimizers/expgolomb"
)

const (
	// FrameVersion is the version of the frame format written by AppendFrame.
	FrameVersion = 1

	// FrameHeaderSize is the size in bytes of a frame header: the payload starts at this offset.
	FrameHeaderSize = 52

	// FrameOverhead is the size in bytes of the header and the checksum, the fixed part of a frame.
	FrameOverhead = FrameHeaderSize + crcSize

	// MaxCount is the largest element count of a frame (4 Gi values): split larger tensors.
	MaxCount = 1 << 32

	// stateBlockMin and stateBlockMax bound the bits of the final states in the side stream:
	// each state takes 5 bits of length and 31 to 62 bits of value.
	stateBlockMin = NumStates * (5 + ransLBits)
	stateBlockMax = NumStates * (5 + 62)

	// maxValuesPerWord bounds the values a frame of W rANS words can hold, W+NumStates words
	// counting the final states (see ParseFrameHeader): each value costs more than 0.00136 bits.
	maxValuesPerWord = 23600

	crcSize = 4

	magic0, magic1 = 'G', 'R'
)

// castagnoli is the CRC-32C table; hash/crc32 uses the SSE4.2/ARM64 CRC instructions for it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FrameHeader holds the fields of a frame header. A frame is a header of FrameHeaderSize bytes,
// the rANS words, the side bitstream and a CRC-32C (Castagnoli) of all the bytes before it; all
// integers are little-endian:
//
//	offset  size  field
//	0       2     magic "GR"
//	2       1     format version: 1
//	3       1     EscapeK, the Exp-Golomb order of the escape codes
//	4       8     Count, the number of values
//	12      4     Alpha, IEEE-754 float32 bits
//	16      4     Beta, float32 bits
//	20      4     Step, float32 bits
//	24      4     ModelChecksum, the CRC-32C of the model's quantized table (Model.Checksum)
//	28      8     Escapes, the number of escaped values
//	36      8     Words, the number of 32-bit rANS words
//	44      8     SideBits, the length of the side bitstream in bits
//	52      4W    the rANS words, each a little-endian uint32, in decoding order
//	52+4W   S     side bitstream, S = ceil(SideBits/8) bytes, most significant bit first: the
//	              escape codes (expgolomb.AppendEncode of order EscapeK), then for each state
//	              its bit length n - 32 in 5 bits and its n-1 bits below the leading one; zero
//	              padding
//	52+4W+S 4     CRC-32C of bytes [0, 52+4W+S)
//
// An empty tensor has no words and no side bits.
type FrameHeader struct {
	// Count is the number of encoded values.
	Count int

	// Alpha, Beta and Step are the model parameters, carried bit-exactly: the values represent
	// q*Step, drawn from a GG of scale Alpha and shape Beta.
	Alpha, Beta, Step float32

	// ModelChecksum is the checksum of the quantized probability table (Model.Checksum).
	ModelChecksum uint32

	// EscapeK is the Exp-Golomb order of the escape codes, in [0, expgolomb.MaxK].
	EscapeK int

	// Escapes is the number of escaped values.
	Escapes int

	// Words is the number of 32-bit words of the rANS stream.
	Words int64

	// SideBits is the length in bits of the side bitstream (escape codes and final states).
	SideBits int64
}

// FrameSize returns the total size in bytes of the frame described by h.
func (h FrameHeader) FrameSize() int {
	return FrameOverhead + int(4*h.Words) + int((h.SideBits+7)/8)
}

// wordPool holds the scratch buffers of the encoder's words.
var wordPool = sync.Pool{New: func() any { return new([]uint32) }}

// AppendFrame appends to dst a self-describing frame holding qs, coded with the rANS coder under
// the model of (alpha, beta, step) (see [ModelFor]), and returns the extended buffer. The values
// are typically q = round(x/step) of a tensor x whose fitted GG has scale alpha and shape beta;
// any int32 values are accepted (those beyond the model's alphabet are escaped), and the three
// parameters are stored bit-exactly. [DecodeFrame] reads the frame back.
//
// It returns dst unchanged and an error wrapping ErrParameter if alpha, beta or step is not
// positive and finite, or if len(qs) > MaxCount. An empty qs gives a frame of FrameOverhead
// bytes. Reusing dst (e.g. AppendFrame(buf[:0], ...)) avoids reallocating the output.
func AppendFrame(dst []byte, qs []int32, alpha, beta, step float32) ([]byte, error) {
	m, err := ModelFor(alpha, beta, step)
	if err != nil {
		return dst, err
	}
	if uint64(len(qs)) > MaxCount {
		return dst, fmt.Errorf("%w: %d values in a frame, more than MaxCount=%d", ErrParameter, len(qs), uint64(MaxCount))
	}
	h := FrameHeader{Count: len(qs), Alpha: alpha, Beta: beta, Step: step, ModelChecksum: m.checksum}

	wp := wordPool.Get().(*[]uint32)
	defer wordPool.Put(wp)
	x := [NumStates]uint64{ransL, ransL, ransL, ransL}
	var escs []int32
	*wp, escs = m.encodeSymbols(qs, &x, (*wp)[:0], nil)
	words := *wp
	slices.Reverse(escs)
	for i, q := range escs {
		escs[i] = escapeValue(q, m.k)
	}
	h.Escapes, h.EscapeK = len(escs), escapeOrder(escs)
	h.Words = int64(len(words))

	start := len(dst)
	escBits := expgolomb.BitLen(escs, h.EscapeK)
	stateBits := int64(0)
	if len(qs) > 0 {
		for _, s := range x {
			stateBits += int64(5 + bits.Len64(s) - 1)
		}
	}
	h.SideBits = escBits + stateBits
	// Room for the whole frame, and for expgolomb.AppendEncode's margin.
	dst = slices.Grow(dst, h.FrameSize()+32)
	dst = dst[:start+FrameHeaderSize]
	putHeader(dst[start:], h)
	for i := len(words) - 1; i >= 0; i-- {
		dst = binary.LittleEndian.AppendUint32(dst, words[i])
	}
	side := len(dst)
	dst = expgolomb.AppendEncode(dst, escs, h.EscapeK)
	if len(qs) > 0 {
		escEnd := len(dst)
		dst = dst[:side+int((h.SideBits+7)/8)]
		clear(dst[escEnd:])
		bw := bitWriter{buf: dst[side:], pos: uint64(escBits)}
		for _, s := range x {
			n := uint(bits.Len64(s))
			bw.write(uint64(n-32), 5)
			bw.write(s, n-1)
		}
	}
	crc := crc32.Checksum(dst[start:], castagnoli)
	return binary.LittleEndian.AppendUint32(dst, crc), nil
}

// putHeader writes h to p[:FrameHeaderSize].
func putHeader(p []byte, h FrameHeader) {
	p[0], p[1], p[2], p[3] = magic0, magic1, FrameVersion, byte(h.EscapeK)
	binary.LittleEndian.PutUint64(p[4:], uint64(h.Count))
	binary.LittleEndian.PutUint32(p[12:], math.Float32bits(h.Alpha))
	binary.LittleEndian.PutUint32(p[16:], math.Float32bits(h.Beta))
	binary.LittleEndian.PutUint32(p[20:], math.Float32bits(h.Step))
	binary.LittleEndian.PutUint32(p[24:], h.ModelChecksum)
	binary.LittleEndian.PutUint64(p[28:], uint64(h.Escapes))
	binary.LittleEndian.PutUint64(p[36:], uint64(h.Words))
	binary.LittleEndian.PutUint64(p[44:], uint64(h.SideBits))
}

// escapeValue maps an escaped value q (|q| > k >= 1) to the signed value coded in the side
// stream, chosen so that its mapped Exp-Golomb value is expgolomb.MapSigned(e) = 2(|q|-k-1) + s,
// with s = 1 for negative q: e = -(q-k-1) for q > 0, and e = -q-k for q < 0. It never overflows.
func escapeValue(q int32, k int) int32 {
	if q > 0 {
		return -(q - int32(k) - 1)
	}
	return int32(-int64(q) - int64(k))
}

// unescapeValue is the inverse of escapeValue: ok is false if e is the image of no int32.
func unescapeValue(e int32, k int) (int32, bool) {
	var q int64
	if e <= 0 {
		q = -int64(e) + int64(k) + 1
	} else {
		q = -int64(e) - int64(k)
	}
	return int32(q), q >= math.MinInt32 && q <= math.MaxInt32
}

// escapeOrder returns the Exp-Golomb order of the escape codes es: with u the mean of
// expgolomb.MapSigned(e), rounded down, the order floor(log2(u)) (0 if u < 1), at most
// expgolomb.MaxK. It is a function of the values so that frames are canonical, cheap to compute
// in a graph (see FrameBitsGraph), and within a few percent of expgolomb.BestK on GG tails.
func escapeOrder(es []int32) int {
	if len(es) == 0 {
		return 0
	}
	var sum uint64
	for _, e := range es {
		var carry uint64
		if sum, carry = bits.Add64(sum, expgolomb.MapSigned(e), 0); carry != 0 {
			sum = math.MaxUint64 // Only reachable near MaxCount escapes of the largest magnitudes.
		}
	}
	return min(max(0, bits.Len64(sum/uint64(len(es)))-1), expgolomb.MaxK)
}

// bitWriter ORs bits, most significant first, into buf (which is zero there) from bit pos.
type bitWriter struct {
	buf []byte
	pos uint64
}

// write writes the low n bits of v (n <= 64).
func (w *bitWriter) write(v uint64, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.buf[w.pos>>3] |= byte(v>>uint(i)&1) << (7 - w.pos&7)
		w.pos++
	}
}

// bitReader reads bits, most significant first, from the first end bits of buf, from bit pos.
type bitReader struct {
	buf      []byte
	pos, end uint64
}

// read reads n bits (n <= 64); ok is false if fewer are left.
func (r *bitReader) read(n uint) (v uint64, ok bool) {
	if r.end-r.pos < uint64(n) {
		return 0, false
	}
	for range n {
		v = v<<1 | uint64(r.buf[r.pos>>3]>>(7-r.pos&7)&1)
		r.pos++
	}
	return v, true
}

// ParseFrameHeader parses and checks the header at the start of payload, which holds at least
// the first FrameHeaderSize bytes of a frame. Use it to learn a frame's total size
// (FrameHeader.FrameSize) before receiving all of it, or to size buffers.
//
// It doesn't verify the checksum nor read the streams, but it validates the fields against each
// other: the magic, the version, the escape order, the parameters (positive and finite), and
// the lengths against the count, so that the count is bounded by the frame's size:
//
//   - Words <= Count (a value reads at most one word), and for a non-empty frame
//     Count <= 23600*(Words+4): every value costs more than 0.00136 bits, as no frequency
//     exceeds 2^ProbBits*(1-2^-10); an empty frame has no words nor side bits.
//   - Escapes <= Count, and the side bits hold the escape codes (each at least EscapeK+1 bits,
//     at most expgolomb.MaxCodeLen-EscapeK) and the final states (36 to 67 bits each).
//
// A valid frame may still declare up to 23600 values per word, about 24 KiB of values per byte:
// [DecodeFrame] allocates them only once the checksum has been verified and, past 8 values per
// payload bit, once a first pass has validated the whole stream. Check Count against what you
// are willing to allocate before calling DecodeFrame on untrusted input.
func ParseFrameHeader(payload []byte) (FrameHeader, error) {
	if len(payload) < FrameHeaderSize {
		return FrameHeader{}, fmt.Errorf("%w: %d bytes, a frame header takes %d", ErrTruncated, len(payload), FrameHeaderSize)
	}
	p := payload[:FrameHeaderSize]
	if p[0] != magic0 || p[1] != magic1 {
		return FrameHeader{}, fmt.Errorf("%w: bad frame magic %#02x%02x", ErrMalformed, p[0], p[1])
	}
	if p[2] != FrameVersion {
		return FrameHeader{}, fmt.Errorf("%w: unsupported frame version %d, want %d", ErrMalformed, p[2], FrameVersion)
	}
	h := FrameHeader{
		EscapeK:       int(p[3]),
		Alpha:         math.Float32frombits(binary.LittleEndian.Uint32(p[12:])),
		Beta:          math.Float32frombits(binary.LittleEndian.Uint32(p[16:])),
		Step:          math.Float32frombits(binary.LittleEndian.Uint32(p[20:])),
		ModelChecksum: binary.LittleEndian.Uint32(p[24:]),
	}
	if h.EscapeK > expgolomb.MaxK {
		return FrameHeader{}, fmt.Errorf("%w: escape order %d out of range [0, %d]", ErrMalformed, h.EscapeK, expgolomb.MaxK)
	}
	if err := checkParams(h.Alpha, h.Beta, h.Step); err != nil {
		return FrameHeader{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	count := binary.LittleEndian.Uint64(p[4:])
	escapes := binary.LittleEndian.Uint64(p[28:])
	words := binary.LittleEndian.Uint64(p[36:])
	sideBits := binary.LittleEndian.Uint64(p[44:])
	if count > MaxCount {
		return FrameHeader{}, fmt.Errorf("%w: %d values, more than MaxCount=%d", ErrMalformed, count, uint64(MaxCount))
	}
	if count == 0 {
		if escapes != 0 || words != 0 || sideBits != 0 || h.EscapeK != 0 {
			return FrameHeader{}, fmt.Errorf("%w: an empty frame with %d escapes (order %d), %d words and %d side bits",
				ErrMalformed, escapes, h.EscapeK, words, sideBits)
		}
		return h, nil
	}
	if words > count || count > maxValuesPerWord*(words+NumStates) {
		return FrameHeader{}, fmt.Errorf("%w: %d values can't take %d rANS words", ErrMalformed, count, words)
	}
	k := uint64(h.EscapeK)
	if escapes > count {
		return FrameHeader{}, fmt.Errorf("%w: %d escapes among %d values", ErrMalformed, escapes, count)
	}
	minBits := escapes*(k+1) + stateBlockMin
	maxBits := escapes*(expgolomb.MaxCodeLen-k) + stateBlockMax
	if sideBits < minBits || sideBits > maxBits {
		return FrameHeader{}, fmt.Errorf("%w: %d escapes and the states take between %d and %d bits, but the side stream has %d",
			ErrMalformed, escapes, minBits, maxBits, sideBits)
	}
	if escapes == 0 && h.EscapeK != 0 {
		return FrameHeader{}, fmt.Errorf("%w: escape order %d without escapes", ErrMalformed, h.EscapeK)
	}
	h.Count, h.Escapes, h.Words, h.SideBits = int(count), int(escapes), int64(words), int64(sideBits)
	return h, nil
}

// DecodeFrame decodes a frame written by [AppendFrame]: it appends the values to dst and returns
// the extended slice and the header, with the model parameters alpha, beta and step.
//
// payload must hold exactly one frame. A truncated or oversized payload, a checksum mismatch
// (any single flipped bit is caught), a malformed or inconsistent header, a table that differs
// from the encoder's, a rANS stream that ends early, has words left over or doesn't end in its
// initial states, an invalid escape code, a side stream whose length disagrees with the header,
// or non-zero padding bits are all reported as errors naming the problem and wrapping
// [ErrTruncated], [ErrChecksum], [ErrMalformed], [ErrInvalidCode] or [ErrModelMismatch]; on
// error dst is returned unchanged (its spare capacity possibly overwritten). DecodeFrame never
// panics. Accepted frames are canonical: AppendFrame with the decoded values and the header's
// parameters reproduces payload byte for byte.
//
// It allocates room for the header's count (see [ParseFrameHeader]) only once the checksum has
// been verified and, for a count above 8 values per payload bit plus 4096, once a first pass has
// decoded the whole stream into a small buffer.
func DecodeFrame(dst []int32, payload []byte) ([]int32, FrameHeader, error) {
	h, err := ParseFrameHeader(payload)
	if err != nil {
		return dst, FrameHeader{}, err
	}
	size := uint64(FrameOverhead) + 4*uint64(h.Words) + (uint64(h.SideBits)+7)/8
	if uint64(len(payload)) < size {
		return dst, FrameHeader{}, fmt.Errorf("%w: the header declares a frame of %d bytes, it has %d", ErrTruncated, size, len(payload))
	}
	if uint64(len(payload)) > size {
		return dst, FrameHeader{}, fmt.Errorf("%w: %d trailing bytes after a frame of %d bytes", ErrMalformed, uint64(len(payload))-size, size)
	}
	n := int(size)
	want := binary.LittleEndian.Uint32(payload[n-crcSize:])
	if got := crc32.Checksum(payload[:n-crcSize], castagnoli); got != want {
		return dst, FrameHeader{}, fmt.Errorf("%w: CRC-32C of the frame is %#08x, its trailer says %#08x", ErrChecksum, got, want)
	}
	m, err := ModelFor(h.Alpha, h.Beta, h.Step)
	if err != nil { // Not reached: ParseFrameHeader checked the parameters.
		return dst, FrameHeader{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if m.checksum != h.ModelChecksum {
		return dst, FrameHeader{}, fmt.Errorf("%w: the table built from beta=%g, step/alpha=%g has checksum %#08x, the frame says %#08x",
			ErrModelMismatch, m.beta, m.c, m.checksum, h.ModelChecksum)
	}
	if h.Count == 0 {
		return dst, h, nil
	}
	words := payload[FrameHeaderSize : FrameHeaderSize+4*h.Words]
	side := payload[FrameHeaderSize+4*h.Words : n-crcSize]
	escs, states, err := readSide(side, h)
	if err != nil {
		return dst, FrameHeader{}, err
	}
	if uint64(h.Count) > 8*8*(size-FrameOverhead)+4096 {
		if err := validate(m, h, words, states); err != nil {
			return dst, FrameHeader{}, err
		}
	}
	start := len(dst)
	dst = slices.Grow(dst, h.Count)[:start+h.Count]
	if err := decodeValues(m, h, dst[start:], words, states, escs); err != nil {
		return dst[:start], FrameHeader{}, err
	}
	return dst, h, nil
}

// readSide reads the side stream: the escape codes, mapped back to values by the caller, and
// the final states of the encoder (the decoder's initial states). It checks the escape order,
// the length and the padding.
func readSide(side []byte, h FrameHeader) (escs []int32, states [NumStates]uint64, err error) {
	escs, err = expgolomb.Decode(nil, side, h.Escapes, h.EscapeK)
	if err != nil {
		return nil, states, fmt.Errorf("%w: escape codes: %v", ErrInvalidCode, err)
	}
	if k := escapeOrder(escs); k != h.EscapeK {
		return nil, states, fmt.Errorf("%w: escape order %d, the escapes' is %d", ErrMalformed, h.EscapeK, k)
	}
	br := bitReader{buf: side, pos: uint64(expgolomb.BitLen(escs, h.EscapeK)), end: uint64(h.SideBits)}
	for j := range states {
		l, ok := br.read(5)
		if !ok {
			return nil, states, fmt.Errorf("%w: the side stream ends in the final states", ErrMalformed)
		}
		n := uint(l) + 32
		v, ok := br.read(n - 1)
		if !ok {
			return nil, states, fmt.Errorf("%w: the side stream ends in the final states", ErrMalformed)
		}
		states[j] = v | 1<<(n-1)
	}
	if br.pos != br.end {
		return nil, states, fmt.Errorf("%w: %d side stream bits after the final states", ErrMalformed, br.end-br.pos)
	}
	for p := br.end; p < 8*uint64(len(side)); p++ {
		if side[p>>3]>>(7-p&7)&1 != 0 {
			return nil, states, fmt.Errorf("%w: non-zero padding bits", ErrMalformed)
		}
	}
	return escs, states, nil
}

// validate decodes the whole rANS stream into a small buffer and checks it, before a large count
// is allocated.
func validate(m *Model, h FrameHeader, words []byte, states [NumStates]uint64) error {
	d := ransDecoder{m: m, x: states, src: words, buf: words}
	var buf [16 * chunk]int32
	escapes := 0
	for done := 0; done < h.Count; done += len(buf) {
		out := buf[:min(len(buf), h.Count-done)]
		if err := d.decode(out); err != nil {
			return err
		}
		for _, v := range out {
			if v == escMark {
				escapes++
			}
		}
	}
	return checkEnd(&d, h, escapes)
}

// checkEnd checks that a decoding ended with every word read, every state back at L, and the
// header's number of escapes.
func checkEnd(d *ransDecoder, h FrameHeader, escapes int) error {
	if d.off != len(d.src) {
		if d.off > len(d.src) {
			return fmt.Errorf("%w: the rANS stream ends early", ErrInvalidCode)
		}
		return fmt.Errorf("%w: %d rANS words left after the last value", ErrInvalidCode, (len(d.src)-d.off)/4)
	}
	for j, x := range d.x {
		if x != ransL {
			return fmt.Errorf("%w: rANS state %d ends at %#x, not at its initial %#x", ErrInvalidCode, j, x, ransL)
		}
	}
	if escapes != h.Escapes {
		return fmt.Errorf("%w: the rANS stream holds %d escapes, the header says %d", ErrMalformed, escapes, h.Escapes)
	}
	return nil
}

// decodeValues decodes the values into out (len(out) = h.Count), resolves the escapes and checks
// the end of the stream.
func decodeValues(m *Model, h FrameHeader, out []int32, words []byte, states [NumStates]uint64, escs []int32) error {
	d := ransDecoder{m: m, x: states, src: words, buf: words}
	if err := d.decode(out); err != nil {
		return err
	}
	escapes := 0
	if len(escs) > 0 {
		for i, v := range out {
			if v != escMark {
				continue
			}
			if escapes == len(escs) {
				return fmt.Errorf("%w: the rANS stream holds more than the %d escapes of the header", ErrMalformed, len(escs))
			}
			q, ok := unescapeValue(escs[escapes], m.k)
			if !ok {
				return fmt.Errorf("%w: escape %d (value %d) is outside the int32 range", ErrInvalidCode, escapes, i)
			}
			out[i] = q
			escapes++
		}
	} else if slices.Contains(out, escMark) {
		return fmt.Errorf("%w: the rANS stream holds escapes, the header none", ErrMalformed)
	}
	return checkEnd(&d, h, escapes)
}
