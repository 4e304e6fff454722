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

func TestFrameTruncated(t *testing.T) {
	frame := smallFrame()
	for n := range len(frame) {
		requireFrameError(t, frame[:n], ErrTruncated, "frame truncated to %d of %d bytes", n, len(frame))
	}
	requireFrameError(t, append(frame, 0), ErrMalformed, "trailing byte")
}

func TestFrameBitFlips(t *testing.T) {
	frame := smallFrame()
	for i := range len(frame) * 8 {
		bad := append([]byte(nil), frame...)
		bad[i/8] ^= 1 << (i % 8)
		requireFrameError(t, bad, nil, "bit %d flipped", i)
	}
	// Flips inside the body are checksum errors.
	for i := FrameHeaderSize * 8; i < (len(frame)-crcSize)*8; i++ {
		bad := append([]byte(nil), frame...)
		bad[i/8] ^= 1 << (i % 8)
		requireFrameError(t, bad, ErrChecksum, "bit %d flipped", i)
	}
}

func TestFrameGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for range 5000 {
		garbage := make([]byte, rng.IntN(80))
		for i := range garbage {
			garbage[i] = byte(rng.Uint32())
		}
		if len(garbage) >= 3 && rng.IntN(2) == 0 {
			garbage[0], garbage[1], garbage[2] = magic0, magic1, FrameVersion
		}
		if len(garbage) >= FrameOverhead && rng.IntN(2) == 0 {
			refreshCRC(garbage)
		}
		got, _, err := DecodeFrame(nil, garbage)
		if err == nil { // Practically impossible, but then it must be canonical.
			h, _ := ParseFrameHeader(garbage)
			require.Equal(t, garbage, AppendFrame(nil, got, h.K, h.Delta))
		}
	}
}

func TestFrameLies(t *testing.T) {
	base := smallFrame()
	edit := func(f func(frame []byte) []byte) []byte {
		return f(append([]byte(nil), base...))
	}
	count := binary.LittleEndian.Uint64(base[4:])
	nbits := binary.LittleEndian.Uint64(base[16:])
	for _, tc := range []struct {
		name  string
		frame []byte
		want  error
	}{
		{"bad magic", edit(func(f []byte) []byte { f[0] = 'X'; return refreshCRC(f) }), ErrMalformed},
		{"bad version", edit(func(f []byte) []byte { f[2] = 2; return refreshCRC(f) }), ErrMalformed},
		{"k too large", edit(func(f []byte) []byte { f[3] = MaxK + 1; return refreshCRC(f) }), ErrMalformed},
		{"count too small", edit(func(f []byte) []byte {
			binary.LittleEndian.PutUint64(f[4:], count-1)
			return refreshCRC(f)
		}), ErrMalformed},
		{"count too large", edit(func(f []byte) []byte {
			binary.LittleEndian.PutUint64(f[4:], count+1)
			return refreshCRC(f)
		}), ErrTruncated},
		{"count impossible", edit(func(f []byte) []byte {
			binary.LittleEndian.PutUint64(f[4:], 1<<40)
			return refreshCRC(f)
		}), ErrMalformed},
		{"count huge", edit(func(f []byte) []byte {
			binary.LittleEndian.PutUint64(f[4:], math.MaxUint64)
			return refreshCRC(f)
		}), ErrMalformed},
		{"count zero", edit(func(f []byte) []byte {
			binary.LittleEndian.PutUint64(f[4:], 0)
			return refreshCRC(f)
		}), ErrMalformed},
		{"bits huge", edit(func(f []byte) []byte {
			binary.LittleEndian.PutUint64(f[16:], math.MaxUint64)
			return refreshCRC(f)
		}), ErrMalformed},
		{"bits too large", edit(func(f []byte) []byte {
			binary.LittleEndian.PutUint64(f[16:], nbits+64)
			return f
		}), ErrTruncated},
		{"bits one less (same bytes)", edit(func(f []byte) []byte {
			binary.LittleEndian.PutUint64(f[16:], nbits-1)
			return refreshCRC(f)
		}), nil},
		{"bits one more (same bytes)", edit(func(f []byte) []byte {
			binary.LittleEndian.PutUint64(f[16:], nbits+1)
			return refreshCRC(f)
		}), ErrMalformed},
		{"body extended by a byte", edit(func(f []byte) []byte {
			f = append(f[:len(f)-crcSize], 0x80, 0, 0, 0, 0)
			binary.LittleEndian.PutUint64(f[16:], nbits+8)
			return refreshCRC(f)
		}), ErrMalformed},
		{"non-zero padding", edit(func(f []byte) []byte {
			f[len(f)-crcSize-1] |= 1
			return refreshCRC(f)
		}), ErrMalformed},
		{"invalid code", edit(func(f []byte) []byte {
			body := f[FrameHeaderSize : len(f)-crcSize]
			clear(body)
			return refreshCRC(f)
		}), ErrInvalidCode},
		{"bad checksum", edit(func(f []byte) []byte { f[len(f)-1] ^= 0x10; return f }), ErrChecksum},
		{"empty", nil, ErrTruncated},
		{"header only", base[:FrameHeaderSize], ErrTruncated},
	} {
		requireFrameError(t, tc.frame, tc.want, tc.name)
	}
	require.NotEqual(t, uint64(0), nbits%8, "the tests above assume a padded last byte")
}
