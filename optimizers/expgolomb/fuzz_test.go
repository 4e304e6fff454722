package expgolomb

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// fuzzSeedFrames are valid frames seeding FuzzDecodeFrame.
func fuzzSeedFrames() [][]byte {
	return [][]byte{
		AppendFrame(nil, nil, 0, 1),
		AppendFrame(nil, []int32{0}, 0, 0.5),
		AppendFrame(nil, []int32{0, 1, -1, 2, -2, 0, 0, 0, 5, -17}, 0, 0.01),
		AppendFrame(nil, []int32{3, -4, 100, math.MinInt32, math.MaxInt32}, 2, 1e-3),
		AppendFrame(nil, []int32{1 << 20, -(1 << 20), 0, 7}, 19, 2),
		AppendFrame(nil, []int32{0, 0, 1, 0, -1, 0, 0, 3, 0, 0, 0, 0, 0, -2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, 1, 0.25),
		smallFrame(),
	}
}

// FuzzDecodeFrame checks that DecodeFrame never panics, that errors wrap one of the package's
// sentinel errors, and that accepted frames are canonical. Each input is tried as is and with
// its checksum fixed, so the fuzzer also explores the header and payload checks behind the CRC.
func FuzzDecodeFrame(f *testing.F) {
	for _, frame := range fuzzSeedFrames() {
		f.Add(frame)
	}
	f.Fuzz(checkFrameDecoding)
}

// fuzzSeedRunFrames are valid zero-run frames seeding FuzzDecodeRunFrame.
func fuzzSeedRunFrames() [][]byte {
	sparse := make([]int32, 300)
	sparse[0], sparse[17], sparse[18], sparse[200], sparse[299] = 1, -2, 90, math.MinInt32, 5
	return [][]byte{
		AppendRunFrame(nil, nil, 0, 0, 1),
		AppendRunFrame(nil, []int32{0}, 0, 0, 0.5),
		AppendRunFrame(nil, []int32{7}, 1, 2, 0.5),
		AppendRunFrame(nil, make([]int32, 1000), 3, 0, 0.01),
		AppendRunFrame(nil, []int32{0, 1, -1, 2, -2, 0, 0, 0, 5, -17}, 0, 0, 0.01),
		AppendRunFrame(nil, []int32{3, -4, 100, math.MinInt32, math.MaxInt32}, 2, 30, 1e-3),
		AppendRunFrame(nil, sparse, 4, 3, 2),
		smallRunFrame(),
	}
}

// FuzzDecodeRunFrame is FuzzDecodeFrame seeded with zero-run frames.
func FuzzDecodeRunFrame(f *testing.F) {
	for _, frame := range fuzzSeedRunFrames() {
		f.Add(frame)
	}
	f.Fuzz(checkFrameDecoding)
}

// fuzzMaxCount is the largest count the frame fuzz targets decode: a zero-run frame of a few
// bytes may validly declare billions of zeros, whose decoding is a legitimate huge allocation
// (invalid ones are rejected before allocating, see TestRunsHugeCountsAllocateNothing).
const fuzzMaxCount = 1 << 24

// checkFrameDecoding is the body of the frame fuzz targets: DecodeFrame on data, and on data
// with its checksum fixed.
func checkFrameDecoding(t *testing.T, data []byte) {
	check := func(frame []byte) {
		if h, err := ParseFrameHeader(frame); err == nil && h.Count > fuzzMaxCount {
			return
		}
		dst := []int32{-9}
		got, h, err := DecodeFrame(dst, frame)
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrChecksum) &&
				!errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalidCode) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			if len(got) != 1 || got[0] != -9 {
				t.Fatalf("dst modified on error: %v", got)
			}
			return
		}
		if len(got) != 1+h.Count || got[0] != -9 {
			t.Fatalf("got %d values for a count of %d", len(got)-1, h.Count)
		}
		if again := reencodeFrame(got[1:], h); !bytes.Equal(again, frame) {
			t.Fatalf("accepted frame is not canonical:\n got  %x\n want %x", again, frame)
		}
	}
	check(data)
	if len(data) >= FrameOverhead {
		check(refreshCRC(append([]byte(nil), data...)))
	}
}

// FuzzDecode checks that Decode never panics on arbitrary streams, that it agrees with a
// code-by-code reference decoder, and that decoded values re-encode to a prefix of the stream.
func FuzzDecode(f *testing.F) {
	f.Add(AppendEncode(nil, []int32{0, 1, -1, 2, -2, 0, 0, 100}, 0), uint16(8), uint8(0))
	f.Add(AppendEncode(nil, []int32{math.MinInt32, math.MaxInt32, 0}, 0), uint16(3), uint8(0))
	f.Add(AppendEncode(nil, []int32{5, -5, 1 << 12}, 3), uint16(3), uint8(3))
	f.Add([]byte{0, 0, 0, 0, 0xFF}, uint16(1), uint8(0))
	f.Fuzz(func(t *testing.T, src []byte, n16 uint16, k8 uint8) {
		n, k := int(n16), int(k8%(MaxK+2)) // Also tries an invalid k.
		got, err := Decode(nil, src, n, k)
		want, wantErr := referenceDecode(src, n, k)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("Decode error %v, reference error %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if len(got) != n {
			t.Fatalf("got %d values, want %d", len(got), n)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("value %d: got %d, reference %d", i, got[i], want[i])
			}
		}
		enc := AppendEncode(nil, got, k)
		nbits := BitLen(got, k)
		if nbits > int64(len(src))*8 || !bytes.Equal(enc[:nbits/8], src[:nbits/8]) {
			t.Fatalf("re-encoding differs from the stream")
		}
	})
}
