package ggrans

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// fuzzSeedFrames are valid frames seeding FuzzDecodeFrame.
func fuzzSeedFrames() [][]byte {
	frame := func(qs []int32, alpha, beta, step float32) []byte {
		f, err := AppendFrame(nil, qs, alpha, beta, step)
		if err != nil {
			panic(err)
		}
		return f
	}
	return [][]byte{
		frame(nil, 1, 1, 1),
		frame([]int32{0}, 1, 0.9, 0.5),
		frame([]int32{0, 1, -1, 2, -2, 0, 0, 0, 5, -17}, 1, 0.9, 0.7),
		frame([]int32{3, -4, 100, math.MinInt32, math.MaxInt32}, 2, 1.5, 1e-3),
		frame(quantize(ggSamples(300, 0.9, 1), 2), 1, 0.9, 2),
		frame(make([]int32, 5000), 1, 1, 100),
	}
}

// FuzzDecodeFrame checks that DecodeFrame never panics, that errors wrap one of the package's
// sentinel errors, and that accepted frames are canonical. Each input is tried as is and with
// its checksum fixed, so the fuzzer also explores the checks behind the CRC.
func FuzzDecodeFrame(f *testing.F) {
	for _, frame := range fuzzSeedFrames() {
		f.Add(frame)
	}
	f.Fuzz(checkFrameDecoding)
}

// fuzzMaxCount is the largest count the fuzz target decodes: a frame of a few words may validly
// declare up to 23600 values per word.
const fuzzMaxCount = 1 << 22

// checkFrameDecoding is the body of FuzzDecodeFrame: DecodeFrame on data, and on data with its
// checksum fixed.
func checkFrameDecoding(t *testing.T, data []byte) {
	check := func(frame []byte) {
		if h, err := ParseFrameHeader(frame); err == nil && h.Count > fuzzMaxCount {
			return
		}
		got, h, err := DecodeFrame([]int32{-9}, frame)
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrMalformed) &&
				!errors.Is(err, ErrInvalidCode) && !errors.Is(err, ErrModelMismatch) {
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
		again, err := AppendFrame(nil, got[1:], h.Alpha, h.Beta, h.Step)
		if err != nil || !bytes.Equal(again, frame) {
			t.Fatalf("accepted frame is not canonical (%v):\n got  %x\n want %x", err, again, frame)
		}
	}
	check(data)
	if len(data) >= FrameOverhead {
		check(refreshCRC(bytes.Clone(data)))
	}
}

// FuzzRoundTrip checks that any values and parameters either encode and decode back exactly, or
// are rejected with ErrParameter (parameters not positive and finite).
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{}, float32(1), float32(1), float32(1))
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF}, float32(1), float32(0.9), float32(0.5))
	f.Add([]byte{0, 0, 0, 0x80, 0xFF, 0xFF, 0xFF, 0x7F, 3, 0, 0, 0}, float32(0.01), float32(2), float32(1e-4))
	f.Add(bytes.Repeat([]byte{0}, 400), float32(1), float32(0.5), float32(10))
	f.Fuzz(func(t *testing.T, data []byte, alpha, beta, step float32) {
		qs := make([]int32, len(data)/4)
		for i := range qs {
			// Small values mostly, as quantized gradients: fold the top bits unless they are set.
			v := int32(binary.LittleEndian.Uint32(data[4*i:]))
			if v>>30 == 0 {
				v %= 16
			}
			qs[i] = v
		}
		frame, err := AppendFrame(nil, qs, alpha, beta, step)
		if err != nil {
			if !errors.Is(err, ErrParameter) || checkParams(alpha, beta, step) == nil {
				t.Fatalf("AppendFrame(%g, %g, %g): %v", alpha, beta, step, err)
			}
			return
		}
		got, h, err := DecodeFrame(nil, frame)
		if err != nil {
			t.Fatalf("DecodeFrame: %v", err)
		}
		if h.Count != len(qs) || !slicesEqual(got, qs) {
			t.Fatalf("round trip differs: got %v, want %v", got, qs)
		}
	})
}
