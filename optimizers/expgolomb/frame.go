package expgolomb

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
)

const (
	// FrameVersion is the version of the frame format written by AppendFrame.
	FrameVersion = 1

	// RunFrameVersion is the version of the zero-run frames written by AppendRunFrame.
	RunFrameVersion = 2

	// MaxRunCount is the largest element count of a zero-run frame (4 Gi values, 16 GiB once
	// decoded): split larger tensors into several frames. Zeros take so few bits in zero-run mode
	// that a frame's size doesn't bound its count, so this cap does (see ParseFrameHeader).
	MaxRunCount = 1 << 32

	// FrameHeaderSize is the size in bytes of a frame header: the payload starts at this offset.
	FrameHeaderSize = 24

	// FrameOverhead is the size in bytes of a frame with an empty payload: header plus checksum.
	FrameOverhead = FrameHeaderSize + crcSize

	crcSize = 4

	magic0, magic1 = 'E', 'G'
)

// castagnoli is the CRC-32C table; hash/crc32 uses the SSE4.2/ARM64 CRC instructions for it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FrameHeader holds the fields of a frame header. A frame is a header of
// FrameHeaderSize bytes, the bitstream and a CRC-32C (Castagnoli) of all the
// bytes before it; all integers are little-endian:
//
//	offset  size  version 1 (AppendFrame)   version 2 (AppendRunFrame, zero-run)
//	0       2     magic "EG"                magic "EG"
//	2       1     format version: 1         format version: 2
//	3       1     k                         kr, the order of the run codes
//	4       8     element count             element count (7 bytes, at offsets 4 to 10)
//	11      -     (top byte of the count)   kv, the order of the value codes (1 byte)
//	12      4     quantization step delta, IEEE-754 float32 bits (bit-exact)
//	16      8     payload length in bits
//	24      B     payload: the bitstream, B = ceil(bits / 8) bytes
//	24+B    4     CRC-32C of bytes [0, 24+B)
//
// Both versions' headers have the same size, so a receiver can read
// FrameHeaderSize bytes and call ParseFrameHeader to learn a frame's size.
type FrameHeader struct {
	// Count is the number of encoded values.
	Count int

	// K is the Exp-Golomb order, in [0, MaxK]; in a zero-run frame, the order kr of the run codes.
	K int

	// Runs is true for a zero-run frame (format version 2, see AppendRunFrame), false for a
	// frame of per-value codes (version 1, see AppendFrame).
	Runs bool

	// KV is the order kv of the value codes of a zero-run frame, in [0, MaxK]; 0 otherwise.
	KV int

	// Delta is the quantization step, carried bit-exactly: the values represent q*Delta.
	Delta float32

	// Bits is the length of the bitstream in bits, before padding to a whole byte.
	Bits int64
}

// FrameSize returns the total size in bytes of the frame described by h.
func (h FrameHeader) FrameSize() int {
	return FrameOverhead + int((h.Bits+7)/8)
}

// AppendFrame appends to dst a self-describing frame holding qs coded with Exp-Golomb order k,
// and the quantization step delta (stored bit-exactly, NaNs included; it is not interpreted).
// The frame has header, bitstream and CRC-32C checksum, and is what [DecodeFrame] reads.
// It takes exactly FrameOverhead + (BitLen(qs, k)+7)/8 bytes; use [BestK] to pick k.
//
// It panics if k is not in [0, MaxK].
func AppendFrame(dst []byte, qs []int32, k int, delta float32) []byte {
	checkK(k)
	return appendFrame(dst, qs, FrameHeader{Count: len(qs), K: k, Delta: delta})
}

// AppendRunFrame appends to dst a self-describing zero-run frame (format version 2) holding qs
// coded in zero-run mode with orders kr (runs of zeros) and kv (nonzero values), see
// [AppendEncodeRuns], and the quantization step delta (stored bit-exactly, not interpreted). It
// is the frame of choice for sparse data, and what [DecodeFrame] reads, like version-1 frames.
// It takes exactly FrameOverhead + (RunBitLen(qs, kr, kv)+7)/8 bytes; use [BestRunK] to pick
// kr and kv.
//
// It panics if kr or kv is not in [0, MaxK], or if len(qs) > MaxRunCount.
func AppendRunFrame(dst []byte, qs []int32, kr, kv int, delta float32) []byte {
	checkK(kr)
	checkK(kv)
	if uint64(len(qs)) > MaxRunCount {
		panic(fmt.Errorf("expgolomb: %d values in a zero-run frame, more than MaxRunCount=%d", len(qs), uint64(MaxRunCount)))
	}
	return appendFrame(dst, qs, FrameHeader{Count: len(qs), K: kr, Runs: true, KV: kv, Delta: delta})
}

// appendFrame implements AppendFrame and AppendRunFrame, given the header fields but Bits.
func appendFrame(dst []byte, qs []int32, h FrameHeader) []byte {
	start := len(dst)
	dst = slices.Grow(dst, FrameOverhead)
	dst = dst[:start+FrameHeaderSize]
	p := dst[start:]
	p[0], p[1], p[2], p[3] = magic0, magic1, FrameVersion, byte(h.K)
	binary.LittleEndian.PutUint64(p[4:], uint64(len(qs)))
	binary.LittleEndian.PutUint32(p[12:], math.Float32bits(h.Delta))
	var nbits int64
	if h.Runs {
		// The count takes 7 bytes, its top byte holds kv.
		p[2], p[11] = RunFrameVersion, byte(h.KV)
		dst, nbits = appendEncodeRuns(dst, qs, uint(h.K), uint(h.KV))
	} else {
		dst, nbits = appendEncode(dst, qs, uint(h.K))
	}
	// The payload size is only known now: dst may have been reallocated, so re-slice the header.
	binary.LittleEndian.PutUint64(dst[start+16:], uint64(nbits))
	crc := crc32.Checksum(dst[start:], castagnoli)
	return binary.LittleEndian.AppendUint32(dst, crc)
}

// ParseFrameHeader parses and checks the header at the start of payload, which holds at least
// the first FrameHeaderSize bytes of a frame of either version. Use it to learn a frame's total
// size (FrameHeader.FrameSize) before receiving all of it, or to size buffers.
//
// It doesn't verify the checksum nor read the bitstream, but it validates the fields against
// each other: the magic, the version, the orders, and the payload length against the count.
//
//   - Version 1: Count*(K+1) <= Bits <= Count*(MaxCodeLen-K), since every code takes between
//     K+1 and MaxCodeLen-K bits. So Count is only as large as the frame: check FrameSize against
//     what you are willing to receive before allocating for Count.
//   - Version 2 (zero-run): Count <= MaxRunCount, and L <= Bits <= Count*(K+66-KV) + K+1. The
//     lower bound L = 2*bits.Len64(Count + 2^K) - K - 1, the code of a single run of Count zeros,
//     is the size of the cheapest stream of Count values (splitting a run with a nonzero value
//     never saves bits); the upper bound holds because a run of r zeros takes at most K+1+2r
//     bits and a value code at most MaxCodeLen-KV bits.
//     Count is not bounded by the frame's size, only by MaxRunCount: a tiny frame may declare
//     billions of zeros. [DecodeFrame] allocates Count values only once the checksum has been
//     verified and, if Count exceeds 8 values per payload bit (plus 4096), once a first pass
//     has validated the whole stream, so invalid frames can't cause large allocations; but a
//     valid frame may decode to 16 GiB: check Count against what you are willing to allocate
//     before calling DecodeFrame on untrusted input.
//
// [DecodeFrame] does all checks.
func ParseFrameHeader(payload []byte) (FrameHeader, error) {
	if len(payload) < FrameHeaderSize {
		return FrameHeader{}, fmt.Errorf("%w: %d bytes, a frame header takes %d", ErrTruncated, len(payload), FrameHeaderSize)
	}
	p := payload[:FrameHeaderSize]
	if p[0] != magic0 || p[1] != magic1 {
		return FrameHeader{}, fmt.Errorf("%w: bad frame magic %#02x%02x", ErrMalformed, p[0], p[1])
	}
	if p[2] != FrameVersion && p[2] != RunFrameVersion {
		return FrameHeader{}, fmt.Errorf("%w: unsupported frame version %d, want %d or %d",
			ErrMalformed, p[2], FrameVersion, RunFrameVersion)
	}
	h := FrameHeader{K: int(p[3]), Runs: p[2] == RunFrameVersion}
	if err := validK(h.K); err != nil {
		return FrameHeader{}, err
	}
	count := binary.LittleEndian.Uint64(p[4:])
	nbits := binary.LittleEndian.Uint64(p[16:])
	// Bounds that keep all the arithmetic below far from overflowing: 2^56 bits is 8 PiB.
	if nbits > 1<<56 {
		return FrameHeader{}, fmt.Errorf("%w: implausible payload length of %d bits", ErrMalformed, nbits)
	}
	var minBits, maxBits uint64 // Bounds on nbits.
	k := uint64(h.K)
	if h.Runs {
		h.KV = int(p[11])
		if err := validK(h.KV); err != nil {
			return FrameHeader{}, err
		}
		if count &= 1<<56 - 1; count > MaxRunCount {
			return FrameHeader{}, fmt.Errorf("%w: %d values in a zero-run frame, more than MaxRunCount=%d",
				ErrMalformed, count, uint64(MaxRunCount))
		}
		minBits = uint64(runCodeLen(count, uint(k)))
		maxBits = count*(k+66-uint64(h.KV)) + k + 1
	} else {
		if count > nbits/(k+1) {
			return FrameHeader{}, fmt.Errorf("%w: %d values need at least %d bits each, but the payload has %d bits",
				ErrMalformed, count, k+1, nbits)
		}
		minBits, maxBits = 0, count*(MaxCodeLen-k)
	}
	if nbits < minBits || nbits > maxBits {
		return FrameHeader{}, fmt.Errorf("%w: %d values take between %d and %d bits, but the payload has %d bits",
			ErrMalformed, count, minBits, maxBits, nbits)
	}
	if count > math.MaxInt { // Only possible on 32-bit platforms.
		return FrameHeader{}, fmt.Errorf("%w: %d values don't fit in memory", ErrMalformed, count)
	}
	h.Count, h.Bits = int(count), int64(nbits)
	h.Delta = math.Float32frombits(binary.LittleEndian.Uint32(p[12:]))
	return h, nil
}

// DecodeFrame decodes a frame written by [AppendFrame] or [AppendRunFrame]: it appends the
// values to dst and returns the extended slice and the header, with the mode (Runs), the
// order(s) and the quantization step delta. It allocates room for the header's count once the
// checksum has been verified (see [ParseFrameHeader] for the bounds on the count).
//
// payload must hold exactly one frame. A truncated or oversized payload, a checksum mismatch
// (any single flipped bit is caught), a malformed or inconsistent header, an invalid code, a
// bitstream whose length disagrees with the header, or non-zero padding bits are all reported
// as errors naming the problem and wrapping [ErrTruncated], [ErrChecksum], [ErrMalformed] or
// [ErrInvalidCode]; on error dst is returned unchanged (its spare capacity possibly overwritten).
// DecodeFrame never panics. Accepted frames are canonical: AppendFrame with the decoded values,
// K and Delta (or AppendRunFrame with K, KV and Delta for a zero-run frame) reproduces payload
// byte for byte.
func DecodeFrame(dst []int32, payload []byte) ([]int32, FrameHeader, error) {
	h, err := ParseFrameHeader(payload)
	if err != nil {
		return dst, FrameHeader{}, err
	}
	bodyLen := uint64(h.Bits+7) / 8
	if uint64(len(payload)) < FrameOverhead+bodyLen {
		return dst, FrameHeader{}, fmt.Errorf("%w: header declares %d payload bits, the frame needs %d bytes but has %d",
			ErrTruncated, h.Bits, FrameOverhead+bodyLen, len(payload))
	}
	size := FrameOverhead + int(bodyLen)
	if len(payload) > size {
		return dst, FrameHeader{}, fmt.Errorf("%w: %d trailing bytes after a frame of %d bytes", ErrMalformed, len(payload)-size, size)
	}
	want := binary.LittleEndian.Uint32(payload[size-crcSize:])
	if got := crc32.Checksum(payload[:size-crcSize], castagnoli); got != want {
		return dst, FrameHeader{}, fmt.Errorf("%w: CRC-32C of the frame is %#08x, its trailer says %#08x", ErrChecksum, got, want)
	}

	body := payload[FrameHeaderSize : size-crcSize]
	end := uint64(h.Bits)
	if err := checkPadding(body, end); err != nil {
		return dst, FrameHeader{}, err
	}
	start := len(dst)
	if h.Runs {
		dst, err = appendRuns(dst, h.Count, body, end, uint(h.K), uint(h.KV), true)
	} else {
		dst = slices.Grow(dst, h.Count)[:start+h.Count]
		var used uint64
		if used, err = decode(dst[start:], body, end, uint(h.K)); err == nil {
			err = checkAllBitsUsed(h.Count, used, end)
		}
	}
	if err != nil {
		return dst[:start], FrameHeader{}, fmt.Errorf("%w, in a frame declaring %d values in %d bits", err, h.Count, end)
	}
	return dst, h, nil
}
