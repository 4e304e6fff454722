package ggrans

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// roundTrip encodes qs, decodes the frame after a prefix in dst, and checks the values, the
// header and that re-encoding gives the same bytes. It returns the frame.
func roundTrip(t *testing.T, qs []int32, alpha, beta, step float32) []byte {
	t.Helper()
	frame, err := AppendFrame([]byte{1, 2, 3}, qs, alpha, beta, step)
	require.NoError(t, err)
	require.Equal(t, []byte{1, 2, 3}, frame[:3])
	frame = frame[3:]
	h, err := ParseFrameHeader(frame)
	require.NoError(t, err)
	require.Equal(t, len(frame), h.FrameSize())
	got, h2, err := DecodeFrame([]int32{-7}, frame)
	require.NoError(t, err)
	require.Equal(t, h, h2)
	require.Equal(t, int32(-7), got[0])
	if !slicesEqual(got[1:], qs) {
		for i := range qs {
			require.Equalf(t, qs[i], got[1+i], "value %d of %d", i, len(qs))
		}
	}
	require.Equal(t, len(qs), h.Count)
	require.Equal(t, math.Float32bits(alpha), math.Float32bits(h.Alpha))
	require.Equal(t, math.Float32bits(beta), math.Float32bits(h.Beta))
	require.Equal(t, math.Float32bits(step), math.Float32bits(h.Step))
	again, err := AppendFrame(nil, got[1:], h.Alpha, h.Beta, h.Step)
	require.NoError(t, err)
	require.True(t, bytes.Equal(again, frame), "re-encoding differs")
	return frame
}

func slicesEqual(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Every length up to a few groups and chunks, with escapes in every position.
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 63, 64, 65, 1023, 1024, 1025, 4097, 40000} {
		for _, beta := range []float64{0.3, 0.9, 2, 8} {
			xs := ggSamples(n, beta, uint64(n))
			for _, step := range []float64{0.01, 0.3, 3, 100} {
				roundTrip(t, quantize(xs, step), 1, float32(beta), float32(step))
			}
			qs := quantize(xs, 0.5)
			for i := range qs {
				switch rng.IntN(50) {
				case 0:
					qs[i] = math.MinInt32
				case 1:
					qs[i] = math.MaxInt32
				case 2:
					qs[i] = int32(rng.Uint32())
				}
			}
			roundTrip(t, qs, 2, float32(beta), 0.5)
		}
	}
}

// TestRoundTripModelMismatch codes data the model doesn't fit: uniform int32 values, constants,
// and values from another shape, at extreme parameters (clamped by the model).
func TestRoundTripModelMismatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	uniform := make([]int32, 5000)
	for i := range uniform {
		uniform[i] = int32(rng.Uint32())
	}
	ones := make([]int32, 5001)
	for i := range ones {
		ones[i] = 1
	}
	zeros := make([]int32, 1<<16)
	for _, qs := range [][]int32{uniform, ones, zeros, quantize(ggSamples(5000, 0.2, 1), 0.1)} {
		for _, p := range [][3]float32{{1, 2, 1}, {1, 0.9, 1e-30}, {1e-30, 0.9, 1e30}, {1, 1e-6, 1}, {1, 1e6, 1},
			{math.MaxFloat32, math.MaxFloat32, math.SmallestNonzeroFloat32}, {3, 1, 1e-3}} {
			roundTrip(t, qs, p[0], p[1], p[2])
		}
	}
}

func TestInvalidParameters(t *testing.T) {
	qs := []int32{0, 1, -1}
	bad := []float32{0, -1, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), -0}
	for _, v := range bad {
		for i := range 3 {
			p := [3]float32{1, 1, 1}
			p[i] = v
			dst, err := AppendFrame([]byte{9}, qs, p[0], p[1], p[2])
			require.ErrorIs(t, err, ErrParameter, "params %v", p)
			require.Equal(t, []byte{9}, dst)
			dst, err = AppendFrame(nil, nil, p[0], p[1], p[2])
			require.ErrorIs(t, err, ErrParameter, "params %v", p)
			require.Nil(t, dst)
		}
	}
	_, err := NewModel(math.NaN(), 1)
	require.ErrorIs(t, err, ErrParameter)
	_, err = StepForBits(-1, 1)
	require.ErrorIs(t, err, ErrParameter)
	require.True(t, math.IsNaN(ExpectedBits(1, 0)))
}

// refreshCRC recomputes the checksum of frame in place and returns it.
func refreshCRC(frame []byte) []byte {
	n := len(frame) - crcSize
	binary.LittleEndian.PutUint32(frame[n:], crc32.Checksum(frame[:n], castagnoli))
	return frame
}

// requireSentinel fails unless err wraps one of the decoders' sentinel errors.
func requireSentinel(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrMalformed) &&
		!errors.Is(err, ErrInvalidCode) && !errors.Is(err, ErrModelMismatch) {
		t.Fatalf("error wraps no sentinel: %v", err)
	}
}

func TestCorruption(t *testing.T) {
	qs := quantize(ggSamples(3001, 0.9, 5), 0.7)
	qs[10], qs[2000] = 5000, math.MinInt32
	frame, err := AppendFrame(nil, qs, 1, 0.9, 0.7)
	require.NoError(t, err)
	// Every single flipped bit is caught by the checksum, or by the header checks.
	for i := range 8 * len(frame) {
		bad := bytes.Clone(frame)
		bad[i/8] ^= 1 << (i % 8)
		_, _, err := DecodeFrame(nil, bad)
		requireSentinel(t, err)
		// With the checksum fixed, the streams' checks catch most; what they accept must be
		// canonical (checkFrameDecoding).
		if i < 8*(len(frame)-crcSize) {
			checkFrameDecoding(t, refreshCRC(bad))
		}
	}
	for n := range len(frame) {
		_, _, err := DecodeFrame(nil, frame[:n])
		require.ErrorIs(t, err, ErrTruncated, "truncated to %d bytes", n)
	}
	_, _, err = DecodeFrame(nil, append(bytes.Clone(frame), 0))
	require.ErrorIs(t, err, ErrMalformed)
	// A table checksum that differs: the decoder's model would not be the encoder's.
	bad := bytes.Clone(frame)
	bad[24] ^= 1
	_, _, err = DecodeFrame(nil, refreshCRC(bad))
	require.ErrorIs(t, err, ErrModelMismatch)
}

// TestLyingCounts checks that frames declaring more values than their streams hold are rejected
// without allocating room for the declared count.
func TestLyingCounts(t *testing.T) {
	zeros := make([]int32, 100000)
	frame, err := AppendFrame(nil, zeros, 1, 1, 50) // About 0.0014 bits per value.
	require.NoError(t, err)
	h, err := ParseFrameHeader(frame)
	require.NoError(t, err)
	t.Logf("%d zeros in %d bytes (%d words)", h.Count, len(frame), h.Words)
	roundTrip(t, zeros, 1, 1, 50) // Through the validation pass.

	// The largest count ParseFrameHeader accepts for these words, and more.
	for _, count := range []uint64{uint64(h.Count) + 4, maxValuesPerWord * uint64(h.Words+NumStates), 1 << 40} {
		bad := bytes.Clone(frame)
		binary.LittleEndian.PutUint64(bad[4:], count)
		refreshCRC(bad)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := DecodeFrame(nil, bad)
		runtime.ReadMemStats(&after)
		requireSentinel(t, err)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "count %d: allocated %d bytes", count, after.TotalAlloc-before.TotalAlloc)
	}
	// Counts that the words can't hold are rejected by the header checks.
	bad := bytes.Clone(frame)
	binary.LittleEndian.PutUint64(bad[4:], maxValuesPerWord*uint64(h.Words+NumStates)+1)
	_, err = ParseFrameHeader(bad)
	require.ErrorIs(t, err, ErrMalformed)
}

// TestEncSymReciprocal checks the encoder's division by reciprocal against the division, for
// every frequency and states across the range the encoder uses, [freq*2^15, freq*2^47).
func TestEncSymReciprocal(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for f := uint32(1); f < probScale; f++ {
		e := newEncSym(0, f)
		lo, hi := uint64(f)<<15, uint64(f)<<47
		for _, x := range []uint64{lo, lo + 1, hi - 1, hi - uint64(f), lo + rng.Uint64N(hi-lo), lo + rng.Uint64N(hi-lo)} {
			q, _ := bits.Mul64(x, e.rcp)
			q >>= e.shift
			got := x + e.bias + q*e.cmpl
			want := (x/uint64(f))*probScale + x%uint64(f)
			if got != want {
				t.Fatalf("freq %d, x %d: fast C(s,x) = %d, want %d", f, x, got, want)
			}
		}
	}
}

// TestModelTable checks the tables: frequencies sum to 2^ProbBits, are deterministic, cap, and
// their rounding costs less than 1% of the model's ideal length down to 0.3 bits per value.
func TestModelTable(t *testing.T) {
	for _, beta := range []float64{0.3, 0.5, 0.9, 1.5, 2, 4} {
		for _, rate := range []float64{0.1, 0.3, 0.5, 1, 2, 3, 5} {
			c, err := StepForBits(beta, rate)
			require.NoError(t, err)
			m := buildModel(beta, c)
			var sum uint32
			ideal, coded := 0.0, 0.0
			for s, f := range m.freq {
				require.GreaterOrEqual(t, f, uint32(1))
				require.LessOrEqual(t, f, uint32(maxFreq))
				sum += f
				p := m.p[s]
				if p > 0 {
					ideal -= p * math.Log2(p)
				}
				coded += p * (ProbBits - math.Log2(float64(f)))
			}
			require.Equal(t, uint32(probScale), sum)
			again := buildModel(beta, c)
			require.Equal(t, m.freq, again.freq)
			require.Equal(t, m.checksum, again.checksum)
			excess := coded/ideal - 1
			t.Logf("beta=%g rate=%g: c=%.4g K=%d P(0)=%.4f ideal %.4f bits, table %.4f (+%.3f%%)",
				beta, rate, c, m.k, m.p[m.k], ideal, coded, 100*excess)
			if rate >= 0.3 {
				require.Less(t, excess, 0.01)
			}
		}
	}
	// Nearly every value zero: the cap keeps a cost per value.
	m, err := NewModel(1, MaxC)
	require.NoError(t, err)
	require.Equal(t, uint32(maxFreq), m.freq[m.k])
	require.Greater(t, m.Bits(0), 0.00136)
	// Nearly every value escapes.
	m, err = NewModel(1, MinC)
	require.NoError(t, err)
	require.Equal(t, 1, m.K())
	require.Equal(t, uint32(maxFreq), m.freq[len(m.freq)-1])
}

// TestCompression checks the frames' size against the empirical entropy of the values, on GG
// samples of several shapes at several rates: within 2%, plus the frame's fixed part and
// the expected cost of a model fitted to the distribution rather than to the sample.
func TestCompression(t *testing.T) {
	const n = 1 << 18
	for _, beta := range []float64{0.5, 0.9, 1.5, 2} {
		for _, rate := range []float64{0.3, 0.5, 1, 2, 3} {
			w := ggWorkload(n, beta, rate)
			frame := w.frame(nil)
			got := float64(8*len(frame)) / n
			h := entropy(w.qs)
			m, _ := NewModel(beta, w.c)
			// Coding a sample with the distribution's model costs its entropy plus the divergence
			// of the sample's frequencies from the model, about (A-1)/(2n ln 2) bits per value
			// for an alphabet of A symbols: allow four times that.
			fixed := float64(8*FrameOverhead+stateBlockMax+8) / n
			divergence := 4 * float64(len(m.freq)-1) / (2 * n * math.Ln2)
			bound := 1.02*h + fixed + divergence
			payload := float64(8*len(frame)-8*FrameOverhead-stateBlockMin) / n
			t.Logf("beta=%g rate=%g: %.4f bits/value, entropy %.4f (%+.2f%%; without the fixed part %+.3f%%), bound %.4f",
				beta, rate, got, h, 100*(got/h-1), 100*(payload/h-1), bound)
			require.Less(t, got, bound)
			if rate < 1 {
				require.Less(t, got, 1.0)
			}
		}
	}
}
