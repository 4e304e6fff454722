// Package safetensors reads (and, for tests, writes) files in the safetensors
// format, the tensor container of Hugging Face models.
//
// The format: 8 bytes holding N, the length of the header as a little-endian
// uint64; N bytes of JSON,
//
//	{"name": {"dtype": "F32", "shape": [768, 2304], "data_offsets": [begin, end]},
//	 "__metadata__": {"format": "pt"}, ...}
//
// then the data section: each tensor's elements, little-endian and row-major,
// at [begin, end) relative to the start of the data section.
//
// Open validates the whole header before anything is read: a header length
// beyond the file, invalid JSON, a duplicated name, missing or malformed fields,
// a byte size that does not match dtype and shape, offsets outside the data
// section or overlapping tensors each give an error naming the problem (never a
// panic). Floating-point tensors (F64, F32, F16, BF16) are then read as float64,
// one tensor at a time, in chunks through io.ReaderAt: File.Values holds one
// float64 copy of a tensor and a small buffer, and File.ValuesAt reads only the
// chunks holding the requested elements, so a subsample of a 500 MB file needs
// little more memory than the subsample itself. Other data types are listed
// with a Note and not decoded.
package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// chunkSize is the number of bytes File.Values and File.ValuesAt read at a time.
const chunkSize = 1 << 20

// File is an open safetensors file (or any io.ReaderAt holding one) whose header
// has been read and validated. It is safe for concurrent reads.
type File struct {
	// Tensors holds the tensors declared in the header, in the order of their
	// data in the file.
	Tensors []Tensor
	// Metadata holds the "__metadata__" entry of the header (empty if absent).
	Metadata map[string]string

	r         io.ReaderAt
	closer    io.Closer
	dataStart int64
	byName    map[string]int
}

// Open opens the safetensors file at path and validates its header; see the
// package documentation for the checks. Close the File when done.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := newReader(f, info.Size())
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	st.closer = f
	return st, nil
}

// newReader reads and validates the header of the safetensors data of size bytes
// in r (e.g. a bytes.Reader or an open file). The File reads tensor data from r
// when asked; closing it does not close r.
func newReader(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("safetensors: file too short: %d bytes, the header length alone takes 8", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: reading the header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	switch {
	case n > uint64(size-8):
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d bytes that follow it (truncated or not a safetensors file)", n, size-8)
	case n > maxHeaderSize:
		return nil, fmt.Errorf("safetensors: header length %d exceeds the limit of %d bytes", n, maxHeaderSize)
	case n < 2:
		return nil, fmt.Errorf("safetensors: header length %d is too short for a JSON object", n)
	}
	header := make([]byte, n)
	if _, err := r.ReadAt(header, 8); err != nil {
		return nil, fmt.Errorf("safetensors: reading the %d-byte header: %w", n, err)
	}
	dataStart := 8 + int64(n)
	tensors, metadata, err := parseHeader(header, size-dataStart)
	if err != nil {
		return nil, err
	}
	f := &File{Tensors: tensors, Metadata: metadata, r: r, dataStart: dataStart, byName: make(map[string]int, len(tensors))}
	for i, t := range tensors {
		f.byName[t.Name] = i
	}
	return f, nil
}

// Close closes the underlying file if the File was created by Open; otherwise it
// does nothing.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	return err
}

// Tensor returns the description of the tensor with the given name, and false if
// there is none.
func (f *File) Tensor(name string) (Tensor, bool) {
	i, ok := f.byName[name]
	if !ok {
		return Tensor{}, false
	}
	return f.Tensors[i], true
}

// floatTensor returns the named tensor, or an error if it is missing or not of a
// floating-point dtype.
func (f *File) floatTensor(name string) (Tensor, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return Tensor{}, fmt.Errorf("safetensors: no tensor named %q", name)
	}
	if !t.IsFloat() {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q cannot be read as floats: %s", name, t.Note)
	}
	return t, nil
}

// Values reads all elements of the named floating-point tensor as float64, in
// row-major order. It reads in chunks: the memory it needs is the result plus a
// 1 MiB buffer.
func (f *File) Values(name string) ([]float64, error) {
	t, err := f.floatTensor(name)
	if err != nil {
		return nil, err
	}
	es, _ := elementSize(t.DType)
	out := make([]float64, t.Size())
	buf := make([]byte, min(chunkSize, t.End-t.Begin))
	perChunk := len(buf) / es
	for i := 0; i < len(out); i += perChunk {
		n := min(perChunk, len(out)-i)
		chunk := buf[:n*es]
		if err := f.readAt(t, chunk, int64(i*es)); err != nil {
			return nil, err
		}
		decode(t.DType, chunk, out[i:i+n])
	}
	return out, nil
}

// ValuesAt reads the elements at the given flat (row-major) indices of the named
// floating-point tensor, as float64. indices must be strictly increasing and
// within [0, Size()). Only the chunks of the file holding requested elements are
// read, so the memory it needs is the result plus a 1 MiB buffer.
func (f *File) ValuesAt(name string, indices []int) ([]float64, error) {
	t, err := f.floatTensor(name)
	if err != nil {
		return nil, err
	}
	size := t.Size()
	for i, idx := range indices {
		if idx < 0 || idx >= size {
			return nil, fmt.Errorf("safetensors: tensor %q: index %d out of range [0, %d)", name, idx, size)
		}
		if i > 0 && idx <= indices[i-1] {
			return nil, fmt.Errorf("safetensors: tensor %q: indices must be strictly increasing, got %d after %d", name, idx, indices[i-1])
		}
	}
	es, _ := elementSize(t.DType)
	perChunk := chunkSize / es
	buf := make([]byte, chunkSize)
	out := make([]float64, len(indices))
	for i := 0; i < len(indices); {
		// Read the chunk starting at the next wanted element.
		first := indices[i]
		n := min(perChunk, size-first)
		chunk := buf[:n*es]
		if err := f.readAt(t, chunk, int64(first*es)); err != nil {
			return nil, err
		}
		for ; i < len(indices) && indices[i] < first+n; i++ {
			off := (indices[i] - first) * es
			decode(t.DType, chunk[off:off+es], out[i:i+1])
		}
	}
	return out, nil
}

// readAt fills buf with the bytes of tensor t starting at byte offset off within
// the tensor's data.
func (f *File) readAt(t Tensor, buf []byte, off int64) error {
	if _, err := f.r.ReadAt(buf, f.dataStart+t.Begin+off); err != nil {
		return fmt.Errorf("safetensors: reading tensor %q: %w", t.Name, err)
	}
	return nil
}
