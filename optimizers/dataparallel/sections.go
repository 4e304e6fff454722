package dataparallel

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ggprior/ggprior/optimizers"
	"github.com/ggprior/ggprior/optimizers/ggrans"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
)

// This file holds the sparse, sign and lowrank sections of a payload (see
// the layout in wire.go): the bodies without their CRC-32C, which the callers
// append and check; and the decoding of the ggrans sections (a frame, with
// its own CRC-32C).

// float32SignBit is the sign bit of a float32's bits.
const float32SignBit = 1 << 31

// maxSectionElements bounds the elements of a sparse or sign section: its
// count and its indices are uint32.
const maxSectionElements int64 = math.MaxUint32

// appendSparse appends the body of wg's sparse section: the count of Mask's
// true elements, their indices packed in optimizers.SparseIndexBits(n) bits
// each, and Dense's values there.
func appendSparse(dst []byte, wg *WireGradient) ([]byte, error) {
	if wg.Dense == nil || wg.Dense.DType() != dtypes.Float32 {
		return dst, fmt.Errorf("needs Float32 values (Dense), got %v", shapeOf(wg.Dense))
	}
	if wg.Mask == nil || wg.Mask.DType() != dtypes.Bool || wg.Mask.Shape().Size() != wg.Dense.Shape().Size() {
		return dst, fmt.Errorf("needs a Bool Mask of the values' %d elements, got %v", wg.Dense.Shape().Size(), shapeOf(wg.Mask))
	}
	n := wg.Dense.Shape().Size()
	if int64(n) > maxSectionElements {
		return dst, fmt.Errorf("%d elements, at most %d fit a sparse section", n, maxSectionElements)
	}
	b := uint(optimizers.SparseIndexBits(n))
	var valuesErr error
	err := wg.Mask.ConstBytes(func(mask []byte) {
		valuesErr = tensors.ConstFlatData(wg.Dense, func(values []float32) {
			count := 0
			for _, m := range mask {
				if m != 0 {
					count++
				}
			}
			dst = binary.LittleEndian.AppendUint32(dst, uint32(count))
			var acc uint64 // Bits not yet written, LSB first: fewer than 8 + 32.
			var pending uint
			for j, m := range mask {
				if m == 0 {
					continue
				}
				acc |= uint64(j) << pending
				pending += b
				for pending >= 8 {
					dst = append(dst, byte(acc))
					acc >>= 8
					pending -= 8
				}
			}
			if pending > 0 {
				dst = append(dst, byte(acc))
			}
			for j, m := range mask {
				if m != 0 {
					dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(values[j]))
				}
			}
		})
	})
	if err == nil {
		err = valuesErr
	}
	return dst, err
}

// appendSign appends the body of wg's sign section: the scale Step, then one
// bit per element of Mask (set where true), packed LSB first.
func appendSign(dst []byte, wg *WireGradient) ([]byte, error) {
	if wg.Mask == nil || wg.Mask.DType() != dtypes.Bool {
		return dst, fmt.Errorf("needs a Bool Mask of the negative elements, got %v", shapeOf(wg.Mask))
	}
	if n := wg.Mask.Shape().Size(); int64(n) > maxSectionElements {
		return dst, fmt.Errorf("%d elements, at most %d fit a sign section", n, maxSectionElements)
	}
	dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(wg.Step))
	err := wg.Mask.ConstBytes(func(mask []byte) {
		for len(mask) > 0 {
			var packed byte
			for bit, m := range mask[:min(8, len(mask))] {
				if m != 0 {
					packed |= 1 << bit
				}
			}
			dst = append(dst, packed)
			mask = mask[min(8, len(mask)):]
		}
	})
	return dst, err
}

// appendLowRank appends the body of wg's lowrank section: P's then Q's values.
func appendLowRank(dst []byte, wg *WireGradient) ([]byte, error) {
	for _, f := range []*tensors.Tensor{wg.P, wg.Q} {
		if f == nil || f.DType() != dtypes.Float32 || f.Rank() != 2 {
			return dst, fmt.Errorf("needs Float32 factors P [rows, r] and Q [cols, r], got P %v and Q %v", shapeOf(wg.P), shapeOf(wg.Q))
		}
	}
	if wg.P.Shape().Dimensions[1] != wg.Q.Shape().Dimensions[1] {
		return dst, fmt.Errorf("factors P %s and Q %s of different ranks", wg.P.Shape(), wg.Q.Shape())
	}
	for _, f := range []*tensors.Tensor{wg.P, wg.Q} {
		if err := f.ConstBytes(func(data []byte) { dst = append(dst, data...) }); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// shapeOf returns t's shape for an error message, or "nil".
func shapeOf(t *tensors.Tensor) any {
	if t == nil {
		return "nil"
	}
	return t.Shape()
}

// decodeSparse decodes the body of a sparse section into a Float32 tensor of
// the variable's shape: zero but at the indices sent.
func (d *PayloadDecoder) decodeSparse(rank, i int, v VariableSpec, body []byte) (WireGradient, error) {
	n := v.Shape.Size()
	if len(body) < 4 {
		return WireGradient{}, fmt.Errorf("sparse section of %d bytes, shorter than its count", len(body))
	}
	count := int(binary.LittleEndian.Uint32(body))
	if count > n {
		return WireGradient{}, fmt.Errorf("sparse section of %d values, the variable has %d elements", count, n)
	}
	b := optimizers.SparseIndexBits(n)
	indexBytes := (count*b + 7) / 8
	if want := 4 + indexBytes + 4*count; len(body) != want {
		return WireGradient{}, fmt.Errorf("sparse section of %d bytes (without its CRC-32C), %d values of %d-bit indices need %d",
			len(body), count, b, want)
	}
	t, err := d.tensorFor(rank, i, KindSparse, shapes.Make(dtypes.Float32, v.Shape.Dimensions...))
	if err != nil {
		return WireGradient{}, err
	}
	indices, values := body[4:4+indexBytes], body[4+indexBytes:]
	var decErr error
	err = tensors.MutableFlatData(t, func(flat []float32) {
		clear(flat)
		var acc uint64
		var pending, pos int
		prev := -1
		mask := uint64(1)<<b - 1
		for j := range count {
			for pending < b {
				acc |= uint64(indices[pos]) << pending
				pos++
				pending += 8
			}
			idx := int(acc & mask)
			acc >>= b
			pending -= b
			if idx <= prev || idx >= n {
				decErr = fmt.Errorf("sparse section: index %d of value %d (after index %d), want increasing indices in [0, %d)", idx, j, prev, n)
				return
			}
			flat[idx] = math.Float32frombits(binary.LittleEndian.Uint32(values[4*j:]))
			prev = idx
		}
		if acc != 0 {
			decErr = fmt.Errorf("sparse section: the padding bits after the indices are %#x, want 0", acc)
		}
	})
	if err == nil {
		err = decErr
	}
	if err != nil {
		return WireGradient{}, err
	}
	return WireGradient{Kind: KindSparse, Dense: t}, nil
}

// decodeSign decodes the body of a sign section into a Float32 tensor of the
// variable's shape: the scale, negated (its sign bit flipped) where the bit is set.
func (d *PayloadDecoder) decodeSign(rank, i int, v VariableSpec, body []byte) (WireGradient, error) {
	n := v.Shape.Size()
	if want := 4 + (n+7)/8; len(body) != want {
		return WireGradient{}, fmt.Errorf("sign section of %d bytes (without its CRC-32C), %d elements need %d", len(body), n, want)
	}
	bits := body[4:]
	if n%8 != 0 && bits[len(bits)-1]>>(n%8) != 0 {
		return WireGradient{}, fmt.Errorf("sign section: the padding bits after the %d signs are %#x, want 0", n, bits[len(bits)-1]>>(n%8))
	}
	t, err := d.tensorFor(rank, i, KindSign, shapes.Make(dtypes.Float32, v.Shape.Dimensions...))
	if err != nil {
		return WireGradient{}, err
	}
	scale := binary.LittleEndian.Uint32(body)
	err = tensors.MutableFlatData(t, func(flat []float32) {
		for j := range flat {
			flat[j] = math.Float32frombits(scale ^ uint32(bits[j/8]>>(j%8)&1)*float32SignBit)
		}
	})
	if err != nil {
		return WireGradient{}, err
	}
	return WireGradient{Kind: KindSign, Dense: t, Step: math.Float32frombits(scale)}, nil
}

// decodeLowRank decodes the body of a lowrank section into its factors P
// [rows, r] and Q [cols, r] (Float32).
func (d *PayloadDecoder) decodeLowRank(rank, i int, v VariableSpec, body []byte) (WireGradient, error) {
	dims := v.Shape.Dimensions
	if len(dims) < 2 {
		return WireGradient{}, fmt.Errorf("lowrank section for a variable of shape %s, which has fewer than 2 axes", v.Shape)
	}
	rows, cols := optimizers.LowRankMatrixDims(dims)
	perRank := 4 * (rows + cols) // Bytes of one column of P and one of Q.
	if perRank == 0 || len(body) == 0 || len(body)%perRank != 0 {
		return WireGradient{}, fmt.Errorf("lowrank section of %d bytes (without its CRC-32C), not a positive multiple of "+
			"4 (rows + cols) = %d for a [%d, %d] matrix", len(body), perRank, rows, cols)
	}
	r := len(body) / perRank
	p, err := d.tensorForSlot(rank, i, slot{KindLowRank, 0}, shapes.Make(dtypes.Float32, rows, r))
	if err != nil {
		return WireGradient{}, err
	}
	q, err := d.tensorForSlot(rank, i, slot{KindLowRank, 1}, shapes.Make(dtypes.Float32, cols, r))
	if err != nil {
		return WireGradient{}, err
	}
	if err := p.MutableBytes(func(data []byte) { copy(data, body[:4*rows*r]) }); err != nil {
		return WireGradient{}, err
	}
	if err := q.MutableBytes(func(data []byte) { copy(data, body[4*rows*r:]) }); err != nil {
		return WireGradient{}, err
	}
	return WireGradient{Kind: KindLowRank, P: p, Q: q}, nil
}

// decodeGGRANS checks and decodes a ggrans section, one frame, into an Int32
// tensor of the variable's shape: the frame must hold the variable's count of
// values, fill the section exactly, and pass ggrans.DecodeFrame's checks (its
// CRC-32C, its header, its model's table, its streams). Its parameters are
// positive and finite float32 (ggrans.ParseFrameHeader checks them).
func (d *PayloadDecoder) decodeGGRANS(rank, i int, v VariableSpec, dtype dtypes.DType, section []byte) (WireGradient, error) {
	if dtype != dtypes.Int32 {
		return WireGradient{}, fmt.Errorf("ggrans section of dtype %s, want %s", dtype, dtypes.Int32)
	}
	fh, err := ggrans.ParseFrameHeader(section)
	if err != nil {
		return WireGradient{}, err
	}
	count := v.Shape.Size()
	if fh.Count != count {
		return WireGradient{}, fmt.Errorf("ggrans frame of %d values, the variable has %d", fh.Count, count)
	}
	if fh.FrameSize() != len(section) {
		return WireGradient{}, fmt.Errorf("ggrans frame of %d bytes in a section of %d", fh.FrameSize(), len(section))
	}
	t, err := d.tensorFor(rank, i, KindGGRANS, shapes.Make(dtypes.Int32, v.Shape.Dimensions...))
	if err != nil {
		return WireGradient{}, err
	}
	var decErr error
	err = tensors.MutableFlatData(t, func(flat []int32) {
		var out []int32
		out, fh, decErr = ggrans.DecodeFrame(flat[:0], section)
		switch {
		case decErr != nil:
		case len(out) != count:
			decErr = fmt.Errorf("ggrans frame decoded to %d values, the variable has %d", len(out), count)
		case count > 0 && &out[0] != &flat[0]:
			decErr = fmt.Errorf("decoded %d values outside the tensor", len(out))
		}
	})
	if err == nil {
		err = decErr
	}
	if err != nil {
		return WireGradient{}, err
	}
	return WireGradient{Kind: KindGGRANS, Ints: t, Step: fh.Step, Alpha: fh.Alpha, Beta: fh.Beta}, nil
}
