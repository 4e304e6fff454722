package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// WriteTensor is one tensor for Write: its values are converted to DType.
type WriteTensor struct {
	// Name is the tensor's key in the header; it must be unique and not
	// "__metadata__".
	Name string
	// DType is the data type to store: F64, F32, F16, BF16 (rounded to nearest),
	// or an integer type or BOOL (values truncated toward zero).
	DType string
	// Shape holds the dimensions; its product must equal len(Values).
	Shape []int
	// Values holds the elements in row-major order.
	Values []float64
}

// write writes tensors, in the given order and contiguously, with the given
// metadata (nil for none) to w in the safetensors format. The header is padded
// with spaces to a multiple of 8 bytes, as the reference implementation does.
//
// It is a small writer meant for tests and tools: it holds the whole encoded
// data in memory.
func write(w io.Writer, tensors []WriteTensor, metadata map[string]string) error {
	header := make(map[string]any, len(tensors)+1)
	if len(metadata) > 0 {
		header[metadataKey] = metadata
	}
	var data []byte
	for _, t := range tensors {
		if t.Name == metadataKey {
			return fmt.Errorf("safetensors: %q cannot be a tensor name", metadataKey)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("safetensors: tensor %q given twice", t.Name)
		}
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
			n *= d
		}
		if n != len(t.Values) {
			return fmt.Errorf("safetensors: tensor %q: shape %v holds %d elements, got %d values", t.Name, t.Shape, n, len(t.Values))
		}
		begin := len(data)
		var err error
		if data, err = encode(data, t.DType, t.Values); err != nil {
			return fmt.Errorf("%w (tensor %q)", err, t.Name)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = map[string]any{"dtype": t.DType, "shape": shape, "data_offsets": []int{begin, len(data)}}
	}
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: encoding the header: %w", err)
	}
	if pad := len(js) % 8; pad != 0 {
		js = append(js, bytes.Repeat([]byte(" "), 8-pad)...)
	}
	out := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+len(js)), uint64(len(js)))
	out = append(out, js...)
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("safetensors: writing the header: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("safetensors: writing the data: %w", err)
	}
	return nil
}

// WriteFile writes tensors and metadata to the file at path (created or
// truncated) with Write.
func WriteFile(path string, tensors []WriteTensor, metadata map[string]string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := write(f, tensors, metadata); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
