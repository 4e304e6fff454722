// Package ckptcheck lists the checkpoints of a directory, in the file format
// of GoMLX's ml/model/checkpoint package, and checks one before it is
// loaded: its files against the SHA-256 sums of its manifest, when it has
// one, and the variables' entries in its metadata against the bytes of its
// data file, so that a loader never allocates a variable at a size the data
// cannot hold.
//
// A checkpoint "base" is the files base+MetadataExt (JSON: hyperparameters,
// and each variable's name, shape, dtype and position), base+DataExt (the
// variables' bytes, concatenated; GoMLX may gzip them) and, when its writer
// records checksums, base+ManifestExt (see Manifest).
package ckptcheck

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
)

// File name parts of a checkpoint.
const (
	// Prefix starts the name of every checkpoint.
	Prefix = "checkpoint-"
	// MetadataExt ends the name of a checkpoint's metadata file (JSON).
	MetadataExt = ".json"
	// DataExt ends the name of its data file.
	DataExt = ".bin"
	// ManifestExt ends the name of its manifest (see Manifest).
	ManifestExt = ".sha256"
)

// errCorrupt is wrapped by the errors of Check and Manifest.UnmarshalText for
// a file whose content is not what the checkpoint says it is: a checksum that
// does not match, metadata that does not decode, a variable that does not fit
// the data. A missing file is an error wrapping os.ErrNotExist instead.
var errCorrupt = errors.New("corrupt checkpoint file")

// Variable is a variable's entry in a checkpoint's metadata (GoMLX's
// serializedVar): ParameterName is "var:" and the variable's full path, and
// the variable's bytes are Length bytes at Pos in the (decompressed) data.
type Variable struct {
	ParameterName string
	Dimensions    []int
	DType         dtypes.DType
	Pos, Length   int
}

// Manifest maps the names of a checkpoint's files (without directory) to
// their SHA-256 sums. Its text form is sha256sum's, a line
// "<64 hex digits>  <name>" per file, sorted by name, so that
// `sha256sum -c base.sha256`, run in the checkpoint's directory, checks a
// checkpoint too.
type Manifest map[string][sha256.Size]byte

// MarshalText implements encoding.TextMarshaler.
func (m Manifest) MarshalText() ([]byte, error) {
	var b []byte
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if name == "" || strings.ContainsAny(name, "\n\r\\") {
			return nil, fmt.Errorf("ckptcheck: file name %q cannot be in a manifest", name)
		}
		sum := m[name]
		b = hex.AppendEncode(b, sum[:])
		b = append(b, "  "...)
		b = append(b, name...)
		b = append(b, '\n')
	}
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler; a malformed line is an
// error wrapping ErrCorrupt.
func (m *Manifest) UnmarshalText(text []byte) error {
	out := Manifest{}
	for i, line := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
		hexSum, name, ok := strings.Cut(line, "  ")
		var sum [sha256.Size]byte
		if n, err := hex.Decode(sum[:], []byte(hexSum)); !ok || err != nil || n != sha256.Size || name == "" {
			return fmt.Errorf("%w: manifest line %d is not \"<SHA-256 in hex>  <file name>\": %q", errCorrupt, i+1, line)
		}
		out[name] = sum
	}
	*m = out
	return nil
}

// List returns the base names of the checkpoints in dir (files
// Prefix*MetadataExt), oldest first: sorted, as their names start with a
// zero-padded counter. A missing directory has none.
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing checkpoints: %w", err)
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && strings.HasPrefix(name, Prefix) && strings.HasSuffix(name, MetadataExt) {
			names = append(names, strings.TrimSuffix(name, MetadataExt))
		}
	}
	slices.Sort(names)
	return names, nil
}

// Checked is a checkpoint that Check found sound.
type Checked struct {
	// Metadata is the content of the metadata file, as checked.
	Metadata []byte
	// Variables are the variables' entries in it, in the data's order.
	Variables []Variable
	// Checksummed is true when the checkpoint has a manifest and both its
	// files match their sums; false for one written without a manifest (by
	// GoMLX's checkpoint package, or by code older than the manifests),
	// whose files were only checked against each other.
	Checksummed bool
}

// Check reads the metadata of the checkpoint base in dir and checks the
// checkpoint, in this order, without allocating anything the size of a
// variable:
//
//   - if it has a manifest, the metadata and data files must match their
//     SHA-256 sums there;
//   - the metadata must decode, and its variables' entries must follow each
//     other in the data, each holding the bytes of its shape, and end where
//     the data ends (the decompressed data, for GoMLX's gzip format).
//
// Each failure names the file (and the variable, with the sizes that
// disagree) and wraps ErrCorrupt, or os.ErrNotExist for a missing file.
func Check(dir, base string) (*Checked, error) {
	metaPath := filepath.Join(dir, base+MetadataExt)
	dataPath := filepath.Join(dir, base+DataExt)
	manifestPath := filepath.Join(dir, base+ManifestExt)

	var manifest Manifest
	text, err := os.ReadFile(manifestPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := manifest.UnmarshalText(text); err != nil {
			return nil, fmt.Errorf("%s: %w", manifestPath, err)
		}
		for _, path := range []string{metaPath, dataPath} {
			if _, ok := manifest[filepath.Base(path)]; !ok {
				return nil, fmt.Errorf("%s: %w: no checksum for %s", manifestPath, errCorrupt, filepath.Base(path))
			}
		}
	}

	c := &Checked{Checksummed: manifest != nil}
	if c.Metadata, err = os.ReadFile(metaPath); err != nil {
		return nil, err
	}
	if manifest != nil {
		if err := compareSum(metaPath, manifestPath, manifest, sha256.Sum256(c.Metadata), int64(len(c.Metadata))); err != nil {
			return nil, err
		}
	}
	var meta struct{ Variables []Variable }
	if err := json.Unmarshal(c.Metadata, &meta); err != nil {
		return nil, fmt.Errorf("%s: %w: the metadata does not decode: %v", metaPath, errCorrupt, err)
	}
	c.Variables = meta.Variables

	f, err := os.Open(dataPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	if manifest != nil {
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", dataPath, err)
		}
		if err := compareSum(dataPath, manifestPath, manifest, [sha256.Size]byte(h.Sum(nil)), n); err != nil {
			return nil, err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
	}
	dataLen, err := dataLength(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dataPath, err)
	}
	if err := checkVariables(c.Variables, dataLen, filepath.Base(metaPath)); err != nil {
		return nil, fmt.Errorf("%s: %w", dataPath, err)
	}
	return c, nil
}

// compareSum returns an error if sum, of the n bytes of the file at path, is
// not the manifest's sum of it.
func compareSum(path, manifestPath string, manifest Manifest, sum [sha256.Size]byte, n int64) error {
	if want := manifest[filepath.Base(path)]; sum != want {
		return fmt.Errorf("%s: %w: the SHA-256 of its %d bytes is %x…, its manifest %s records %x…",
			path, errCorrupt, n, sum[:6], filepath.Base(manifestPath), want[:6])
	}
	return nil
}

// GoMLX's gzip format starts with this header, then a length byte and "gzip".
const gomlxGzipHeader = "gomlx_checkpointss"

// dataLength returns the length of the variables' data in f: its size, or
// the decompressed size for GoMLX's gzip format (counted, not kept).
func dataLength(f *os.File) (int64, error) {
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	header := make([]byte, len(gomlxGzipHeader)+1+len("gzip"))
	n, err := io.ReadFull(f, header)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if !bytes.HasPrefix(header[:n], []byte(gomlxGzipHeader)) {
		return info.Size(), nil
	}
	if n < len(header) || header[len(gomlxGzipHeader)] != byte(len("gzip")) || string(header[len(gomlxGzipHeader)+1:]) != "gzip" {
		return 0, fmt.Errorf("%w: a GoMLX header without its \"gzip\" format", errCorrupt)
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	size, err := io.Copy(io.Discard, zr)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return size, nil
}

// checkVariables checks that the variables' entries (of the metadata file
// metaName) describe data of dataLen bytes: each at the end of the one
// before, with the bytes of its shape, the last ending at dataLen.
func checkVariables(vars []Variable, dataLen int64, metaName string) error {
	var pos int64
	for _, v := range vars {
		name := strings.TrimPrefix(v.ParameterName, "var:")
		if int64(v.Pos) != pos {
			return fmt.Errorf("%w: variable %q is at byte %d in %s, the one before it ends at byte %d", errCorrupt, name, v.Pos, metaName, pos)
		}
		size, err := byteSize(v.DType, v.Dimensions)
		if err != nil {
			return fmt.Errorf("%w: variable %q in %s: %v", errCorrupt, name, metaName, err)
		}
		if size > dataLen-pos {
			return fmt.Errorf("%w: variable %q of shape %s%v in %s needs %d bytes, the data holds %d bytes (%d after byte %d)",
				errCorrupt, name, v.DType, v.Dimensions, metaName, size, dataLen, dataLen-pos, pos)
		}
		if int64(v.Length) != size {
			return fmt.Errorf("%w: variable %q of shape %s%v in %s needs %d bytes, its entry says %d bytes",
				errCorrupt, name, v.DType, v.Dimensions, metaName, size, v.Length)
		}
		pos += size
	}
	if pos != dataLen {
		return fmt.Errorf("%w: the variables of %s take %d bytes, the data holds %d bytes", errCorrupt, metaName, pos, dataLen)
	}
	return nil
}

// byteSize returns the bytes a tensor of the dtype and dimensions takes (as
// dtypes.DType.SizeForDimensions counts them), or an error for an unknown
// dtype, a negative dimension or a size past what an int64 counts.
func byteSize(dtype dtypes.DType, dims []int) (size int64, err error) {
	bitsPer, ok := dtypeBits(dtype)
	if !ok {
		return 0, fmt.Errorf("unknown dtype %s", dtype)
	}
	n := uint64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", dims)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64/8 {
			return 0, fmt.Errorf("shape %s%v holds more bytes than an int64 counts", dtype, dims)
		}
		n = lo
	}
	if bitsPer < 8 {
		return int64((n*uint64(bitsPer) + 7) / 8), nil
	}
	hi, lo := bits.Mul64(n, uint64(bitsPer/8))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, fmt.Errorf("shape %s%v holds more bytes than an int64 counts", dtype, dims)
	}
	return int64(lo), nil
}

// dtypeBits returns the bits per value of dtype, and false for a dtype
// without a Go type (dtypes.DType.GoType panics on those).
func dtypeBits(dtype dtypes.DType) (n int, ok bool) {
	if dtype == dtypes.InvalidDType {
		return 0, false
	}
	defer func() {
		if recover() != nil {
			n, ok = 0, false
		}
	}()
	if dtype.GoType() == nil {
		return 0, false
	}
	n = dtype.Bits()
	return n, n > 0
}
