package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
)

// Data types of the safetensors format, as spelled in the "dtype" field of the
// header. The floating-point ones (F64, F32, F16, BF16) can be read as float64;
// the others are listed and skipped.
const (
	F64  = "F64"
	F32  = "F32"
	F16  = "F16"
	BF16 = "BF16"
	I64  = "I64"
	I32  = "I32"
	I16  = "I16"
	I8   = "I8"
	U64  = "U64"
	U32  = "U32"
	U16  = "U16"
	U8   = "U8"
	Bool = "BOOL"
)

// elementSizes holds the size in bytes of one element of each known data type,
// including the 8-bit float formats, which are known (so a file holding them is
// validated) but not decoded.
var elementSizes = map[string]int{
	F64: 8, F32: 4, F16: 2, BF16: 2,
	I64: 8, I32: 4, I16: 2, I8: 1,
	U64: 8, U32: 4, U16: 2, U8: 1,
	Bool: 1, "C64": 8,
	"F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
}

// elementSize returns the size in bytes of one element of dtype, and false if the
// data type is not one this package knows (sub-byte formats, future additions).
func elementSize(dtype string) (int, bool) {
	n, ok := elementSizes[dtype]
	return n, ok
}

// isFloat reports whether dtype is one of the floating-point types this package
// decodes to float64: F64, F32, F16 or BF16.
func isFloat(dtype string) bool {
	switch dtype {
	case F64, F32, F16, BF16:
		return true
	}
	return false
}

// decode converts the little-endian elements of a float dtype in src to float64
// in dst; len(src) must be len(dst) times the element size.
func decode(dtype string, src []byte, dst []float64) {
	switch dtype {
	case F64:
		for i := range dst {
			dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:]))
		}
	case F32:
		for i := range dst {
			dst[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:])))
		}
	case F16:
		for i := range dst {
			dst[i] = float16.Float16(binary.LittleEndian.Uint16(src[2*i:])).Float64()
		}
	case BF16:
		for i := range dst {
			dst[i] = bfloat16.BFloat16(binary.LittleEndian.Uint16(src[2*i:])).Float64()
		}
	default:
		panic(fmt.Sprintf("safetensors: decode called with non-float dtype %q", dtype))
	}
}

// encode converts values to the little-endian representation of dtype (rounding
// to the nearest representable value; integer types truncate toward zero) and
// appends it to dst.
func encode(dst []byte, dtype string, values []float64) ([]byte, error) {
	for _, v := range values {
		switch dtype {
		case F64:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
		case F32:
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(v)))
		case F16:
			dst = binary.LittleEndian.AppendUint16(dst, float16.FromFloat64(v).Bits())
		case BF16:
			dst = binary.LittleEndian.AppendUint16(dst, bfloat16.FromFloat64(v).Bits())
		case I64, U64:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(int64(v)))
		case I32, U32:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(int32(v)))
		case I16, U16:
			dst = binary.LittleEndian.AppendUint16(dst, uint16(int16(v)))
		case I8, U8:
			dst = append(dst, byte(int8(v)))
		case Bool:
			b := byte(0)
			if v != 0 {
				b = 1
			}
			dst = append(dst, b)
		default:
			return nil, fmt.Errorf("safetensors: cannot encode values as dtype %q", dtype)
		}
	}
	return dst, nil
}
