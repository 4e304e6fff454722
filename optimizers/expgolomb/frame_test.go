package expgolomb

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// refreshCRC recomputes the checksum of a frame after its contents were edited.
func refreshCRC(frame []byte) []byte {
	n := len(frame) - crcSize
	binary.LittleEndian.PutUint32(frame[n:], crc32.Checksum(frame[:n], crc32.MakeTable(crc32.Castagnoli)))
	return frame
}

func TestFrameRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	deltas := []float32{0.01, 1, float32(math.Inf(1)), math.Float32frombits(0x7FC00001), -0.0, math.SmallestNonzeroFloat32}
	inputs := [][]int32{nil, {0}, {math.MinInt32}, uniformInts(rng, 500), logUniformInts(rng, 500),
		quantize(generalizedGaussian(rng, 20000, 0.5), 0.05)}
	for i, qs := range inputs {
		for _, k := range []int{0, 1, 4, 17, MaxK} {
			delta := deltas[(i+k)%len(deltas)]
			prefix := []byte("prefix")
			frame := AppendFrame(append([]byte(nil), prefix...), qs, k, delta)
			require.Equal(t, prefix, frame[:len(prefix)])
			frame = frame[len(prefix):]
			nbits := BitLen(qs, k)
			require.Len(t, frame, FrameOverhead+int((nbits+7)/8))

			h, err := ParseFrameHeader(frame)
			require.NoError(t, err)
			want := FrameHeader{Count: len(qs), K: k, Delta: delta, Bits: nbits}
			require.Equal(t, math.Float32bits(delta), math.Float32bits(h.Delta), "delta must be bit-exact")
			h.Delta, want.Delta = 0, 0
			require.Equal(t, want, h)
			require.Equal(t, len(frame), h.FrameSize())

			dst := []int32{42}
			got, h2, err := DecodeFrame(dst, frame)
			require.NoError(t, err)
			require.Equal(t, int32(42), got[0])
			requireSameValues(t, qs, got[1:])
			require.Equal(t, k, h2.K)
			require.Equal(t, math.Float32bits(delta), math.Float32bits(h2.Delta))
			require.Equal(t, frame, AppendFrame(nil, got[1:], h2.K, h2.Delta), "re-encoding")
		}
	}
}

// smallFrame returns a small frame with a mix of short and long codes.
func smallFrame() []byte {
	return AppendFrame(nil, []int32{0, 1, -1, 0, 0, 7, -300, 0, math.MinInt32, 2, 0, 0, 1, 0}, 1, 0.125)
}

// requireFrameError checks that DecodeFrame rejects frame with an error wrapping want.
func requireFrameError(t *testing.T, frame []byte, want error, msgAndArgs ...any) {
	t.Helper()
	dst := []int32{5, 6}
	got, h, err := DecodeFrame(dst, frame)
	require.Error(t, err, msgAndArgs...)
	if want != nil && !errors.Is(err, want) {
		require.Failf(t, "wrong error", "got %v, want %v; %v", err, want, msgAndArgs)
	}
	require.Equal(t, []int32{5, 6}, got, msgAndArgs...)
	require.Equal(t, FrameHeader{}, h, msgAndArgs...)
}

// smallRunFrame returns a small zero-run frame, with short and long runs and values.
func smallRunFrame() []byte {
	qs := make([]int32, 40)
	qs[2], qs[3], qs[9], qs[36] = 3, -1, 1, -700
	return AppendRunFrame(nil, qs, 2, 1, 0.125)
}

func TestRunFrameRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	deltas := []float32{0.01, 1, float32(math.Inf(-1)), math.Float32frombits(0x7FC00001), -0.0}
	longRuns := make([]int32, 100000) // Over 8 values per payload bit: validated before allocating.
	longRuns[12345], longRuns[99999] = 7, -1
	inputs := [][]int32{nil, {0}, {5}, {math.MinInt32}, make([]int32, 1000), uniformInts(rng, 500),
		sparsify(rng, logUniformInts(rng, 3000), 0.97), sparseInts(20000, 1, 0.95), longRuns}
	for i, qs := range inputs {
		for _, k := range [][2]int{{0, 0}, {3, 4}, {1, 17}, {MaxK, 0}, {MaxK, MaxK}} {
			kr, kv := k[0], k[1]
			delta := deltas[(i+kr+kv)%len(deltas)]
			prefix := []byte("prefix")
			frame := AppendRunFrame(append([]byte(nil), prefix...), qs, kr, kv, delta)
			require.Equal(t, prefix, frame[:len(prefix)])
			frame = frame[len(prefix):]
			nbits := RunBitLen(qs, kr, kv)
			require.Len(t, frame, FrameOverhead+int((nbits+7)/8))
			require.Equal(t, []byte{'E', 'G', RunFrameVersion, byte(kr)}, frame[:4])
			require.Equal(t, byte(kv), frame[11])

			h, err := ParseFrameHeader(frame)
			require.NoError(t, err)
			require.Equal(t, math.Float32bits(delta), math.Float32bits(h.Delta), "delta must be bit-exact")
			h.Delta = 0
			require.Equal(t, FrameHeader{Count: len(qs), K: kr, Runs: true, KV: kv, Bits: nbits}, h)
			require.Equal(t, len(frame), h.FrameSize())

			got, h2, err := DecodeFrame([]int32{42}, frame)
			require.NoError(t, err)
			require.Equal(t, int32(42), got[0])
			requireSameValues(t, qs, got[1:])
			require.True(t, h2.Runs)
			require.Equal(t, frame, AppendRunFrame(nil, got[1:], h2.K, h2.KV, h2.Delta), "re-encoding")
		}
	}
	require.Panics(t, func() { AppendRunFrame(nil, nil, MaxK+1, 0, 1) })
	require.Panics(t, func() { AppendRunFrame(nil, nil, 0, -1, 1) })
}

func TestFrameTruncated(t *testing.T) {
	for _, frame := range [][]byte{smallFrame(), smallRunFrame()} {
		for n := range len(frame) {
			requireFrameError(t, frame[:n], ErrTruncated, "frame truncated to %d of %d bytes", n, len(frame))
		}
		requireFrameError(t, append(frame, 0), ErrMalformed, "trailing byte")
	}
}

func TestFrameBitFlips(t *testing.T) {
	for _, frame := range [][]byte{smallFrame(), smallRunFrame()} {
		for i := range len(frame) * 8 {
			bad := append([]byte(nil), frame...)
			bad[i/8] ^= 1 << (i % 8)
			requireFrameError(t, bad, nil, "version %d, bit %d flipped", frame[2], i)
		}
		// Flips inside the body are checksum errors.
		for i := FrameHeaderSize * 8; i < (len(frame)-crcSize)*8; i++ {
			bad := append([]byte(nil), frame...)
			bad[i/8] ^= 1 << (i % 8)
			requireFrameError(t, bad, ErrChecksum, "version %d, bit %d flipped", frame[2], i)
		}
	}
}

func TestFrameGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for iter := range 10000 {
		garbage := make([]byte, rng.IntN(80))
		for i := range garbage {
			garbage[i] = byte(rng.Uint32())
		}
		if len(garbage) >= 12 && rng.IntN(2) == 0 {
			garbage[0], garbage[1], garbage[2] = magic0, magic1, byte(FrameVersion+iter%2)
			garbage[3], garbage[11] = byte(rng.IntN(4)), byte(rng.IntN(4)) // Valid orders.
		}
		if len(garbage) >= FrameOverhead && rng.IntN(2) == 0 {
			refreshCRC(garbage)
		}
		got, h, err := DecodeFrame(nil, garbage)
		if err == nil { // Practically impossible, but then it must be canonical.
			require.Equal(t, garbage, reencodeFrame(got, h))
		}
	}
}

// reencodeFrame encodes qs in a frame with the parameters of h.
func reencodeFrame(qs []int32, h FrameHeader) []byte {
	if h.Runs {
		return AppendRunFrame(nil, qs, h.K, h.KV, h.Delta)
	}
	return AppendFrame(nil, qs, h.K, h.Delta)
}

func TestFrameLies(t *testing.T) {
	for _, base := range [][]byte{smallFrame(), smallRunFrame()} {
		requireFrameLiesDetected(t, base)
	}
}

// requireFrameLiesDetected checks that edits of a valid frame, base, are rejected with the right
// errors: each case lists the error for a version-1 frame and for a zero-run frame (nil: any).
func requireFrameLiesDetected(t *testing.T, base []byte) {
	runs := base[2] == RunFrameVersion
	edit := func(f func(frame []byte) []byte) []byte {
		return f(append([]byte(nil), base...))
	}
	countMask := ^uint64(0) // The bytes of the count; the top one holds kv in a zero-run frame.
	if runs {
		countMask = 1<<56 - 1
	}
	count := binary.LittleEndian.Uint64(base[4:]) & countMask
	nbits := binary.LittleEndian.Uint64(base[16:])
	setCount := func(c uint64) []byte {
		return edit(func(f []byte) []byte {
			binary.LittleEndian.PutUint64(f[4:], c&countMask|binary.LittleEndian.Uint64(f[4:])&^countMask)
			return refreshCRC(f)
		})
	}
	setBits := func(b uint64) []byte {
		return edit(func(f []byte) []byte {
			binary.LittleEndian.PutUint64(f[16:], b)
			return refreshCRC(f)
		})
	}
	for _, tc := range []struct {
		name        string
		frame       []byte
		want, want2 error // Version 1, zero-run frame.
	}{
		{"bad magic", edit(func(f []byte) []byte { f[0] = 'X'; return refreshCRC(f) }), ErrMalformed, ErrMalformed},
		{"bad version", edit(func(f []byte) []byte { f[2] = 3; return refreshCRC(f) }), ErrMalformed, ErrMalformed},
		{"other version", edit(func(f []byte) []byte { f[2] ^= 3; return refreshCRC(f) }), nil, nil},
		{"k too large", edit(func(f []byte) []byte { f[3] = MaxK + 1; return refreshCRC(f) }), ErrMalformed, ErrMalformed},
		{"count too small", setCount(count - 1), ErrMalformed, nil},
		{"count too large", setCount(count + 1), ErrTruncated, nil},
		{"count impossible", setCount(1 << 40), ErrMalformed, ErrMalformed},
		{"count above MaxRunCount", setCount(MaxRunCount + 1), ErrMalformed, ErrMalformed},
		{"count huge", setCount(math.MaxUint64), ErrMalformed, ErrMalformed},
		{"count zero", setCount(0), ErrMalformed, ErrMalformed},
		{"bits huge", setBits(math.MaxUint64), ErrMalformed, ErrMalformed},
		{"bits too large", edit(func(f []byte) []byte {
			binary.LittleEndian.PutUint64(f[16:], nbits+64)
			return f
		}), ErrTruncated, ErrTruncated},
		{"bits one less (same bytes)", setBits(nbits - 1), nil, nil},
		{"bits one more (same bytes)", setBits(nbits + 1), ErrMalformed, ErrMalformed},
		{"bits too few for the count", setBits(3), ErrMalformed, ErrMalformed},
		{"body extended by a byte", edit(func(f []byte) []byte {
			f = append(f[:len(f)-crcSize], 0x80, 0, 0, 0, 0)
			binary.LittleEndian.PutUint64(f[16:], nbits+8)
			return refreshCRC(f)
		}), ErrMalformed, ErrMalformed},
		{"non-zero padding", edit(func(f []byte) []byte {
			f[len(f)-crcSize-1] |= 1
			return refreshCRC(f)
		}), ErrMalformed, ErrMalformed},
		{"invalid code", edit(func(f []byte) []byte {
			body := f[FrameHeaderSize : len(f)-crcSize]
			clear(body)
			return refreshCRC(f)
		}), ErrInvalidCode, ErrInvalidCode},
		{"kv too large (zero-run frames)", edit(func(f []byte) []byte { f[11] = MaxK + 1; return refreshCRC(f) }), ErrMalformed, ErrMalformed},
		{"bad checksum", edit(func(f []byte) []byte { f[len(f)-1] ^= 0x10; return f }), ErrChecksum, ErrChecksum},
		{"empty", nil, ErrTruncated, ErrTruncated},
		{"header only", base[:FrameHeaderSize], ErrTruncated, ErrTruncated},
	} {
		want := tc.want
		if runs {
			want = tc.want2
		}
		requireFrameError(t, tc.frame, want, "version %d: %s", base[2], tc.name)
	}
	require.NotEqual(t, uint64(0), nbits%8, "the tests above assume a padded last byte")

	// A zero-run frame of MaxRunCount zeros takes a few bytes, and may declare no more.
	if runs {
		frame := AppendRunFrame(nil, make([]int32, 100), 0, 0, 1)
		binary.LittleEndian.PutUint64(frame[4:], MaxRunCount)
		binary.LittleEndian.PutUint64(frame[16:], uint64(runCodeLen(MaxRunCount, 0)))
		h, err := ParseFrameHeader(frame)
		require.NoError(t, err)
		require.Equal(t, uint64(MaxRunCount), uint64(h.Count))
		require.Equal(t, 9, h.FrameSize()-FrameOverhead) // A 65-bit run code.
		binary.LittleEndian.PutUint64(frame[4:], MaxRunCount+1)
		_, err = ParseFrameHeader(frame)
		require.ErrorIs(t, err, ErrMalformed)
	}
}
