package ggrans

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// The rANS coder: 64-bit states in [L, 2^63) with L = 2^31, renormalized 32 bits at a time, as in
// ryg's rans64. NumStates states are interleaved: value i is coded with state i % NumStates, so
// the dependency chains of consecutive values overlap in the CPU. The encoder runs from the last
// value to the first, starting each state at L; the decoder runs forward from the encoder's
// final states and must end with every state back at L, having read every word.
const (
	// NumStates is the number of interleaved rANS states.
	NumStates = 4

	ransLBits = 31
	ransL     = uint64(1) << ransLBits

	// chunk is the number of values coded between two checks of the word buffer: a value reads
	// or writes at most one 32-bit word.
	chunk = 1 << 10
)

// encodeSymbols encodes qs backwards with model m from states x (each L initially). The emitted
// 32-bit words are appended to words in emission order (the reverse of the decoding order), and
// the escaped values to escs, also in reverse order. It returns both slices.
func (m *Model) encodeSymbols(qs []int32, x *[NumStates]uint64, words []uint32, escs []int32) ([]uint32, []int32) {
	var buf [chunk]uint32
	n4 := len(qs) &^ (NumStates - 1)
	// The last len(qs) % NumStates values first, each with its own state.
	for i := len(qs) - 1; i >= n4; i-- {
		pos := 0
		e := &m.enc[m.symbol(qs[i])&255]
		if m.symbol(qs[i]) == uint32(2*m.k+1) {
			escs = append(escs, qs[i])
		}
		x[i&3], pos = encPut(x[i&3], e, &buf, pos)
		words = append(words, buf[:pos]...)
	}
	for end := n4; end > 0; {
		start := max(0, end-chunk)
		var pos int
		pos, escs = m.encodeGroups(qs[start:end], x, &buf, escs)
		words = append(words, buf[:pos]...)
		end = start
	}
	return words, escs
}

// encodeGroups encodes qs (len(qs) <= chunk, a multiple of NumStates) backwards, writing the
// words to buf from index 0. It returns the number of words and escs with the escaped values
// appended. It is the encoder's hot loop.
func (m *Model) encodeGroups(qs []int32, x *[NumStates]uint64, buf *[chunk]uint32, escs []int32) (int, []int32) {
	tab := &m.enc
	k := int32(m.k)
	esc := uint32(2*k + 1)
	x0, x1, x2, x3 := x[0], x[1], x[2], x[3]
	pos := 0
	for i := len(qs) - 4; i >= 0 && i+3 < len(qs); i -= 4 {
		g := (*[4]int32)(qs[i : i+4])
		s3, s2, s1, s0 := min(uint32(g[3]+k), esc), min(uint32(g[2]+k), esc), min(uint32(g[1]+k), esc), min(uint32(g[0]+k), esc)
		if s3 == esc || s2 == esc || s1 == esc || s0 == esc {
			escs = appendEscapes(escs, g, k)
		}
		x3, pos = encPut(x3, &tab[s3&255], buf, pos)
		x2, pos = encPut(x2, &tab[s2&255], buf, pos)
		x1, pos = encPut(x1, &tab[s1&255], buf, pos)
		x0, pos = encPut(x0, &tab[s0&255], buf, pos)
	}
	x[0], x[1], x[2], x[3] = x0, x1, x2, x3
	return pos, escs
}

// appendEscapes appends to escs the escaped values of the group g, last first.
func appendEscapes(escs []int32, g *[4]int32, k int32) []int32 {
	for j := 3; j >= 0; j-- {
		if q := g[j]; q > k || q < -k {
			escs = append(escs, q)
		}
	}
	return escs
}

// encPut encodes one symbol with entry e into state x: renormalize (write the low 32 bits of x
// to buf[pos] if x >= e.xMax), then x = C(s, x). It returns the new state and pos.
func encPut(x uint64, e *encSym, buf *[chunk]uint32, pos int) (uint64, int) {
	// Branch-free renormalization: the store is unconditional, only pos advances.
	buf[pos&(chunk-1)] = uint32(x)
	if x >= e.xMax {
		pos++
		x >>= 32
	}
	q, _ := bits.Mul64(x, e.rcp)
	return x + e.bias + (q>>(e.shift&63))*e.cmpl, pos
}

// ransDecoder is the state of a decoding: the NumStates states, and the position in the words.
type ransDecoder struct {
	m *Model
	x [NumStates]uint64
	// src holds the words (little-endian uint32, in decoding order); off is the byte offset of
	// the next one.
	src []byte
	off int
	// buf is src, or near its end a copy of its tail padded with 4*chunk zero bytes, so the hot
	// loop always has a full window: buf[j] is src[base+j].
	buf  []byte
	base int
}

// decode decodes len(out) values into out. The first value of out has state 0: callers pass
// chunks of a multiple of NumStates values, but for the last. It returns an error wrapping
// ErrInvalidCode if the words run out. Escapes are written as escMark.
func (d *ransDecoder) decode(out []int32) error {
	i := 0
	n4 := len(out) &^ (NumStates - 1)
	for i < n4 {
		if d.off > len(d.src) {
			return fmt.Errorf("%w: the rANS stream ends early (value %d)", ErrInvalidCode, i)
		}
		if len(d.buf)-(d.off-d.base) < 4*chunk {
			padded := make([]byte, len(d.src)-d.off+4*chunk)
			copy(padded, d.src[d.off:])
			d.buf, d.base = padded, d.off
		}
		pos := d.off - d.base
		n := min(n4-i, chunk)
		read := d.m.decodeGroups(out[i:i+n], &d.x, (*[4 * chunk]byte)(d.buf[pos:pos+4*chunk]))
		d.off += read
		i += n
	}
	if d.off > len(d.src) {
		return fmt.Errorf("%w: the rANS stream ends early", ErrInvalidCode)
	}
	for j := 0; i < len(out); i, j = i+1, j+1 {
		var err error
		if out[i], d.x[j], d.off, err = d.m.decodeOne(d.x[j], d.src, d.off); err != nil {
			return fmt.Errorf("%w (value %d)", err, i)
		}
	}
	return nil
}

// decodeGroups decodes out (len(out) <= chunk, a multiple of NumStates) from the words of w: at
// most one is read per value. It returns the number of bytes read. It is the decoder's hot loop.
func (m *Model) decodeGroups(out []int32, x *[NumStates]uint64, w *[4 * chunk]byte) int {
	slots, dec := m.slots, &m.dec
	x0, x1, x2, x3 := x[0], x[1], x[2], x[3]
	r := uint(0)
	for i := 0; i+3 < len(out); i += 4 {
		g := (*[4]int32)(out[i : i+4])
		g[0], x0, r = decGet(x0, slots, dec, w, r)
		g[1], x1, r = decGet(x1, slots, dec, w, r)
		g[2], x2, r = decGet(x2, slots, dec, w, r)
		g[3], x3, r = decGet(x3, slots, dec, w, r)
	}
	x[0], x[1], x[2], x[3] = x0, x1, x2, x3
	return int(r)
}

// decGet decodes one symbol from state x: the slot x mod M gives the symbol, x becomes
// freq*(x/M) + slot - cum, and is renormalized from the word at w[r:r+4] if it fell below L.
// It returns the value, the new state and the new r.
func decGet(x uint64, slots *[probScale]uint8, dec *[256]uint64, w *[4 * chunk]byte, r uint) (int32, uint64, uint) {
	slot := x & (probScale - 1)
	d := dec[slots[slot]]
	x = (d&0xFFFF)*(x>>ProbBits) + slot - (d >> 16 & 0xFFFF)
	// Branch-free renormalization: the next word is always loaded, and used if x < L.
	r &= 4*chunk - 4
	nx := x<<32 | uint64(binary.LittleEndian.Uint32(w[r:r+4]))
	nr := r + 4
	if x < ransL {
		x, r = nx, nr
	}
	return int32(d >> 32), x, r
}

// decodeOne is decGet with a checked read from src at byte off: the slow path.
func (m *Model) decodeOne(x uint64, src []byte, off int) (int32, uint64, int, error) {
	slot := x & (probScale - 1)
	d := m.dec[m.slots[slot]]
	x = (d&0xFFFF)*(x>>ProbBits) + slot - (d >> 16 & 0xFFFF)
	if x < ransL {
		if off+4 > len(src) {
			return 0, x, off, fmt.Errorf("%w: the rANS stream ends early", ErrInvalidCode)
		}
		x = x<<32 | uint64(src[off]) | uint64(src[off+1])<<8 | uint64(src[off+2])<<16 | uint64(src[off+3])<<24
		off += 4
	}
	return int32(d >> 32), x, off, nil
}
