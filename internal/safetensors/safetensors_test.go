package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/stretchr/testify/require"
)

// randomValues returns n normal values with a fixed seed.
func randomValues(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = r.NormFloat64()
	}
	return xs
}

// rounded returns values as the given float dtype stores them.
func rounded(dtype string, xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		switch dtype {
		case F64:
			out[i] = x
		case F32:
			out[i] = float64(float32(x))
		case F16:
			out[i] = float16.FromFloat64(x).Float64()
		case BF16:
			out[i] = bfloat16.FromFloat64(x).Float64()
		}
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	floatTypes := []string{F32, F64, F16, BF16}
	var tensors []WriteTensor
	for i, dt := range floatTypes {
		tensors = append(tensors, WriteTensor{Name: "w_" + dt, DType: dt, Shape: []int{3, 5}, Values: randomValues(15, uint64(i))})
	}
	tensors = append(tensors,
		WriteTensor{Name: "scalar", DType: F32, Values: []float64{2.5}},
		WriteTensor{Name: "empty", DType: F32, Shape: []int{0, 4}, Values: nil},
		WriteTensor{Name: "ids", DType: I64, Shape: []int{2}, Values: []float64{7, -3}},
		WriteTensor{Name: "mask", DType: Bool, Shape: []int{3}, Values: []float64{1, 0, 1}},
	)
	path := filepath.Join(t.TempDir(), "model.safetensors")
	require.NoError(t, WriteFile(path, tensors, map[string]string{"format": "pt"}))

	f, err := Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	require.Equal(t, map[string]string{"format": "pt"}, f.Metadata)
	require.Len(t, f.Tensors, len(tensors))
	// Tensors come in file order, which is the writing order here.
	for i, wt := range tensors {
		require.Equal(t, wt.Name, f.Tensors[i].Name)
	}

	for i, dt := range floatTypes {
		name := "w_" + dt
		tensor, ok := f.Tensor(name)
		require.True(t, ok)
		require.Equal(t, dt, tensor.DType)
		require.Equal(t, []int{3, 5}, tensor.Shape)
		require.Equal(t, 15, tensor.Size())
		require.True(t, tensor.IsFloat())
		want := rounded(dt, tensors[i].Values)
		got, err := f.Values(name)
		require.NoError(t, err)
		require.Equal(t, want, got, "dtype %s", dt)

		// Sparse reads return the same elements.
		idx := []int{0, 3, 4, 14}
		some, err := f.ValuesAt(name, idx)
		require.NoError(t, err)
		for j, k := range idx {
			require.Equal(t, want[k], some[j])
		}
	}

	scalar, err := f.Values("scalar")
	require.NoError(t, err)
	require.Equal(t, []float64{2.5}, scalar)
	st, _ := f.Tensor("scalar")
	require.Empty(t, st.Shape)
	require.Equal(t, 1, st.Size())

	empty, err := f.Values("empty")
	require.NoError(t, err)
	require.Empty(t, empty)

	// Non-float tensors are listed with a note and not decoded.
	ids, ok := f.Tensor("ids")
	require.True(t, ok)
	require.False(t, ids.IsFloat())
	require.Contains(t, ids.Note, "not a floating-point type")
	_, err = f.Values("ids")
	require.ErrorContains(t, err, `tensor "ids" cannot be read as floats`)

	_, err = f.Values("missing")
	require.ErrorContains(t, err, `no tensor named "missing"`)
	_, err = f.ValuesAt("w_F32", []int{3, 3})
	require.ErrorContains(t, err, "strictly increasing")
	_, err = f.ValuesAt("w_F32", []int{15})
	require.ErrorContains(t, err, "out of range")
}

// TestChunkedReads checks reads of a tensor larger than one chunk, whole and
// sampled.
func TestChunkedReads(t *testing.T) {
	n := chunkSize/4*2 + 1001 // F32: a bit over two chunks.
	xs := rounded(F32, randomValues(n, 7))
	var buf bytes.Buffer
	require.NoError(t, write(&buf, []WriteTensor{{Name: "big", DType: F32, Shape: []int{n}, Values: xs}}, nil))
	f, err := newReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	got, err := f.Values("big")
	require.NoError(t, err)
	require.Equal(t, xs, got)

	idx := []int{0, 1, chunkSize/4 - 1, chunkSize / 4, chunkSize/4 + 17, 2 * chunkSize / 4, n - 2, n - 1}
	some, err := f.ValuesAt("big", idx)
	require.NoError(t, err)
	for j, k := range idx {
		require.Equal(t, xs[k], some[j], "index %d", k)
	}
}

// rawFile assembles a safetensors file from a header string and data, with the
// header length field set to headerLen (or the header's real length if < 0).
func rawFile(headerLen int64, header string, data []byte) []byte {
	if headerLen < 0 {
		headerLen = int64(len(header))
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(headerLen))
	out = append(out, header...)
	return append(out, data...)
}

func TestBadFiles(t *testing.T) {
	data16 := make([]byte, 16)
	cases := []struct {
		name, want string
		file       []byte
	}{
		{"empty file", "file too short", nil},
		{"short file", "file too short", []byte{1, 2, 3}},
		{"header length beyond file", "exceeds the 10 bytes", rawFile(1000, "{}", data16[:8])},
		{"header length huge", "exceeds the", rawFile(math.MaxInt64, "{}", nil)},
		{"header length too small", "too short for a JSON object", rawFile(1, "{}", nil)},
		{"invalid JSON", "not valid JSON", rawFile(-1, `{"a": {"dtype": "F32",`, nil)},
		{"not an object", "must be a JSON object", rawFile(-1, `[1, 2]`, nil)},
		{"trailing garbage", "not valid JSON", rawFile(-1, `{} {}`, nil)},
		{"duplicate name", `key "a" twice`, rawFile(-1,
			`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}`, data16)},
		{"entry not an object", `tensor "a": malformed`, rawFile(-1, `{"a": 5}`, nil)},
		{"missing dtype", `no "dtype"`, rawFile(-1, `{"a": {"shape": [2], "data_offsets": [0, 8]}}`, data16)},
		{"missing shape", `no "shape"`, rawFile(-1, `{"a": {"dtype": "F32", "data_offsets": [0, 8]}}`, data16)},
		{"missing offsets", `no "data_offsets"`, rawFile(-1, `{"a": {"dtype": "F32", "shape": [2]}}`, data16)},
		{"one offset", `must be [begin, end]`, rawFile(-1, `{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}`, data16)},
		{"reversed offsets", `invalid "data_offsets" [8, 0]`, rawFile(-1, `{"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}`, data16)},
		{"negative offset", `invalid "data_offsets"`, rawFile(-1, `{"a": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}`, data16)},
		{"negative dimension", "negative dimension", rawFile(-1, `{"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}`, data16)},
		{"fractional dimension", `tensor "a": malformed`, rawFile(-1, `{"a": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}}`, data16)},
		{"huge shape", "too many elements", rawFile(-1, `{"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}}`, data16)},
		{"size mismatch", "need 12", rawFile(-1, `{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}`, data16)},
		{"size mismatch non-float", "need 24", rawFile(-1, `{"a": {"dtype": "I64", "shape": [3], "data_offsets": [0, 8]}}`, data16)},
		{"offsets out of range", "out of range", rawFile(-1, `{"a": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}`, data16)},
		{"overlap", `overlap`, rawFile(-1,
			`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}`, data16)},
		{"bad metadata", `"__metadata__" must be an object`, rawFile(-1, `{"__metadata__": 5}`, nil)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.NotPanics(t, func() {
				_, err := newReader(bytes.NewReader(c.file), int64(len(c.file)))
				require.Error(t, err)
				require.ErrorContains(t, err, c.want)
			})
		})
	}

	// Through Open, the error also names the file.
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	require.NoError(t, os.WriteFile(path, rawFile(1000, "{}", nil), 0o644))
	_, err := Open(path)
	require.ErrorContains(t, err, "header length 1000 exceeds")
	require.ErrorContains(t, err, path)
	_, err = Open(filepath.Join(t.TempDir(), "missing.safetensors"))
	require.Error(t, err)
}

// TestUnknownDType checks that a dtype this package does not know is listed with
// a note rather than rejected.
func TestUnknownDType(t *testing.T) {
	file := rawFile(-1, `{"a": {"dtype": "F4", "shape": [4], "data_offsets": [0, 2]}}`, []byte{0, 0})
	f, err := newReader(bytes.NewReader(file), int64(len(file)))
	require.NoError(t, err)
	require.Contains(t, f.Tensors[0].Note, `unknown dtype "F4"`)
	_, err = f.Values("a")
	require.ErrorContains(t, err, "cannot be read as floats")
}

// TestTruncatedAndCorrupted cuts a valid file at every length and flips every
// byte of it in turn: each attempt must give an error or a readable file, never a
// panic.
func TestTruncatedAndCorrupted(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, write(&buf, []WriteTensor{
		{Name: "w", DType: F16, Shape: []int{2, 3}, Values: randomValues(6, 3)},
		{Name: "b", DType: F32, Shape: []int{3}, Values: randomValues(3, 4)},
	}, map[string]string{"k": "v"}))
	full := buf.Bytes()
	readAll := func(file []byte) error {
		f, err := newReader(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			return err
		}
		for _, tensor := range f.Tensors {
			if tensor.IsFloat() {
				if _, err := f.Values(tensor.Name); err != nil {
					return err
				}
			}
		}
		return nil
	}
	require.NoError(t, readAll(full))
	for n := range len(full) {
		require.NotPanics(t, func() {
			require.Error(t, readAll(full[:n]), "truncated to %d of %d bytes", n, len(full))
		})
	}
	corrupted := make([]byte, len(full))
	for i := range full {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			copy(corrupted, full)
			corrupted[i] ^= flip
			require.NotPanics(t, func() { _ = readAll(corrupted) }, "byte %d ^ %#x", i, flip)
		}
	}
}

// FuzzNewReader checks that no input makes the reader panic.
func FuzzNewReader(f *testing.F) {
	var buf bytes.Buffer
	_ = write(&buf, []WriteTensor{{Name: "w", DType: BF16, Shape: []int{2}, Values: []float64{1, -2}}}, nil)
	f.Add(buf.Bytes())
	f.Add(rawFile(-1, `{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}`, make([]byte, 8)))
	f.Fuzz(func(t *testing.T, file []byte) {
		st, err := newReader(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			return
		}
		for _, tensor := range st.Tensors {
			if tensor.IsFloat() {
				_, _ = st.Values(tensor.Name)
				_, _ = st.ValuesAt(tensor.Name, []int{0})
			}
		}
	})
}
