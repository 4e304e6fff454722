package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The four files of the MNIST distribution, gzip-compressed IDX files.
const (
	trainImagesFile = "train-images-idx3-ubyte.gz"
	trainLabelsFile = "train-labels-idx1-ubyte.gz"
	testImagesFile  = "t10k-images-idx3-ubyte.gz"
	testLabelsFile  = "t10k-labels-idx1-ubyte.gz"
)

// files lists the four files, in the order Download fetches them.
var files = []string{trainImagesFile, trainLabelsFile, testImagesFile, testLabelsFile}

// Magic numbers of the IDX format: two zero bytes, the element type (0x08:
// unsigned byte) and the number of dimensions.
const (
	imagesMagic = 0x00000803 // ubyte, 3 dimensions: count, rows, columns.
	labelsMagic = 0x00000801 // ubyte, 1 dimension: count.
)

// NumClasses is the number of classes (the digits 0 to 9).
const NumClasses = 10

// maxIDXSize bounds the size of a decompressed IDX file (the largest MNIST
// file, the training images, is 47 MB), so that a corrupt or hostile file
// cannot exhaust memory.
const maxIDXSize = 1 << 30

// Split is one part of the dataset, training or test.
type Split struct {
	// N is the number of examples.
	N int
	// Images holds the N images, row-major, Rows*Cols bytes each (0: background,
	// 255: ink).
	Images []uint8
	// Labels holds the N labels, each in [0, NumClasses).
	Labels []uint8
}

// Dataset is MNIST, or any dataset in its format: images of Rows x Cols bytes
// with a label in [0, 10).
type Dataset struct {
	// Rows and Cols are the image dimensions (28 x 28 for MNIST).
	Rows, Cols int
	// Train and Test are the training and test splits (60000 and 10000 images for MNIST).
	Train, Test Split
}

// Pixels returns the number of pixels per image, Rows*Cols.
func (d *Dataset) Pixels() int { return d.Rows * d.Cols }

// idx is a parsed IDX file of unsigned bytes.
type idx struct {
	dims []int
	data []uint8
}

// parseIDX parses the IDX content b (already decompressed), which must have the
// given magic number: it checks the header and that the data has exactly the
// size the dimensions give. name is used in errors.
func parseIDX(name string, b []byte, magic uint32) (idx, error) {
	if len(b) < 4 {
		return idx{}, fmt.Errorf("mnist: %s: truncated IDX file (%d bytes, no header)", name, len(b))
	}
	got := binary.BigEndian.Uint32(b)
	if got != magic {
		return idx{}, fmt.Errorf("mnist: %s: IDX magic number 0x%08x, want 0x%08x (%s)", name, got, magic, describeMagic(magic))
	}
	rank := int(magic & 0xff)
	header := 4 + 4*rank
	if len(b) < header {
		return idx{}, fmt.Errorf("mnist: %s: truncated IDX header (%d bytes, want %d)", name, len(b), header)
	}
	dims := make([]int, rank)
	size := 1
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(b[4+4*i:]))
		if dims[i] == 0 {
			return idx{}, fmt.Errorf("mnist: %s: IDX dimension %d is 0", name, i)
		}
		if size > maxIDXSize/dims[i] {
			return idx{}, fmt.Errorf("mnist: %s: IDX dimensions %v too large", name, dims[:i+1])
		}
		size *= dims[i]
	}
	data := b[header:]
	switch {
	case len(data) < size:
		return idx{}, fmt.Errorf("mnist: %s: truncated IDX data: dimensions %v need %d bytes, the file has %d", name, dims, size, len(data))
	case len(data) > size:
		return idx{}, fmt.Errorf("mnist: %s: %d bytes after the IDX data of dimensions %v", name, len(data)-size, dims)
	}
	return idx{dims: dims, data: data}, nil
}

// describeMagic says what an IDX magic number stands for.
func describeMagic(magic uint32) string {
	if magic == imagesMagic {
		return "unsigned-byte images: count, rows, columns"
	}
	return "unsigned-byte labels: count"
}

// decompress returns the content of a gzip file b (or b itself if it is not
// gzip-compressed: an uncompressed IDX file), at most maxIDXSize bytes.
func decompress(name string, b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("mnist: %s: %w", name, err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxIDXSize+1))
	if err != nil {
		return nil, fmt.Errorf("mnist: %s: corrupt or truncated gzip data: %w", name, err)
	}
	if len(out) > maxIDXSize {
		return nil, fmt.Errorf("mnist: %s: decompresses to more than %d bytes", name, maxIDXSize)
	}
	return out, nil
}

// magicOf returns the IDX magic number a file of Files must have.
func magicOf(file string) uint32 {
	if strings.Contains(file, "-images-") {
		return imagesMagic
	}
	return labelsMagic
}

// parseFile checks and parses the raw (possibly gzip-compressed) content of
// one of Files.
func parseFile(file string, raw []byte) (idx, error) {
	b, err := decompress(file, raw)
	if err != nil {
		return idx{}, err
	}
	return parseIDX(file, b, magicOf(file))
}

// readFile reads one of Files from dir: the .gz file, or else the file
// without the .gz suffix (already decompressed, as some mirrors serve them).
// A missing file gives an error that wraps fs.ErrNotExist.
func readFile(dir, file string) (idx, error) {
	path := filepath.Join(dir, file)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		plain := strings.TrimSuffix(path, ".gz")
		if raw, err = os.ReadFile(plain); err == nil {
			path, file = plain, filepath.Base(plain)
		}
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return idx{}, fmt.Errorf("mnist: %s (or %s) not found in %s: %w", file, strings.TrimSuffix(file, ".gz"), dir, fs.ErrNotExist)
		}
		return idx{}, fmt.Errorf("mnist: %w", err)
	}
	return parseFile(file, raw)
}

// load reads the four MNIST files (Files) from dir, gzip-compressed (as
// distributed) or already decompressed (the names without ".gz"), and checks
// them: IDX magic numbers, dimensions, data sizes (a truncated file is an
// error, not a short dataset), matching image and label counts, the same image
// size in both splits, and labels in [0, 10). A missing file gives an error
// that wraps fs.ErrNotExist (see Download and LoadOrDownload).
func load(dir string) (*Dataset, error) {
	var parts [4]idx
	for i, file := range files {
		var err error
		if parts[i], err = readFile(dir, file); err != nil {
			return nil, err
		}
	}
	d := &Dataset{}
	for i, split := range []*Split{&d.Train, &d.Test} {
		images, labels := parts[2*i], parts[2*i+1]
		imagesFile, labelsFile := files[2*i], files[2*i+1]
		if images.dims[0] != labels.dims[0] {
			return nil, fmt.Errorf("mnist: %s has %d images but %s has %d labels", imagesFile, images.dims[0], labelsFile, labels.dims[0])
		}
		rows, cols := images.dims[1], images.dims[2]
		if i == 0 {
			d.Rows, d.Cols = rows, cols
		} else if rows != d.Rows || cols != d.Cols {
			return nil, fmt.Errorf("mnist: %s has %dx%d images but %s has %dx%d", imagesFile, rows, cols, files[0], d.Rows, d.Cols)
		}
		for j, l := range labels.data {
			if l >= NumClasses {
				return nil, fmt.Errorf("mnist: %s: label %d of example %d, want 0 to %d", labelsFile, l, j, NumClasses-1)
			}
		}
		*split = Split{N: images.dims[0], Images: images.data, Labels: labels.data}
	}
	return d, nil
}

// Save writes d into dir as the four gzip-compressed IDX files of MNIST's
// distribution (Files), creating dir if needed, each through a temporary file
// renamed into place; Load reads them back.
func Save(dir string, d *Dataset) error {
	if d.Rows <= 0 || d.Cols <= 0 {
		return fmt.Errorf("mnist: saving a dataset of %dx%d images", d.Rows, d.Cols)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mnist: %w", err)
	}
	for i, split := range []*Split{&d.Train, &d.Test} {
		if len(split.Images) != split.N*d.Pixels() || len(split.Labels) != split.N {
			return fmt.Errorf("mnist: saving %s: %d images of %d bytes and %d labels for N=%d",
				files[2*i], len(split.Images), d.Pixels(), len(split.Labels), split.N)
		}
		files := []struct {
			name  string
			magic uint32
			dims  []int
			data  []uint8
		}{
			{files[2*i], imagesMagic, []int{split.N, d.Rows, d.Cols}, split.Images},
			{files[2*i+1], labelsMagic, []int{split.N}, split.Labels},
		}
		for _, f := range files {
			if err := writeAtomic(filepath.Join(dir, f.name), encodeIDX(f.magic, f.dims, f.data)); err != nil {
				return err
			}
		}
	}
	return nil
}

// encodeIDX returns the gzip-compressed IDX file of data with the given magic
// number and dimensions.
func encodeIDX(magic uint32, dims []int, data []uint8) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	header := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		header = binary.BigEndian.AppendUint32(header, uint32(d))
	}
	_, _ = zw.Write(header) // Writes to a bytes.Buffer do not fail.
	_, _ = zw.Write(data)
	_ = zw.Close()
	return buf.Bytes()
}
