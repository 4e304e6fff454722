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

	// FrameHeaderSize is the size in bytes of a frame header: the payload starts at this offset.
	FrameHeaderSize = 24

	// FrameOverhead is the size in bytes of a frame with an empty payload: header plus checksum.
	FrameOverhead = FrameHeaderSize + crcSize

	crcSize = 4

	magic0, magic1 = 'E', 'G'
)

// castagnoli is the CRC-32C table; hash/crc32 uses the SSE4.2/ARM64 CRC instructions for it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FrameHeader holds the fields of a frame header (see the package documentation for the layout).
type FrameHeader struct {
	// Count is the number of encoded values.
	Count int

	// K is the Exp-Golomb order, in [0, MaxK].
	K int

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
	start := len(dst)
	dst = slices.Grow(dst, FrameOverhead)
	dst = dst[:start+FrameHeaderSize]
	h := dst[start:]
	h[0], h[1], h[2], h[3] = magic0, magic1, FrameVersion, byte(k)
	binary.LittleEndian.PutUint64(h[4:], uint64(len(qs)))
	binary.LittleEndian.PutUint32(h[12:], math.Float32bits(delta))
	dst, nbits := appendEncode(dst, qs, uint(k))
	// The payload size is only known now: dst may have been reallocated, so re-slice the header.
	binary.LittleEndian.PutUint64(dst[start+16:], uint64(nbits))
	crc := crc32.Checksum(dst[start:], castagnoli)
	return binary.LittleEndian.AppendUint32(dst, crc)
}

// ParseFrameHeader parses and checks the header at the start of payload, which holds at least
// the first FrameHeaderSize bytes of a frame. Use it to learn a frame's total size
// (FrameHeader.FrameSize) before receiving all of it, or to size buffers.
//
// It doesn't verify the checksum nor read the bitstream, but it validates the fields against
// each other: the magic, the version, k, and Count*(K+1) <= Bits <= Count*(MaxCodeLen-K), since
// every code takes between K+1 and MaxCodeLen-K bits. So Count is only as large as the frame:
// check FrameSize against what you are willing to receive before allocating for Count.
// [DecodeFrame] does all checks.
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
	k := int(p[3])
	if err := validK(k); err != nil {
		return FrameHeader{}, err
	}
	count := binary.LittleEndian.Uint64(p[4:])
	nbits := binary.LittleEndian.Uint64(p[16:])
	// Bounds that keep all the arithmetic below far from overflowing: 2^56 bits is 8 PiB.
	if nbits > 1<<56 {
		return FrameHeader{}, fmt.Errorf("%w: implausible payload length of %d bits", ErrMalformed, nbits)
	}
	if minBits := uint64(k + 1); count > nbits/minBits {
		return FrameHeader{}, fmt.Errorf("%w: %d values need at least %d bits each, but the payload has %d bits",
			ErrMalformed, count, minBits, nbits)
	}
	if maxBits := uint64(MaxCodeLen - k); nbits > count*maxBits {
		return FrameHeader{}, fmt.Errorf("%w: %d values take at most %d bits each, but the payload has %d bits",
			ErrMalformed, count, maxBits, nbits)
	}
	if count > math.MaxInt { // Only possible on 32-bit platforms.
		return FrameHeader{}, fmt.Errorf("%w: %d values don't fit in memory", ErrMalformed, count)
	}
	return FrameHeader{
		Count: int(count),
		K:     k,
		Delta: math.Float32frombits(binary.LittleEndian.Uint32(p[12:])),
		Bits:  int64(nbits),
	}, nil
}

// DecodeFrame decodes a frame written by [AppendFrame]: it appends the values to dst and returns
// the extended slice and the header, with k and the quantization step delta.
//
// payload must hold exactly one frame. A truncated or oversized payload, a checksum mismatch
// (any single flipped bit is caught), a malformed or inconsistent header, an invalid code, a
// bitstream whose length disagrees with the header, or non-zero padding bits are all reported
// as errors naming the problem and wrapping [ErrTruncated], [ErrChecksum], [ErrMalformed] or
// [ErrInvalidCode]; on error dst is returned unchanged (its spare capacity possibly overwritten).
// DecodeFrame never panics. Accepted frames are canonical: AppendFrame with the decoded values,
// K and Delta reproduces payload byte for byte.
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
	if pad := end & 7; pad != 0 && body[len(body)-1]<<pad != 0 {
		return dst, FrameHeader{}, fmt.Errorf("%w: non-zero padding bits after the %d payload bits", ErrMalformed, end)
	}
	start := len(dst)
	dst = slices.Grow(dst, h.Count)[:start+h.Count]
	used, err := decode(dst[start:], body, end, uint(h.K))
	if err != nil {
		return dst[:start], FrameHeader{}, fmt.Errorf("%w, in a frame declaring %d values in %d bits", err, h.Count, end)
	}
	if used != end {
		return dst[:start], FrameHeader{}, fmt.Errorf("%w: %d values use %d bits, but the header declares %d payload bits",
			ErrMalformed, h.Count, used, end)
	}
	return dst, h, nil
}
