package safetensors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
)

// maxHeaderSize is the largest JSON header this package accepts (100 MB, the
// limit of the reference implementation): a larger header length in the first 8
// bytes means the file is not a safetensors file or is corrupt.
const maxHeaderSize = 100 << 20

// metadataKey is the header entry holding free-form string metadata instead of a
// tensor.
const metadataKey = "__metadata__"

// maxElements bounds the number of elements of a tensor, so that its byte size
// (at most 8 bytes an element) cannot overflow an int64.
const maxElements = math.MaxInt64 / 8

// Tensor describes one tensor of a safetensors file, as declared in its header.
type Tensor struct {
	// Name is the tensor's key in the header, e.g. "h.0.attn.c_attn.weight".
	Name string
	// DType is the data type as spelled in the file: "F32", "BF16", "I64", ...
	DType string
	// Shape holds the dimensions; empty for a scalar.
	Shape []int
	// Begin and End are the byte offsets of the tensor's data, relative to the
	// start of the data section (just after the header).
	Begin, End int64
	// Note explains why the tensor cannot be read as floats ("" when it can).
	Note string
}

// Size returns the number of elements: the product of the dimensions (1 for a
// scalar).
func (t Tensor) Size() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// IsFloat reports whether the tensor can be read as float64 values (its dtype is
// F64, F32, F16 or BF16).
func (t Tensor) IsFloat() bool { return t.Note == "" }

// headerEntry is the JSON form of one tensor in the header. Pointers tell a
// missing field from a zero value.
type headerEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// parseHeader decodes and validates the JSON header of a file whose data section
// holds dataLen bytes. It returns the tensors sorted by their offsets in the data
// section and the metadata.
//
// Every problem is reported as an error naming it: invalid JSON, a duplicated
// key, a missing or malformed field, a negative dimension, a byte size that does
// not match dtype and shape, offsets outside the data section, overlapping
// tensors.
func parseHeader(header []byte, dataLen int64) ([]Tensor, map[string]string, error) {
	if !json.Valid(header) {
		// Decode once more to get the position of the syntax error.
		var v any
		err := json.Unmarshal(header, &v)
		return nil, nil, fmt.Errorf("safetensors: header is not valid JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: reading header: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("safetensors: header must be a JSON object, got %v", tok)
	}
	var tensors []Tensor
	metadata := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: reading header: %v", err)
		}
		key, _ := tok.(string) // Keys of a valid JSON object are strings.
		if seen[key] {
			return nil, nil, fmt.Errorf("safetensors: header has the key %q twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("safetensors: reading header entry %q: %v", key, err)
		}
		if key == metadataKey {
			if metadata, err = parseMetadata(raw); err != nil {
				return nil, nil, err
			}
			continue
		}
		t, err := parseEntry(key, raw)
		if err != nil {
			return nil, nil, err
		}
		tensors = append(tensors, t)
	}
	if _, err := dec.Token(); err != nil { // The closing '}'.
		return nil, nil, fmt.Errorf("safetensors: reading header: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("safetensors: header has trailing data after the JSON object")
	}
	if err := checkLayout(tensors, dataLen); err != nil {
		return nil, nil, err
	}
	return tensors, metadata, nil
}

// parseMetadata decodes the "__metadata__" entry: an object of strings. Values
// that are not strings are kept as their JSON text.
func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("safetensors: header entry %q must be an object of strings, got %.80s", metadataKey, raw)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			s = string(v)
		}
		out[k] = s
	}
	return out, nil
}

// parseEntry decodes and checks one tensor entry of the header: all fields
// present, non-negative dimensions, two ordered non-negative offsets, and (for a
// known dtype) a byte size equal to element size times number of elements.
func parseEntry(name string, raw json.RawMessage) (Tensor, error) {
	var e headerEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: malformed header entry %.120s: %v", name, raw, err)
	}
	switch {
	case e.DType == nil:
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: header entry has no \"dtype\"", name)
	case e.Shape == nil:
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: header entry has no \"shape\"", name)
	case e.DataOffsets == nil:
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: header entry has no \"data_offsets\"", name)
	case len(*e.DataOffsets) != 2:
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: \"data_offsets\" must be [begin, end], got %v", name, *e.DataOffsets)
	}
	t := Tensor{Name: name, DType: *e.DType, Begin: (*e.DataOffsets)[0], End: (*e.DataOffsets)[1]}
	if t.Begin < 0 || t.End < t.Begin {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: invalid \"data_offsets\" [%d, %d]", name, t.Begin, t.End)
	}
	elements := int64(1)
	t.Shape = make([]int, len(*e.Shape))
	for i, d := range *e.Shape {
		if d < 0 {
			return Tensor{}, fmt.Errorf("safetensors: tensor %q: negative dimension %d in shape %v", name, d, *e.Shape)
		}
		if d > 0 && elements > maxElements/d {
			return Tensor{}, fmt.Errorf("safetensors: tensor %q: shape %v has too many elements", name, *e.Shape)
		}
		elements *= d
		t.Shape[i] = int(d)
	}
	size, known := elementSize(t.DType)
	switch {
	case !known:
		t.Note = fmt.Sprintf("unknown dtype %q", t.DType)
		return t, nil // Size unknown: only the offsets can be checked.
	case !isFloat(t.DType):
		t.Note = fmt.Sprintf("dtype %s is not a floating-point type", t.DType)
	}
	if want := elements * int64(size); t.End-t.Begin != want {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: %d bytes of data ([%d, %d]) but dtype %s and shape %v need %d",
			name, t.End-t.Begin, t.Begin, t.End, t.DType, t.Shape, want)
	}
	return t, nil
}

// checkLayout sorts tensors by offset and checks that each lies within the data
// section of dataLen bytes and that no two overlap.
func checkLayout(tensors []Tensor, dataLen int64) error {
	sort.SliceStable(tensors, func(i, j int) bool {
		if tensors[i].Begin != tensors[j].Begin {
			return tensors[i].Begin < tensors[j].Begin
		}
		return tensors[i].End < tensors[j].End
	})
	var prev *Tensor
	for i := range tensors {
		t := &tensors[i]
		if t.End > dataLen {
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] out of range: the data section has %d bytes (truncated file?)",
				t.Name, t.Begin, t.End, dataLen)
		}
		if t.Begin == t.End {
			continue // Empty tensors occupy no bytes.
		}
		if prev != nil && t.Begin < prev.End {
			return fmt.Errorf("safetensors: tensors %q [%d, %d] and %q [%d, %d] overlap",
				prev.Name, prev.Begin, prev.End, t.Name, t.Begin, t.End)
		}
		prev = t
	}
	return nil
}
