package ggrans

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"sync"

	"github.com/ggprior/ggprior/ggx"
)

const (
	// ProbBits is the precision of the quantized probability table: symbol frequencies are
	// integers summing to 2^ProbBits, and a symbol of frequency f costs ProbBits - log2(f) bits.
	ProbBits = 16

	// MaxMagnitude is the largest |q| the alphabet can hold: values beyond the model's alphabet
	// half-width K (1 <= K <= MaxMagnitude) are escaped.
	MaxMagnitude = 127

	// MinBeta and MaxBeta bound the shape used by the model: a frame's beta is clamped to
	// [MinBeta, MaxBeta] before the table is built (the range ggx.FitGraph reports).
	MinBeta = ggx.GraphBetaMin
	MaxBeta = ggx.GraphBetaMax

	// MinC and MaxC bound the step relative to the scale, c = step/alpha, used by the model: c is
	// clamped to [MinC, MaxC] before the table is built. Below MinC nearly every value escapes
	// for every shape; above MaxC nearly every value is 0 even for beta = MinBeta, whose tails
	// reach 10^30 times the scale.
	MinC = 0x1p-40
	MaxC = 0x1p126

	// probScale is the sum of the frequencies, M = 2^ProbBits.
	probScale = 1 << ProbBits

	// maxFreq caps every frequency at M(1 - 2^-10), so that every symbol costs at least
	// -log2(1 - 2^-10) > 0.0014 bits: a frame's element count is then bounded by its size.
	maxFreq = probScale - probScale>>10

	// minCellMass is the smallest model mass of a value given its own symbol: K is the largest
	// k <= MaxMagnitude whose cell mass reaches it (at least 1).
	minCellMass = 1.0 / probScale

	// escMark is the value the decoder writes for the escape symbol before the escapes are
	// resolved: in-alphabet values never take it.
	escMark = math.MinInt32
)

// Model is the quantized probability table of the coder for one GG shape beta and relative step
// c = step/alpha: the alphabet of the values q in [-K, K], each with the GG(alpha=1, beta) mass
// of its cell [(q-1/2)c, (q+1/2)c], plus an escape symbol for |q| > K with the mass of the rest.
// The masses are computed in float64 with ggx.Dist's Survival, and quantized to integer
// frequencies summing to 2^ProbBits: f = max(1, round(p*2^ProbBits)) (ties to even), the
// difference to 2^ProbBits added to the largest frequency, capped at 2^ProbBits*(1-2^-10) with
// the excess moved to the escape symbol (to the value 0 if the escape is the largest).
//
// K is the largest k <= MaxMagnitude whose cell mass is at least 2^-ProbBits (at least 1), so
// that the table's rounding costs a negligible fraction of the coded size.
//
// A Model is immutable and safe for concurrent use; models are cached (see [ModelFor]).
type Model struct {
	beta, c float64
	k       int
	// p holds the model masses before quantization, by symbol: p[q+K] for q in [-K, K], and
	// p[2K+1] for the escape symbol.
	p []float64
	// freq and cum are the quantized frequencies and their cumulative sums, by symbol.
	freq, cum []uint32
	checksum  uint32

	enc [256]encSym
	// dec packs, by symbol, freq | cum<<16 | uint32(value)<<32 (value escMark for the escape).
	dec   [256]uint64
	slots *[probScale]uint8
}

// encSym is a symbol's entry in the encoder's table: the renormalization bound and the
// reciprocal of its frequency, so that encoding needs no division (see newEncSym).
type encSym struct {
	xMax, rcp, bias, cmpl uint64
	shift                 uint64
}

// ModelFor returns the model of a frame with these parameters: beta clamped to [MinBeta, MaxBeta]
// and c = float64(step)/float64(alpha) clamped to [MinC, MaxC]. It returns an error wrapping
// ErrParameter if alpha, beta or step is not positive and finite.
//
// Models are cached by (beta, c): the last few are kept, so the encoder and the decoder of a
// stream of frames with the same parameters build each table once.
func ModelFor(alpha, beta, step float32) (*Model, error) {
	if err := checkParams(alpha, beta, step); err != nil {
		return nil, err
	}
	return NewModel(float64(beta), float64(step)/float64(alpha))
}

// checkParams returns an error wrapping ErrParameter unless alpha, beta and step are positive
// and finite.
func checkParams(alpha, beta, step float32) error {
	for _, p := range []struct {
		name string
		v    float32
	}{{"alpha", alpha}, {"beta", beta}, {"step", step}} {
		if !(p.v > 0) || math.IsInf(float64(p.v), 1) {
			return fmt.Errorf("%w: %s must be positive and finite, got %g", ErrParameter, p.name, p.v)
		}
	}
	return nil
}

// NewModel returns the model for shape beta and relative step c = step/alpha (both clamped, see
// [ModelFor]), from the cache if it holds it. It returns an error wrapping ErrParameter if beta
// or c is not positive and finite (NaN included).
func NewModel(beta, c float64) (*Model, error) {
	if !(beta > 0) || math.IsInf(beta, 1) || !(c > 0) || math.IsInf(c, 1) {
		return nil, fmt.Errorf("%w: beta and c must be positive and finite, got beta=%g, c=%g", ErrParameter, beta, c)
	}
	beta = min(max(beta, MinBeta), MaxBeta)
	c = min(max(c, MinC), MaxC)
	key := modelKey{math.Float64bits(beta), math.Float64bits(c)}
	if m := models.get(key); m != nil {
		return m, nil
	}
	m := buildModel(beta, c)
	models.put(key, m)
	return m, nil
}

// K returns the alphabet half-width: the values in [-K, K] have their own symbol, the others
// are escaped. 1 <= K <= MaxMagnitude.
func (m *Model) K() int { return m.k }

// Beta returns the shape the model was built for (after clamping).
func (m *Model) Beta() float64 { return m.beta }

// C returns the relative step c = step/alpha the model was built for (after clamping).
func (m *Model) C() float64 { return m.c }

// Checksum returns the CRC-32C of the quantized table (K, then each frequency as 2 little-endian
// bytes), which frames carry so a decoder detects a table that differs from the encoder's.
func (m *Model) Checksum() uint32 { return m.checksum }

// Freqs returns a copy of the quantized frequencies, which sum to 2^ProbBits: those of the
// values -K to K, then that of the escape symbol.
func (m *Model) Freqs() []uint32 { return append([]uint32(nil), m.freq...) }

// Bits returns the cost in bits of q's symbol in the rANS stream, ProbBits - log2(f): for an
// escaped value (|q| > K), the cost of the escape symbol, without its Exp-Golomb code.
func (m *Model) Bits(q int32) float64 {
	return ProbBits - math.Log2(float64(m.freq[m.symbol(q)]))
}

// symbol returns q's symbol: q+K, or 2K+1 (escape) if |q| > K.
func (m *Model) symbol(q int32) uint32 {
	return min(uint32(q+int32(m.k)), uint32(2*m.k+1))
}

// buildModel builds the model of beta and c, already validated and clamped.
func buildModel(beta, c float64) *Model {
	d := ggx.Dist{Alpha: 1, Beta: beta}
	// s[k] = P(X > (k+1/2)c), the one-sided mass beyond cell k.
	s := make([]float64, 1, MaxMagnitude+1)
	s[0] = d.Survival(c / 2)
	k := 0
	for k < MaxMagnitude {
		next := d.Survival((float64(k) + 1.5) * c)
		if s[k]-next < minCellMass && k >= 1 {
			break
		}
		s = append(s, next)
		k++
	}
	m := &Model{beta: beta, c: c, k: k}
	nsym := 2*k + 2
	m.p = make([]float64, nsym)
	m.p[k] = 1 - 2*s[0]
	for j := 1; j <= k; j++ {
		m.p[k+j] = s[j-1] - s[j]
		m.p[k-j] = m.p[k+j]
	}
	m.p[nsym-1] = 2 * s[k]
	m.freq = quantizeFreqs(m.p)
	m.build()
	return m
}

// quantizeFreqs returns the frequencies of the masses p (which sum to about 1, the last one
// being the escape's): see Model.
func quantizeFreqs(p []float64) []uint32 {
	f := make([]int64, len(p))
	var sum int64
	largest := 0
	for i, pi := range p {
		f[i] = max(1, int64(math.RoundToEven(pi*probScale)))
		sum += f[i]
		if f[i] > f[largest] {
			largest = i
		}
	}
	f[largest] += probScale - sum
	if f[largest] < 1 {
		// Only for pathological masses: take the excess from the largest frequencies in turn.
		f[largest] = 1
		for excess := sumOf(f) - probScale; excess > 0; {
			big := 0
			for i := range f {
				if f[i] > f[big] {
					big = i
				}
			}
			take := min(excess, f[big]-1)
			f[big] -= take
			excess -= take
		}
	}
	esc := len(p) - 1
	if f[largest] > maxFreq {
		target := esc
		if largest == esc {
			target = esc / 2 // The value 0.
		}
		f[target] += f[largest] - maxFreq
		f[largest] = maxFreq
	}
	out := make([]uint32, len(f))
	for i, fi := range f {
		out[i] = uint32(fi)
	}
	return out
}

func sumOf(f []int64) int64 {
	var s int64
	for _, v := range f {
		s += v
	}
	return s
}

// build fills the cumulative frequencies, the checksum and the coding tables from m.freq.
func (m *Model) build() {
	nsym := len(m.freq)
	esc := nsym - 1
	m.cum = make([]uint32, nsym)
	m.slots = new([probScale]uint8)
	buf := []byte{byte(m.k)}
	var cum uint32
	for s, f := range m.freq {
		m.cum[s] = cum
		m.enc[s] = newEncSym(cum, f)
		val := uint32(int32(s - m.k))
		if s == esc {
			val = uint32(escMark & math.MaxUint32)
		}
		m.dec[s] = uint64(f) | uint64(cum)<<16 | uint64(val)<<32
		// Fill the symbol's slots by doubling copies (memmove), much faster than byte by byte.
		seg := m.slots[cum : cum+f]
		seg[0] = uint8(s)
		for done := 1; done < len(seg); done *= 2 {
			copy(seg[done:], seg[:done])
		}
		cum += f
		buf = binary.LittleEndian.AppendUint16(buf, uint16(f))
	}
	if cum != probScale {
		panic(fmt.Sprintf("ggrans: internal error: frequencies sum to %d, not %d", cum, probScale))
	}
	m.checksum = crc32.Checksum(buf, castagnoli)
}

// newEncSym returns the encoder entry of a symbol with cumulative frequency start and frequency
// freq (1 <= freq < 2^ProbBits). The encoder computes C(s, x) = (x/freq)*M + x%freq + start as
// x + bias + q*(M - freq), with the quotient q = mulhi64(x, rcp) >> shift exact for all states
// x < 2^63 (Alverson's division by reciprocals, as in ryg's rans64); freq = 1 uses rcp = 2^64-1,
// which gives q = x-1, compensated in bias.
func newEncSym(start, freq uint32) encSym {
	e := encSym{
		xMax: uint64(freq) << (ransLBits - ProbBits + 32),
		cmpl: uint64(probScale - freq),
	}
	if freq < 2 {
		e.rcp, e.shift, e.bias = math.MaxUint64, 0, uint64(start)+probScale-1
		return e
	}
	shift := uint(bits.Len32(freq - 1)) // ceil(log2(freq)), so 2^(shift-1) < freq.
	e.rcp, _ = bits.Div64(uint64(1)<<(shift-1), uint64(freq-1), uint64(freq))
	e.shift, e.bias = uint64(shift-1), uint64(start)
	return e
}

// modelKey identifies a model: the float64 bits of its clamped beta and c.
type modelKey struct{ beta, c uint64 }

// modelCacheSize is the number of models kept by the cache.
const modelCacheSize = 32

// modelCache keeps the last modelCacheSize models built, first in first out.
type modelCache struct {
	mu    sync.Mutex
	byKey map[modelKey]*Model
	order [modelCacheSize]modelKey
	next  int
}

var models = &modelCache{byKey: make(map[modelKey]*Model)}

func (mc *modelCache) get(key modelKey) *Model {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return mc.byKey[key]
}

func (mc *modelCache) put(key modelKey, m *Model) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if _, ok := mc.byKey[key]; ok {
		return
	}
	if len(mc.byKey) == modelCacheSize {
		delete(mc.byKey, mc.order[mc.next])
	}
	mc.byKey[key] = m
	mc.order[mc.next] = key
	mc.next = (mc.next + 1) % modelCacheSize
}
