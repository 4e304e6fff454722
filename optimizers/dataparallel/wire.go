package dataparallel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/ggprior/ggprior/optimizers/expgolomb"
	"github.com/ggprior/ggprior/optimizers/ggrans"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
)

// Payload layout: what one worker sends each step, all its variables'
// gradients in one message. All integers are little-endian.
//
//	offset   size  field
//	0        4     magic "GGDP"
//	4        2     format version (3)
//	6        2     flags: bit 0 set if the section table carries noise powers (the others 0)
//	8        8     step number (int64): every rank must be at the same step
//	16       4     the sender's loss (float32 bits)
//	20       4     number of sections n (one per trainable variable, in path order of the graph)
//	24       16*n  section table, per section: kind (1 byte), dtype (1 byte),
//	               2 reserved bytes (0), the power of the gradient's quantization
//	               noise (float32 bits; 0 without flag bit 0: see
//	               optimizers.NoisePower), section length in bytes (uint64)
//	24+16n   4     CRC-32C (Castagnoli) of bytes [0, 24+16n)
//	28+16n   ...   the sections, one after the other
//
// Sections, by kind:
//
//	expgolomb  one expgolomb frame (expgolomb.AppendFrame: its own header, the
//	           quantization step and a CRC-32C): FrameOverhead + ceil(bits/8) bytes
//	ggrans     one ggrans frame (ggrans.AppendFrame: its own 52-byte header with
//	           the count, the float32 alpha, beta and step of its GG model, the
//	           rANS words, the side stream of escapes and final states, and a
//	           CRC-32C of all that): ggrans.FrameOverhead (56) bytes plus about
//	           the values' information content under the model; the count must be
//	           the variable's size and the frame fill the section
//	int8       step (float32 bits), the n int8 values, CRC-32C of both: n + 8 bytes
//	dense      the n values in the section's dtype (float32, or bfloat16 for the
//	           bf16 compressor), little-endian, then their CRC-32C: n*size + 4 bytes
//	sparse     the count c of values sent (uint32); their c indices, strictly
//	           increasing, b = optimizers.SparseIndexBits(n) = ceil(log2 n) bits
//	           each, packed LSB first (index j in bits [j*b, (j+1)*b) of the
//	           stream, bit i of the stream in bit i%8 of byte i/8; the unused
//	           high bits of the last byte 0): ceil(c*b/8) bytes; the c float32
//	           values; a CRC-32C of all that: 8 + ceil(c*b/8) + 4c bytes. The
//	           elements not sent are 0.
//	sign       the scale s (float32 bits); n bits packed LSB first as above,
//	           bit i set where element i is -s (it is +s where clear; the
//	           unused high bits of the last byte 0); a CRC-32C of both:
//	           8 + ceil(n/8) bytes
//	lowrank    the factors P [rows, r] then Q [cols, r] (float32, row-major),
//	           the variable viewed as a matrix [rows, cols] whose cols is its
//	           last axis (optimizers.LowRankMatrixDims), and a CRC-32C of both:
//	           4 (rows+cols) r + 4 bytes (r follows from the length); the
//	           gradient is optimizers.LowRankDecode(P, Q), computed in the
//	           update graph
//
// The dtype byte of the section table is Int32 for expgolomb and ggrans, Int8
// for int8, the values' dtype for dense, and Float32 for sparse, sign and
// lowrank.
//
// Version 2 added the sparse, sign and lowrank sections (version 1 sent those
// compressors' decoded gradients as dense sections), version 3 the ggrans
// section, version 4 the noise powers (GCT's second-moment correction).
const (
	payloadMagic   = "GGDP"
	payloadVersion = 4
	// flagNoisePowers is the header flag of the section table's noise powers.
	flagNoisePowers   = 1
	payloadFixedSize  = 24
	sectionEntrySize  = 16
	payloadCRCSize    = 4
	sectionCRCSize    = 4
	int8SectionExtra  = 4 + sectionCRCSize
	denseSectionExtra = sectionCRCSize
	// SparseSectionOverhead is the framing of a sparse section, besides the
	// coded size (ceil of the indices' bits to a byte, and 4 bytes per value):
	// the count and the CRC-32C.
	SparseSectionOverhead = 4 + sectionCRCSize
	// SignSectionOverhead is the framing of a sign section besides the scale
	// and the packed bits (ceil(n/8) bytes): its CRC-32C.
	SignSectionOverhead = sectionCRCSize
	// LowRankSectionOverhead is the framing of a lowrank section besides the
	// factors: its CRC-32C.
	LowRankSectionOverhead = sectionCRCSize
	// DenseSectionOverhead is the framing of a dense section besides the
	// values: its CRC-32C.
	DenseSectionOverhead = sectionCRCSize
)

// castagnoli is the CRC-32C table (hardware-accelerated by hash/crc32).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// PayloadHeaderSize returns the size in bytes of a payload's header for n
// variables: 28 + 16n.
func PayloadHeaderSize(n int) int {
	return payloadFixedSize + sectionEntrySize*n + payloadCRCSize
}

// Kind is how one variable's gradient travels on the wire.
type Kind uint8

const (
	// KindExpGolomb is an Exp-Golomb frame of the integer-quantized gradient.
	KindExpGolomb Kind = 1
	// KindInt8 is raw int8 values plus a float32 scale.
	KindInt8 Kind = 2
	// KindDense is the decoded gradient's raw values (float32 or bfloat16).
	KindDense Kind = 3
	// KindSparse is the indices and float32 values of the elements sent (Top-k).
	KindSparse Kind = 4
	// KindSign is one bit per element and a float32 scale (SignSGD).
	KindSign Kind = 5
	// KindLowRank is the float32 factors P and Q of a low-rank gradient (PowerSGD).
	KindLowRank Kind = 6
	// KindGGRANS is a ggrans frame of the integer-quantized gradient (GCT's
	// GG quantizer with the rANS coder).
	KindGGRANS Kind = 7
)

// String returns "expgolomb", "int8", "dense", "sparse", "sign", "lowrank" or "ggrans".
func (k Kind) String() string {
	switch k {
	case KindExpGolomb:
		return "expgolomb"
	case KindInt8:
		return "int8"
	case KindDense:
		return "dense"
	case KindSparse:
		return "sparse"
	case KindSign:
		return "sign"
	case KindLowRank:
		return "lowrank"
	case KindGGRANS:
		return "ggrans"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// WireGradient is one variable's gradient in the form it travels:
//
//   - KindExpGolomb: Ints (Int32) with the Exp-Golomb order K and the Step;
//     the gradient is Ints*Step.
//   - KindInt8: Ints (Int8) and the Step; the gradient is Ints*Step.
//   - KindDense: Dense (any float dtype), the gradient.
//   - KindSparse: Dense (Float32, the variable's shape), the gradient, zero
//     outside the elements sent. To send, Mask (Bool, the same shape) says
//     which elements are sent (AppendPayload sends Dense's values there); a
//     decoded one has no Mask.
//   - KindSign: Dense (Float32, the variable's shape), the gradient: -Step
//     where the sign bit is set, +Step elsewhere. To send, Mask (Bool) holds
//     the bits and Step the scale (AppendPayload doesn't read Dense); a decoded
//     one has no Mask.
//   - KindLowRank: the factors P [rows, r] and Q [cols, r] (Float32); the
//     gradient is optimizers.LowRankDecode(P, Q), which the update graph
//     computes.
//   - KindGGRANS: Ints (Int32) coded under the GG model of Alpha and Beta
//     with the Step; the gradient is Ints*Step.
type WireGradient struct {
	Kind  Kind
	Ints  *tensors.Tensor
	Step  float32
	K     int
	Dense *tensors.Tensor
	Mask  *tensors.Tensor
	P, Q  *tensors.Tensor
	// Alpha and Beta are the GG model's scale and shape of a KindGGRANS frame.
	Alpha, Beta float32
	// NoisePower is the power of the gradient's quantization noise
	// (optimizers.NoisePower), sent when PayloadHeader.NoisePowers is set.
	NoisePower float32
}

// PayloadHeader holds the header fields of a payload besides its sections.
type PayloadHeader struct {
	// Step is the sender's step number.
	Step int64
	// Loss is the sender's loss on its shard.
	Loss float32
	// NoisePowers says whether the sections carry their WireGradient.NoisePower
	// (GCT's second-moment correction).
	NoisePowers bool
}

// AppendPayload appends to dst the payload holding grads (see the layout
// above) and returns it, with the size in bytes of each section. The ints and
// dense values are read in place (no copy besides the encoding itself).
func AppendPayload(dst []byte, hdr PayloadHeader, grads []WireGradient) ([]byte, []int, error) {
	start := len(dst)
	n := len(grads)
	headerSize := PayloadHeaderSize(n)
	dst = append(dst, make([]byte, headerSize)...)
	h := dst[start:]
	copy(h, payloadMagic)
	binary.LittleEndian.PutUint16(h[4:], payloadVersion)
	if hdr.NoisePowers {
		binary.LittleEndian.PutUint16(h[6:], flagNoisePowers)
	}
	binary.LittleEndian.PutUint64(h[8:], uint64(hdr.Step))
	binary.LittleEndian.PutUint32(h[16:], math.Float32bits(hdr.Loss))
	binary.LittleEndian.PutUint32(h[20:], uint32(n))
	sizes := make([]int, n)
	for i := range grads {
		wg := &grads[i]
		sectionStart := len(dst)
		var dtype dtypes.DType
		var err error
		switch wg.Kind {
		case KindExpGolomb:
			dtype = dtypes.Int32
			if wg.Ints == nil || wg.Ints.DType() != dtypes.Int32 {
				return dst[:start], nil, fmt.Errorf("dataparallel: section %d: Exp-Golomb gradient needs Int32 ints", i)
			}
			err = tensors.ConstFlatData(wg.Ints, func(flat []int32) {
				dst = expgolomb.AppendFrame(dst, flat, wg.K, wg.Step)
			})
		case KindGGRANS:
			dtype = dtypes.Int32
			if wg.Ints == nil || wg.Ints.DType() != dtypes.Int32 {
				return dst[:start], nil, fmt.Errorf("dataparallel: section %d: ggrans gradient needs Int32 ints", i)
			}
			var frameErr error
			err = tensors.ConstFlatData(wg.Ints, func(flat []int32) {
				dst, frameErr = ggrans.AppendFrame(dst, flat, wg.Alpha, wg.Beta, wg.Step)
			})
			if err == nil {
				err = frameErr
			}
		case KindInt8:
			dtype = dtypes.Int8
			if wg.Ints == nil || wg.Ints.DType() != dtypes.Int8 {
				return dst[:start], nil, fmt.Errorf("dataparallel: section %d: int8 gradient needs Int8 ints", i)
			}
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(wg.Step))
			err = wg.Ints.ConstBytes(func(data []byte) { dst = append(dst, data...) })
			dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[sectionStart:], castagnoli))
		case KindDense:
			if wg.Dense == nil || !wg.Dense.DType().IsFloat() {
				return dst[:start], nil, fmt.Errorf("dataparallel: section %d: dense gradient needs a float tensor", i)
			}
			dtype = wg.Dense.DType()
			err = wg.Dense.ConstBytes(func(data []byte) { dst = append(dst, data...) })
			dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[sectionStart:], castagnoli))
		case KindSparse:
			dtype = dtypes.Float32
			dst, err = appendSparse(dst, wg)
			dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[sectionStart:], castagnoli))
		case KindSign:
			dtype = dtypes.Float32
			dst, err = appendSign(dst, wg)
			dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[sectionStart:], castagnoli))
		case KindLowRank:
			dtype = dtypes.Float32
			dst, err = appendLowRank(dst, wg)
			dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[sectionStart:], castagnoli))
		default:
			return dst[:start], nil, fmt.Errorf("dataparallel: section %d: unknown kind %s", i, wg.Kind)
		}
		if err != nil {
			return dst[:start], nil, fmt.Errorf("dataparallel: section %d: %s gradient: %w", i, wg.Kind, err)
		}
		sizes[i] = len(dst) - sectionStart
		// dst may have moved: re-slice the header.
		entry := dst[start+payloadFixedSize+sectionEntrySize*i:]
		entry[0] = byte(wg.Kind)
		entry[1] = byte(dtype)
		if hdr.NoisePowers {
			binary.LittleEndian.PutUint32(entry[4:], math.Float32bits(wg.NoisePower))
		}
		binary.LittleEndian.PutUint64(entry[8:], uint64(sizes[i]))
	}
	crcAt := start + headerSize - payloadCRCSize
	binary.LittleEndian.PutUint32(dst[crcAt:], crc32.Checksum(dst[start:crcAt], castagnoli))
	return dst, sizes, nil
}

// VariableSpec is what a receiver knows of a variable from its own model: its
// path (for error messages) and shape.
type VariableSpec struct {
	Path  string
	Shape shapes.Shape
}

// PayloadDecoder decodes peers' payloads into tensors that it reuses from one
// call to the next (one set per peer rank): a decoded tensor is valid until
// the next Decode for the same rank.
type PayloadDecoder struct {
	backend compute.Backend
	vars    []VariableSpec
	// cache[rank][var][slot] is a tensor reused for that section.
	cache map[int][]map[slot]*tensors.Tensor
}

// slot names one of the tensors a section decodes into: its kind, and which
// of its tensors (0, or 1 for a lowrank section's Q).
type slot struct {
	kind Kind
	part uint8
}

// NewPayloadDecoder returns a decoder for payloads of the given variables,
// whose tensors are created for backend (shared with it where it can).
func NewPayloadDecoder(backend compute.Backend, vars []VariableSpec) *PayloadDecoder {
	return &PayloadDecoder{backend: backend, vars: vars, cache: make(map[int][]map[slot]*tensors.Tensor)}
}

// Finalize frees the cached tensors.
func (d *PayloadDecoder) Finalize() {
	for _, perVar := range d.cache {
		for _, perSlot := range perVar {
			for _, t := range perSlot {
				_ = t.FinalizeAll()
			}
		}
	}
	d.cache = make(map[int][]map[slot]*tensors.Tensor)
}

// tensorFor returns the reusable tensor of (rank, variable i, kind), of the given shape.
func (d *PayloadDecoder) tensorFor(rank, i int, kind Kind, shape shapes.Shape) (*tensors.Tensor, error) {
	return d.tensorForSlot(rank, i, slot{kind: kind}, shape)
}

// tensorForSlot returns the reusable tensor of (rank, variable i, s), of the given shape.
func (d *PayloadDecoder) tensorForSlot(rank, i int, s slot, shape shapes.Shape) (*tensors.Tensor, error) {
	perVar := d.cache[rank]
	if perVar == nil {
		perVar = make([]map[slot]*tensors.Tensor, len(d.vars))
		d.cache[rank] = perVar
	}
	if perVar[i] == nil {
		perVar[i] = make(map[slot]*tensors.Tensor)
	}
	if t := perVar[i][s]; t != nil {
		if t.Ok() && t.Shape().Equal(shape) {
			return t, nil
		}
		_ = t.FinalizeAll()
	}
	t, err := tensors.FromShapeForBackend(d.backend, 0, shape)
	if err != nil {
		return nil, err
	}
	perVar[i][s] = t
	return t, nil
}

// corrupt returns an error wrapping ErrCorrupt (and cause, if not nil).
func corrupt(rank int, where string, cause error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if cause != nil {
		return fmt.Errorf("%w: payload from rank %d, %s: %s: %w", ErrCorrupt, rank, where, msg, cause)
	}
	return fmt.Errorf("%w: payload from rank %d, %s: %s", ErrCorrupt, rank, where, msg)
}

// Decode checks and decodes the payload received from rank. Every check
// failure (CRC-32C of the header, of a frame or a section; sizes that disagree
// with the model) is an error wrapping ErrCorrupt that names the rank and the
// variable; nothing of a payload that fails is returned.
func (d *PayloadDecoder) Decode(rank int, payload []byte) (PayloadHeader, []WireGradient, error) {
	n := len(d.vars)
	headerSize := PayloadHeaderSize(n)
	if len(payload) < payloadFixedSize {
		return PayloadHeader{}, nil, corrupt(rank, "header", nil, "%d bytes, a header takes at least %d", len(payload), payloadFixedSize)
	}
	if string(payload[:4]) != payloadMagic {
		return PayloadHeader{}, nil, corrupt(rank, "header", nil, "bad magic %q", payload[:4])
	}
	if v := binary.LittleEndian.Uint16(payload[4:]); v != payloadVersion {
		return PayloadHeader{}, nil, corrupt(rank, "header", nil, "format version %d, want %d", v, payloadVersion)
	}
	if got := int(binary.LittleEndian.Uint32(payload[20:])); got != n {
		return PayloadHeader{}, nil, corrupt(rank, "header", nil, "%d sections, this model has %d trainable variables", got, n)
	}
	if len(payload) < headerSize {
		return PayloadHeader{}, nil, corrupt(rank, "header", nil, "%d bytes, the header of %d sections takes %d", len(payload), n, headerSize)
	}
	crcAt := headerSize - payloadCRCSize
	if got, want := crc32.Checksum(payload[:crcAt], castagnoli), binary.LittleEndian.Uint32(payload[crcAt:]); got != want {
		return PayloadHeader{}, nil, corrupt(rank, "header", nil, "CRC-32C is %#08x, its trailer says %#08x", got, want)
	}
	flags := binary.LittleEndian.Uint16(payload[6:])
	if flags&^flagNoisePowers != 0 {
		return PayloadHeader{}, nil, corrupt(rank, "header", nil, "unknown flags %#04x", flags)
	}
	hdr := PayloadHeader{
		Step:        int64(binary.LittleEndian.Uint64(payload[8:])),
		Loss:        math.Float32frombits(binary.LittleEndian.Uint32(payload[16:])),
		NoisePowers: flags&flagNoisePowers != 0,
	}
	grads := make([]WireGradient, n)
	offset := headerSize
	for i, v := range d.vars {
		where := fmt.Sprintf("variable %q (section %d)", v.Path, i)
		entry := payload[payloadFixedSize+sectionEntrySize*i:]
		kind, dtype := Kind(entry[0]), dtypes.DType(entry[1])
		size := binary.LittleEndian.Uint64(entry[8:])
		if size > uint64(len(payload)-offset) {
			return PayloadHeader{}, nil, corrupt(rank, where, nil, "section of %d bytes, only %d left in the payload", size, len(payload)-offset)
		}
		section := payload[offset : offset+int(size)]
		offset += int(size)
		wg, err := d.decodeSection(rank, i, v, kind, dtype, section)
		if err != nil {
			return PayloadHeader{}, nil, corrupt(rank, where, err, "%s section of %d bytes", kind, size)
		}
		if hdr.NoisePowers {
			wg.NoisePower = math.Float32frombits(binary.LittleEndian.Uint32(entry[4:]))
		}
		grads[i] = wg
	}
	if offset != len(payload) {
		return PayloadHeader{}, nil, corrupt(rank, "payload", nil, "%d trailing bytes after the last section", len(payload)-offset)
	}
	return hdr, grads, nil
}

var errSectionCRC = errors.New("CRC-32C mismatch")

// checkSectionCRC verifies the CRC-32C trailer of a section other than Exp-Golomb.
func checkSectionCRC(section []byte) error {
	body := len(section) - sectionCRCSize
	if got, want := crc32.Checksum(section[:body], castagnoli), binary.LittleEndian.Uint32(section[body:]); got != want {
		return fmt.Errorf("%w: computed %#08x, the trailer says %#08x", errSectionCRC, got, want)
	}
	return nil
}

func (d *PayloadDecoder) decodeSection(rank, i int, v VariableSpec, kind Kind, dtype dtypes.DType, section []byte) (WireGradient, error) {
	count := v.Shape.Size()
	switch kind {
	case KindExpGolomb:
		fh, err := expgolomb.ParseFrameHeader(section)
		if err != nil {
			return WireGradient{}, err
		}
		if fh.Count != count {
			return WireGradient{}, fmt.Errorf("frame of %d values, the variable has %d", fh.Count, count)
		}
		if fh.FrameSize() != len(section) {
			return WireGradient{}, fmt.Errorf("frame of %d bytes in a section of %d", fh.FrameSize(), len(section))
		}
		t, err := d.tensorFor(rank, i, kind, shapes.Make(dtypes.Int32, v.Shape.Dimensions...))
		if err != nil {
			return WireGradient{}, err
		}
		var decErr error
		err = tensors.MutableFlatData(t, func(flat []int32) {
			var out []int32
			out, fh, decErr = expgolomb.DecodeFrame(flat[:0], section)
			if decErr == nil && len(out) > 0 && &out[0] != &flat[0] {
				decErr = fmt.Errorf("decoded %d values outside the tensor", len(out))
			}
		})
		if err == nil {
			err = decErr
		}
		if err != nil {
			return WireGradient{}, err
		}
		return WireGradient{Kind: kind, Ints: t, Step: fh.Delta, K: fh.K}, nil

	case KindGGRANS:
		return d.decodeGGRANS(rank, i, v, dtype, section)

	case KindInt8:
		if len(section) != count+int8SectionExtra {
			return WireGradient{}, fmt.Errorf("int8 section of %d bytes, %d values need %d", len(section), count, count+int8SectionExtra)
		}
		if err := checkSectionCRC(section); err != nil {
			return WireGradient{}, err
		}
		t, err := d.tensorFor(rank, i, kind, shapes.Make(dtypes.Int8, v.Shape.Dimensions...))
		if err != nil {
			return WireGradient{}, err
		}
		if err := t.MutableBytes(func(data []byte) { copy(data, section[4:4+count]) }); err != nil {
			return WireGradient{}, err
		}
		return WireGradient{Kind: kind, Ints: t, Step: math.Float32frombits(binary.LittleEndian.Uint32(section))}, nil

	case KindDense:
		if !dtype.IsFloat() {
			return WireGradient{}, fmt.Errorf("dense section of dtype %s, want a float dtype", dtype)
		}
		shape := shapes.Make(dtype, v.Shape.Dimensions...)
		if want := int(shape.ByteSize()) + denseSectionExtra; len(section) != want {
			return WireGradient{}, fmt.Errorf("dense section of %d bytes, %d %s values need %d", len(section), count, dtype, want)
		}
		if err := checkSectionCRC(section); err != nil {
			return WireGradient{}, err
		}
		t, err := d.tensorFor(rank, i, kind, shape)
		if err != nil {
			return WireGradient{}, err
		}
		if err := t.MutableBytes(func(data []byte) { copy(data, section[:len(section)-sectionCRCSize]) }); err != nil {
			return WireGradient{}, err
		}
		return WireGradient{Kind: kind, Dense: t}, nil

	case KindSparse, KindSign, KindLowRank:
		if dtype != dtypes.Float32 {
			return WireGradient{}, fmt.Errorf("%s section of dtype %s, want %s", kind, dtype, dtypes.Float32)
		}
		if len(section) < sectionCRCSize {
			return WireGradient{}, fmt.Errorf("%s section of %d bytes, shorter than its CRC-32C", kind, len(section))
		}
		if err := checkSectionCRC(section); err != nil {
			return WireGradient{}, err
		}
		body := section[:len(section)-sectionCRCSize]
		switch kind {
		case KindSparse:
			return d.decodeSparse(rank, i, v, body)
		case KindSign:
			return d.decodeSign(rank, i, v, body)
		default:
			return d.decodeLowRank(rank, i, v, body)
		}
	}
	return WireGradient{}, fmt.Errorf("unknown section kind %d", uint8(kind))
}
